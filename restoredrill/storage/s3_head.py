"""Reading the head of a stored object (a ranged read): the uncompressed start of a compressed
file, and the few tar members (backup_label, PG_VERSION) a base backup's first MiB holds."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import zlib

from restoredrill.storage.compression import Compression


def decompress_prefix(data: bytes, compression: Compression) -> bytes:
    """As much of the uncompressed stream as the first bytes of a compressed file give."""
    if compression == "none":
        return data
    if compression == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    tool = {"lz4": ["lz4", "-dc"], "zstd": ["zstd", "-dcq"]}[compression]
    if shutil.which(tool[0]) is None:
        from restoredrill.errors import ToolMissing

        raise ToolMissing(f"{compression}-compressed base backup but {tool[0]} is not installed")
    # A truncated frame makes the tool fail at its end; what it wrote before is what we want.
    done = subprocess.run(tool, input=data, capture_output=True, timeout=120)
    return done.stdout


def tar_members(data: bytes) -> tuple[dict[str, bytes], float | None, str | None]:
    """backup_label and PG_VERSION from the start of a tar, backup_label's mtime, and why
    reading stopped early (expected when ``data`` is only the head of the archive)."""
    wanted = {"backup_label", "PG_VERSION"}
    found: dict[str, bytes] = {}
    mtime: float | None = None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
            for index, member in enumerate(tar):
                if member.name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[member.name] = handle.read()
                        if member.name == "backup_label":
                            mtime = float(member.mtime)
                if len(found) == len(wanted) or index >= 200:
                    break
    except (tarfile.TarError, EOFError, OSError) as exc:
        return found, mtime, str(exc)
    return found, mtime, None
