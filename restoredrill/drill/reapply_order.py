"""The order reapply writes tables in: parents before children along every foreign key that can
fire when a row is written — declared on the table itself, on its partitions or on its
inheritance children (the engine's ``referenced_tables`` follows them all) — and a clear
refusal when the tables with rows to write reference each other in a cycle (each batch is
its own transaction, so no order would satisfy a cycle's constraints batch by batch)."""

from __future__ import annotations

from typing import Any

from restoredrill.drill.reapply_work import TableWork
from restoredrill.engines.base import ReapplyGuards
from restoredrill.engines.names import TableName
from restoredrill.errors import ReapplyRefused


def order_works(engine: ReapplyGuards, conn: Any, works: list[TableWork]) -> list[TableWork]:
    """``works`` with referenced (parent) tables first; ties keep the diff's order.

    A cycle is refused only among tables with lost rows to insert: a new row there may need a
    parent that is itself still to be inserted on the other side of the cycle. Reverting a
    changed row updates a row whose references already hold; should a reverted reference
    point at a row not yet back, the foreign key refuses that batch (rolled back, exit 1)."""
    by_name = {w.table: w for w in works}
    parents: dict[TableName, list[TableName]] = {
        w.table: sorted(p for p in engine.referenced_tables(conn, w.table) if p in by_name)
        for w in works
    }
    writing = {w.table for w in works if w.items.count("lost")}
    cycle = _find_cycle(
        {n: [p for p in ps if p in writing] for n, ps in parents.items() if n in writing}
    )
    if cycle is not None:
        path = " → ".join(n.display for n in [*cycle, cycle[0]])
        raise ReapplyRefused(
            f"foreign keys form a cycle among the tables with lost rows to insert ({path}): no "
            "table order puts every parent first, nothing written (load these rows by hand in "
            "one transaction with the constraints deferred, or leave one table out of the diff)"
        )
    ordered: list[TableWork] = []
    done: set[TableName] = set()

    def visit(name: TableName, seen: frozenset[TableName]) -> None:
        if name in done or name in seen:
            return
        for parent in parents[name]:
            visit(parent, seen | {name})
        done.add(name)
        ordered.append(by_name[name])

    for work in works:
        visit(work.table, frozenset())
    return ordered


def _find_cycle(graph: dict[TableName, list[TableName]]) -> list[TableName] | None:
    """One cycle of ``graph`` (child → parents) as a list of tables, or None."""
    state: dict[TableName, int] = {}  # 1 on the stack, 2 finished
    stack: list[TableName] = []

    def walk(node: TableName) -> list[TableName] | None:
        state[node] = 1
        stack.append(node)
        for parent in graph.get(node, []):
            if state.get(parent) == 1:
                return stack[stack.index(parent) :]
            if parent not in state:
                found = walk(parent)
                if found is not None:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found is not None:
                return found
    return None


__all__ = ["order_works"]
