"""Unpacking a base backup that is in a local directory (read in place, or fetched there
first) into a sandbox's data directory: tar archives (compressed or not) or a plain copy,
through GNU tar running as the server user."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from restoredrill.engines.postgres import tablespaces
from restoredrill.engines.postgres.basebackups import BASE_TAR_NAMES
from restoredrill.errors import BackupCorrupt, ConfigError, SandboxDiskFull
from restoredrill.osuser import RunAs
from restoredrill.sandboxes.diskspace import NO_SPACE
from restoredrill.storage.compression import opened
from restoredrill.timing import report_progress

CHUNK = 1 << 20


def extract_directory(source: Path, fmt: str, datadir: Path, run_as: RunAs) -> int:
    """Unpack the base backup in the directory ``source`` (``fmt`` tar or plain) into an
    empty data directory as the server user, tablespaces into the sandbox's own
    ``tablespaces/<oid>`` (never where the backup's links point). Returns the bytes read
    (uncompressed)."""
    if any(datadir.iterdir()):
        raise ConfigError(f"data directory {datadir} is not empty")
    if fmt == "plain":
        total = untar_stream(tar_of_directory(source), datadir, run_as)
        copied = tablespaces.foreign_links(datadir)
        placed = {oid: tablespaces.location(datadir, oid) for oid in copied}
        for oid, target in sorted(copied.items()):  # copied, never written in place
            total += untar_stream(tar_of_directory(target), placed[oid], run_as)
        tablespaces.place(datadir, placed, run_as, str(source))
        return total
    spaces = {
        int(m.group(1)): p
        for p in source.iterdir()
        if (m := tablespaces.TABLESPACE_TAR.match(p.name)) is not None
    }
    extra = [
        p.name
        for p in source.iterdir()
        if p.name.endswith((".tar", ".tar.gz", ".tar.lz4", ".tar.zst"))
        and not p.name.startswith(("base.", "pg_wal."))
        and p not in spaces.values()
    ]
    if extra:
        raise ConfigError(f"{source}: unknown archives ({', '.join(extra)}) beside base.tar")
    base_tar = next(source / n for n in BASE_TAR_NAMES if (source / n).is_file())
    wal_names = (f"pg_wal{name[len('base') :]}" for name in BASE_TAR_NAMES)
    wal_tar = next((source / n for n in wal_names if (source / n).is_file()), None)
    # progress in bytes of the backup's files read (compressed, as they are stored)
    tars = [base_tar, *([wal_tar] if wal_tar else []), *spaces.values()]
    size = sum(t.stat().st_size for t in tars)
    total = untar_file(base_tar, datadir, run_as, 0, size)
    offset = base_tar.stat().st_size
    if wal_tar is not None:
        total += untar_file(wal_tar, datadir / "pg_wal", run_as, offset, size)
        offset += wal_tar.stat().st_size
    placed = {oid: tablespaces.location(datadir, oid) for oid in spaces}
    for oid, tar in sorted(spaces.items()):
        total += untar_file(tar, placed[oid], run_as, offset, size)
        offset += tar.stat().st_size
    tablespaces.place(datadir, placed, run_as, str(source))
    return total


def untar_file(path: Path, dest: Path, run_as: RunAs, before: int = 0, size: int = 0) -> int:
    """Unpack a (compressed) tar into ``dest`` as the server user; returns the bytes read
    (uncompressed). Progress counts ``before`` + the bytes of ``path`` read, of ``size``."""
    with opened(path) as (stream, position):

        def chunks() -> Iterator[bytes]:
            for chunk in _chunks(stream):
                report_progress(before + position(), size or path.stat().st_size)
                yield chunk

        return untar_stream(chunks(), dest, run_as, label=path.name)


def tar_of_directory(source: Path) -> Iterator[bytes]:
    proc = subprocess.Popen(
        ["tar", "-C", str(source), "-cf", "-", "--exclude=./postmaster.pid", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    yield from _chunks(proc.stdout)
    if proc.wait() != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise BackupCorrupt(f"{source}: cannot read the backup directory: {err.strip()}")


def untar_stream(
    chunks: Iterator[bytes], dest: Path, run_as: RunAs, label: str = "base backup"
) -> int:
    # GNU tar as the server user: files land with the right owner, and tar refuses
    # absolute paths and '..' members by default.
    dest.mkdir(mode=0o700, exist_ok=True)
    run_as.own(dest)
    proc = subprocess.Popen(
        [
            "tar",
            "-x",
            "-f",
            "-",
            "-C",
            str(dest),
            "--no-same-owner",
            "--delay-directory-restore",
        ],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **run_as.popen_kwargs(),  # type: ignore[call-overload]
    )
    assert proc.stdin is not None
    total = 0
    problem: str | None = None
    try:
        for chunk in chunks:
            total += len(chunk)
            proc.stdin.write(chunk)
    except (EOFError, OSError) as exc:
        problem = str(exc)
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        code = proc.wait()
    if problem or code != 0:
        lines = stderr.strip().splitlines()
        full = next((ln for ln in lines if NO_SPACE in ln), None)
        if full is not None:  # the sandbox's disk, not the backup (restore.py adds sizes)
            raise SandboxDiskFull(f"extracting {label} into {dest}: {full}")
        reason = problem or (lines[-1] if lines else f"tar exit code {code}")
        raise BackupCorrupt(f"{label} is truncated or damaged: {reason}")
    # tar restores the mode of the archive's "." (a plain backup copied 0755): PostgreSQL
    # refuses a data directory open to group or others ("invalid permissions")
    dest.chmod(0o700)
    return total


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
