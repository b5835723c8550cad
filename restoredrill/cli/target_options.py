"""Where recovery stops: exactly one target option, parsed once into a RecoveryTarget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from restoredrill.cli.options import MARIADB, POSTGRES, TARGET

if TYPE_CHECKING:
    from restoredrill.models import RecoveryTarget

TargetTimeOpt = Annotated[
    str | None,
    typer.Option(
        "--target-time",
        metavar="ISO_TIME",
        help="An ISO 8601 time with a time zone.",
        rich_help_panel=TARGET,
    ),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="latest|immediate",
        help="The end of the archive, or the end of the base backup.",
        rich_help_panel=TARGET,
    ),
]
ExclusiveOpt = Annotated[
    bool,
    typer.Option(
        "--exclusive",
        help="Stop just before the target instead of after it.",
        rich_help_panel=TARGET,
    ),
]
TargetLsnOpt = Annotated[
    str | None,
    typer.Option("--target-lsn", metavar="LSN", help="e.g. 0/16B3748.", rich_help_panel=POSTGRES),
]
TargetXidOpt = Annotated[
    str | None,
    typer.Option("--target-xid", metavar="XID", help="A transaction id.", rich_help_panel=POSTGRES),
]
TargetNameOpt = Annotated[
    str | None,
    typer.Option(
        "--target-name",
        metavar="NAME",
        help="A restore point (pg_create_restore_point).",
        rich_help_panel=POSTGRES,
    ),
]
TimelineOpt = Annotated[
    int | None,
    typer.Option(
        "--timeline",
        min=1,
        metavar="TLI",
        help="Follow this timeline (default: the newest the .history files lead to).",
        rich_help_panel=POSTGRES,
    ),
]
TargetPositionOpt = Annotated[
    str | None,
    typer.Option(
        "--target-position",
        metavar="FILE:POS",
        help="A binlog position.",
        rich_help_panel=MARIADB,
    ),
]
TargetGtidOpt = Annotated[
    str | None,
    typer.Option(
        "--target-gtid",
        metavar="GTID",
        help="A GTID (0-1-42, or uuid:N).",
        rich_help_panel=MARIADB,
    ),
]


@dataclass(frozen=True)
class TargetOptions:
    time: str | None = None
    lsn: str | None = None
    xid: str | None = None
    name: str | None = None
    target: str | None = None
    exclusive: bool = False
    timeline: int | None = None
    position: str | None = None
    gtid: str | None = None

    def given(self) -> bool:
        values = (self.time, self.lsn, self.xid, self.name, self.target, self.position)
        return any(v is not None for v in (*values, self.gtid, self.timeline))

    def parse(self, engine: str) -> RecoveryTarget:
        """The one recovery target (a usage error unless exactly one is given)."""
        from restoredrill.targets import parse_target

        return parse_target(
            self.time, self.lsn, self.xid, self.name, self.target, self.exclusive,
            self.position, self.gtid, engine,
        )  # fmt: skip
