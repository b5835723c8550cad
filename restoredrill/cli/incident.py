"""`restoredrill incident find`: the transactions that changed the most rows, from WAL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.console import out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.lazy import QuietCommand, sub_app
from restoredrill.cli.options import TABLE_HELP, JsonOpt, PgBinOpt
from restoredrill.drill.incident import DEFAULT_TOP, FindRequest, find_incidents
from restoredrill.drill.verify import split_tables
from restoredrill.report.terminal_incident import render_incidents
from restoredrill.targets import parse_time

app = sub_app("Find the incident in the archive.")


@app.command("find", cls=QuietCommand)
def find_command(
    wal_archive: Annotated[
        Path | None,
        typer.Option(
            "--wal-archive",
            metavar="DIR",
            help="PostgreSQL: where a cp-style archive_command writes.",
        ),
    ] = None,
    binlog_archive: Annotated[
        Path | None,
        typer.Option(
            "--binlog-archive",
            metavar="DIR",
            help="MariaDB/MySQL: binlog files (with their index).",
        ),
    ] = None,
    base_backups: Annotated[
        Path | None,
        typer.Option(
            "--base-backups",
            metavar="DIR",
            help="PostgreSQL base backups: read WAL from the oldest one's start on. "
            "MariaDB/MySQL: the snapshot, named in the recover command.",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="T1", help="Committed at or after (ISO, tz).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="T2", help="Committed at or before (ISO, tz).")
    ] = None,
    table: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            metavar="TABLE",
            help=f"{TABLE_HELP} Only rows of these tables (DBOID/RELFILENODE without --dsn).",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="How many transactions to list.")] = (
        DEFAULT_TOP
    ),
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            metavar="DSN",
            help="Production (opened read-only) to name the tables; the recover command's --to.",
        ),
    ] = None,
    pg_bin: PgBinOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List the committed transactions that changed the most rows, biggest first.

    Read from the archive alone (WAL or binlogs; no restore), with the recover command to
    run for the biggest. Transactions that dropped or emptied whole tables (DROP TABLE,
    TRUNCATE, DROP DATABASE: they write no rows to the archive) are listed first, apart,
    each with the command that brings its rows back."""
    request = FindRequest(
        wal_archive=wal_archive,
        base_backups=base_backups,
        since=parse_time(since, "--since") if since is not None else None,
        until=parse_time(until, "--until") if until is not None else None,
        tables=split_tables(table) or [],
        top=top,
        dsn=dsn,
        pg_bin=pg_bin,
        binlog_archive=binlog_archive,
    )
    report = find_incidents(request)
    if json_output:
        emit_json(report)
    else:
        render_incidents(out, report)
