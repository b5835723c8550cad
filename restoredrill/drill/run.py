"""Run a playbook (``restoredrill drill``): config checks → restore → verify each database →
game day → incident recovery → objectives → ledger → outputs → webhook. Several playbooks
run side by side with ``parallel`` (threads; each restore is its own server process)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.drill.result import VERDICT_RANK as _VERDICT_RANK
from restoredrill.drill.result import (
    DatabaseOutcome,
    DrillResult,
    FleetResult,
    Verdict,
    evidence,
    verdict_reasons,
)
from restoredrill.drill.run_objectives import measured_rpo, measured_rto, objectives, sla_status
from restoredrill.drill.run_state import ACCEPT_HINT, DrillOptions, PlaybookRun
from restoredrill.drill.run_steps import run_steps
from restoredrill.errors import (
    ConfigError,
    DrillFailed,
    InfrastructureError,
    UsageError,
)
from restoredrill.ledger import Ledger
from restoredrill.models import PhaseTiming
from restoredrill.playbook import (
    Playbook,
    load_playbooks,
)
from restoredrill.timing import ProgressListener, SilentProgress

# the CLI and the playbook tests use these through this module
__all__ = ["ACCEPT_HINT", "DrillOptions", "run_drills", "run_playbook"]

# --- one playbook -------------------------------------------------------------------------------


def _verdict(run: PlaybookRun) -> Verdict:
    if run.error is not None and not isinstance(run.error, DrillFailed):
        return "ERROR"
    verdicts = [d.verdict for d in run.databases]
    worst = max(verdicts, key=lambda v: _VERDICT_RANK[v], default="PASS")
    if worst == "ERROR":
        return "ERROR"
    if run.failures or worst == "FAIL":
        return "FAIL"
    if run.unverified or worst == "UNVERIFIED":
        return "UNVERIFIED"
    return "PASS"


def run_playbook(
    playbook: Playbook,
    path: Path,
    options: DrillOptions | None = None,
    progress: ProgressListener | None = None,
) -> DrillResult:
    """Run one playbook and record it. Errors of the drill itself (a failed preflight, a
    database that does not connect) become the result's verdict; Ctrl-C propagates."""
    opts = options or DrillOptions()
    listener = progress or SilentProgress()
    run = PlaybookRun(playbook, Path(path), datetime.now(UTC), time.monotonic())
    source = playbook.source
    run.allow_unverified = opts.allow_unverified_base or source.allow_unverified_base
    try:
        run_steps(run, listener)
    except DrillFailed as exc:
        run.error = exc
        run.failures.append(str(exc))
    except (InfrastructureError, UsageError) as exc:
        run.error = exc
    checks = objectives(run)
    sla = sla_status(checks)
    verdict = _verdict(run)
    if run.error is not None and not isinstance(run.error, DrillFailed):
        exit_code = run.error.exit_code
    elif verdict == "ERROR":
        exit_code = 3
    else:
        exit_code = 1 if verdict in ("FAIL", "UNVERIFIED") or sla == "BREACHED" else 0
    breaches = [
        f"{c.name.upper()} {_fmt(c.measured_seconds)} over the objective "
        f"{_fmt(c.objective_seconds)} ({c.measured})"
        for c in checks
        if c.status == "breached"
    ]
    error = str(run.error) if run.error is not None and verdict == "ERROR" else None
    result = DrillResult(
        run_id=run.run_id,
        playbook=playbook.name,
        playbook_file=str(path),
        description=playbook.description,
        engine=playbook.engine,
        source=playbook.source.describe(),
        target=run.target.describe() if run.target is not None else None,
        started_at=run.started_at,
        finished_at=datetime.now(UTC),
        seconds=time.monotonic() - run.started,
        restore=run.restore.result if run.restore is not None else None,
        databases=run.databases,
        checks=run.checks,
        gameday=run.gameday,
        recover=run.recover,
        objectives=checks,
        measured_rto_seconds=measured_rto(run)[0],
        measured_rpo_seconds=measured_rpo(run)[0],
        verdict=verdict,
        sla=sla,
        failures=verdict_reasons(verdict, [*run.failures, *run.unverified], run.databases, error),
        breaches=breaches,
        error=error,
        exit_code=exit_code,
    )
    result = _record(result, playbook, opts.ledger_path)
    return _finish(result, playbook, opts)


