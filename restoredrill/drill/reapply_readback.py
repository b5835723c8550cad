"""Read back what a batch wrote, before it commits: every row put back must read exactly as
the restored row (the same text forms the diff compares), or a trigger rewrote it.

A rewritten row is set back once with a plain UPDATE by key (assigning every differing
column, and the columns the server stamps): that undoes a BEFORE INSERT trigger, which does
not fire on UPDATE, and an ON UPDATE CURRENT_TIMESTAMP stamp. A row that still reads
otherwise (a BEFORE UPDATE trigger rewrote it again) is reported as rewritten by its trigger.
When ordinary triggers were kept from firing, the foreign keys were too: the written rows'
parents are checked here, and a missing one stops the batch (rolled back, exit 1)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from restoredrill.drill.reapply_items import Item
from restoredrill.drill.reapply_work import TableWork, current_rows, lock_statement
from restoredrill.engines.base import Engine
from restoredrill.errors import ReapplyDataProblem


class Written(Mapping[int, Item]):
    """position -> row of the rows a set-based batch wrote, without making the rows: only
    those a person must hear about (read back otherwise, a missing parent) are looked at."""

    def __init__(self, batch: Sequence[Item], positions: list[int]) -> None:
        self._batch = batch
        self._positions = positions
        self._at = set(positions)

    def __getitem__(self, n: int) -> Item:
        if n not in self._at:
            raise KeyError(n)
        return self._batch[n]

    def __contains__(self, n: object) -> bool:
        return n in self._at

    def __iter__(self) -> Iterator[int]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def _differing(
    work: TableWork, item: Item, current: dict[tuple[str | None, ...], dict[str, str | None]]
) -> list[str]:
    now = current.get(tuple(item.values.get(k) for k in work.key))
    if now is None:
        return list(work.compared)
    return [c for c in work.compared if now.get(c) != item.values.get(c)]


def _read(engine: Engine, conn: Any, work: TableWork, items: list[Item]) -> Any:
    return current_rows(engine, conn, work, lock_statement(engine, work, items, True))


def check_written(
    engine: Engine,
    conn: Any,
    work: TableWork,
    written: Mapping[int, Item],
    differing: dict[int, list[str]] | None = None,
) -> dict[int, str]:
    """{position in the batch: why the row is not as restored} for the rows ``written``.
    ``differing``: the rows not read back as written, already found by the server (a
    set-based batch); None reads every written row back here."""
    if not written:
        return {}
    if work.triggers.skip:
        problems = engine.missing_parents(
            conn, work.table, work.key, [i.values for i in written.values()]
        )
        if problems:
            raise ReapplyDataProblem(
                f"reapply stopped: {problems[0]}; the batch was rolled back (restore the parent "
                "rows first, or leave this row out with --where)"
            )
    if differing is None:
        current = _read(engine, conn, work, list(written.values()))
        bad = {n: c for n, item in written.items() if (c := _differing(work, item, current))}
    else:
        bad = {n: cols for n, cols in differing.items() if n in written and cols}
    if not bad:
        return {}
    for n, cols in bad.items():
        item = written[n]
        stamps = [c for c in work.triggers.stamp_columns if c in work.insert_columns]
        columns = [*cols, *(c for c in stamps if c not in cols)]
        engine.execute(
            conn, engine.rewrite_row(work.table, work.key, columns, item.values, work.columns)
        )
    current = _read(engine, conn, work, [written[n] for n in bad])
    reasons: dict[int, str] = {}
    for n in bad:
        item = written[n]
        cols = _differing(work, item, current)
        if not cols:
            continue
        event = "INSERT" if item.kind == "lost" else "UPDATE"
        names = {t.name: None for t in [*work.triggers.rewriters(event)]}
        names.update({t.name: None for t in work.triggers.rewriters("UPDATE")})
        who = (
            f"trigger {' or '.join(names)}"
            if names
            else "the server (no trigger reapply knows of: a rule or a default?)"
        )
        now = current.get(tuple(item.values.get(k) for k in work.key), {})
        first = cols[0]
        reasons[n] = (
            f"rewritten by {who}: {', '.join(cols)} not as restored ({first} reads "
            f"{now.get(first)!r}, restored {item.values.get(first)!r})"
        )
    return reasons


__all__ = ["Written", "check_written"]
