"""A reapply's selection of rows (``reapply --where``): the rows it keeps stay where they are
(on disk for a diff file) and are read a bounded window at a time, however far apart."""

from __future__ import annotations

from typing import Any

import pytest

from restoredrill.drill.diff_spool import Spool
from restoredrill.drill.ranged import Ranged
from restoredrill.drill.reapply_items import WINDOW, Items, Picked
from restoredrill.models import ChangedRow


class Watched(Ranged[int]):
    """0..size-1, noting the longest range ever read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.widest = 0

    def __len__(self) -> int:
        return self.size

    def _range(self, start: int, stop: int) -> list[int]:
        self.widest = max(self.widest, stop - start)
        return list(range(start, stop))


def test_picked_rows_are_read_a_window_at_a_time_however_far_apart() -> None:
    rows = Watched(50 * WINDOW)
    positions = [0, 1, 7, WINDOW - 1, WINDOW, 3 * WINDOW + 5, 49 * WINDOW, 50 * WINDOW - 1]
    picked = Picked(rows, positions)
    assert len(picked) == len(positions)
    assert picked[:] == positions
    assert picked[2:6] == positions[2:6]
    assert picked[-1] == 50 * WINDOW - 1
    assert picked[::3] == positions[::3]
    assert rows.widest <= WINDOW
    with pytest.raises(IndexError):
        picked[len(positions)]


@pytest.mark.parametrize("positions", [[3, 2], [1, 1], [-1, 2], [0, 10]])
def test_positions_out_of_order_or_bounds_are_refused(positions: list[int]) -> None:
    """A position out of order would read another row than the one picked: refused."""
    with pytest.raises(ValueError, match="Picked positions"):
        Picked(list(range(10)), positions)


def test_items_pick_splits_changed_and_lost_rows_and_keeps_their_order() -> None:
    changed = [
        ChangedRow(restored={"id": str(n)}, production={"id": "p"}, columns=["id"])
        for n in range(5)
    ]
    lost: list[dict[str, str | None]] = [{"id": str(n)} for n in range(100, 110)]
    items = Items(changed, lost)
    chosen = items.pick([1, 3, 5, 9, 14])  # changed 1 and 3; lost 0, 4 and 9
    assert chosen.count("changed") == 2 and chosen.count("lost") == 3
    assert [i.values["id"] for i in chosen] == ["1", "3", "100", "104", "109"]
    every = items.pick([4], every_lost=True)
    assert [i.values["id"] for i in every] == ["4", *(r["id"] for r in lost)]


def test_picked_rows_of_a_diff_on_disk_are_the_rows_at_those_positions() -> None:
    spool = Spool()
    for chunk in range(4):
        for n in range(chunk * 3000, chunk * 3000 + 3000):
            spool.adder("lost")(((chunk,), n, {"id": str(n), "note": None}))
            row = ChangedRow(
                columns=["note"],
                restored={"id": str(n), "note": "a"},
                production={"id": str(n), "note": "b"},
            )
            spool.adder("changed")(((chunk,), n, row))
        spool.flush()
    lost, changed = spool.rows("lost"), spool.rows("changed")
    positions = list(range(3, 12_000, 997))
    items = Items(changed, lost).pick([*positions, *(12_000 + p for p in positions)])
    made: list[Any] = list(items)
    assert [i.values["id"] for i in made] == [str(p) for p in positions] * 2
    assert {i.kind for i in made[: len(positions)]} == {"changed"}
    assert made[0].guard == {"id": "3", "note": "b"} and made[0].set_columns == ("note",)
