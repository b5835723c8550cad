"""What `incident find` returns, for both engines: transactions ranked by rows changed, and
apart from them the ones that dropped or emptied whole tables (no row counts for those)."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field

from restoredrill.models import Frozen

DEFAULT_TOP = 10


class TableChanges(Frozen):
    table: str  # schema.table, or "rel DBOID/RELFILENODE" when not named
    database_oid: int
    relfilenode: int
    named: bool
    toast: bool = False  # TOAST chunks of that table: not rows, not counted in the total
    inserted: int
    updated: int
    deleted: int


class Incident(Frozen):
    xid: int | None  # PostgreSQL
    commit_time: AwareDatetime
    commit_lsn: str | None  # PostgreSQL: where its commit record is
    gtid: str | None = None  # MariaDB/MySQL
    position: str | None = None  # MariaDB/MySQL: FILE:POS just after it
    rows: int
    tables: list[TableChanges]


class StorageIncident(Frozen):
    """A committed transaction that removed a table's storage. A DROP TABLE or a TRUNCATE
    leaves no row records (in WAL, nor in a ROW-format binlog), so its rows are not
    counted, and it would never rank among the row incidents however many rows it took."""

    kind: Literal["drop", "truncate", "rewrite", "drop database"]  # rewrite: VACUUM FULL…
    xid: int | None
    commit_time: AwareDatetime
    commit_lsn: str | None = None
    gtid: str | None = None
    position: str | None = None
    tables: list[str]  # where known (PostgreSQL: emptied or rewritten, --dsn); databases
    files_dropped: int = 0  # PostgreSQL: relation files removed (tables, indexes, TOAST)
    command: str | None = None  # what brings the rows back (or a copy from just before)


class IncidentReport(Frozen):
    format: Literal["restoredrill-incidents/1"] = "restoredrill-incidents/1"
    engine: Literal["postgres", "mariadb"] = "postgres"
    wal_archive: str | None
    binlog_archive: str | None = None
    since: AwareDatetime | None
    until: AwareDatetime | None
    tables: list[str]
    names_resolved: bool
    segments_scanned: int
    first_segment: str | None
    last_segment: str | None
    missing_segments: list[str]
    transactions: int  # committed, in the window, with row changes (in --table if given)
    aborted: int
    unfinished: int
    incidents: list[Incident]
    recover_command: str | None
    notes: list[str]
    storage: list[StorageIncident] = Field(default_factory=list)  # commit order, the last top


@dataclass(frozen=True)
class FindRequest:
    wal_archive: Path | None
    base_backups: Path | None = None
    since: datetime | None = None
    until: datetime | None = None
    tables: Sequence[str] = ()
    top: int = DEFAULT_TOP
    dsn: str | None = None  # production, read-only: only to name relfilenodes
    pg_bin: str | None = None
    binlog_archive: Path | None = None  # MariaDB/MySQL instead of wal_archive
    mysql_bin: str | None = None


class Top:
    """The ``n`` incidents with the most rows; ties go to the earlier one in the archive."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0
        self.heap: list[tuple[int, int, int, Incident]] = []

    def offer(self, incident: Incident) -> None:
        self.seen += 1
        entry = (incident.rows, -self.seen, self.seen, incident)
        if len(self.heap) < self.n:
            heapq.heappush(self.heap, entry)
        elif entry[:2] > self.heap[0][:2]:
            heapq.heapreplace(self.heap, entry)

    def ranked(self) -> list[Incident]:
        return [e[3] for e in sorted(self.heap, key=lambda e: e[:2], reverse=True)]


class Recent:
    """The last ``n`` storage incidents, in commit order, and how many came before them."""

    def __init__(self, n: int) -> None:
        self.kept: deque[StorageIncident] = deque(maxlen=n)
        self.seen = 0

    def offer(self, incident: StorageIncident) -> None:
        self.seen += 1
        self.kept.append(incident)

    def listed(self) -> list[StorageIncident]:
        return list(self.kept)

    def notes(self) -> list[str]:
        if not self.kept:
            return []
        notes = [
            f"{len(self.kept)} transaction(s) dropped or emptied whole tables (listed first): "
            "their rows are not counted, so the biggest by rows may not be the incident"
        ]
        earlier = self.seen - len(self.kept)
        if earlier:
            notes.append(
                f"{earlier} earlier transaction(s) also dropped or emptied tables: narrow the "
                "window (--since/--until) to list them"
            )
        return notes


def in_window(commit_time: datetime, request: FindRequest) -> bool:
    if request.since is not None and commit_time < request.since:
        return False
    return request.until is None or commit_time <= request.until
