"""The options of `restoredrill recover`: the backup to restore twice and the incident."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.options import INCIDENT, SOURCE, TABLE_HELP

BaseBackupsOpt = Annotated[
    Path,
    typer.Option(
        "--base-backups",
        "--snapshot",
        metavar="DIR",
        help="PostgreSQL base backups, or the MariaDB/MySQL snapshot.",
        rich_help_panel=SOURCE,
    ),
]

WalArchiveOpt = Annotated[
    Path,
    typer.Option(
        "--wal-archive",
        "--binlog-archive",
        metavar="DIR",
        help="The WAL archive, or the MariaDB/MySQL binlog archive.",
        rich_help_panel=SOURCE,
    ),
]

TableOpt = Annotated[
    list[str],
    typer.Option("--table", metavar="TABLE", help=f"{TABLE_HELP} Hit by the incident."),
]

BeforeOpt = Annotated[
    str | None,
    typer.Option(
        "--before",
        metavar="T1",
        help="Just before the incident (ISO, tz).",
        rich_help_panel=INCIDENT,
    ),
]

AfterOpt = Annotated[
    str | None,
    typer.Option(
        "--after",
        metavar="T2",
        help="Just after the incident (ISO, tz).",
        rich_help_panel=INCIDENT,
    ),
]

IncidentXidOpt = Annotated[
    int | None,
    typer.Option(
        "--incident-xid",
        metavar="XID",
        help="PostgreSQL: the incident's transaction (from `incident find`): restore to "
        "just before and just after it. Instead of --before/--after.",
        rich_help_panel=INCIDENT,
    ),
]

IncidentGtidOpt = Annotated[
    str | None,
    typer.Option(
        "--incident-gtid",
        metavar="GTID",
        help="MariaDB/MySQL: the incident's GTID (from `incident find --binlog-archive`): "
        "restore to just before and just after it. Instead of --before/--after.",
        rich_help_panel=INCIDENT,
    ),
]
