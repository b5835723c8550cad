"""Is a logical dump complete? mariadb-dump and mysqldump write ``-- Dump completed`` as their
last line; a dump cut short between two tables is still valid SQL (and valid gzip, when it
was compressed after being cut) and loads without an error — with tables missing. So the plan
refuses a dump whose last line is not that footer, as a corrupt backup.

A plain file is read from its last KiB only. A compressed one has to be decompressed to its
end (streamed, nothing kept but the last KiB), which also proves the compressed stream whole:
a truncated or damaged gzip is corrupt too. Dumps made with --skip-comments or --compact have
no footer: their completeness cannot be told, and they are refused with the same message
(the drill's rule: what cannot be checked is not a PASS).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from restoredrill.errors import BackupCorrupt
from restoredrill.storage.compression import compression_of, open_decompressed

FOOTER = "-- Dump completed"
TAIL_BYTES = 1024
_CHUNK = 1 << 20


def footer_problem(label: str, tail: bytes) -> str | None:
    """Why a dump ending with ``tail`` is not complete (None: it ends with the footer)."""
    lines = [ln for ln in tail.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    if lines and lines[-1].startswith(FOOTER):
        return None
    return (
        f"snapshot {label} is incomplete: its last line is not the '{FOOTER}' footer "
        "mariadb-dump/mysqldump write at the end (cut short while dumping or copying? dumps "
        "made with --skip-comments/--compact have no footer and cannot be checked)"
    )


def check_dump_complete(path: Path, label: str | None = None) -> None:
    """Raise BackupCorrupt unless the dump at ``path`` (named ``label`` in messages) ends with
    the footer; compressed dumps are decompressed to the end."""
    label = label or str(path)
    if compression_of(path) == "none":
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
                tail = handle.read()
        except OSError as exc:
            raise BackupCorrupt(f"snapshot {label}: unreadable ({exc})") from exc
    else:
        tail = _decompressed_tail(path, label)
    problem = footer_problem(label, tail)
    if problem is not None:
        raise BackupCorrupt(problem)


def _decompressed_tail(path: Path, label: str) -> bytes:
    tail = b""
    try:
        with open_decompressed(path) as stream:
            while chunk := stream.read(_CHUNK):
                tail = (tail + chunk)[-TAIL_BYTES:]
    except (EOFError, gzip.BadGzipFile, zlib.error, BackupCorrupt) as exc:
        detail = str(exc).removeprefix(f"{path.name}: ")  # lz4/zstd: the tool's complaint
        raise BackupCorrupt(
            f"snapshot {label}: the {compression_of(path)} stream is truncated or damaged "
            f"({detail})"
        ) from exc
    except OSError as exc:
        raise BackupCorrupt(f"snapshot {label}: unreadable ({exc})") from exc
    return tail
