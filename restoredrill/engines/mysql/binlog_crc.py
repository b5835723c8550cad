"""Binlog event checksums (binlog_checksum=CRC32), verified in the plan before anything is
provisioned: mariadb-binlog replays an event with a wrong checksum as if it were good (unless
told --verify-binlog-checksum, and then only when replay reaches it), so a damaged archive
would restore damaged rows and pass.

With checksums on, the last 4 bytes of every event are the CRC32 (zlib's) of the bytes
before them. The Format_description_event at offset 4 says whether they are on: its body
ends with a 1-byte algorithm (0 off, 1 CRC32) followed by its own 4-byte checksum, computed
with the LOG_EVENT_BINLOG_IN_USE_F flag clear (the server clears that flag in place when it
closes the file, without rewriting the checksum).

The file is memory-mapped and checksummed slice by slice (no copies), at disk speed.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from restoredrill.engines.mysql.binlog import FORMAT_DESCRIPTION, MAGIC, BinlogFile
from restoredrill.models import CheckStatus, PreflightCheck

_HEADER = struct.Struct("<IBIIIH")
_KIND_LENGTH = struct.Struct("<4xB4xI")  # type and size, from an event header
_STORED = struct.Struct("<I")
_FLAGS_OFFSET = 17
_IN_USE = 0x1
CRC32 = 1
START_ENCRYPTION = 164
CHECK = "binlog checksum"
_NAMES = {
    2: "Query",
    4: "Rotate",
    15: "Format_description",
    16: "Xid",
    19: "Table_map",
    23: "Write_rows",
    24: "Update_rows",
    25: "Delete_rows",
    30: "Write_rows",
    31: "Update_rows",
    32: "Delete_rows",
    33: "Gtid",
    34: "Anonymous_gtid",
    35: "Previous_gtids",
    160: "Annotate_rows",
    161: "Binlog_checkpoint",
    162: "Gtid",
    163: "Gtid_list",
    164: "Start_encryption",
}


def event_name(kind: int) -> str:
    return _NAMES.get(kind, f"type {kind}")


@dataclass
class ChecksumReport:
    """What checking a range of binlog files found."""

    events: int = 0  # events whose checksum matched
    bytes: int = 0
    unchecked: dict[str, str] = field(default_factory=dict)  # file name -> why not checked
    bad: str | None = None  # the first event that fails its checksum, in one line

    @property
    def complete(self) -> bool:
        """Every event of the range was checked and matched."""
        return self.bad is None and not self.unchecked


def verify_range(
    files: list[BinlogFile], start_position: int, stop_position: int | None
) -> ChecksumReport:
    """Check every event replay reads: in ``files[0]`` from ``start_position`` (and its
    Format_description_event), in ``files[-1]`` up to ``stop_position`` (None: its end)."""
    report = ChecksumReport()
    for index, info in enumerate(files):
        start = start_position if index == 0 else 4
        stop = info.end
        if index == len(files) - 1 and stop_position is not None:
            stop = min(stop, stop_position)
        _verify_file(info.path, info.name, start, stop, report)
        if report.bad is not None:
            break
    return report


def _verify_file(path: Path, name: str, start: int, stop: int, report: ChecksumReport) -> None:
    size = path.stat().st_size
    if size <= len(MAGIC) or stop <= len(MAGIC):
        return
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if hasattr(mmap, "MADV_SEQUENTIAL"):
            mm.madvise(mmap.MADV_SEQUENTIAL)
        if mm[:4] != MAGIC:
            return  # the chain reader already called it damaged
        view = memoryview(mm)
        try:
            _walk(view, name, size, start, stop, report)
        finally:
            view.release()


def _walk(
    view: memoryview, name: str, size: int, start: int, stop: int, report: ChecksumReport
) -> None:
    crc32 = zlib.crc32
    kind_length = _KIND_LENGTH.unpack_from
    stored_at = _STORED.unpack_from
    pos = 4
    checksums: bool | None = None  # unknown until the Format_description_event
    events = checked = 0
    while pos + _HEADER.size <= size and pos < stop:
        kind, length = kind_length(view, pos)
        end = pos + length
        if length < _HEADER.size + 4 or end > size:
            break  # a damaged header (the chain reader reports it): said below
        if pos >= start and checksums:  # the hot path
            if crc32(view[pos : end - 4]) != stored_at(view, end - 4)[0]:
                _bad(view, pos, length, crc32(view[pos : end - 4]), name, report)
                return
            checked += length
            events += 1
            if kind == START_ENCRYPTION:  # the events after it are encrypted
                report.unchecked[name] = f"encrypted from position {end} on"
                break
        elif kind == FORMAT_DESCRIPTION and checksums is None:
            # A checksum-aware server's Format_description_event always carries its CRC32,
            # whatever binlog_checksum says: a damaged algorithm byte cannot pass for "off".
            head = bytearray(view[pos : pos + _HEADER.size])
            head[_FLAGS_OFFSET] &= ~_IN_USE & 0xFF
            computed = crc32(view[pos + _HEADER.size : end - 4], crc32(head))
            algorithm = view[end - 5]
            if computed != stored_at(view, end - 4)[0]:
                if _checksum_aware(view[pos + _HEADER.size + 2 : pos + _HEADER.size + 52]):
                    _bad(view, pos, length, computed, name, report)
                elif max(end, start) < stop:
                    report.unchecked[name] = "written by a server older than binlog checksums"
                return
            checked += length
            events += 1
            checksums = algorithm == CRC32
            if not checksums:
                if max(end, start) < stop:  # events follow that replay reads
                    report.unchecked[name] = (
                        f"binlog_checksum is off (algorithm {algorithm})"
                        if algorithm == 0
                        else f"unknown checksum algorithm {algorithm}"
                    )
                return
        elif kind == START_ENCRYPTION:  # before the start: the rest cannot be read
            if max(end, start) < stop:
                report.unchecked[name] = f"encrypted from position {end} on"
            break
        elif pos >= start:
            report.unchecked[name] = "no Format_description_event before the events"
            return
        pos = end
    if pos < stop and name not in report.unchecked:  # never silently short of the range
        report.unchecked[name] = f"its events cannot be walked past position {pos}"
    report.events += events
    report.bytes += checked


def _checksum_aware(raw: memoryview) -> bool:
    """Whether the server version in a Format_description_event writes checksums (MySQL
    5.6.1+, MariaDB 5.3+); an unreadable version counts as aware (then a mismatch fails)."""
    version = bytes(raw).split(b"\0", 1)[0].decode(errors="replace")
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if found is None:
        return True
    number = tuple(int(part) for part in found.groups())
    return number >= (5, 6, 1) or ("mariadb" in version.lower() and number >= (5, 3, 0))


def _bad(
    view: memoryview, pos: int, length: int, computed: int, name: str, report: ChecksumReport
) -> None:
    kind, _ = _KIND_LENGTH.unpack_from(view, pos)
    (stored,) = _STORED.unpack_from(view, pos + length - 4)
    report.bad = (
        f"binlog {name}: the {event_name(kind)} event at position {pos} ({length} bytes) "
        f"fails its CRC32 checksum (stored {stored:08x}, computed {computed:08x}): "
        "the archived copy is damaged"
    )


def first_bad_event(info: BinlogFile) -> str | None:
    """The first event of a file (up to where its headers could be walked) whose checksum
    fails: a damaged header often shows first as an event running past the end of the file
    or a missing rotate event, and the checksum names the event that was damaged."""
    report = ChecksumReport()
    _verify_file(info.path, info.name, 4, info.end, report)
    return report.bad


def checksum_check(report: ChecksumReport, files: int) -> PreflightCheck:
    """The plan's "binlog checksum" line: failed on a bad event, a warning when some events
    carry no checksum (the plan then says the logs were not all checked)."""
    if report.bad is not None:
        return PreflightCheck(name=CHECK, status=CheckStatus.FAILED, detail=report.bad)
    if report.unchecked:
        name, why = next(iter(report.unchecked.items()))
        more = (
            f" (and {len(report.unchecked) - 1} more file(s))" if len(report.unchecked) > 1 else ""
        )
        return PreflightCheck(
            name=CHECK,
            status=CheckStatus.WARNING,
            detail=f"events not verified: binlog {name}: {why}{more}; damage in them would "
            "be replayed unnoticed (set binlog_checksum=CRC32 on the server)",
        )
    return PreflightCheck(
        name=CHECK,
        status=CheckStatus.OK,
        detail=f"{report.events} event(s) in {files} file(s) match their CRC32",
    )
