"""The diff document: made, written (0600, streamed), read back, and its one-line verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from restoredrill.drill.diff_file import dump_document, write_document
from restoredrill.drill.diff_reader import read_diff
from restoredrill.models import DiffDocument, DiffMode, RowDiff, ServerIdentity


def make_document(
    mode: DiffMode,
    restored: ServerIdentity,
    production: ServerIdentity,
    tables: list[RowDiff],
    where: str | None,
    incident: ServerIdentity | None = None,
) -> DiffDocument:
    return DiffDocument(
        created_at=datetime.now(UTC),
        mode=mode,
        restored=restored,
        production=production,
        incident=incident,
        where=where,
        tables=tables,
    )


def write_diff(document: DiffDocument, path: Path, force: bool = False) -> None:
    """Write atomically and 0600 (it holds production rows); an existing file is kept
    unless ``force``. Streamed: the JSON text is never held whole (drill/diff_file.py)."""
    write_document(document, path, force, "the diff file")


def print_diff(document: DiffDocument, handle: TextIO) -> None:
    """The diff document as JSON on ``handle`` (``diff --json``), streamed like the file:
    its rows may be on disk, more than memory should hold at once."""
    dump_document(document, handle)


def load_diff(path: Path) -> DiffDocument:
    return read_diff(path)[0]


def has_differences(document: DiffDocument) -> bool:
    """Rows lost, new or changed, or a table on one side only."""
    return document.counts.total > 0 or any(t.missing_in for t in document.tables)


def not_compared(document: DiffDocument) -> list[RowDiff]:
    """Tables present on both sides that could not be diffed (no key): counts only. A diff
    holding one is never "no differences"."""
    return [t for t in document.tables if not t.keyed and t.missing_in is None]


def verdict(document: DiffDocument) -> str:
    """One line: what the diff found, or that it could not tell."""
    counts = document.counts
    parts = []
    if counts.total:
        parts.append(f"{counts.lost:,} lost, {counts.new:,} new, {counts.changed:,} changed")
    parts.extend(f"{t.table} {t.note}" for t in document.tables if t.missing_in)
    skipped = not_compared(document)
    if skipped:
        names = ", ".join(t.table for t in skipped)
        parts.append(f"not compared (no key, counts only): {names}; pass --key COLS")
    return "; ".join(parts) if parts else "no differences"
