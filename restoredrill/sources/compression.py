"""Reading gzip, lz4 and zstd files: gzip in-process, lz4/zstd through their CLI tools
(used only when those tools exist on the machine)."""

from __future__ import annotations

import contextlib
import errno
import gzip
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, cast

from restoredrill.errors import BackupCorrupt, SandboxDiskFull, ToolMissing

Compression = Literal["none", "gzip", "lz4", "zstd"]
SUFFIXES: dict[str, Compression] = {".gz": "gzip", ".lz4": "lz4", ".zst": "zstd"}
_TOOLS = {"lz4": ["lz4", "-dc"], "zstd": ["zstd", "-dcq"]}


def compression_of(path: Path) -> Compression:
    return SUFFIXES.get(path.suffix, "none")


def strip_suffix(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@contextlib.contextmanager
def open_decompressed(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream of the file's uncompressed bytes."""
    kind = compression_of(path)
    if kind == "none":
        with path.open("rb") as handle:
            yield handle
        return
    if kind == "gzip":
        with gzip.open(path, "rb") as handle:
            yield cast(IO[bytes], handle)
        return
    argv = _TOOLS[kind]
    if shutil.which(argv[0]) is None:
        raise ToolMissing(f"{path.name} is {kind}-compressed but {argv[0]} is not installed")
    with path.open("rb") as source:
        proc = subprocess.Popen(
            [*argv], stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None
        try:
            yield proc.stdout
        finally:
            proc.stdout.close()
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            code = proc.wait()
        if code not in (0, -13):  # -13: we stopped reading early (SIGPIPE), not a fault
            raise BackupCorrupt(f"{path.name}: {argv[0]} could not decompress it: {stderr.strip()}")


def decompress_to(path: Path, dest: Path) -> int:
    """Write the uncompressed content of ``path`` to ``dest``; return the bytes written."""
    written = 0
    try:
        with open_decompressed(path) as source, dest.open("wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
                written += len(chunk)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:  # writing the copy failed: the sandbox's disk is full
            raise SandboxDiskFull(f"{path.name}: writing {dest}: {exc.strerror}") from exc
        raise BackupCorrupt(f"{path.name}: cannot decompress: {exc}") from exc
    except (EOFError, gzip.BadGzipFile) as exc:
        raise BackupCorrupt(f"{path.name}: cannot decompress: {exc}") from exc
    return written
