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

# a heap record's operation and relation in one match ("spc/db/node": rows are counted per
# record, 800,000 for the DELETE, so nothing is made per record but a dict entry)
_HEAP = re.compile(
    r"^(?P<op>INSERT|UPDATE|HOT_UPDATE|DELETE)(?:\+INIT)? .*?blkref #0: rel (?P<rel>\d+/\d+/\d+)"
)
_MULTI = re.compile(
    r"^MULTI_INSERT(?:\+INIT)? (?P<n>\d+) tuples.*?blkref #0: rel (?P<rel>\d+/\d+/\d+)"
)
_OP = {"INSERT": 0, "UPDATE": 1, "HOT_UPDATE": 1, "DELETE": 2}  # index in a [i, u, d] count
_SUBXACTS = re.compile(r"subxacts: (?P<ids>[\d ]+)")
_DROPPED = re.compile(r"; rels: (?P<paths>[^;]+)")  # files a commit removes
_CREATE = re.compile(r"^CREATE (?P<path>\S+)$")
_DROP_DATABASE = re.compile(r"^DROP\b")  # Database rmgr: "DROP dir 1663/16384" (one per dir)
_DIR = re.compile(r"\b\d+/(?P<db>\d+)\b")
_BLOCKS = re.compile(r"rel (?P<rel>\d+/\d+/\d+)")  # every blkref of a record
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

    @property
    def key(self) -> str:
        """As a block reference prints it: spc/db/node."""
        return f"{self.spc}/{self.db}/{self.node}"

    @classmethod
    def of_key(cls, key: str) -> RelFile:
        spc, db, node = key.split("/")
        return cls(int(spc), int(db), int(node))

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


class _Pending:
    """Changes per (sub)transaction id until its fate is known. Keyed by the texts WAL prints
    (xid, spc/db/node): turned into numbers once per transaction, not once per record."""

    def __init__(self) -> None:
        self.by_xid: dict[str, dict[str, list[int]]] = {}  # xid -> rel -> [ins, upd, del]
        self.created: dict[str, dict[str, bool]] = {}  # xid -> file it made -> written to?
        self.databases: dict[str, list[int]] = {}  # DROP DATABASE
        self.totals = ScanTotals()

    def record(self, xid: str, rel: str, op: int, rows: int) -> None:
        rels = self.by_xid.get(xid)
        if rels is None:
            rels = self.by_xid[xid] = {}
        counts = rels.get(rel)
        if counts is None:
            counts = rels[rel] = [0, 0, 0]
        counts[op] += rows
        self.wrote(xid, rel)  # a file the transaction made has rows in it: not emptied

    def create(self, xid: str, rel: RelFile) -> None:
        if rel.user:
            self.created.setdefault(xid, {})[rel.key] = False

    def wrote(self, xid: str, rel: str) -> None:
        made = self.created.get(xid)
        if made is not None and rel in made:
            made[rel] = True

    def drop_database(self, xid: str, oid: int) -> None:
        dropped = self.databases.setdefault(xid, [])
        if oid not in dropped:  # one record per tablespace directory of the database
            dropped.append(oid)

    def finish(self, xid: int, subxacts: Sequence[str], desc: str) -> TxChanges:
        """What the transaction and its subtransactions did (the commit record's ``desc``
        lists the files it removes); commit time and position are the caller's."""
        done = TxChanges(xid, datetime.min, 0)
        for one in (str(xid), *subxacts):
            for key, (inserted, updated, deleted) in self.by_xid.pop(one, {}).items():
                rel = RelFile.of_key(key)
                if rel.user:  # not the system catalogs: DDL bookkeeping
                    done.rels.setdefault(rel, Counts()).add(Counts(inserted, updated, deleted))
            for key, written in self.created.pop(one, {}).items():
                done.created[RelFile.of_key(key)] = written
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
                last = None
                for record in _records(argv, window, final, seen_until):
                    last = record
                    done = _apply(record, pending)
                    if done is not None:
                        if done.rels or done.dropped or done.databases:
                            yield done
                        if stop_after is not None and done.commit_time > stop_after:
                            pending.totals.unfinished = len(pending.by_xid)
                            return
                if last is not None:
                    seen_until = parse_lsn(last["lsn"])
                for segment in window[:-1]:
                    (workdir / segment.name).unlink(missing_ok=True)
    pending.totals.unfinished = len(pending.by_xid)


def _apply(record: re.Match[str], pending: _Pending) -> TxChanges | None:
    rmgr, desc, xid = record["rmgr"], record["desc"], record["xid"]
    if rmgr == "Heap":  # the most records by far: first, and with the least work
        heap = _HEAP.match(desc)
        if heap is not None:
            pending.record(xid, heap["rel"], _OP[heap["op"]], 1)
        return None
    if rmgr == "Heap2":
        multi = _MULTI.match(desc)
        if multi is not None:
            pending.record(xid, multi["rel"], 0, int(multi["n"]))
        return None
    if rmgr == "Transaction":
        event = parse_line(record.string)
        if event is None or event.kind not in ("commit", "abort"):
            return None
        subs = _SUBXACTS.search(desc)
        done = pending.finish(event.xid, subs["ids"].split() if subs else [], desc)
        if event.kind == "abort" or event.time is None:
            pending.totals.aborted += 1 if done.rels else 0
            return None
        done.commit_time, done.commit_lsn = event.time, event.lsn
        return done
    if rmgr == "Database":
        if _DROP_DATABASE.match(desc):
            for directory in _DIR.finditer(desc):
                pending.drop_database(xid, int(directory["db"]))
    elif rmgr == "Storage":
        made = _CREATE.match(desc)
        new = RelFile.of_path(made["path"]) if made is not None else None
        if new is not None:
            pending.create(xid, new)
    elif rmgr == "XLOG" and desc.startswith("FPI "):  # a rewrite's pages, an index's metapage
        for page in _BLOCKS.finditer(desc):
            pending.wrote(xid, page["rel"])
    return None


def _dropped(desc: str, created: dict[RelFile, bool]) -> list[RelFile]:
    """The user relation files a commit record removes, but those the transaction made
    itself (a table created and dropped again held nothing from before)."""
    listed = _DROPPED.search(desc)
    if listed is None:
        return []
    files = (RelFile.of_path(path) for path in listed["paths"].split())
    return [rel for rel in files if rel is not None and rel.user and rel not in created]


def _records(
    argv: list[str], window: Sequence[WalSegment], final: bool, after: int
) -> Iterator[re.Match[str]]:
    """Each record's parsed line, past LSN ``after`` (the segment two windows share is
    read twice: only its first lines are compared, the LSNs only grow). pg_waldump always
    ends with an error; only two are the end of the archived WAL: zeros after the last
    record (a switched segment) or the next segment not being there. Anything else (a bad
    checksum, a torn page, a short file), or an end before the window's last segment, is
    damaged WAL: counting on past it would silently miss transactions."""
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
            overlap = after >= 0
            for line in proc.stdout:
                match = _RECORD.search(line)
                if match is None:
                    continue
                if overlap:
                    if parse_lsn(match["lsn"]) <= after:
                        continue
                    overlap = False
                yield match
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
