"""Reading commit times, transaction ids and restore points out of archived WAL with
pg_waldump, a window of segments at a time, stopping as soon as the caller has its answer."""

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
from restoredrill.lsn import parse_lsn
from restoredrill.models import WalSegment
from restoredrill.storage.cache import ensure_local
from restoredrill.storage.compression import decompress_to

_RECORD = re.compile(
    r"rmgr: (?P<rmgr>\w+)\s+len \(rec/tot\):\s*\d+/\s*(?P<tot>\d+), tx:\s*(?P<xid>\d+), "
    r"lsn: (?P<lsn>[0-9A-F]+/[0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: (?P<desc>.*)$"
)
_COMMIT = re.compile(r"^(COMMIT|ABORT)(?:_PREPARED)? (?:(\d+): )?(\d{4}-\d\d-\d\d [\d:.]+ [A-Z]+)")
WINDOW = 32


def rmgr_filter(tools: PgTools, *rmgrs: str) -> list[str]:
    """pg_waldump options keeping only these resource managers' records. Before 15 -r is
    not repeatable (the last one wins: a Transaction+XLOG filter read no commit at all), so
    older majors read every record and the callers skip the others."""
    if tools.major < 15:
        return []
    return [arg for rmgr in rmgrs for arg in ("-r", rmgr)]


@dataclass(frozen=True)
class WalEvent:
    lsn: int
    kind: str  # "commit", "abort", "restore_point", "record"
    xid: int
    time: datetime | None = None
    name: str | None = None
    # the record's total length (header included), for where it ends; not part of its identity
    length: int = field(default=0, compare=False)


@dataclass
class WaldumpError:
    """pg_waldump stopped with an error (stderr) while reading ``segments``."""

    message: str
    segments: list[WalSegment]


def _parse_time(text: str) -> datetime:
    stamp, _, zone = text.rpartition(" ")
    if zone != "UTC":
        raise ValueError(f"unexpected time zone in pg_waldump output: {text}")
    return datetime.fromisoformat(stamp + "+00:00")


def parse_line(line: str) -> WalEvent | None:
    match = _RECORD.search(line)
    if not match:
        return None
    lsn, xid, desc = parse_lsn(match["lsn"]), int(match["xid"]), match["desc"]
    length = int(match["tot"])
    if match["rmgr"] == "Transaction":
        commit = _COMMIT.match(desc)
        if commit:
            kind = "commit" if commit.group(1) == "COMMIT" else "abort"
            # COMMIT/ABORT PREPARED: the record's own xid is that of the session finishing
            # it (often 0); the prepared transaction's xid is in the description, and it
            # is the one recovery_target_xid matches.
            prepared = commit.group(2)
            return WalEvent(
                lsn,
                kind,
                int(prepared) if prepared else xid,
                _parse_time(commit.group(3)),
                length=length,
            )
    if match["rmgr"] == "XLOG" and desc.startswith("RESTORE_POINT "):
        name = desc[len("RESTORE_POINT ") :].strip()
        return WalEvent(lsn, "restore_point", xid, name=name, length=length)
    return WalEvent(lsn, "record", xid, length=length)


def _materialize(segments: Sequence[WalSegment], directory: Path) -> None:
    ensure_local(
        s.path for s in segments
    )  # remote WAL (S3, pgBackRest): fetched into its cache, in parallel
    for segment in segments:
        dest = directory / segment.name
        if dest.exists():
            continue
        if segment.compression == "none":
            # absolute: a relative archive path (--wal-archive ./wal) would dangle here
            os.symlink(os.path.abspath(segment.path), dest)
        else:
            decompress_to(Path(segment.path), dest)


def _in_place(run: Sequence[WalSegment]) -> bool:
    return all(s.compression == "none" and os.path.isfile(s.path) for s in run)


def _timeline_runs(segments: Sequence[WalSegment]) -> list[list[WalSegment]]:
    runs: list[list[WalSegment]] = []
    for segment in segments:
        if runs and runs[-1][-1].timeline == segment.timeline:
            runs[-1].append(segment)
        else:
            runs.append([segment])
    return runs


def scan(
    tools: PgTools,
    segments: Sequence[WalSegment],
    all_records: bool = False,
    errors: list[WaldumpError] | None = None,
) -> Iterator[WalEvent]:
    """Events from a contiguous run of segments, in LSN order. Each window overlaps the next
    by one segment so records crossing a segment boundary are not lost.

    With ``errors``, pg_waldump's complaint (a record it could not read: bad CRC, bad page
    header, bad length) is appended there and the scan ends, as replay would end there."""
    seen_until = -1
    with tempfile.TemporaryDirectory(prefix="restoredrill-waldump-") as tmp:
        workdir = Path(tmp)
        for run in _timeline_runs(segments):
            # Windows bound the decompressed (or fetched) copies kept at once; each overlaps
            # the next by a segment, read twice. Plain local segments are only linked: one
            # window, one pg_waldump, each segment read once.
            size = len(run) if _in_place(run) else WINDOW
            for start in range(0, len(run), size):
                window = run[start : start + size + 1]
                _materialize(window, workdir)
                argv = [tools.path("pg_waldump"), "-p", str(workdir)]
                if not all_records:
                    argv += rmgr_filter(tools, "Transaction", "XLOG")
                argv += [window[0].name, window[-1].name]
                complaints: list[str] = []
                for event in _run_waldump(argv, complaints):
                    if event.lsn > seen_until:
                        seen_until = event.lsn
                        yield event
                if complaints and errors is not None:
                    errors.append(WaldumpError(complaints[0], list(window)))
                    return
                for segment in window[:-1]:
                    (workdir / segment.name).unlink(missing_ok=True)


def _run_waldump(argv: list[str], complaints: list[str]) -> Iterator[WalEvent]:
    """Parsed records; when pg_waldump read to the end and failed, its error goes to
    ``complaints``. With an explicit end segment it ends cleanly at that segment's end,
    so an error means a record it could not read."""
    with tempfile.TemporaryFile(mode="w+") as stderr:  # a file: no pipe to deadlock on
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "TZ": "UTC"},
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                event = parse_line(line)
                if event is not None:
                    yield event
            if proc.wait() != 0:
                stderr.seek(0)
                text = " ".join(stderr.read().split())
                complaints.append(text.removeprefix("pg_waldump: error: ") or "pg_waldump failed")
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
