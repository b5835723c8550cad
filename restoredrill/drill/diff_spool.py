"""The rows a diff finds, kept on disk instead of in memory.

A DELETE of 40 % of a 2 M-row table is 800,000 lost rows: as Python dicts ~750 MiB. The diff
finds them chunk by chunk (a dense listing, a fetch of leaves); each chunk's rows are put in
key order and written, as one JSON array per kind, to an unnamed temporary file
(restoredrill/spill.py). Memory holds one chunk.

The rows come out in the order the diff always gave them: by bucket path, then by position
in the bucket. A bucket's rows are found in one chunk, so a chunk's record is cut into
segments (one per bucket), and the segments of all records are put in path order. Records
whose segments follow each other whole are copied as written (the usual case: chunks are
processed in key order); only a record whose buckets interleave with another's is parsed
and sliced.

``SpooledRows`` is what a ``RowDiff`` holds for such a table: a read-only sequence (length,
iteration chunk by chunk, indexing, slices for samples) that the diff file's writer copies as
text (drill/diff_file.py). Serializing it with pydantic fails loudly: rows never silently
vanish from a document.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from restoredrill.drill.ranged import Ranged
from restoredrill.errors import ConfigError
from restoredrill.models import ChangedRow, RowValues
from restoredrill.spill import Ref, Spill

Kind = Literal["lost", "new", "changed"]
KINDS: tuple[Kind, ...] = ("lost", "new", "changed")
Path = tuple[int, ...]
_PATH, _PATH_N = itemgetter(0), itemgetter(0, 1)


@functools.cache
def row_adapter(kind: str) -> TypeAdapter[Any]:
    """Built on first use: building a serializer costs memory every CLI run would pay."""
    return TypeAdapter(list[ChangedRow] if kind == "changed" else list[RowValues])


@with_config(ConfigDict(extra="forbid"))
class _ChangedRowData(TypedDict):
    """A ChangedRow as plain data: validated in Rust alone (the model's own validators run
    in Python: 5.3 s for 400,000 changed rows, against 2.2 s for this)."""

    restored: RowValues
    production: RowValues
    columns: list[str]


@functools.cache
def check_adapter(kind: str) -> TypeAdapter[Any]:
    """What a diff file's line of ``kind`` must hold; validates into plain dicts."""
    return TypeAdapter(list[_ChangedRowData] if kind == "changed" else list[RowValues])


@dataclass(frozen=True)
class _Record:
    """One chunk's rows of one kind: a JSON array in the file; segments = (path, rows)."""

    ref: Ref  # where its JSON text is in the spill
    count: int
    segments: tuple[tuple[Path, int], ...]
    checked: bool = True  # False: a diff file's line, validated when first parsed


@dataclass(frozen=True)
class _Piece:
    """Rows ``start``..``stop`` of one record, in output order."""

    record: _Record
    start: int
    stop: int

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop == self.record.count


