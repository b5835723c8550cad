"""Verify's decisions, pure: did production move on past the restored point, and what one
table's two fingerprints (or errors) mean: PASS, FAIL, ERROR or INCONCLUSIVE."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from restoredrill.lsn import format_lsn
from restoredrill.models import TableCheck, TableFingerprint, VerifyStatus

ReferenceKind = Literal["live", "manifest"]
# One side's result for a table: its fingerprint, an error message, or None (no such table).
SideResult = TableFingerprint | str | None

ADVICE = "add --as-of-column TABLE=COLUMN or verify against a manifest"


@dataclass(frozen=True)
class MovedOn:
    """Whether live production may hold changes made after the restored point."""

    moved: bool
    reason: str


def production_moved_on(
    restored_system_id: int | None,
    reference_system_id: int | None,
    restored_end_lsn: int | None,
    reference_lsn: int | None,
    fmt: Callable[[int], str] = format_lsn,
) -> MovedOn:
    if restored_system_id is None or reference_system_id is None:
        return MovedOn(True, "cannot read the servers' system identifiers")
    if restored_system_id != reference_system_id:
        return MovedOn(True, "the reference is another cluster: system identifiers differ")
    if restored_end_lsn is None:
        return MovedOn(True, "the restored server's recovery end is unknown")
    if reference_lsn is None:
        return MovedOn(True, "production's WAL position is unknown")
    if reference_lsn > restored_end_lsn:
        return MovedOn(
            True,
            f"production is at {fmt(reference_lsn)}, past the restored point "
            f"{fmt(restored_end_lsn)}",
        )
    return MovedOn(False, "production has not moved past the restored point")


def classify(
    table: str,
    restored: SideResult,
    reference: SideResult,
    reference_kind: ReferenceKind,
    predicate: str | None,
    moved_on: MovedOn | None,
) -> TableCheck:
    """One table's status from the two sides' results."""
    restored_fp = restored if isinstance(restored, TableFingerprint) else None
    reference_fp = reference if isinstance(reference, TableFingerprint) else None

    def check(status: VerifyStatus, detail: str | None) -> TableCheck:
        return TableCheck(
            table=table,
            status=status,
            restored=restored_fp,
            reference=reference_fp,
            predicate=predicate,
            detail=detail,
        )

    where = "the manifest" if reference_kind == "manifest" else "the reference"
    # A table on one side only is a data difference, never an infrastructure error.
    if restored is None and reference is not None:
        return check(VerifyStatus.FAIL, "missing in the restored database")
    if reference is None and restored is not None:
        return check(VerifyStatus.FAIL, f"missing in {where}")
    if restored is None or reference is None:
        return check(VerifyStatus.ERROR, "could not be read on either side")
    if isinstance(restored, str):
        return check(VerifyStatus.ERROR, f"restored: {restored}")
    if isinstance(reference, str):
        return check(VerifyStatus.ERROR, f"reference: {reference}")
    if restored == reference:
        return check(VerifyStatus.PASS, None)
    if restored.rows != reference.rows:
        difference = f"row counts differ ({restored.rows} restored, {reference.rows} reference)"
    else:
        difference = "same row count, checksums differ"
    if reference_kind == "manifest" or predicate is not None:
        return check(VerifyStatus.FAIL, difference)
    if moved_on is None or moved_on.moved:
        reason = f" ({moved_on.reason})" if moved_on is not None else ""
        return check(
            VerifyStatus.INCONCLUSIVE,
            f"{difference}; production may have moved on since the restored point{reason}, "
            f"so later traffic may explain it: {ADVICE}",
        )
    return check(VerifyStatus.FAIL, difference)


def overall_status(checks: Sequence[TableCheck]) -> VerifyStatus:
    statuses = {c.status for c in checks}
    for status in (VerifyStatus.ERROR, VerifyStatus.FAIL, VerifyStatus.INCONCLUSIVE):
        if status in statuses:
            return status
    return VerifyStatus.PASS
