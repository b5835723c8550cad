"""``restoredrill check``: gather facts for each subject given, run the engine's rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from restoredrill.checks.registry import REGISTRY, CheckReport, ConfigCheck, Facts, Policy
from restoredrill.engines.mysql import checks as mysql_rules
from restoredrill.engines.postgres import checks as postgres_rules
from restoredrill.engines.postgres import checks_archive as archive_rules
from restoredrill.engines.postgres import checks_pgbackrest as pgbackrest_rules
from restoredrill.engines.postgres.basebackups import list_base_backups
from restoredrill.engines.postgres.conf import parse_pgbackrest_conf, parse_postgresql_conf
from restoredrill.engines.postgres.source import Catalogue
from restoredrill.engines.postgres.wal_archive import scan_archive
from restoredrill.errors import ConfigError

CheckEngine = Literal["postgres", "mysql"]


@dataclass(frozen=True)
class CheckRequest:
    engine: CheckEngine = "postgres"
    dsn: str | None = None  # live: a PostgreSQL DSN, or mysql://user@host:port/ for MySQL
    postgresql_conf: Path | None = None
    pgbackrest_conf: Path | None = None
    base_backups: Path | None = None
    wal_archive: Path | None = None
    rpo_seconds: float | None = None
    max_backup_age_seconds: float | None = None
    recovery_window_seconds: float | None = None  # retention must keep PITR reaching back
    now: datetime | None = None
    barman: str | None = None  # a barman-cloud store: the server's folder (s3:// or local)


def run_checks(request: CheckRequest) -> CheckReport:
    """Every rule that applies to what was given; nothing given is a usage error."""
    subjects = (
        request.dsn,
        request.postgresql_conf,
        request.pgbackrest_conf,
        request.base_backups,
        request.wal_archive,
        request.barman,
    )
    if all(s is None for s in subjects):
        raise ConfigError(
            "nothing to check: give --dsn (live), --postgresql-conf, --pgbackrest-conf, "
            "--wal-archive, --base-backups or --barman"
        )
    if request.engine == "mysql" and any(s is not None for s in subjects[1:]):
        raise ConfigError("for MySQL/MariaDB only live checks exist (--dsn mysql://...)")
    policy = Policy(
        now=request.now or datetime.now(UTC),
        rpo_seconds=request.rpo_seconds,
        max_backup_age_seconds=request.max_backup_age_seconds,
        recovery_window_seconds=request.recovery_window_seconds,
    )
    checks: list[ConfigCheck] = []
    if request.dsn is not None:
        checks += _live(request.engine, request.dsn, policy)
    pg_settings: dict[str, str] | None = None
    if request.postgresql_conf is not None:
        _require_file(request.postgresql_conf, "--postgresql-conf")
        pg_settings = parse_postgresql_conf(request.postgresql_conf)
        facts = postgres_rules.offline_facts(pg_settings, str(request.postgresql_conf))
        checks += REGISTRY.run(postgres_rules.ENGINE, facts, policy)
    if request.pgbackrest_conf is not None:
        _require_file(request.pgbackrest_conf, "--pgbackrest-conf")
        sections = parse_pgbackrest_conf(request.pgbackrest_conf)
        facts = Facts(
            pgbackrest_rules.ENGINE,
            str(request.pgbackrest_conf),
            settings=dict(pg_settings or {}),
            data={"sections": sections},
        )
        checks += REGISTRY.run(pgbackrest_rules.ENGINE, facts, policy)
    if request.wal_archive is not None or request.base_backups is not None:
        checks += archive_checks(request.base_backups, request.wal_archive, policy)
    if request.barman is not None:
        checks += barman_checks(request.barman, policy)
    return CheckReport(
        checks=checks,
        rpo_seconds=request.rpo_seconds,
        max_backup_age_seconds=request.max_backup_age_seconds,
        recovery_window_seconds=request.recovery_window_seconds,
    )


def _require_file(path: Path, option: str) -> None:
    if not Path(path).is_file():
        raise ConfigError(f"{option} {path}: no such file")


def _live(engine: CheckEngine, dsn: str, policy: Policy) -> list[ConfigCheck]:
    if engine == "mysql":
        conn = mysql_rules.connect(dsn)
        try:
            facts = mysql_rules.live_facts(conn, mysql_rules.redact_url(dsn))
        finally:
            conn.close()
        return REGISTRY.run(mysql_rules.ENGINE, facts, policy)
    return REGISTRY.run(postgres_rules.ENGINE, postgres_rules.live_facts(dsn), policy)


def archive_checks(
    base_backups: Path | None, wal_archive: Path | None, policy: Policy
) -> list[ConfigCheck]:
    if wal_archive is None:
        raise ConfigError("--base-backups needs --wal-archive (backup end times live there)")
    archive = scan_archive(Path(wal_archive))
    backups = []
    if base_backups is not None:
        if not Path(base_backups).is_dir():
            raise ConfigError(f"--base-backups {base_backups}: no such directory")
        backups = list_base_backups(Path(base_backups), archive.backup_histories)
    return _run_archive_rules(
        Catalogue(backups, archive), f"{base_backups or '-'} + {wal_archive}",
        base_backups is not None, policy,
    )  # fmt: skip


def barman_checks(location: str, policy: Policy) -> list[ConfigCheck]:
    """The archive rules on a barman-cloud store: its newest backup's age (backup.info),
    WAL continuity from the backups to the head, how far back recovery reaches (retention)."""
    from restoredrill.engines.postgres.barman import open_barman

    source = open_barman(location)
    try:
        catalogue = source.catalogue()
        return _run_archive_rules(catalogue, source.describe(), True, policy)
    finally:
        source.close()


def _run_archive_rules(
    catalogue: Catalogue, subject: str, has_backups: bool, policy: Policy
) -> list[ConfigCheck]:
    # when each segment was archived: its file's mtime where it is a local file (a remote
    # segment not yet fetched has none, and the head-age rule is then left out)
    mtimes = [
        Path(segment.path).stat().st_mtime
        for per in catalogue.archive.segments.values()
        for segment in per.values()
        if Path(segment.path).is_file()
    ]
    facts = Facts(
        archive_rules.ENGINE,
        subject,
        data={
            "catalogue": catalogue,
            "has_backups_dir": has_backups,
            "newest_segment_mtime": datetime.fromtimestamp(max(mtimes), UTC) if mtimes else None,
        },
    )
    return REGISTRY.run(archive_rules.ENGINE, facts, policy)


__all__ = ["CheckRequest", "archive_checks", "barman_checks", "mysql_rules", "run_checks"]
