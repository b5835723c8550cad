"""pgBackRest rules, offline from a pgbackrest.conf (and the postgresql.conf beside it)."""

from __future__ import annotations

import re

from restoredrill.checks.registry import REGISTRY, Facts, Finding, Policy, failed, ok, warning

ENGINE = "pgbackrest"
_STANZA = re.compile(r"--stanza[= ](\S+)")
_REPO_KEYS = ("path", "s3-bucket", "azure-container", "gcs-bucket", "host")


def _sections(facts: Facts) -> dict[str, dict[str, str]]:
    sections = facts.data.get("sections")
    return sections if isinstance(sections, dict) else {}


def _stanzas(facts: Facts) -> dict[str, dict[str, str]]:
    return {
        name: options
        for name, options in _sections(facts).items()
        if not name.startswith("global") and ":" not in name
    }


@REGISTRY.rule(ENGINE, "stanza", "a stanza names the cluster's data directory (pg1-path)")
def stanza(facts: Facts, policy: Policy) -> Finding | None:
    if "sections" not in facts.data:
        return None
    stanzas = _stanzas(facts)
    if not stanzas:
        return failed("no stanza section: pgBackRest does not know any cluster")
    missing = [name for name, options in stanzas.items() if not options.get("pg1-path")]
    if missing:
        return failed(f"stanza {', '.join(missing)} lacks pg1-path", ", ".join(missing))
    return ok(f"stanza(s): {', '.join(stanzas)}", ", ".join(stanzas))


@REGISTRY.rule(ENGINE, "repository", "a repository is configured (repo1-path or object store)")
def repository(facts: Facts, policy: Policy) -> Finding | None:
    if "sections" not in facts.data:
        return None
    options = _sections(facts).get("global", {})
    repos = sorted({m.group(1) for k in options if (m := re.match(r"(repo\d+)-", k))})
    configured = [r for r in repos if any(f"{r}-{key}" in options for key in _REPO_KEYS)]
    if not configured:
        return warning(
            "no repo1-path / repo1-s3-bucket in [global]: the default /var/lib/pgbackrest"
        )
    return ok(f"repositories: {', '.join(configured)}", ", ".join(configured))


@REGISTRY.rule(ENGINE, "retention", "full backup retention is set (repoN-retention-full)")
def retention(facts: Facts, policy: Policy) -> Finding | None:
    if "sections" not in facts.data:
        return None
    options = _sections(facts).get("global", {})
    kept = {k: v for k, v in options.items() if re.fullmatch(r"repo\d+-retention-full", k)}
    if not kept:
        return warning("no repo1-retention-full: backups (and their WAL) are never expired")
    return ok(", ".join(f"{k} = {v}" for k, v in sorted(kept.items())))


@REGISTRY.rule(
    ENGINE, "archive_push", "postgresql.conf archives with archive-push to a known stanza"
)
def archive_push(facts: Facts, policy: Policy) -> Finding | None:
    command = facts.settings.get("archive_command")
    if command is None or "sections" not in facts.data:
        return None
    if "pgbackrest" not in command:
        return warning(
            f"archive_command {command!r} does not call pgbackrest archive-push", command
        )
    match = _STANZA.search(command)
    if match is None:
        return failed(f"archive_command {command!r} names no --stanza", command)
    name = match.group(1).strip("'\"")
    if name not in _stanzas(facts):
        return failed(f"archive_command pushes to stanza {name!r}, not in pgbackrest.conf", name)
    return ok(f"archive_command pushes to stanza {name!r}", name)
