"""A playbook's objectives (RTO, RPO) against what its run measured."""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.drill.result import ObjectiveCheck, SlaStatus
from restoredrill.drill.run_state import PlaybookRun


def measured_rto(run: PlaybookRun) -> tuple[float | None, str]:
    if run.gameday is not None:
        return run.gameday.verified_seconds, "incident → verified rows (game day)"
    if run.restore is not None:
        return run.restore.result.rto_seconds, "provision → ready"
    if run.recover is not None:
        return run.recover.seconds, "incident recovery: restores, diff, reapply plan"
    return None, "-"


def measured_rpo(run: PlaybookRun) -> tuple[float | None, str]:
    if run.restore is None:
        return None, "-"
    result = run.restore.result
    if result.rpo_seconds is not None:
        return result.rpo_seconds, "target time - last recovered transaction"
    last = result.last_replayed_xact_time
    if run.target is not None and run.target.kind == "latest" and last is not None:
        return (
            max(0.0, (run.started_at - last).total_seconds()),
            "drill start - last recovered transaction (latest)",
        )
    return None, f"not measurable for a {run.target.kind if run.target else '?'} target"


def objectives(run: PlaybookRun) -> list[ObjectiveCheck]:
    checks = []
    for name, objective, (measured, what) in (
        ("rto", run.playbook.objectives.rto, measured_rto(run)),
        ("rpo", run.playbook.objectives.rpo, measured_rpo(run)),
    ):
        if objective is None:
            continue
        if measured is None:
            status = "unmeasured"
        else:
            status = "met" if measured <= objective else "breached"
        checks.append(
            ObjectiveCheck(
                name=name,  # type: ignore[arg-type]
                objective_seconds=objective,
                measured_seconds=measured,
                status=status,  # type: ignore[arg-type]
                measured=what,
            )
        )
    return checks


def sla_status(checks: Sequence[ObjectiveCheck]) -> SlaStatus:
    if any(c.status == "breached" for c in checks):
        return "BREACHED"
    if any(c.status == "met" for c in checks):
        return "MET"
    return "UNMEASURED"
