"""`restoredrill recover`: restore before and after the incident, diff, reapply."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.common import (
    JsonOpt,
    OsUserOpt,
    PgBinOpt,
    emit_json,
    err,
    interactive,
    out,
)
from restoredrill.cli.reapply import (
    BatchSizeOpt,
    ExecuteOpt,
    ForceOpt,
    LockTimeoutOpt,
    MaxRowsOpt,
    OnlyOpt,
    ReapplyWhereOpt,
    SqlOutOpt,
    StatementTimeoutOpt,
    options,
)
from restoredrill.cli.restore import BaseBackupsOpt, WalArchiveOpt
from restoredrill.drill import reapply as reapply_lib
from restoredrill.drill.recover import RecoverRequest, recover
from restoredrill.report.terminal import RichProgress
from restoredrill.report.terminal_diff import render_recover
from restoredrill.targets import parse_time
from restoredrill.timing import ProgressListener


def recover_command(
    base_backups: BaseBackupsOpt,
    wal_archive: WalArchiveOpt,
    table: Annotated[
        list[str], typer.Option("--table", help="A table the incident hit (repeatable).")
    ],
    to: Annotated[str, typer.Option("--to", metavar="PRODUCTION_DSN", help="Production.")],
    before: Annotated[
        str | None,
        typer.Option("--before", metavar="T1", help="Just before the incident (ISO, tz)."),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--after", metavar="T2", help="Just after the incident (ISO, tz)."),
    ] = None,
    incident_xid: Annotated[
        int | None,
        typer.Option(
            "--incident-xid",
            metavar="XID",
            help="PostgreSQL: the incident's transaction (from `incident find`): restore to "
            "just before and just after it. Instead of --before/--after.",
        ),
    ] = None,
    incident_gtid: Annotated[
        str | None,
        typer.Option(
            "--incident-gtid",
            metavar="GTID",
            help="MariaDB/MySQL: the incident's GTID (from `incident find --binlog-archive`): "
            "restore to just before and just after it. Instead of --before/--after.",
        ),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", metavar="DIFF.json", help="Where the diff goes.")
    ] = None,
    dbname: Annotated[
        str | None,
        typer.Option("--dbname", help="Database to diff inside the restores (default: --to's)."),
    ] = None,
    only: OnlyOpt = "all",
    where: ReapplyWhereOpt = None,
    sql_out: SqlOutOpt = None,
    execute: ExecuteOpt = False,
    max_rows: MaxRowsOpt = reapply_lib.DEFAULT_MAX_ROWS,
    batch_size: BatchSizeOpt = reapply_lib.DEFAULT_BATCH_SIZE,
    lock_timeout: LockTimeoutOpt = reapply_lib.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: StatementTimeoutOpt = reapply_lib.DEFAULT_STATEMENT_TIMEOUT,
    force: ForceOpt = False,
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    json_output: JsonOpt = False,
) -> None:
    """Recover what an incident destroyed: restore before and after it, diff, reapply.

    The diff of the two restores is the incident's exact effect; it goes to reapply as a
    dry run unless --execute. Give the incident as --incident-xid N (PostgreSQL) or
    --incident-gtid G (MariaDB/MySQL; see `incident find`), or as --before T1 --after T2.
    MariaDB/MySQL: --base-backups is the snapshot, --wal-archive the binlog archive.
    Exit 0 done, 1 conflicts, 2 refused."""
    request = RecoverRequest(
        base_backups=base_backups,
        wal_archive=wal_archive,
        before=parse_time(before, "--before") if before is not None else None,
        after=parse_time(after, "--after") if after is not None else None,
        tables=[t for item in table for t in item.split(",") if t.strip()],
        to_dsn=to,
        out=out_file,
        reapply=options(
            only,
            where,
            sql_out,
            execute,
            max_rows,
            batch_size,
            lock_timeout,
            statement_timeout,
            force,
        ),
        dbname=dbname,
        pg_bin=pg_bin,
        os_user=os_user,
        incident_xid=incident_xid,
        incident_gtid=incident_gtid,
    )
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    result = recover(request, progress)
    if json_output:
        emit_json(result)
    else:
        render_recover(out, result)
    raise typer.Exit(reapply_lib.exit_code(result.reapply))
