"""Diff and reapply documents (DESIGN.md "Diff" and "Reapply"); re-exported by models."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, PositiveInt

from restoredrill.models_base import Frozen

# --- diff and reapply (DESIGN.md "Diff" and "Reapply") ---------------------------------------


class ServerIdentity(Frozen):
    """Which server and database a connection reached, read from the server itself.

    A restored sandbox has the SAME ``system_identifier`` as the production it was restored
    from (a physical copy), so the identifier alone cannot tell them apart: the running
    instance is identified by its start time, its port and (where readable) its data
    directory, plus the database name. See ``restoredrill.drill.guards.identity_problem``."""

    label: str  # redacted DSN, for messages
    database: str
    system_identifier: int | None
    postmaster_start_time: AwareDatetime | None
    port: int | None
    data_directory: str | None
    server_version: str | None = None


class DiffColumn(Frozen):
    name: str
    type: str  # format_type() in the restored database, e.g. "numeric(12,2)"
    key: bool = False
    compared: bool = True


# One row: column name -> the value's text form computed in the server (None = SQL NULL).
RowValues = dict[str, str | None]


class ChangedRow(Frozen):
    """A row whose key is on both sides with different values in compared columns.

    ``restored`` is what reapply writes back; ``production`` is the version the diff saw on
    the other side, which reapply uses as the guard (the row is only reverted while it still
    holds exactly these values)."""

    restored: RowValues
    production: RowValues
    columns: list[str]  # compared columns whose values differ


class DiffCounts(Frozen):
    lost: int = 0  # only in the restore
    new: int = 0  # only in production
    changed: int = 0

    @property
    def total(self) -> int:
        return self.lost + self.new + self.changed


class DiffStats(Frozen):
    """How the bisection went: work grows with the differences, not the table."""

    seconds: float
    levels: int
    round_trips: int
    buckets_checked: int
    rows_hashed_restored: int
    rows_hashed_production: int
    rows_fetched: int
    scan_seconds: float  # first level: every row hashed once on each side
    scan_rows_per_second: float | None
    rows_listed: int = 0  # dense ranges: rows listed as (key, row hash), both sides
    dense_ranges: int = 0


class RowDiff(Frozen):
    """The differences of one table, keyed; values are server text forms."""

    table: str  # display form schema.table
    schema_name: str
    table_name: str
    keyed: bool
    key: list[str]
    columns: list[DiffColumn]
    where: str | None
    rows_restored: int
    rows_production: int
    counts: DiffCounts
    lost: list[RowValues]
    new: list[RowValues]
    changed: list[ChangedRow]
    note: str | None = None
    stats: DiffStats | None = None
    # The table exists on the other side only: a difference of the whole table (not keyed,
    # no rows listed; rows_* count the side that has it).
    missing_in: Literal["restored", "production"] | None = None
    # Rows per line of the lost, new and changed lists in the diff file (set by its writer;
    # three lists, not keyed by name: a key "lost" would read as a row list): a reader keeps
    # the lines on disk and checks each count when it first parses the line.
    lines: tuple[list[PositiveInt], list[PositiveInt], list[PositiveInt]] | None = None


DiffMode = Literal["production", "incident"]


class DiffDocument(Frozen):
    """The diff file (``restoredrill diff --out``, ``restoredrill recover --out``).

    mode "production": restored vs production now (the guard of a changed row is its
    production version). mode "incident": a restore just before the incident vs one just
    after it (``incident``); the guard is the after-incident version, and ``production`` is
    the database reapply is meant for."""

    format: Literal["restoredrill-diff/1"] = "restoredrill-diff/1"
    created_at: AwareDatetime
    mode: DiffMode
    restored: ServerIdentity
    production: ServerIdentity
    incident: ServerIdentity | None = None
    where: str | None = None
    tables: list[RowDiff]

    @property
    def counts(self) -> DiffCounts:
        return DiffCounts(
            lost=sum(t.counts.lost for t in self.tables),
            new=sum(t.counts.new for t in self.tables),
            changed=sum(t.counts.changed for t in self.tables),
        )


ReapplyOnly = Literal["lost", "changed", "all"]
RowOutcome = Literal["insert", "update", "already", "conflict"]


class ReapplyConflict(Frozen):
    table: str
    key: dict[str, str | None]
    kind: Literal["lost", "changed"]
    reason: str


class ReapplyPlan(Frozen):
    """One table's part of a reapply: what would be (or was) written."""

    table: str
    key: list[str]
    selected_lost: int
    selected_changed: int
    inserted: int = 0
    updated: int = 0
    already: int = 0  # production already holds the restored values
    conflicts: int = 0  # production holds something else: skipped, never clobbered
    archive_table: str | None = None
    sample: list[RowValues] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list)  # the triggers that fire on the rows written
    # how triggers and foreign keys are handled (dry run and execution)
    notes: list[str] = Field(default_factory=list)


class ReapplyReport(Frozen):
    executed: bool
    diff_file: str
    target: ServerIdentity
    sql_file: str | None
    checkpoint_file: str | None
    resumed: bool
    only: ReapplyOnly
    where: str | None
    max_rows: int
    rows_selected: int
    over_ceiling: bool
    batches: int
    tables: list[ReapplyPlan]
    conflicts: list[ReapplyConflict]
    seconds: float

    @property
    def inserted(self) -> int:
        return sum(t.inserted for t in self.tables)

    @property
    def updated(self) -> int:
        return sum(t.updated for t in self.tables)

    @property
    def already(self) -> int:
        return sum(t.already for t in self.tables)

    @property
    def conflict_count(self) -> int:
        return sum(t.conflicts for t in self.tables)


class RowDiffSummary(Frozen):
    """One table's diff without all its rows (for reports): counts and a few of each."""

    table: str
    keyed: bool
    key: list[str]
    rows_restored: int
    rows_production: int
    counts: DiffCounts
    lost_sample: list[RowValues]
    new_sample: list[RowValues]
    changed_sample: list[ChangedRow]
    note: str | None = None
    stats: DiffStats | None = None

    @classmethod
    def of(cls, diff: RowDiff, sample: int = 5) -> RowDiffSummary:
        return cls(
            table=diff.table,
            keyed=diff.keyed,
            key=diff.key,
            rows_restored=diff.rows_restored,
            rows_production=diff.rows_production,
            counts=diff.counts,
            lost_sample=diff.lost[:sample],
            new_sample=diff.new[:sample],
            changed_sample=diff.changed[:sample],
            note=diff.note,
            stats=diff.stats,
        )
