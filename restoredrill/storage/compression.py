"""Reading gzip, lz4 and zstd files: gzip in-process (with python-isal, the `fast` extra,
when installed: about 3 times zlib's speed, decompressing in a thread of its own while we
write), lz4/zstd through their CLI tools (used only when those tools exist on the
machine)."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, cast

from restoredrill.errors import BackupCorrupt, SandboxDiskFull, ToolMissing
from restoredrill.levers import lever_off

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
    with opened(path) as (stream, _position):
        yield stream


@contextlib.contextmanager
def opened(path: Path) -> Iterator[tuple[IO[bytes], Callable[[], int]]]:
    """A binary stream of the file's uncompressed bytes, and a function telling how far
    into the (compressed) file the reading got, for progress against its size. The file is
    opened once and shared (an lz4/zstd child reads our descriptor), so its offset is the
    position whoever decompresses it has reached."""
    kind = compression_of(path)
    with path.open("rb") as raw:
        fd = raw.fileno()

        def position() -> int:
            try:
                return os.lseek(fd, 0, os.SEEK_CUR)
            except OSError:  # closed meanwhile
                return 0

        if kind == "none":
            yield raw, position
        elif kind == "gzip":
            with _open_gzip(raw) as handle:
                yield handle, position
        else:
            with _tool_stream(path, kind, raw) as handle:
                yield handle, position


@contextlib.contextmanager
def _tool_stream(path: Path, kind: Compression, raw: IO[bytes]) -> Iterator[IO[bytes]]:
    argv = _TOOLS[kind]
    if shutil.which(argv[0]) is None:
        raise ToolMissing(f"{path.name} is {kind}-compressed but {argv[0]} is not installed")
    proc = subprocess.Popen([*argv], stdin=raw, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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


@contextlib.contextmanager
def _open_gzip(raw: IO[bytes]) -> Iterator[IO[bytes]]:
    try:
        if lever_off("isal"):
            raise ImportError("switched off for a benchmark")
        from isal import igzip_threaded, isal_zlib
    except ImportError:
        with gzip.open(raw, "rb") as handle:
            yield cast(IO[bytes], handle)
        return
    open_threaded = cast(Callable[..., IO[bytes]], igzip_threaded.open)  # untyped
    with open_threaded(raw, "rb", threads=1) as threaded:
        raw_reader = _IsalReader(threaded, cast(type[Exception], isal_zlib.error))
        yield cast(IO[bytes], io.BufferedReader(raw_reader, buffer_size=1 << 20))


class _IsalReader(io.RawIOBase):
    """isal's stream as a raw stream (so a BufferedReader gives it readline, iteration and
    peek like gzip's); damaged or truncated data raised as gzip.BadGzipFile, like gzip's."""

    def __init__(self, stream: IO[bytes], error: type[Exception]) -> None:
        super().__init__()
        self._stream = stream
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except (self._error, EOFError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # the file itself could not be read: not the data's fault
            # damaged or cut data reads as gzip's own error, whichever reader found it
            raise gzip.BadGzipFile(str(exc)) from exc
        buffer[: len(data)] = data
        return len(data)
