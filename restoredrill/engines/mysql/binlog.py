"""MariaDB / MySQL binary logs: the archive directory (binlog files + index, as a server with
log-bin writes them) and a reader of event headers, so a plan knows every transaction's
position, GTID and time before anything is provisioned.

Binlog format v4: a 4-byte magic, then events, each with a 19-byte header (timestamp, type,
server id, event size, end position, flags). A transaction starts at a GTID event (MariaDB
type 162; MySQL 33/34) and runs to the next one (or to a rotate/stop event). Event
timestamps have one-second resolution.
"""

from __future__ import annotations

import mmap
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.errors import ConfigError
from restoredrill.storage.base import Storage
from restoredrill.storage.local import LocalStorage

MAGIC = b"\xfebin"
_HEADER = struct.Struct("<IBIIIH")
ROTATE, STOP, FORMAT_DESCRIPTION = 4, 3, 15
MARIA_GTID, MARIA_GTID_LIST, MARIA_CHECKPOINT = 162, 163, 161
MYSQL_GTID, MYSQL_ANONYMOUS_GTID, MYSQL_PREVIOUS_GTIDS = 33, 34, 35
TRANSACTION_STARTS = {MARIA_GTID, MYSQL_GTID, MYSQL_ANONYMOUS_GTID}
OUTSIDE_TRANSACTIONS = {
    ROTATE,
    STOP,
    FORMAT_DESCRIPTION,
    MARIA_GTID_LIST,
    MARIA_CHECKPOINT,
    MYSQL_PREVIOUS_GTIDS,
}
_NOT_INSIDE = TRANSACTION_STARTS | OUTSIDE_TRANSACTIONS
_NAME = re.compile(r"^(?P<base>.+)\.(?P<seq>\d{6,})$")


@dataclass
class Txn:
    """One transaction: [start, end) in its file, its GTID, and its events' times."""

    start: int
    end: int
    gtid: str | None
    first_time: int
    last_time: int

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.last_time, UTC)


@dataclass
class BinlogFile:
    name: str
    path: Path
    seq: int
    size: int
    server_id: int | None = None
    server_version: str | None = None
    txns: list[Txn] = field(default_factory=list)
    end: int = 4  # end of the last complete event
    next_file: str | None = None  # from the closing rotate event
    closed: bool = False  # ends with a rotate or stop event
    damage: str | None = None  # not a binlog / an event runs past the end of the file

    def txn_at(self, pos: int) -> Txn | None:
        """The transaction containing byte ``pos`` (start <= pos < end)."""
        for txn in self.txns:
            if txn.start <= pos < txn.end:
                return txn
        return None

    def boundaries(self) -> set[int]:
        return {t.start for t in self.txns} | {t.end for t in self.txns} | {self.end}


def read_binlog(path: Path, name: str | None = None) -> BinlogFile:
    """Walk the event headers of one binlog file (bodies only of GTID, rotate and format
    description events)."""
    name = name or path.name
    match = _NAME.match(name)
    size = path.stat().st_size
    info = BinlogFile(name=name, path=path, seq=int(match.group("seq")) if match else 0, size=size)
    crc = 0
    current: Txn | None = None
    with path.open("rb") as handle:
        if handle.read(4) != MAGIC:
            info.damage = f"binlog {name} is not a binary log (bad magic number)"
            return info
        # mapped, not read event by event: the walk costs one unpack per event
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            size = min(size, len(data))
            pos = 4
            while pos < size:
                if pos + _HEADER.size > size:
                    info.damage = f"binlog {name} ends inside an event header at {pos}"
                    break
                when, kind, server_id, length, _end, _flags = _HEADER.unpack_from(data, pos)
                if length < _HEADER.size or pos + length > size:
                    info.damage = (
                        f"binlog {name} is truncated or damaged: the event at {pos} claims "
                        f"{length} bytes, past the end of the file ({size} bytes)"
                    )
                    break
                if current is not None and kind not in _NOT_INSIDE:  # the common event
                    current.end = pos + length
                    if when > current.last_time:
                        current.last_time = when
                    elif when < current.first_time:
                        current.first_time = when
                    pos += length
                    info.end = pos
                    continue
                needs_body = kind in (FORMAT_DESCRIPTION, ROTATE, MARIA_GTID, MYSQL_GTID)
                body = data[pos + _HEADER.size : pos + length] if needs_body else b""
                if kind == FORMAT_DESCRIPTION:
                    info.server_id = server_id
                    info.server_version = body[2:52].split(b"\0", 1)[0].decode(errors="replace")
                    crc = 4 if len(body) >= 5 and body[-5] == 1 else 0
                if kind in TRANSACTION_STARTS:
                    if current is not None:
                        info.txns.append(current)
                    current = Txn(pos, pos + length, _gtid(kind, server_id, body), when, when)
                elif kind in OUTSIDE_TRANSACTIONS:
                    if current is not None:
                        info.txns.append(current)
                        current = None
                    if kind == ROTATE:
                        raw = body[8 : len(body) - crc] if crc else body[8:]
                        info.next_file = raw.decode(errors="replace")
                        info.closed = True
                    elif kind == STOP:
                        info.closed = True
                pos += length
                info.end = pos
    if current is not None:
        info.txns.append(current)
    return info


