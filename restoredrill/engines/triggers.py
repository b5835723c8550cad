"""Triggers as reapply sees them: which fire on the rows it writes, and which of those may
rewrite a row (BEFORE ... FOR EACH ROW) — shared by the engines' catalog readers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trigger:
    name: str
    relation: str  # the table (or partition / child) it is declared on, for people
    timing: str  # BEFORE | AFTER | INSTEAD OF
    events: frozenset[str]  # INSERT, UPDATE, DELETE, TRUNCATE
    row: bool  # FOR EACH ROW (else FOR EACH STATEMENT)
    # PostgreSQL's pg_trigger.tgenabled: O fires unless session_replication_role = replica,
    # R only under replica, A always, D never. MariaDB/MySQL triggers are always "O".
    enabled: str = "O"

    def fires(self, event: str, replica: bool) -> bool:
        on = ("R", "A") if replica else ("O", "A")
        return event in self.events and self.enabled in on

    def may_rewrite(self) -> bool:
        """Only a BEFORE row trigger can change the values of the row being written."""
        return self.row and self.timing == "BEFORE"

    def describe(self, events: set[str] | None = None) -> str:
        shown = sorted(self.events if events is None else self.events & events)
        where = f" on {self.relation}" if self.relation else ""
        return f"{self.name} ({self.timing} {'/'.join(shown)}{where})"


__all__ = ["Trigger"]
