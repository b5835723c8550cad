"""`restoredrill check`: validate backup configuration for CI (exit 1 when a rule fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from restoredrill.checks.run import CheckRequest, run_checks
from restoredrill.cli.common import JsonOpt, emit_json, out
from restoredrill.cli.sources import BarmanOpt
from restoredrill.durations import parse_duration
from restoredrill.errors import ConfigError
from restoredrill.report.junit import checks_junit, write_xml
from restoredrill.report.terminal_check import render_checks


def _seconds(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def check_command(
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            help="Live check: a PostgreSQL DSN (opened read-only), or mysql://user@host:port/ "
            "with --engine mysql (password from MYSQL_PWD).",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="postgres or mysql (MariaDB, MySQL).")
    ] = "postgres",
    postgresql_conf: Annotated[
        Path | None, typer.Option("--postgresql-conf", help="Offline: a postgresql.conf.")
    ] = None,
    pgbackrest_conf: Annotated[
        Path | None, typer.Option("--pgbackrest-conf", help="Offline: a pgbackrest.conf.")
    ] = None,
    base_backups: Annotated[
        Path | None, typer.Option("--base-backups", help="Offline: base backups directory.")
    ] = None,
    wal_archive: Annotated[
        Path | None, typer.Option("--wal-archive", help="Offline: WAL archive directory.")
    ] = None,
    rpo: Annotated[
        str | None, typer.Option("--rpo", help="RPO objective, e.g. 5m (archive_timeout, age).")
    ] = None,
    max_backup_age: Annotated[
        str | None,
        typer.Option("--max-backup-age", help="Policy for the newest base backup, e.g. 26h."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Write JUnit XML here.")
    ] = None,
    json_output: JsonOpt = False,
    barman: BarmanOpt = None,
) -> None:
    """Validate backup configuration for CI; exit 1 when a rule fails.

    Live settings and archiver state, config files, WAL continuity, base backup age."""
    if engine not in ("postgres", "mysql"):
        raise ConfigError(f"--engine {engine!r}: expected postgres or mysql")
    chosen: Literal["postgres", "mysql"] = "mysql" if engine == "mysql" else "postgres"
    report = run_checks(
        CheckRequest(
            engine=chosen,
            dsn=dsn,
            postgresql_conf=postgresql_conf,
            pgbackrest_conf=pgbackrest_conf,
            base_backups=base_backups,
            wal_archive=wal_archive,
            rpo_seconds=_seconds(rpo, "--rpo"),
            max_backup_age_seconds=_seconds(max_backup_age, "--max-backup-age"),
            barman=barman,
        )
    )
    if junit is not None:
        write_xml(checks_junit(report), junit)
    if json_output:
        emit_json(report)
    else:
        render_checks(out, report)
    if not report.ok:
        raise typer.Exit(1)
