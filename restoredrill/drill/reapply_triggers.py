"""What the triggers of production do to the rows reapply writes, decided before writing.

A BEFORE ... FOR EACH ROW trigger can rewrite a row on its way in (a ``last_update`` stamp,
``NEW.create_date = NOW()``), and then the row put back is not the restored row. Where the
session may, reapply keeps ordinary triggers from firing (PostgreSQL: ``SET LOCAL
session_replication_role = replica`` per batch — which also keeps the foreign-key triggers
from firing, so reapply then checks each written row's parents itself, in the batch's
transaction). Either way every written row is read back before commit (reapply_readback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from restoredrill.engines.base import ReapplyGuards
from restoredrill.engines.names import TableName
from restoredrill.engines.triggers import Trigger


@dataclass(frozen=True)
class TriggerPlan:
    events: frozenset[str] = frozenset()  # INSERT (lost rows), UPDATE (changed rows)
    triggers: tuple[Trigger, ...] = ()  # every user trigger on the table and below it
    skip: bool = False  # batches run with the engine's skip_triggers() settings
    stamp_columns: tuple[str, ...] = ()  # assigned explicitly in every UPDATE (MariaDB)
    notes: list[str] = field(default_factory=list)

    def firing(self) -> list[Trigger]:
        """The triggers that fire on reapply's writes, as batches run."""
        return [t for t in self.triggers if any(t.fires(e, self.skip) for e in self.events)]

    def kept_off(self) -> list[Trigger]:
        """The triggers that would fire but for ``skip``."""
        if not self.skip:
            return []
        firing = set(self.firing())
        return [
            t
            for t in self.triggers
            if t not in firing and any(t.fires(e, False) for e in self.events)
        ]

    def rewriters(self, event: str) -> list[Trigger]:
        """The triggers that may have rewritten a row written by ``event``."""
        return [t for t in self.triggers if t.may_rewrite() and t.fires(event, self.skip)]


def plan_triggers(
    engine: ReapplyGuards, conn: Any, table: TableName, lost: bool, changed: bool
) -> TriggerPlan:
    events = frozenset({*(["INSERT"] if lost else []), *(["UPDATE"] if changed else [])})
    if not events:
        return TriggerPlan()
    triggers = tuple(engine.row_triggers(conn, table))
    stamps = tuple(engine.stamp_columns(conn, table))
    rewriting = [t for t in triggers if t.may_rewrite() and any(t.fires(e, False) for e in events)]
    skip = bool(rewriting) and engine.may_skip_triggers(conn)
    plan = TriggerPlan(events=events, triggers=triggers, skip=skip, stamp_columns=stamps)
    shown = set(events)
    if plan.firing():
        plan.notes.append(
            "triggers that fire on the rows written: "
            + ", ".join(t.describe(shown) for t in plan.firing())
        )
    if plan.kept_off():
        plan.notes.append(
            "kept from firing (SET LOCAL session_replication_role = replica in each batch, so "
            "the rows go back as restored): "
            + ", ".join(t.describe(shown) for t in plan.kept_off())
            + "; this also keeps PostgreSQL's foreign-key checks off, so reapply checks every "
            "written row's parent rows itself before each commit"
        )
    elif rewriting:
        plan.notes.append(
            "may rewrite the rows written: "
            + ", ".join(t.describe(shown) for t in rewriting)
            + "; with --execute each written row is read back and, if rewritten, set back with "
            "a plain UPDATE before commit, and a row still not as restored is reported as "
            "rewritten by its trigger (exit 1) — the SQL script run by hand does not do this"
        )
    if stamps and changed:
        plan.notes.append(
            f"ON UPDATE CURRENT_TIMESTAMP: {', '.join(stamps)} assigned explicitly in every UPDATE "
            "(so they keep their restored values)"
        )
    return plan


__all__ = ["TriggerPlan", "plan_triggers"]
