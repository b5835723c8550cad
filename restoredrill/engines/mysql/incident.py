"""`incident find` over archived MariaDB/MySQL binlogs: row events per GTID.

The binlog names tables itself, so no DSN is needed. The report names the
`recover --incident-gtid` command that restores to just before and just after the biggest.
A TRUNCATE or DROP TABLE (a statement, no row events) is listed apart, with its command: the
recover for a TRUNCATE, a restore to just before a DROP (production no longer has the table
to put rows back into)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from restoredrill.drill import incident_commands as commands
from restoredrill.drill.incident_models import (
    FindRequest,
    Incident,
    IncidentReport,
    Recent,
    StorageIncident,
    TableChanges,
    Top,
    in_window,
)
from restoredrill.engines.mysql.binlog import scan_binlog_archive
from restoredrill.engines.mysql.binlog_stats import BinlogTx, binlog_changes
from restoredrill.engines.mysql.tools import find_mysql_tools
from restoredrill.errors import ConfigError


def _wanted(table: str, tables: Sequence[str]) -> bool:
    return not tables or any(t in (table, table.split(".", 1)[1]) for t in tables)


def _incident(tx: BinlogTx, tables: Sequence[str]) -> Incident | None:
    changes = [
        TableChanges(
            table=name,
            database_oid=0,
            relfilenode=0,
            named=True,
            inserted=c.inserted,
            updated=c.updated,
            deleted=c.deleted,
        )
        for name, c in tx.tables.items()
        if _wanted(name, tables)
    ]
    if not changes:
        return None
    changes.sort(key=lambda t: (-(t.inserted + t.updated + t.deleted), t.table))
    return Incident(
        xid=None,
        commit_time=tx.commit_time,
        commit_lsn=None,
        gtid=tx.gtid,
        position=f"{tx.file}:{tx.end}",
        rows=sum(t.inserted + t.updated + t.deleted for t in changes),
        tables=changes,
    )


def _snapshot(request: FindRequest) -> str:
    return str(request.base_backups or "SNAPSHOT")


def recover_command(request: FindRequest, gtid: str, tables: Sequence[str]) -> str:
    """The `restoredrill recover` command that puts back exactly what transaction ``gtid``
    did (recover spells MariaDB's snapshot --base-backups, its binlogs --wal-archive)."""
    backup = ["--base-backups", _snapshot(request), "--wal-archive", str(request.binlog_archive)]
    return commands.recover_command(request, backup, ["--incident-gtid", gtid], tables)


def _storage(tx: BinlogTx, request: FindRequest) -> StorageIncident | None:
    kind: Literal["drop", "truncate", "drop database"] = (
        "drop database" if tx.databases else "truncate" if tx.truncated else "drop"
    )
    # a name the statement could not be parsed for stays: it may be one of --table's
    listed = tx.truncated or tx.dropped
    tables = [t for t in listed if t.startswith("(unparsed") or _wanted(t, request.tables)]
    if tx.databases:  # whatever --table says: its tables went with it
        tables = list(tx.databases)
    if not tables:
        return None
    if tx.gtid is None:
        command = None
    elif kind == "truncate":
        command = recover_command(request, tx.gtid, tables)
    else:
        backup = ["--engine", "mariadb", "--snapshot", _snapshot(request)]
        backup += ["--binlog-archive", str(request.binlog_archive)]
        command = commands.restore_command(backup, ["--target-gtid", tx.gtid])
    return StorageIncident(
        kind=kind,
        xid=None,
        commit_time=tx.commit_time,
        gtid=tx.gtid,
        position=f"{tx.file}:{tx.end}",
        tables=tables,
        command=command,
    )


def find_binlog_incidents(request: FindRequest) -> IncidentReport:
    assert request.binlog_archive is not None
    archive = scan_binlog_archive(request.binlog_archive)
    if not archive.files:
        raise ConfigError(f"--binlog-archive {request.binlog_archive}: no binlog files")
    seqs = sorted(archive.files)
    missing = [archive.name(n) for n in range(seqs[0], seqs[-1] + 1) if n not in archive.files]
    tool = find_mysql_tools(request.mysql_bin).need("binlog")
    top, dropped = Top(request.top), Recent(request.top)
    for tx in binlog_changes(tool, [archive.files[n] for n in seqs]):
        if in_window(tx.commit_time, request):
            incident = _incident(tx, request.tables)
            if incident is not None:
                top.offer(incident)
            storage = _storage(tx, request)
            if storage is not None:
                dropped.offer(storage)
    ranked = top.ranked()
    notes = [
        "binlog event times have one-second resolution; rows removed by ON DELETE CASCADE "
        "are not in the binlog (InnoDB redoes them) and are not counted"
    ]
    if missing:
        notes.append(
            f"binlog {missing[0]} is missing"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ": transactions written there are not counted"
        )
    notes += dropped.notes()
    biggest = ranked[0] if ranked else None
    command = None
    if biggest is not None and biggest.gtid is not None:
        command = recover_command(request, biggest.gtid, [t.table for t in biggest.tables])
    return IncidentReport(
        engine="mariadb",
        wal_archive=None,
        binlog_archive=str(request.binlog_archive),
        since=request.since,
        until=request.until,
        tables=list(request.tables),
        names_resolved=True,
        segments_scanned=len(seqs),
        first_segment=archive.name(seqs[0]),
        last_segment=archive.name(seqs[-1]),
        missing_segments=missing,
        transactions=top.seen,
        aborted=0,
        unfinished=0,
        incidents=ranked,
        recover_command=command,
        notes=notes,
        storage=dropped.listed(),
    )
