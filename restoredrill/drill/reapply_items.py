"""The rows a reapply writes, made a batch at a time from the diff's rows (which may be on
disk: drill/diff_spool.py), never all at once."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any, Literal, NamedTuple, overload

from restoredrill.drill.diff_spool import SpooledRows
from restoredrill.drill.ranged import Ranged
from restoredrill.models import ChangedRow, RowValues


class Item(NamedTuple):  # a NamedTuple: one per row, made 3x faster than a frozen dataclass
    kind: Literal["lost", "changed"]
    values: RowValues  # restored values (what is written)
    guard: RowValues | None  # changed rows: the version production must still hold
    set_columns: tuple[str, ...]  # changed rows: columns to write back


WINDOW = 10_000  # rows of the underlying list read at once by Picked


class Picked(Ranged[Any]):
    """The rows of ``rows`` at ``positions`` (ascending; 8 bytes each), read a window of at
    most WINDOW underlying rows at a time: a selection (``reapply --where``) of 400,000 rows
    out of 800,000 on disk stays on disk, however far apart the rows it keeps."""

    def __init__(self, rows: Sequence[Any], positions: Iterable[int]) -> None:
        self._rows = rows
        self._positions = array("q", positions)
        at = self._positions
        # a position out of order would read another row than the one picked, silently
        if any(b <= a for a, b in pairwise(at)):
            raise ValueError("Picked positions must be strictly ascending")
        if at and (at[0] < 0 or at[-1] >= len(rows)):
            raise ValueError("Picked positions must be within the rows")

    def __len__(self) -> int:
        return len(self._positions)

    def plain(self, start: int, stop: int) -> list[Any]:
        return self._pick(start, stop, plain=True)

    def _pick(self, start: int, stop: int, plain: bool = False) -> list[Any]:
        wanted = self._positions[start:stop]
        out: list[Any] = []
        at = 0
        while at < len(wanted):
            first = wanted[at]
            end = at
            while end < len(wanted) and wanted[end] < first + WINDOW:
                end += 1
            last = wanted[end - 1] + 1
            window = _plain(self._rows, first, last) if plain else self._rows[first:last]
            out += [window[p - first] for p in wanted[at:end]]
            at = end
        return out

    def _range(self, start: int, stop: int) -> list[Any]:
        return self._pick(start, stop)


def _plain(rows: Sequence[Any], start: int, stop: int) -> list[Any]:
    """Rows start..stop; from disk as JSON parses them (changed rows: dicts, once
    validated: 2x faster than models)."""
    if isinstance(rows, (SpooledRows, Picked)):
        return rows.plain(start, stop)
    return list(rows[start:stop])


class Items(Ranged[Item]):
    """A table's rows to write: changed rows first, then lost rows, each in key order (as
    the diff found them). Made a batch at a time from the diff's rows, which may be on disk
    (drill/diff_spool.py): a table of 400,000 rows is never 400,000 Items at once."""

    def __init__(self, changed: Sequence[ChangedRow], lost: Sequence[RowValues]) -> None:
        """The diff's rows (lists, or on disk: SpooledRows, Picked)."""
        self._changed = changed
        self._lost = lost

    def count(self, kind: object) -> int:  # per kind, not per value
        return len(self._changed) if kind == "changed" else len(self._lost) if kind == "lost" else 0

    def __len__(self) -> int:
        return len(self._changed) + len(self._lost)

    def _changed_items(self, start: int, stop: int) -> list[Item]:
        return [
            Item("changed", r["restored"], r["production"], tuple(r["columns"]))
            if isinstance(r, dict)
            else Item("changed", r.restored, r.production, tuple(r.columns))
            for r in _plain(self._changed, start, stop)
        ]

    def _lost_items(self, start: int, stop: int) -> list[Item]:
        return [Item("lost", values, None, ()) for values in self._lost[start:stop]]

    def pick(self, positions: Iterable[int], every_lost: bool = False) -> Items:
        """The items at ``positions`` (ascending; changed rows are 0..count("changed")-1,
        lost rows follow), or with ``every_lost`` the changed rows there and every lost row.
        Nothing is read: the rows are read a batch at a time, as from the diff."""
        split = len(self._changed)
        kept = array("q", positions)
        changed = Picked(self._changed, (p for p in kept if p < split))
        lost = (
            self._lost
            if every_lost
            else Picked(self._lost, (p - split for p in kept if p >= split))
        )
        return Items(changed, lost)

    def lost_values(self, start: int, stop: int) -> list[RowValues] | None:
        """Items start..stop's values when they are all lost rows (no Item made: the
        encoding of a batch of lost rows needs only these), else None."""
        split = len(self._changed)
        return None if start < split else list(self._lost[start - split : stop - split])

    def range(self, start: int, stop: int) -> list[Item]:
        split = len(self._changed)
        out = self._changed_items(start, min(stop, split)) if start < split else []
        if stop > split:
            out += self._lost_items(max(0, start - split), stop - split)
        return out

    def _range(self, start: int, stop: int) -> list[Item]:
        return self.range(start, stop)

    def batch(self, start: int, stop: int) -> Batch:
        return Batch(self, start, stop)

    def chunks(self, size: int) -> Iterator[list[Item]]:
        for start in range(0, len(self), size):
            yield self.range(start, start + size)

    def __iter__(self) -> Iterator[Item]:
        for chunk in self.chunks(10_000):
            yield from chunk


class Batch(Sequence[Item]):
    """Rows start..stop of a table's Items, made when first looked at: an executing batch
    whose data the script writer already encoded looks only at the rows that need a person
    (a conflict, a row not read back as written), so its rows are mostly never parsed."""

    def __init__(self, items: Items, start: int, stop: int) -> None:
        self._items = items
        self._start = start
        self._stop = min(stop, len(items))
        self._made: list[Item] | None = None
        self._values: list[RowValues] | None = None
        self._looked = False  # for _values

    def made(self) -> list[Item]:
        if self._made is None:
            self._made = self._items.range(self._start, self._stop)
        return self._made

    def lost_values(self) -> list[RowValues] | None:
        """The rows' values if they are all lost rows (``Items.lost_values``), kept."""
        if not self._looked and self._made is None:
            self._values = self._items.lost_values(self._start, self._stop)
            self._looked = True
        return self._values

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> list[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | list[Item]:
        return self.made()[index]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.made())


__all__ = ["Batch", "Item", "Items", "Picked"]
