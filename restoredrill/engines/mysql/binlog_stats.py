"""Rows changed per transaction in archived MariaDB/MySQL binlogs (ROW format), counted from
`mariadb-binlog --verbose --base64-output=decode-rows`: one `### INSERT INTO` / `### UPDATE` /
`### DELETE FROM` line per row, grouped by the GTID event that starts each transaction.

Only committed transactions reach the binlog (a rolled-back InnoDB transaction writes
nothing), so every group that ends is a committed one. Event times have one-second
resolution and are printed in the reader's time zone: the reader runs with TZ=UTC."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.engines.postgres.wal_stats import Counts
from restoredrill.errors import BackupCorrupt

_HEADER = re.compile(r"^#(?P<stamp>\d{6} +\d+:\d\d:\d\d) server id \d+ +end_log_pos (?P<end>\d+)")
_START = re.compile(r"\t(?:GTID|Anonymous_GTID)(?:\s|$)")
_GTID = re.compile(r"\tGTID (?P<gtid>\d+-\d+-\d+)")
_MYSQL_GTID = re.compile(r"SET @@SESSION\.GTID_NEXT= '(?P<gtid>[0-9a-fA-F-]+:\d+)'")
_ROW = re.compile(
    r"^### (?P<op>INSERT INTO|UPDATE|DELETE FROM) `(?P<db>[^`]*)`\.`(?P<table>[^`]*)`"
)
_OPS = {"INSERT INTO": "inserted", "UPDATE": "updated", "DELETE FROM": "deleted"}


@dataclass
class BinlogTx:
    gtid: str | None
    file: str
    end: int  # position after the transaction in ``file``
    commit_time: datetime
    tables: dict[str, Counts] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.tables.values())


def _time(stamp: str) -> datetime:
    return datetime.strptime(" ".join(stamp.split()), "%y%m%d %H:%M:%S").replace(tzinfo=UTC)


def binlog_changes(binlog_tool: str, files: Sequence[Path]) -> Iterator[BinlogTx]:
    """Transactions with row changes, in binlog order, file by file."""
    for path in files:
        yield from _file_changes(binlog_tool, path)


def _file_changes(binlog_tool: str, path: Path) -> Iterator[BinlogTx]:
    argv = [binlog_tool, "--verbose", "--base64-output=decode-rows", "--verify-binlog-checksum"]
    argv.append(str(path))
    current: BinlogTx | None = None
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=errors, text=True, env={**os.environ, "TZ": "UTC"}
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                header = _HEADER.match(line)
                if header is not None:
                    if _START.search(line):
                        if current is not None and current.tables:
                            yield current
                        maria = _GTID.search(line)
                        gtid = maria["gtid"] if maria else None
                        current = BinlogTx(gtid, path.name, 0, _time(header["stamp"]))
                    if current is not None:
                        current.end = int(header["end"])
                        current.commit_time = _time(header["stamp"])
                    continue
                mysql = _MYSQL_GTID.search(line)
                if mysql is not None and current is not None:
                    current.gtid = mysql["gtid"]
                    continue
                row = _ROW.match(line)
                if row is not None and current is not None:
                    table = f"{row['db']}.{row['table']}"
                    counts = current.tables.setdefault(table, Counts())
                    op = _OPS[row["op"]]
                    setattr(counts, op, getattr(counts, op) + 1)
            if current is not None and current.tables:
                yield current
            code = proc.wait()
        finally:
            if proc.poll() is None:  # the caller stopped early
                proc.kill()
                proc.wait()
            proc.stdout.close()
        errors.seek(0)
        message = " ".join(errors.read().split())
    if code != 0:
        raise BackupCorrupt(f"binlog {path.name}: unreadable ({message or f'exit {code}'})")
