"""Options shared by several commands, and the names of the help panels.

One spelling per idea: the same option (``--json``, ``--ledger``, ``--table``, ``--engine``,
``--pg-bin``, ``--os-user``) is declared once here and means the same on every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import Engine
from restoredrill.cli.documents import invocation

# help panels, in the order a reader meets them
SOURCE = "Source"
POSTGRES = "PostgreSQL"
MARIADB = "MariaDB / MySQL"
TARGET = "Target"
INCIDENT = "Incident"
SANDBOX = "Sandbox"
RDS = "RDS"
AWS = "AWS"
REAPPLY = "Reapply"
PRODUCTION = "Production"
OUTPUT = "Output"


def _record_json(value: bool) -> bool:
    if value:
        invocation.json = True
    return value


JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document on stdout.",
        callback=_record_json,
        rich_help_panel=OUTPUT,
    ),
]
LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        metavar="FILE",
        envvar="RESTOREDRILL_LEDGER",
        help="SQLite drill history file (default: in the user's data directory).",
        rich_help_panel=OUTPUT,
    ),
]
EngineOpt = Annotated[
    Engine,
    typer.Option("--engine", help="The database engine.", rich_help_panel=SOURCE),
]
PgBinOpt = Annotated[
    str | None,
    typer.Option(
        "--pg-bin",
        metavar="DIR",
        envvar="RESTOREDRILL_PG_BIN",
        help="Directory with the PostgreSQL server binaries.",
        rich_help_panel=POSTGRES,
    ),
]
OsUserOpt = Annotated[
    str,
    typer.Option(
        "--os-user",
        metavar="USER",
        envvar="RESTOREDRILL_OS_USER",
        help="OS user the servers run as when run as root (MariaDB: mysql).",
        rich_help_panel=SANDBOX,
    ),
]
TABLE_HELP = "A table (table or schema.table); repeat or comma-separate."
TablesOpt = Annotated[
    list[str] | None,
    typer.Option("--table", "--tables", metavar="TABLE", help=f"{TABLE_HELP} Default: all."),
]
