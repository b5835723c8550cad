"""Adding fingerprints of disjoint parts of a table.

Both engines' checksums are exact sums of per-row hashes, each folded to 64 bits and printed
as 16 hex digits (PostgreSQL one sum, MariaDB two). Sums add: the fingerprint of a table split
into disjoint pieces is the pieces' row counts added and each 64-bit chunk added modulo 2^64 —
the very value one statement over the whole table gives."""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.models import TableFingerprint

_CHUNK = 16
_MASK64 = (1 << 64) - 1


def add_fingerprints(parts: Sequence[TableFingerprint]) -> TableFingerprint:
    if not parts:
        raise ValueError("no fingerprints to add")
    width = len(parts[0].checksum)
    if width % _CHUNK or any(len(p.checksum) != width for p in parts):
        raise ValueError("fingerprints of different algorithms cannot be added")
    chunks = [0] * (width // _CHUNK)
    for part in parts:
        for n in range(len(chunks)):
            chunks[n] += int(part.checksum[n * _CHUNK : (n + 1) * _CHUNK], 16)
    return TableFingerprint(
        rows=sum(p.rows for p in parts),
        checksum="".join(f"{c & _MASK64:016x}" for c in chunks),
    )