def _fmt(seconds: float | None) -> str:
    from restoredrill.durations import format_duration

    return format_duration(seconds)


def _record(result: DrillResult, playbook: Playbook, ledger_path: Path | None) -> DrillResult:
    """One "drill" entry per database of the playbook (the report groups by database)."""
    phases: list[PhaseTiming] = []
    if result.restore is not None:
        phases += result.restore.phases
    if result.gameday is not None:
        phases += [
            p.model_copy(update={"name": f"game day: {p.name}"}) for p in result.gameday.phases
        ]
    if result.recover is not None:
        phases += result.recover.phases
    outcomes = {d.database: d for d in result.databases}
    recorded: list[DatabaseOutcome] = []
    with Ledger(ledger_path) as ledger:
        for database in playbook.databases:
            outcome = outcomes.get(database.name)
            own = outcome.verdict if outcome is not None else "PASS"
            verdict = max(own, result.verdict, key=lambda v: _VERDICT_RANK[v])
            ledger_id = ledger.record(
                "drill",
                database=playbook.label(database),
                source=result.source,
                target=result.target or "-",
                verdict=verdict,
                phases=phases,
                rto_seconds=result.rto_seconds,
                rpo_seconds=result.rpo_seconds,
                details=evidence(result, outcome),
                started_at=result.started_at,
            )
            if outcome is not None:
                recorded.append(outcome.model_copy(update={"ledger_id": ledger_id}))
            else:
                recorded.append(
                    DatabaseOutcome(
                        database=database.name,
                        label=playbook.label(database),
                        verdict=verdict,
                        ledger_id=ledger_id,
                    )
                )
    return result.model_copy(update={"databases": recorded})


def _finish(result: DrillResult, playbook: Playbook, opts: DrillOptions) -> DrillResult:
    """Outputs named by the playbook (and --results-dir), then the webhook."""
    from restoredrill.report import notify, outputs

    written = outputs.write_drill_outputs(result, playbook, opts)
    notes = notify.notify(opts.webhook_url, result)
    return result.model_copy(update={"outputs": written, "notifications": notes})


# --- several playbooks --------------------------------------------------------------------------


class _Prefixed:
    """Progress of one of several parallel drills: notes prefixed and serialised."""

    def __init__(self, inner: ProgressListener, label: str, lock: threading.Lock) -> None:
        self.inner, self.label, self.lock = inner, label, lock

    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, timing: PhaseTiming) -> None:
        with self.lock:
            self.inner.note(f"{self.label}: {timing.name} done in {_fmt(timing.seconds)}")

    def note(self, message: str) -> None:
        with self.lock:
            self.inner.note(f"{self.label}: {message}")


def fleet_exit_code(results: Sequence[DrillResult]) -> int:
    return max((r.exit_code for r in results), default=0)


def run_drills(
    paths: Sequence[Path],
    options: DrillOptions | None = None,
    progress: ProgressListener | None = None,
) -> FleetResult:
    """Load every playbook first (any invalid one: ConfigError, nothing runs), then run them,
    ``options.parallel`` at a time; the JUnit file covers them all."""
    opts = options or DrillOptions()
    if opts.parallel < 1:
        raise ConfigError("--parallel must be at least 1")
    if not paths:
        raise ConfigError("give at least one playbook")
    playbooks = load_playbooks(list(paths), opts.env)
    listener = progress or SilentProgress()
    started = time.monotonic()
    workers = min(opts.parallel, len(playbooks))
    if workers == 1:
        results = [
            run_playbook(p, path, opts, listener) for p, path in zip(playbooks, paths, strict=True)
        ]
    else:
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drill") as pool:
            futures = [
                pool.submit(run_playbook, p, path, opts, _Prefixed(listener, p.name, lock))
                for p, path in zip(playbooks, paths, strict=True)
            ]
            results = [f.result() for f in futures]
    fleet = FleetResult(
        drills=results,
        parallel=workers,
        seconds=time.monotonic() - started,
        exit_code=fleet_exit_code(results),
    )
    if opts.junit is not None:
        from restoredrill.report.junit import drills_junit, write_xml

        with contextlib.suppress(OSError):
            opts.junit.parent.mkdir(parents=True, exist_ok=True)
        write_xml(drills_junit(results), opts.junit)
    return fleet
