"""Rows changed per committed transaction, counted from the heap records of archived WAL.

pg_waldump prints one line per record; heap INSERT / MULTI_INSERT / UPDATE / HOT_UPDATE /
DELETE records carry the transaction (or subtransaction) id and the relation they touch.
They are kept per xid until its commit record says whether (and when) it committed, with
which subtransactions; aborted work is dropped. Segment staging and timeline runs are those
of wal_scan, so both read the archive the same way.

A DROP TABLE or a TRUNCATE writes no row records: its commit record lists the relation
files it removes (``rels:``), and a TRUNCATE creates new, empty ones (Storage CREATE) —
where a rewrite (VACUUM FULL, CLUSTER, ALTER TABLE) writes pages or rows into every file
it creates, an index at least its metapage. A DROP DATABASE writes one Database DROP
record, with the database's oid. All are kept per transaction too."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from restoredrill.engines.postgres.tools import PgTools
from restoredrill.engines.postgres.wal_scan import (
    _RECORD,
    WINDOW,
    _materialize,
    _timeline_runs,
    parse_line,
    rmgr_filter,
)
from restoredrill.errors import BackupCorrupt
from restoredrill.lsn import parse_lsn, segment_of
from restoredrill.models import WalSegment

_HEAP = re.compile(r"^(?P<op>INSERT|UPDATE|HOT_UPDATE|DELETE)(?:\+INIT)? ")
_MULTI = re.compile(r"^MULTI_INSERT(?:\+INIT)? (?P<n>\d+) tuples")
_REL = re.compile(r"blkref #0: rel (?P<spc>\d+)/(?P<db>\d+)/(?P<rel>\d+)")
_SUBXACTS = re.compile(r"subxacts: (?P<ids>[\d ]+)")
_DROPPED = re.compile(r"; rels: (?P<paths>[^;]+)")  # files a commit removes
_CREATE = re.compile(r"^CREATE (?P<path>\S+)$")
_DROP_DATABASE = re.compile(r"^DROP\b")  # Database rmgr: "DROP dir 1663/16384" (one per dir)
_DIR = re.compile(r"\b\d+/(?P<db>\d+)\b")
_BLOCKS = re.compile(r"rel (?P<spc>\d+)/(?P<db>\d+)/(?P<rel>\d+)")  # every blkref of a record
# a relation file's path as WAL prints it; a temporary relation's (t3_16400) does not match
_FILE = re.compile(
    r"^(?:base/(?P<db>\d+)|pg_tblspc/(?P<spc>\d+)/[^/]+/(?P<tdb>\d+))/(?P<node>\d+)$"
)
DEFAULT_TABLESPACE = 1663  # pg_default: base/DB/NODE
_STOPPED = re.compile(r"error in WAL record at (?P<lsn>[0-9A-F]+/[0-9A-F]+)")
_END_OF_WAL = re.compile(r"wanted \d+, got 0|could not find file")
# Relfilenodes below FirstNormalObjectId belong to the system catalogs (DDL, not data).
FIRST_NORMAL_OID = 16384
OPS = ("inserted", "updated", "deleted")


@dataclass(frozen=True, order=True)
class RelFile:
    """A relation as WAL knows it: tablespace, database and relfilenode oids."""

    spc: int
    db: int
    node: int

    def label(self) -> str:
        return f"rel {self.db}/{self.node}"

    @property
    def user(self) -> bool:
        """Not a shared or system catalog (DDL bookkeeping, not the user's rows)."""
        return self.db != 0 and self.node >= FIRST_NORMAL_OID

    @classmethod
    def of_path(cls, path: str) -> RelFile | None:
        found = _FILE.match(path)
        if found is None:
            return None
        if found["db"] is not None:
            return cls(DEFAULT_TABLESPACE, int(found["db"]), int(found["node"]))
        return cls(int(found["spc"]), int(found["tdb"]), int(found["node"]))


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.deleted

    def add(self, other: Counts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted


@dataclass
class TxChanges:
    """A committed transaction (subtransactions folded in) and the rows it changed."""

    xid: int
    commit_time: datetime
    commit_lsn: int
    rels: dict[RelFile, Counts] = field(default_factory=dict)
    dropped: list[RelFile] = field(default_factory=list)  # user relation files it removed
    created: dict[RelFile, bool] = field(default_factory=dict)  # files it made: written to?
    databases: list[int] = field(default_factory=list)  # oids of the databases it dropped

    @property
    def total(self) -> int:
        return sum(c.total for c in self.rels.values())


@dataclass
class ScanTotals:
    """What the scan saw besides the committed transactions it yielded."""

    aborted: int = 0
    unfinished: int = 0  # records seen, no commit/abort in the archive (yet)
    segments: int = 0


def _heap_change(rmgr: str, desc: str) -> tuple[str, int] | None:
    if rmgr == "Heap":
        match = _HEAP.match(desc)
        if match is None:
            return None
        op = match["op"]
        return ("inserted" if op == "INSERT" else "deleted" if op == "DELETE" else "updated"), 1
    if rmgr == "Heap2":
        multi = _MULTI.match(desc)
        if multi is not None:
            return "inserted", int(multi["n"])
    return None


class _Pending:
    """Changes per (sub)transaction id until its fate is known."""

    def __init__(self) -> None:
        self.by_xid: dict[int, dict[RelFile, Counts]] = {}
        self.created: dict[int, dict[RelFile, bool]] = {}
        self.databases: dict[int, list[int]] = {}  # DROP DATABASE
        self.totals = ScanTotals()

    def record(self, xid: int, rel: RelFile, op: str, rows: int) -> None:
        if not rel.user:
            return
        counts = self.by_xid.setdefault(xid, {}).setdefault(rel, Counts())
        setattr(counts, op, getattr(counts, op) + rows)

    def create(self, xid: int, rel: RelFile) -> None:
        if rel.user:
            self.created.setdefault(xid, {})[rel] = False

    def wrote(self, xid: int, rel: RelFile) -> None:
        made = self.created.get(xid)
        if made is not None and rel in made:
            made[rel] = True

    def drop_database(self, xid: int, oid: int) -> None:
        dropped = self.databases.setdefault(xid, [])
        if oid not in dropped:  # one record per tablespace directory of the database
            dropped.append(oid)

    def finish(self, xid: int, subxacts: Sequence[int], desc: str) -> TxChanges:
        """What the transaction and its subtransactions did (the commit record's ``desc``
        lists the files it removes); commit time and position are the caller's."""
        done = TxChanges(xid, datetime.min, 0)
        for one in (xid, *subxacts):
            for rel, counts in self.by_xid.pop(one, {}).items():
                done.rels.setdefault(rel, Counts()).add(counts)
            done.created.update(self.created.pop(one, {}))
            done.databases += self.databases.pop(one, [])
        done.dropped = _dropped(desc, done.created)
        return done


def committed_changes(
    tools: PgTools, segments: Sequence[WalSegment], stop_after: datetime | None = None
) -> tuple[Iterator[TxChanges], ScanTotals]:
    """Committed transactions with row changes, in commit order, from a contiguous run of
    segments. ``stop_after``: stop reading once a commit is this late (the caller's window
    is over). The totals are complete once the iterator is exhausted."""
    pending = _Pending()
    pending.totals.segments = len(segments)
    return _changes(tools, segments, pending, stop_after), pending.totals


def _changes(
    tools: PgTools,
    segments: Sequence[WalSegment],
    pending: _Pending,
    stop_after: datetime | None,
) -> Iterator[TxChanges]:
    seen_until = -1
    with tempfile.TemporaryDirectory(prefix="restoredrill-walstats-") as tmp:
        workdir = Path(tmp)
        for run in _timeline_runs(segments):
            for start in range(0, len(run), WINDOW):
                window = run[start : start + WINDOW + 1]
                _materialize(window, workdir)
                argv = [tools.path("pg_waldump"), "-p", str(workdir)]
                argv += rmgr_filter(
                    tools, "Heap", "Heap2", "Transaction", "Storage", "XLOG", "Database"
                )
                argv += [window[0].name, window[-1].name]
                final = start + WINDOW >= len(run) - 1
                for lsn, line in _waldump_lines(argv, window, final):
                    if lsn <= seen_until:
                        continue  # the overlapping segment, read twice
                    seen_until = lsn
                    done = _apply(line, pending)
                    if done is not None:
                        if done.rels or done.dropped or done.databases:
                            yield done
                        if stop_after is not None and done.commit_time > stop_after:
                            pending.totals.unfinished = len(pending.by_xid)
                            return
                for segment in window[:-1]:
                    (workdir / segment.name).unlink(missing_ok=True)
    pending.totals.unfinished = len(pending.by_xid)


def _apply(line: str, pending: _Pending) -> TxChanges | None:
    match = _RECORD.search(line)
    if match is None:
        return None
    rmgr, desc, xid = match["rmgr"], match["desc"], int(match["xid"])
    if rmgr == "Transaction":
        event = parse_line(line)
        if event is None or event.kind not in ("commit", "abort"):
            return None
        subs = _SUBXACTS.search(desc)
        done = pending.finish(
            event.xid, [int(x) for x in subs["ids"].split()] if subs else [], desc
        )
        if event.kind == "abort" or event.time is None:
            pending.totals.aborted += 1 if done.rels else 0
            return None
        done.commit_time, done.commit_lsn = event.time, event.lsn
        return done
    if rmgr == "Database":
        if _DROP_DATABASE.match(desc):
            for directory in _DIR.finditer(desc):
                pending.drop_database(xid, int(directory["db"]))
        return None
    if rmgr == "Storage":
        made = _CREATE.match(desc)
        new = RelFile.of_path(made["path"]) if made is not None else None
        if new is not None:
            pending.create(xid, new)
        return None
    if rmgr == "XLOG":
        if desc.startswith("FPI "):  # pages written whole: a rewrite's, an index's metapage
            for page in _BLOCKS.finditer(desc):
                pending.wrote(xid, RelFile(int(page["spc"]), int(page["db"]), int(page["rel"])))
        return None
    change = _heap_change(rmgr, desc)
    block = _REL.search(desc)
    if change is not None and block is not None:
        op, rows = change
        found = RelFile(int(block["spc"]), int(block["db"]), int(block["rel"]))
        pending.record(xid, found, op, rows)
        pending.wrote(xid, found)
    return None


def _dropped(desc: str, created: dict[RelFile, bool]) -> list[RelFile]:
    """The user relation files a commit record removes, but those the transaction made
    itself (a table created and dropped again held nothing from before)."""
    listed = _DROPPED.search(desc)
    if listed is None:
        return []
    files = (RelFile.of_path(path) for path in listed["paths"].split())
    return [rel for rel in files if rel is not None and rel.user and rel not in created]


def _waldump_lines(
    argv: list[str], window: Sequence[WalSegment], final: bool
) -> Iterator[tuple[int, str]]:
    """(LSN, line) of each record. pg_waldump always ends with an error; only two are the
    end of the archived WAL: zeros after the last record (a switched segment) or the next
    segment not being there. Anything else (a bad checksum, a torn page, a short file), or
    an end before the window's last segment, is damaged WAL: counting on past it would
    silently miss transactions."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "TZ": "UTC"},
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                match = _RECORD.search(line)
                if match is not None:
                    yield parse_lsn(match["lsn"]), line
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        errors.seek(0)
        message = " ".join(errors.read().split())
    stopped = _STOPPED.search(message)
    at = segment_of(parse_lsn(stopped["lsn"])) if stopped is not None else window[-1].segno
    if at >= window[-1].segno and (not final or _END_OF_WAL.search(message) or not message):
        return
    name = next((s.name for s in window if s.segno == at), window[-1].name)
    detail = message.rsplit("pg_waldump: error: ", 1)[-1]
    raise BackupCorrupt(f"WAL segment {name}: unreadable WAL ({detail})")