def _gtid(kind: int, server_id: int, body: bytes) -> str | None:
    if kind == MARIA_GTID and len(body) >= 12:
        seq, domain = struct.unpack_from("<QI", body)
        return f"{domain}-{server_id}-{seq}"
    if kind == MYSQL_GTID and len(body) >= 25:
        sid = uuid.UUID(bytes=bytes(body[1:17]))
        (gno,) = struct.unpack_from("<q", body, 17)
        return f"{sid}:{gno}"
    return None


# --- the archive directory ----------------------------------------------------------------------


@dataclass
class BinlogArchive:
    root: Path
    base: str
    files: dict[int, Path]  # sequence number -> file
    index: list[str] | None  # names listed in <base>.index (basenames), if present
    # remote archives (S3): makes a file in ``files`` local before it is read (None: all are)
    fetch: Callable[[Path], None] | None = None

    def local(self, seq: int) -> Path | None:
        """The file of ``seq``, fetched first if the archive is remote; None if missing."""
        path = self.files.get(seq)
        if path is not None and self.fetch is not None:
            self.fetch(path)
        return path

    def name(self, seq: int) -> str:
        width = max((len(p.name) - len(self.base) - 1 for p in self.files.values()), default=6)
        return f"{self.base}.{seq:0{width}d}"

    @property
    def head_seq(self) -> int | None:
        return max(self.files, default=None)


def scan_binlog_archive(root: Path, base: str | None = None) -> BinlogArchive:
    """Binlog files in the directory ``root`` (one base name; ``base`` chooses when there are
    several)."""
    return scan_binlogs(LocalStorage(root), base=base)[0]


def scan_binlogs(
    storage: Storage, cache: Path | None = None, base: str | None = None
) -> tuple[BinlogArchive, list[tuple[Path, str]]]:
    """Binlog files on ``storage`` (the flat layout of a copied binlog directory), and the
    (local path, key) of those to fetch into ``cache`` when they are read: a file the storage
    has on this machine is read in place."""
    root = storage.local_path("")
    if root is not None and not root.is_dir():
        raise ConfigError(f"--binlog-archive {root}: no such directory")
    by_base: dict[str, dict[int, str]] = {}
    keys = {obj.key for obj in storage.list()}
    for key in keys:
        match = _NAME.match(key)  # no "/": only the archive's top level
        if match:
            by_base.setdefault(match.group("base"), {})[int(match.group("seq"))] = key
    if base is None:
        if len(by_base) > 1:
            per = "directory" if root is not None else "prefix"
            raise ConfigError(
                f"--binlog-archive {storage.describe()} holds binlogs of several servers "
                f"({', '.join(sorted(by_base))}); keep one per {per}"
            )
        base = next(iter(by_base), "")
    index = None
    if base and f"{base}.index" in keys:
        text = storage.read(f"{base}.index").decode(errors="replace")
        index = [Path(line.strip()).name for line in text.splitlines() if line.strip()]
    files: dict[int, Path] = {}
    remote: list[tuple[Path, str]] = []
    for seq, key in sorted(by_base.get(base, {}).items()):
        path = storage.local_path(key)
        if path is None:
            assert cache is not None, "a remote binlog archive needs a cache directory"
            path = cache / key
            remote.append((path, key))
        files[seq] = path
    return BinlogArchive(
        root if root is not None else cache or Path("."), base, files, index
    ), remote


def split_position(text: str) -> tuple[str, int]:
    """``mysql-bin.000042:1234`` → ('mysql-bin.000042', 1234)."""
    name, sep, pos = text.strip().rpartition(":")
    if not sep or not name or not pos.isdigit() or not _NAME.match(name):
        raise ValueError(text)
    return name, int(pos)


def parse_binlog_name(name: str) -> tuple[str, int] | None:
    """``mysql-bin.000042`` → ('mysql-bin', 42); None for anything else."""
    match = _NAME.match(name)
    return (match.group("base"), int(match.group("seq"))) if match else None
