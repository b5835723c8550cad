"""Rows changed per transaction in archived MariaDB/MySQL binlogs (ROW format), counted from
`mariadb-binlog --verbose --base64-output=decode-rows`: one `### INSERT INTO` / `### UPDATE` /
`### DELETE FROM` line per row, grouped by the GTID event that starts each transaction.

Only committed transactions reach the binlog (a rolled-back InnoDB transaction writes
nothing), so every group that ends is a committed one. Event times have one-second
resolution and are printed in the reader's time zone: the reader runs with TZ=UTC.

A TRUNCATE or a DROP TABLE writes no row events: it is a statement (a Query event, after
the database it ran in, ``use `db```), kept with the tables it names."""

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
_ROW = re.compile(r"^### (?P<op>INSERT INTO|UPDATE|DELETE FROM) (?P<name>`[^`]*`\.`[^`]*`)")
_QUERY = re.compile(r"\tQuery\t")
_USE = re.compile(r"^use `(?P<db>(?:[^`]|``)+)`/\*!\*/;$")
_TRUNCATE = re.compile(r"^\s*TRUNCATE\s+(?:TABLE\s+)?(?P<names>.+)$", re.IGNORECASE | re.DOTALL)
_DROP = re.compile(
    r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>.+)$", re.IGNORECASE | re.DOTALL
)
_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"  # quoted, or an unquoted identifier
_DROP_DATABASE = re.compile(
    rf"^\s*DROP\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+EXISTS\s+)?(?P<name>{_NAME})\s*$", re.IGNORECASE
)
_TABLE = re.compile(rf"\s*(?P<first>{_NAME})(?:\.(?P<second>{_NAME}))?\s*(?:,|$)")


@dataclass
class BinlogTx:
    gtid: str | None
    file: str
    end: int  # position after the transaction in ``file``
    commit_time: datetime
    tables: dict[str, Counts] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)  # db.table, by TRUNCATE
    dropped: list[str] = field(default_factory=list)  # db.table, by DROP TABLE
    databases: list[str] = field(default_factory=list)  # by DROP DATABASE

    @property
    def total(self) -> int:
        return sum(c.total for c in self.tables.values())

    @property
    def changed(self) -> bool:
        return bool(self.tables or self.truncated or self.dropped or self.databases)


def _unquoted(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _names(listed: str, db: str | None) -> list[str] | None:
    """db.table of each table a statement's list names (None: not a list of names)."""
    text = re.sub(r"/\*.*?\*/", " ", listed, flags=re.DOTALL).strip()
    text = re.sub(r"\s+(?:RESTRICT|CASCADE)$", "", text, flags=re.IGNORECASE)
    names: list[str] = []
    at = 0
    while at < len(text):
        found = _TABLE.match(text, at)
        if found is None or found.end() == at:
            return None
        first, second = _unquoted(found["first"]), found["second"]
        if second is not None:
            names.append(f"{first}.{_unquoted(second)}")
        elif db is not None:
            names.append(f"{db}.{first}")
        else:
            return None
        at = found.end()
    return names


def _statement(tx: BinlogTx, text: str, db: str | None) -> None:
    """Note what a TRUNCATE, DROP TABLE or DROP DATABASE statement removed (not a
    TEMPORARY table's)."""
    database = _DROP_DATABASE.match(" ".join(re.sub(r"/\*.*?\*/", " ", text).split()))
    if database is not None:
        tx.databases.append(_unquoted(database["name"]))
        return
    for pattern, into in ((_TRUNCATE, tx.truncated), (_DROP, tx.dropped)):
        found = pattern.match(text)
        if found is not None:
            into += _names(found["names"], db) or [f"(unparsed: {' '.join(text.split())})"]
            return


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
    db: str | None = None  # the Query events' database (`use` is printed when it changes)
    statement: list[str] | None = None  # a Query event's lines, until its end marker
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=errors, text=True, env={**os.environ, "TZ": "UTC"}
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if statement is not None and not line.startswith("#"):
                    db = _query_line(line.rstrip("\n"), statement, db, current)
                    if line.rstrip("\n") == "/*!*/;":
                        statement = None
                    continue
                if line.startswith("### "):  # a row, or one of its values: most lines
                    if current is not None and line[4] in "IUD":
                        _count_row(current, line)
                    continue
                header = _HEADER.match(line)
                if header is not None:
                    statement = [] if _QUERY.search(line) else None
                    if _START.search(line):
                        if current is not None and current.changed:
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
            if current is not None and current.changed:
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


def _query_line(line: str, statement: list[str], db: str | None, tx: BinlogTx | None) -> str | None:
    """One line of a Query event: `use`, a session SET, the statement's text, or its end
    (then the statement is looked at). Returns the database the statements run in."""
    used = _USE.match(line)
    if used is not None:
        return _unquoted(f"`{used['db']}`")
    if line == "/*!*/;":
        if tx is not None and statement:
            _statement(tx, "\n".join(statement), db)
    elif not line.endswith("/*!*/;"):
        statement.append(line)
    return db


def _count_row(tx: BinlogTx, line: str) -> None:
    row = _ROW.match(line)
    if row is not None:
        table = row["name"][1:-1].replace("`.`", ".", 1)  # `db`.`table` -> db.table
        counts = tx.tables.get(table)
        if counts is None:
            counts = tx.tables[table] = Counts()
        op = row["op"]
        if op == "INSERT INTO":
            counts.inserted += 1
        elif op == "UPDATE":
            counts.updated += 1
        else:
            counts.deleted += 1
