"""MariaDB / MySQL snapshots: logical dumps (mariadb-dump / mysqldump, .sql or compressed,
made with --single-transaction and --master-data / --source-data so the binlog coordinates
are in the header) and physical mariabackup directories (binlog coordinates in
xtrabackup_binlog_info). ``--snapshot`` names one of them or a directory holding several."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

from restoredrill.engines.mysql.binlog import split_position
from restoredrill.errors import BackupCorrupt, ConfigError
from restoredrill.models import MysqlSnapshot
from restoredrill.storage.compression import compression_of, open_decompressed, strip_suffix

HEADER_LINES = 400
_COORDS = re.compile(
    r"CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE\s*=\s*'([^']+)',"
    r"\s*(?:MASTER|SOURCE)_LOG_POS\s*=\s*(\d+)",
    re.IGNORECASE,
)
_MARIA_GTID = re.compile(r"gtid_slave_pos\s*=\s*'([^']*)'", re.IGNORECASE)
_MYSQL_GTID = re.compile(r"GTID_PURGED\s*=\s*(?:/\*!80000 '\+'\*/\s*)?'([^']*)'", re.IGNORECASE)
_VERSION = re.compile(r"^-- Server version\s+(\S+)", re.MULTILINE)
CHECKPOINT_FILES = ("xtrabackup_checkpoints", "mariadb_backup_checkpoints")
BINLOG_INFO_FILES = ("xtrabackup_binlog_info", "mariadb_backup_binlog_info")
DUMP_SUFFIXES = (".sql", ".sql.gz", ".sql.lz4", ".sql.zst")


def is_backup_dir(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in CHECKPOINT_FILES)


def is_dump(path: Path) -> bool:
    return path.is_file() and path.name.endswith(DUMP_SUFFIXES)


def read_dump(path: Path) -> MysqlSnapshot:
    """Coordinates from a dump's header (and, for an uncompressed file, the GTID mariadb-dump
    --gtid writes at its end)."""
    head: list[str] = []
    try:
        with open_decompressed(path) as stream:
            for _ in range(HEADER_LINES):
                line = stream.readline()
                if not line:
                    break
                head.append(line.decode("utf-8", errors="replace"))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # a read-ahead decompressor (isal) may meet the damage while the header is read
        raise BackupCorrupt(
            f"snapshot {path}: the {compression_of(path)} stream is truncated or damaged ({exc})"
        ) from exc
    except OSError as exc:
        raise BackupCorrupt(f"snapshot {path}: unreadable ({exc})") from exc
    text = "".join(head)
    if head and not (text.lstrip().startswith(("--", "/*"))):
        raise BackupCorrupt(f"snapshot {path} does not look like a mariadb-dump/mysqldump file")
    coords = _COORDS.search(text)
    gtid_match = _MARIA_GTID.search(text) or _MYSQL_GTID.search(text)
    if gtid_match is None and compression_of(path) == "none":
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 65536))
            tail = handle.read().decode("utf-8", errors="replace")
        gtid_match = _MARIA_GTID.search(tail) or _MYSQL_GTID.search(tail)
    version = _VERSION.search(text)
    return MysqlSnapshot(
        path=str(path),
        kind="dump",
        compression=compression_of(path),
        binlog_file=coords.group(1) if coords else None,
        binlog_pos=int(coords.group(2)) if coords else None,
        gtid=(gtid_match.group(1) or None) if gtid_match else None,
        size_bytes=path.stat().st_size,
        server_version=version.group(1) if version else None,
    )


def read_backup(path: Path) -> MysqlSnapshot:
    """Coordinates of a mariabackup (or xtrabackup) directory."""
    info = next((path / n for n in BINLOG_INFO_FILES if (path / n).is_file()), None)
    file = pos = gtid = None
    if info is not None:
        parts = info.read_text(errors="replace").split()
        if len(parts) >= 2 and parts[1].isdigit():
            file, pos = parts[0], int(parts[1])
            gtid = parts[2] if len(parts) > 2 else None
    version = None
    details = path / "xtrabackup_info"
    if details.is_file():
        found = re.search(r"^server_version = (.+)$", details.read_text(errors="replace"), re.M)
        version = found.group(1).strip() if found else None
    size = sum(
        (Path(root) / name).stat().st_size for root, _dirs, files in os.walk(path) for name in files
    )
    return MysqlSnapshot(
        path=str(path),
        kind="mariabackup",
        compression="none",
        binlog_file=file,
        binlog_pos=pos,
        gtid=gtid,
        size_bytes=size,
        server_version=version,
    )


def list_snapshots(path: Path) -> list[MysqlSnapshot]:
    """The snapshots ``path`` names: a dump file, a backup directory, or a directory of them
    (one per file or subdirectory)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"--snapshot {path}: no such file or directory")
    if is_dump(path) or (path.is_file() and strip_suffix(path.name) != path.name):
        return [read_dump(path)]
    if path.is_file():
        return [read_dump(path)]
    if is_backup_dir(path):
        return [read_backup(path)]
    found = []
    for entry in sorted(path.iterdir()):
        if is_dump(entry):
            found.append(read_dump(entry))
        elif is_backup_dir(entry):
            found.append(read_backup(entry))
    return found


def coordinates(snapshot: MysqlSnapshot) -> tuple[str, int] | None:
    if snapshot.binlog_file is None or snapshot.binlog_pos is None:
        return None
    try:
        return split_position(f"{snapshot.binlog_file}:{snapshot.binlog_pos}")
    except ValueError:
        return None
