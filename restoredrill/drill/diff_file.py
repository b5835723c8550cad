"""Write a diff file without building it as one string: a diff of 800,000 lost rows is a
~200 MB JSON text, and ``model_dump_json`` would hold it whole next to the rows themselves.

The document is dumped without its row lists (small), and the rows are written into the
three places of each table in chunks (serialized by pydantic, in Rust). The markers
``"lost": []`` etc. cannot occur inside a JSON string value (a quote in a string is escaped),
so the split is unambiguous."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter

from restoredrill.drill.private_file import check_writable, private_writer
from restoredrill.models import ChangedRow, DiffDocument, RowValues

CHUNK_ROWS = 10_000
_LISTS = ("lost", "new", "changed")


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    """Built on first use: building a serializer costs memory every CLI run would pay."""
    return TypeAdapter(list[ChangedRow] if name == "changed" else list[RowValues])


def _write_rows(handle: TextIO, adapter: TypeAdapter[Any], rows: Sequence[Any]) -> None:
    handle.write("[")
    for start in range(0, len(rows), CHUNK_ROWS):
        text = adapter.dump_json(list(rows[start : start + CHUNK_ROWS])).decode("utf-8")
        if start:
            handle.write(",\n")
        handle.write(text[1:-1])  # the chunk's list brackets off
    handle.write("]")


def write_document(document: DiffDocument, path: Path, force: bool, what: str) -> None:
    """Atomically, 0600, never over an existing file unless ``force`` (private_file.py)."""
    check_writable(path, True, what, make_dir=True)
    empty: dict[str, list[Any]] = {name: [] for name in _LISTS}
    skeleton = document.model_copy(
        update={"tables": [t.model_copy(update=empty) for t in document.tables]}
    ).model_dump_json(indent=2)
    with private_writer(path, force, what) as handle:
        at = 0
        for table in document.tables:
            for name in _LISTS:
                marker = f'"{name}": []'
                found = skeleton.index(marker, at)
                handle.write(skeleton[at : found + len(marker) - 2])
                _write_rows(handle, _adapter(name), getattr(table, name))
                at = found + len(marker)
        handle.write(skeleton[at:] + "\n")


__all__ = ["write_document"]
