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
    now: datetime | None = None


def run_checks(request: CheckRequest) -> CheckReport:
    """Every rule that applies to what was given; nothing given is a usage error."""
    subjects = (
        request.dsn,
        request.postgresql_conf,
        request.pgbackrest_conf,
        request.base_backups,
        request.wal_archive,
    )
    if all(s is None for s in subjects):
        raise ConfigError(
            "nothing to check: give --dsn (live), --postgresql-conf, --pgbackrest-conf, "
            "--wal-archive or --base-backups"
        )
    if request.engine == "mysql" and any(s is not None for s in subjects[1:]):
        raise ConfigError("for MySQL/MariaDB only live checks exist (--dsn mysql://...)")
    policy = Policy(
        now=request.now or datetime.now(UTC),
        rpo_seconds=request.rpo_seconds,
        max_backup_age_seconds=request.max_backup_age_seconds,
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
    return CheckReport(
        checks=checks,
        rpo_seconds=request.rpo_seconds,
        max_backup_age_seconds=request.max_backup_age_seconds,
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
    mtimes = [
        Path(segment.path).stat().st_mtime
        for per in archive.segments.values()
        for segment in per.values()
    ]
    facts = Facts(
        archive_rules.ENGINE,
        f"{base_backups or '-'} + {wal_archive}",
        data={
            "catalogue": Catalogue(backups, archive),
            "has_backups_dir": base_backups is not None,
            "newest_segment_mtime": datetime.fromtimestamp(max(mtimes), UTC) if mtimes else None,
        },
    )
    return REGISTRY.run(archive_rules.ENGINE, facts, policy)


__all__ = ["CheckRequest", "archive_checks", "mysql_rules", "run_checks"]
