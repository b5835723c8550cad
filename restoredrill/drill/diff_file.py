"""Write a diff file without building it as one string: a diff of 800,000 lost rows is a
~200 MB JSON text, and ``model_dump_json`` would hold it whole next to the rows themselves.

The document is dumped without its row lists (small), and the rows are written into the
three places of each table in chunks (serialized by pydantic, in Rust; a diff's own rows
are on disk already, as JSON, and copied: drill/diff_spool.py). The markers
``"lost": []`` etc. cannot occur inside a JSON string value (a quote in a string is escaped),
so the split is unambiguous."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from restoredrill.drill.diff_spool import SpooledRows, row_adapter
from restoredrill.drill.private_file import check_writable, private_writer
from restoredrill.models import DiffDocument

CHUNK_ROWS = 10_000
_LISTS = ("lost", "new", "changed")


def _line_counts(rows: Sequence[Any]) -> list[int]:
    """Rows per line as ``_chunks`` will write them (drill/diff_reader.py relies on it)."""
    if isinstance(rows, SpooledRows):
        return rows.piece_counts()
    return [min(CHUNK_ROWS, len(rows) - start) for start in range(0, len(rows), CHUNK_ROWS)]


def _chunks(name: str, rows: Sequence[Any]) -> Iterator[bytes]:
    """The rows as JSON arrays of at most a chunk's rows each."""
    if isinstance(rows, SpooledRows):
        yield from rows.json_chunks()
        return
    for start in range(0, len(rows), CHUNK_ROWS):
        yield row_adapter(name).dump_json(list(rows[start : start + CHUNK_ROWS]))


def _write_rows(handle: TextIO, name: str, rows: Sequence[Any]) -> None:
    """Each chunk on a line of its own, the brackets on lines of their own: the layout
    drill/diff_reader.py reads a line at a time (an empty list stays ``[]``)."""
    handle.write("[")
    first = True
    for chunk in _chunks(name, rows):
        text = chunk.decode("utf-8")[1:-1]  # the chunk's list brackets off
        if not text:
            continue
        handle.write("\n" if first else ",\n")
        handle.write(text)
        first = False
    handle.write("]" if first else "\n]")


def dump_document(document: DiffDocument, handle: TextIO) -> None:
    """The document as JSON text on ``handle``, a chunk of rows at a time."""
    empty: dict[str, list[Any]] = {name: [] for name in _LISTS}
    tables = []
    for t in document.tables:
        lines = tuple(_line_counts(getattr(t, name)) for name in _LISTS)
        tables.append(t.model_copy(update={**empty, "lines": lines if any(lines) else None}))
    skeleton = document.model_copy(update={"tables": tables}).model_dump_json(indent=2)
    at = 0
    for table in document.tables:
        for name in _LISTS:
            marker = f'"{name}": []'
            found = skeleton.index(marker, at)
            handle.write(skeleton[at : found + len(marker) - 2])
            _write_rows(handle, name, getattr(table, name))
            at = found + len(marker)
    handle.write(skeleton[at:] + "\n")


class _Hashing:
    """A text handle that only hashes what is written to it."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()

    def write(self, text: str) -> int:
        self.sha256.update(text.encode("utf-8"))
        return len(text)


def document_digest(document: DiffDocument) -> str:
    """The SHA-256 of the document as ``write_document`` writes it, without writing it."""
    sink = _Hashing()
    dump_document(document, sink)  # type: ignore[arg-type]  # only write() is used
    return sink.sha256.hexdigest()


def write_document(document: DiffDocument, path: Path, force: bool, what: str) -> None:
    """Atomically, 0600, never over an existing file unless ``force`` (private_file.py)."""
    check_writable(path, True, what, make_dir=True)
    with private_writer(path, force, what) as handle:
        dump_document(document, handle)


__all__ = ["document_digest", "dump_document", "write_document"]
