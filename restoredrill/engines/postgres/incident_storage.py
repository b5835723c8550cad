"""`incident find` on PostgreSQL: the transactions that dropped or emptied whole tables (or
databases).

Their rows leave no record in WAL, so they never rank among the row incidents, however many
rows they took. What WAL does show (engines/postgres/wal_stats.py) is which relation files
a commit removed and which ones the transaction created, in order: none created is a DROP.
A TRUNCATE and a rewrite (VACUUM FULL, CLUSTER, ALTER TABLE … TYPE) both give a table new
files, its own first, then its TOAST table's and its indexes': a TRUNCATE leaves the
table's own file without a page, a rewrite of a table that had rows writes into it. With
--dsn, files of relations created in the transaction itself (their file number is their
oid) are told apart and left out, and the TRUNCATEd tables are named while those files are
still theirs; a removed file is gone from the catalog and cannot be named any more."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from restoredrill.drill.incident_models import FindRequest, StorageIncident
from restoredrill.engines.postgres.incident_commands import recover_command, restore_command
from restoredrill.engines.postgres.incident_names import RelNamer, wanted
from restoredrill.engines.postgres.wal_stats import RelFile, TxChanges
from restoredrill.lsn import format_lsn

_TABLE_KINDS = ("r", "p", "m")  # pg_class.relkind of a table, a partitioned one, a matview


def _replacing(tx: TxChanges, namer: RelNamer) -> dict[RelFile, bool]:
    """The files made in place of a relation's old ones, in creation order: not those of a
    relation the transaction created (known only with --dsn)."""
    return {rel: written for rel, written in tx.created.items() if not namer.name(rel).fresh}


def _kind(replacing: dict[RelFile, bool]) -> Literal["drop", "truncate", "rewrite"]:
    if not replacing:
        return "drop"
    return "rewrite" if next(iter(replacing.values())) else "truncate"


def _tables(
    replacing: dict[RelFile, bool], namer: RelNamer, kind: str, asked: Sequence[str]
) -> list[str] | None:
    """The tables given new files (a TRUNCATE's: left empty), named where --dsn allows;
    None when --table asked for others (an unnamed file always stays: it may be one of
    them)."""
    tables: list[str] = []
    unnamed = False
    for rel, written in replacing.items():
        if kind == "truncate" and written:
            continue  # an index's metapage
        name = namer.name(rel)
        if name.table is None:
            unnamed = True
            continue
        if name.kind not in _TABLE_KINDS and not name.toast:
            continue
        label = f"{name.schema}.{name.table}"
        if wanted(name, rel, asked) and label not in tables:
            tables.append(label)
    if asked and not tables and not unnamed and replacing:
        return None
    return tables


def storage_incident(
    tx: TxChanges, namer: RelNamer, request: FindRequest
) -> StorageIncident | None:
    """What ``tx`` did to whole tables, if it removed any relation file or database."""
    if tx.databases:  # its tables are gone with it: a restore from just before holds them
        return StorageIncident(
            kind="drop database",
            xid=tx.xid,
            commit_time=tx.commit_time,
            commit_lsn=format_lsn(tx.commit_lsn),
            tables=[f"database oid {oid}" for oid in tx.databases],
            command=restore_command(request, tx.xid),
        )
    if not tx.dropped:
        return None
    replacing = _replacing(tx, namer)
    kind = _kind(replacing)
    tables = _tables(replacing, namer, kind, request.tables)
    if tables is None:
        return None
    if kind == "truncate" and tables:
        command: str | None = recover_command(request, tx.xid, tables)
    elif kind == "rewrite":
        command = None
    else:  # a drop, or a TRUNCATE of tables --dsn cannot name
        command = restore_command(request, tx.xid)
    return StorageIncident(
        kind=kind,
        xid=tx.xid,
        commit_time=tx.commit_time,
        commit_lsn=format_lsn(tx.commit_lsn),
        tables=tables,
        files_dropped=len(tx.dropped),
        command=command,
    )


__all__ = ["storage_incident"]
