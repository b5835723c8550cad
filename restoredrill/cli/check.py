"""`restoredrill check`: validate backup configuration for CI (exit 1 when a rule fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import Engine
from restoredrill.cli.options import OUTPUT, EngineOpt, JsonOpt

LIVE = "Live server"
OFFLINE = "Offline files"
POLICY = "Policy"


def _seconds(value: str | None, option: str) -> float | None:
    from restoredrill.durations import parse_duration
    from restoredrill.errors import ConfigError

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def check_command(
    engine: EngineOpt = Engine.postgres,
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            metavar="DSN",
            help="A PostgreSQL DSN (opened read-only), or mysql://user@host:port/ with --engine "
            "mariadb or mysql (the password from MYSQL_PWD).",
            rich_help_panel=LIVE,
        ),
    ] = None,
    postgresql_conf: Annotated[
        Path | None,
        typer.Option(
            "--postgresql-conf", metavar="FILE", help="A postgresql.conf.", rich_help_panel=OFFLINE
        ),
    ] = None,
    pgbackrest_config: Annotated[
        Path | None,
        typer.Option(
            "--pgbackrest-config",
            metavar="FILE",
            help="A pgbackrest.conf.",
            rich_help_panel=OFFLINE,
        ),
    ] = None,
    pgbackrest_conf: Annotated[
        Path | None, typer.Option("--pgbackrest-conf", hidden=True)  # the old spelling
    ] = None,
    base_backups: Annotated[
        Path | None,
        typer.Option(
            "--base-backups", metavar="DIR", help="Base backups.", rich_help_panel=OFFLINE
        ),
    ] = None,
    wal_archive: Annotated[
        Path | None,
        typer.Option("--wal-archive", metavar="DIR", help="WAL archive.", rich_help_panel=OFFLINE),
    ] = None,
    barman: Annotated[
        str | None,
        typer.Option(
            "--barman",
            metavar="DIR|S3_URL",
            help="A barman-cloud store (the server's folder): backup age, WAL, retention.",
            rich_help_panel=OFFLINE,
        ),
    ] = None,
    rpo: Annotated[
        str | None,
        typer.Option(
            "--rpo",
            metavar="DURATION",
            help="RPO objective, e.g. 5m: checked against archive_timeout and the archive's age.",
            rich_help_panel=POLICY,
        ),
    ] = None,
    max_backup_age: Annotated[
        str | None,
        typer.Option(
            "--max-backup-age",
            metavar="DURATION",
            help="The newest base backup must be younger, e.g. 26h.",
            rich_help_panel=POLICY,
        ),
    ] = None,
    recovery_window: Annotated[
        str | None,
        typer.Option(
            "--recovery-window",
            metavar="DURATION",
            help="Point-in-time recovery must reach back this far, e.g. 7d (retention).",
            rich_help_panel=POLICY,
        ),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", metavar="FILE", help="Write JUnit XML here.", rich_help_panel=OUTPUT
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Validate backup configuration for CI; exit 1 when a rule fails.

    Live settings and archiver state, config files, WAL continuity, base backup age."""
    from restoredrill.checks.run import CheckRequest, run_checks
    from restoredrill.cli.console import out
    from restoredrill.cli.documents import emit_json
    from restoredrill.report.junit import checks_junit, write_xml
    from restoredrill.report.terminal_check import render_checks

    report = run_checks(
        CheckRequest(
            engine="postgres" if engine == Engine.postgres else "mysql",
            dsn=dsn,
            postgresql_conf=postgresql_conf,
            pgbackrest_conf=pgbackrest_config or pgbackrest_conf,
            base_backups=base_backups,
            wal_archive=wal_archive,
            rpo_seconds=_seconds(rpo, "--rpo"),
            max_backup_age_seconds=_seconds(max_backup_age, "--max-backup-age"),
            recovery_window_seconds=_seconds(recovery_window, "--recovery-window"),
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