@dataclass
class Spool:
    """Collects one table's differing rows chunk by chunk: ``adder`` then ``flush`` per chunk."""

    _spill: Spill = field(default_factory=lambda: Spill("the diff's rows"))
    _pending: dict[str, list[tuple[Path, int, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    _records: dict[str, list[_Record]] = field(default_factory=lambda: {k: [] for k in KINDS})
    _counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def adder(self, kind: Kind) -> Callable[[tuple[Path, int, Any]], None]:
        """Adds (path, position, row) of ``kind``: the bound ``append`` of its list, as the
        diff calls it once per differing row (800,000 for a DELETE of 40 % of 2 M rows)."""
        return self._pending[kind].append

    def count(self, kind: Kind) -> int:
        return self._counts[kind] + len(self._pending[kind])

    def flush(self) -> None:
        """Write the chunk's rows (each kind in path order) and forget them."""
        for kind in KINDS:
            items = self._pending[kind]
            if not items:
                continue
            items.sort(key=_PATH_N)
            # rows per bucket, in path order (Counter keeps the order of first sight)
            segments = tuple(Counter(map(_PATH, items)).items())
            text = row_adapter(kind).dump_json([row for _, _, row in items])
            self._records[kind].append(_Record(self._spill.put(text), len(items), segments))
            self._counts[kind] += len(items)
            items.clear()  # the same list: ``adder`` hands out its append

    def put_line(self, text: bytes) -> Ref:
        """Keep a diff file's line (a JSON array of rows) before its place is known."""
        return self._spill.put(text)

    def line(self, ref: Ref) -> bytes:
        return self._spill.get(ref)

    def append_line(self, kind: Kind, ref: Ref, count: int, checked: bool) -> None:
        """A line kept by ``put_line``, after the ones before it. Not ``checked``: its count
        and its rows' types are the file's word, checked when the line is first parsed."""
        path = (len(self._records[kind]),)
        self._records[kind].append(_Record(ref, count, ((path, count),), checked))
        self._counts[kind] += count

    def rows(self, kind: Kind, source: str = "") -> SpooledRows:
        """The rows of ``kind`` in key order (after the last ``flush``); ``source`` names
        the file unchecked lines came from, for the message if one is bad."""
        if self._pending[kind]:
            raise RuntimeError("Spool.rows before flush")  # a programming error
        pieces = _pieces(self._records[kind])
        return SpooledRows(self._spill, kind, pieces, self._counts[kind], source)


def _pieces(records: list[_Record]) -> list[_Piece]:
    """The records' segments in path order, runs of one record merged into one piece."""
    ordered: list[tuple[Path, _Record, int, int]] = []
    for record in records:
        start = 0
        for path, count in record.segments:
            ordered.append((path, record, start, start + count))
            start += count
    ordered.sort(key=lambda t: t[0])
    pieces: list[_Piece] = []
    for _, record, start, stop in ordered:
        last = pieces[-1] if pieces else None
        if last is not None and last.record is record and last.stop == start:
            pieces[-1] = _Piece(record, last.start, stop)
        else:
            pieces.append(_Piece(record, start, stop))
    return pieces


class SpooledRows(Ranged[Any]):
    """A diff's rows of one kind, on disk, in key order; read a piece at a time."""

    def __init__(
        self, spill: Spill, kind: Kind, pieces: list[_Piece], count: int, source: str = ""
    ) -> None:
        self._spill = spill  # kept (and so on disk) as long as these rows are
        self._source = source
        self._kind = kind
        self._pieces = pieces
        self._count = count
        self._parsed: dict[tuple[int, bool], list[Any]] = {}  # the last records parsed
        self._checked: set[int] = set()  # unchecked records (by offset) found good

    def __len__(self) -> int:
        return self._count

    def _check(self, record: _Record, text: bytes) -> list[Any]:
        """A diff file's line, first parsed: its rows' types and its count as the file said
        (before anything is written: a reapply's script writer reads every row first)."""
        try:
            rows: list[Any] = check_adapter(self._kind).validate_json(text)
        except ValidationError as exc:
            why = f"a line of {self._kind} rows: {exc.errors()[0]['msg']}"
            raise ConfigError(f"{self._source} is not a restoredrill diff file ({why})") from None
        if len(rows) != record.count:
            why = f"a line of {len(rows):,} {self._kind} row(s) said to hold {record.count:,}"
            raise ConfigError(f"{self._source} is not a restoredrill diff file ({why})")
        self._checked.add(record.ref[0])
        return rows

    def piece_counts(self) -> list[int]:
        """Rows per piece: per line of the diff file (drill/diff_file.py)."""
        return [piece.stop - piece.start for piece in self._pieces]

    def _text(self, record: _Record) -> bytes:
        return self._spill.get(record.ref)

    def _rows(self, piece: _Piece, plain: bool = False) -> list[Any]:
        rows = self._parse(piece.record, plain)
        return rows if piece.whole else rows[piece.start : piece.stop]

    def _parse(self, record: _Record, plain: bool = False) -> list[Any]:
        """A record's rows, the last two kept: a record cut into pieces (its buckets
        interleave with another's: two sorted runs at most) or read a batch at a time is
        parsed once, not once per piece or batch. ``plain``: changed rows come as the dicts
        JSON makes, else as models (made without validating again: they were)."""
        key = (record.ref[0], plain)
        rows = self._parsed.get(key)
        if rows is None:
            text = self._text(record)
            if not record.checked and record.ref[0] not in self._checked:
                rows = self._check(record, text)
            else:  # validated already: parsing suffices
                rows = json.loads(text)
            if self._kind == "changed" and not plain:
                rows = [ChangedRow.model_construct(**row) for row in rows]
            if len(self._parsed) >= 2:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = rows
        return rows

    def chunks(self) -> Iterator[list[Any]]:
        """The rows, one record's worth (at most a diff chunk) at a time."""
        for piece in self._pieces:
            yield self._rows(piece)

    def json_chunks(self) -> Iterator[bytes]:
        """Each piece as a JSON array: a whole record as written, else re-serialized."""
        for piece in self._pieces:
            if piece.whole:
                yield self._text(piece.record)
            else:
                yield row_adapter(self._kind).dump_json(self._rows(piece))

    def __iter__(self) -> Iterator[Any]:
        for rows in self.chunks():
            yield from rows

    def plain(self, start: int, stop: int) -> list[Any]:
        """Rows start..stop as JSON parses them (changed rows: dicts, or models where this
        first validated them): what reapply reads a batch at a time."""
        return self._range(start, stop, plain=True)

    def _range(self, start: int, stop: int, plain: bool = False) -> list[Any]:
        """Rows start..stop, reading only the pieces they are in (a sample, a batch)."""
        out: list[Any] = []
        at = 0
        for piece in self._pieces:
            if at >= stop:
                break
            size = piece.stop - piece.start
            if at + size > start:
                rows = self._rows(piece, plain)
                out.extend(rows[max(0, start - at) : stop - at])
            at += size
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self._count and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, compared by value

    def __repr__(self) -> str:
        return f"<{self._count} {self._kind} row(s) on disk>"


__all__ = ["KINDS", "Kind", "Spool", "SpooledRows", "check_adapter", "row_adapter"]
