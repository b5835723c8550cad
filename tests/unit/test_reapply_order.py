"""Table order and trigger planning of reapply, on a stand-in catalog (no database): parents
first through any foreign key, a cycle among tables with rows to insert refused by name, and
which triggers fire, are kept off, or may rewrite a row."""

from __future__ import annotations

from typing import Any

import pytest

from restoredrill.drill.reapply_items import Items
from restoredrill.drill.reapply_order import order_works
from restoredrill.drill.reapply_triggers import plan_triggers
from restoredrill.drill.reapply_work import TableWork
from restoredrill.engines.names import TableName
from restoredrill.engines.triggers import Trigger
from restoredrill.errors import ReapplyRefused
from restoredrill.models import ChangedRow


class Catalog:
    """The few engine calls order_works and plan_triggers make."""

    def __init__(
        self,
        parents: dict[str, set[str]],
        triggers: list[Trigger] | None = None,
        may_skip: bool = False,
    ) -> None:
        self.parents = parents
        self.triggers = triggers or []
        self.may_skip = may_skip

    def referenced_tables(self, conn: Any, table: TableName) -> set[TableName]:
        return {TableName("public", p) for p in self.parents.get(table.name, set())}

    def row_triggers(self, conn: Any, table: TableName) -> list[Trigger]:
        return self.triggers

    def stamp_columns(self, conn: Any, table: TableName) -> list[str]:
        return []

    def may_skip_triggers(self, conn: Any) -> bool:
        return self.may_skip


def _work(name: str, kinds: str = "lost") -> TableWork:
    named = kinds.split(",")
    row = {"id": "1"}
    work = TableWork.__new__(TableWork)
    work.table = TableName("public", name)
    work.items = Items(
        [ChangedRow(restored=row, production=row, columns=["id"])] * named.count("changed"),
        [row] * named.count("lost"),
    )
    return work


def _names(works: list[TableWork]) -> list[str]:
    return [w.table.name for w in works]


def test_parents_come_first_whatever_the_diff_order() -> None:
    # payment's keys are declared on its partitions; the engine reports them for payment
    catalog = Catalog({"payment": {"customer", "rental"}, "rental": {"customer"}})
    works = [_work("payment"), _work("rental"), _work("film"), _work("customer")]
    assert _names(order_works(catalog, None, works)) == ["customer", "rental", "payment", "film"]  # type: ignore[arg-type]


def test_a_cycle_among_tables_with_rows_to_insert_is_refused_by_name() -> None:
    catalog = Catalog({"staff": {"store"}, "store": {"staff"}})
    with pytest.raises(
        ReapplyRefused, match=r"cycle .*\(public\.staff → public\.store → public\.staff\)"
    ):
        order_works(catalog, None, [_work("store"), _work("staff")])  # type: ignore[arg-type]


def test_a_cycle_with_only_changed_rows_on_one_side_is_ordered() -> None:
    catalog = Catalog({"staff": {"store"}, "store": {"staff"}})
    works = [_work("store", "changed"), _work("staff")]
    assert sorted(_names(order_works(catalog, None, works))) == ["staff", "store"]  # type: ignore[arg-type]


LAST_UPDATED = Trigger("last_updated", "", "BEFORE", frozenset({"UPDATE"}), row=True)
AUDIT = Trigger("audit", "", "AFTER", frozenset({"INSERT", "UPDATE"}), row=True)
ALWAYS = Trigger("stamp", "", "BEFORE", frozenset({"INSERT"}), row=True, enabled="A")


def test_replica_keeps_origin_triggers_off_when_the_role_may() -> None:
    catalog = Catalog({}, [AUDIT, LAST_UPDATED, ALWAYS], may_skip=True)
    plan = plan_triggers(catalog, None, TableName("public", "film"), lost=True, changed=True)  # type: ignore[arg-type]
    assert plan.skip
    assert plan.firing() == [ALWAYS]  # ENABLE ALWAYS fires even as replica
    assert plan.kept_off() == [AUDIT, LAST_UPDATED]
    assert plan.rewriters("INSERT") == [ALWAYS]
    assert any("foreign-key checks off" in n for n in plan.notes)


def test_without_the_privilege_triggers_fire_and_the_plan_says_so() -> None:
    catalog = Catalog({}, [AUDIT, LAST_UPDATED], may_skip=False)
    plan = plan_triggers(catalog, None, TableName("public", "film"), lost=False, changed=True)  # type: ignore[arg-type]
    assert not plan.skip
    assert plan.firing() == [AUDIT, LAST_UPDATED]
    assert plan.rewriters("UPDATE") == [LAST_UPDATED]
    assert any(n.startswith("may rewrite the rows written: last_updated") for n in plan.notes)


def test_only_after_triggers_never_switch_to_replica() -> None:
    catalog = Catalog({}, [AUDIT], may_skip=True)
    plan = plan_triggers(catalog, None, TableName("public", "t"), lost=True, changed=False)  # type: ignore[arg-type]
    assert not plan.skip and plan.firing() == [AUDIT]
