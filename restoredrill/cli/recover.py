"""`restoredrill recover`: restore before and after the incident, diff, reapply."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.choices import Rows
from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import OUTPUT, JsonOpt, LedgerOpt, OsUserOpt, PgBinOpt
from restoredrill.cli.reapply_options import (
    BatchSizeOpt,
    ExecuteOpt,
    ForceOpt,
    LockTimeoutOpt,
    MaxRowsOpt,
    OnlyOpt,
    SqlOutOpt,
    StatementTimeoutOpt,
    WhereOpt,
    reapply_options,
)
from restoredrill.cli.recover_options import (
    AfterOpt,
    BaseBackupsOpt,
    BeforeOpt,
    IncidentGtidOpt,
    IncidentXidOpt,
    TableOpt,
    WalArchiveOpt,
)
from restoredrill.drill import reapply as reapply_lib
from restoredrill.drill.recover import RecoverRequest, recover
from restoredrill.drill.verify import split_tables
from restoredrill.report.terminal import RichProgress
from restoredrill.report.terminal_diff import render_recover
from restoredrill.targets import parse_time
from restoredrill.timing import ProgressListener


def recover_command(
    base_backups: BaseBackupsOpt,
    wal_archive: WalArchiveOpt,
    table: TableOpt,
    to: Annotated[str, typer.Option("--to", metavar="PRODUCTION_DSN", help="Production.")],
    before: BeforeOpt = None,
    after: AfterOpt = None,
    incident_xid: IncidentXidOpt = None,
    incident_gtid: IncidentGtidOpt = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIFF.json", help="Where the diff goes.", rich_help_panel=OUTPUT
        ),
    ] = None,
    dbname: Annotated[
        str | None,
        typer.Option(
            "--dbname",
            metavar="NAME",
            help="Database to diff inside the restores (default: --to's).",
        ),
    ] = None,
    only: OnlyOpt = Rows.all,
    where: WhereOpt = None,
    execute: ExecuteOpt = False,
    max_rows: MaxRowsOpt = reapply_lib.DEFAULT_MAX_ROWS,
    batch_size: BatchSizeOpt = reapply_lib.DEFAULT_BATCH_SIZE,
    lock_timeout: LockTimeoutOpt = reapply_lib.DEFAULT_LOCK_TIMEOUT,
    statement_timeout: StatementTimeoutOpt = reapply_lib.DEFAULT_STATEMENT_TIMEOUT,
    sql_out: SqlOutOpt = None,
    force: ForceOpt = False,
    pg_bin: PgBinOpt = None,
    os_user: OsUserOpt = "postgres",
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Recover what an incident destroyed: restore before and after it, diff, reapply.

    The diff of the two restores is the incident's exact effect; it goes to reapply as a
    dry run unless --execute. Give the incident as --incident-xid N (PostgreSQL) or
    --incident-gtid G (MariaDB/MySQL; see `incident find`), or as --before T1 --after T2.
    MariaDB/MySQL: --snapshot and --binlog-archive name the backup.
    An executing run is recorded in the ledger. Exit 0 done, 1 conflicts, 2 refused."""
    reapply = reapply_options(
        only, where, sql_out, execute, max_rows, batch_size, lock_timeout, statement_timeout,
        force, ledger,
    )  # fmt: skip
    request = RecoverRequest(
        base_backups=base_backups,
        wal_archive=wal_archive,
        before=parse_time(before, "--before") if before is not None else None,
        after=parse_time(after, "--after") if after is not None else None,
        tables=split_tables(table) or [],
        to_dsn=to,
        out=out_file,
        reapply=reapply,
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
