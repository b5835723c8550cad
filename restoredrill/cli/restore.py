"""`restoredrill plan` and `restoredrill restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.common import (
    JsonOpt,
    LedgerOpt,
    OsUserOpt,
    PgBinOpt,
    emit_json,
    err,
    interactive,
    out,
)
from restoredrill.drill.plan import plan_restore
from restoredrill.drill.restore import RestoreRequest, restore
from restoredrill.engines.pg_tools import find_pg_tools
from restoredrill.ledger import Ledger
from restoredrill.report.terminal import RichProgress, render_plan, render_restore
from restoredrill.sources.file import FileSource
from restoredrill.targets import parse_target
from restoredrill.timing import ProgressListener

BaseBackupsOpt = Annotated[
    Path,
    typer.Option("--base-backups", help="Directory of pg_basebackup output (one per subdir)."),
]
WalArchiveOpt = Annotated[
    Path, typer.Option("--wal-archive", help="Directory a cp-style archive_command writes.")
]
TargetTimeOpt = Annotated[
    str | None, typer.Option("--target-time", help="ISO 8601 time with a time zone.")
]
TargetLsnOpt = Annotated[str | None, typer.Option("--target-lsn", help="LSN, e.g. 0/16B3748.")]
TargetXidOpt = Annotated[str | None, typer.Option("--target-xid", help="Transaction id.")]
TargetNameOpt = Annotated[
    str | None, typer.Option("--target-name", help="Restore point (pg_create_restore_point).")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="'latest' or 'immediate'.")]
ExclusiveOpt = Annotated[
    bool, typer.Option("--exclusive", help="Stop just before the target instead of after it.")
]


def plan_command(
    base_backups: BaseBackupsOpt,
    wal_archive: WalArchiveOpt,
    target_time: TargetTimeOpt = None,
    target_lsn: TargetLsnOpt = None,
    target_xid: TargetXidOpt = None,
    target_name: TargetNameOpt = None,
    target: TargetOpt = None,
    exclusive: ExclusiveOpt = False,
    pg_bin: PgBinOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Dry run: choose the base backup and WAL range, run the preflight checks."""
    recovery_target = parse_target(
        target_time, target_lsn, target_xid, target_name, target, exclusive
    )
    outcome = plan_restore(
        FileSource(base_backups, wal_archive), recovery_target, find_pg_tools(pg_bin)
    )
    if json_output:
        emit_json(outcome.plan)
    else:
        render_plan(out, outcome.plan)
    if not outcome.plan.ok:
        raise typer.Exit(1)


def restore_command(
    base_backups: BaseBackupsOpt,
    wal_archive: WalArchiveOpt,
    target_time: TargetTimeOpt = None,
    target_lsn: TargetLsnOpt = None,
    target_xid: TargetXidOpt = None,
    target_name: TargetNameOpt = None,
    target: TargetOpt = None,
    exclusive: ExclusiveOpt = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the sandbox running and print its DSN.")
    ] = False,
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    dbname: Annotated[
        str, typer.Option("--dbname", help="Database named in the printed DSN.")
    ] = "postgres",
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Restore to a point in time in a throwaway sandbox, timing every phase."""
    request = RestoreRequest(
        base_backups=base_backups,
        wal_archive=wal_archive,
        target=parse_target(target_time, target_lsn, target_xid, target_name, target, exclusive),
        keep=keep,
        pg_bin=pg_bin,
        os_user=os_user,
        dbname=dbname,
    )
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    with Ledger(ledger) as history:
        result = restore(request, progress, history)
    if json_output:
        emit_json(result)
    else:
        render_restore(out, result)
