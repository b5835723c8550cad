"""Unpacking a base backup that is in a local directory (read in place, or fetched there
first) into a sandbox's data directory: tar archives (compressed or not) or a plain copy,
through GNU tar running as the server user."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from restoredrill.engines.postgres.basebackups import BASE_TAR_NAMES
from restoredrill.errors import BackupCorrupt, ConfigError, SandboxDiskFull
from restoredrill.osuser import RunAs
from restoredrill.sandboxes.diskspace import NO_SPACE
from restoredrill.storage.compression import opened
from restoredrill.timing import report_progress

CHUNK = 1 << 20


def extract_directory(source: Path, fmt: str, datadir: Path, run_as: RunAs) -> int:
    """Unpack the base backup in the directory ``source`` (``fmt`` tar or plain) into an
    empty data directory as the server user. Returns the bytes read (uncompressed)."""
    if any(datadir.iterdir()):
        raise ConfigError(f"data directory {datadir} is not empty")
    if fmt == "plain":
        return _untar_stream(_tar_of_directory(source), datadir, run_as)
    extra = [
        p.name
        for p in source.iterdir()
        if p.name.endswith((".tar", ".tar.gz", ".tar.lz4", ".tar.zst"))
        and not p.name.startswith(("base.", "pg_wal."))
    ]
    if extra:
        raise ConfigError(f"{source}: tablespace archives ({', '.join(extra)}) are not supported")
    base_tar = next(source / n for n in BASE_TAR_NAMES if (source / n).is_file())
    wal_names = (f"pg_wal{name[len('base') :]}" for name in BASE_TAR_NAMES)
    wal_tar = next((source / n for n in wal_names if (source / n).is_file()), None)
    # progress in bytes of the backup's files read (compressed, as they are stored)
    size = base_tar.stat().st_size + (wal_tar.stat().st_size if wal_tar else 0)
    total = _untar_file(base_tar, datadir, run_as, 0, size)
    if wal_tar is not None:
        offset = base_tar.stat().st_size
        total += _untar_file(wal_tar, datadir / "pg_wal", run_as, offset, size)
    return total


def _untar_file(path: Path, dest: Path, run_as: RunAs, before: int, size: int) -> int:
    with opened(path) as (stream, position):

        def chunks() -> Iterator[bytes]:
            for chunk in _chunks(stream):
                report_progress(before + position(), size)
                yield chunk

        return _untar_stream(chunks(), dest, run_as, label=path.name)


def _tar_of_directory(source: Path) -> Iterator[bytes]:
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


def _untar_stream(
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
    return total


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
