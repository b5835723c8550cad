"""Run a playbook (``restoredrill drill``): config checks → restore → verify each database →
game day → incident recovery → objectives → ledger → outputs → webhook. Several playbooks
run side by side with ``parallel`` (threads; each restore is its own server process)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.checks.registry import CheckReport
from restoredrill.checks.run import CheckRequest, run_checks
from restoredrill.drill.assertions import run_assertions, with_assertions
from restoredrill.drill.gameday import run_gameday
from restoredrill.drill.reapply import ReapplyOptions
from restoredrill.drill.recording import unverified_base
from restoredrill.drill.recover import RecoverRequest, RecoverResult, recover
from restoredrill.drill.restore import Restored, RestoreRequest, restored
from restoredrill.drill.result import VERDICT_RANK as _VERDICT_RANK
from restoredrill.drill.result import (
    DatabaseOutcome,
    DrillResult,
    FleetResult,
    GameDayOutcome,
    ObjectiveCheck,
    SlaStatus,
    Verdict,
    evidence,
    verdict_reasons,
)
from restoredrill.drill.verify import overall_status, verify
from restoredrill.errors import (
    ConfigError,
    DrillFailed,
    InfrastructureError,
    RestoreDrillError,
    UsageError,
)
from restoredrill.ledger import Ledger
from restoredrill.models import PhaseTiming, RecoveryTarget, TableCheck, VerifyReport, VerifyStatus
from restoredrill.playbook import (
    BarmanSourceSpec,
    DatabaseSpec,
    FileSourceSpec,
    MysqlSourceSpec,
    Playbook,
    load_playbooks,
    resolve_time,
)
from restoredrill.timing import ProgressListener, SilentProgress

# What the user can do about an UNVERIFIED drill, said beside its reason.
ACCEPT_HINT = "accept it with --allow-unverified-base or allow_unverified_base: true"


@dataclass(frozen=True)
class DrillOptions:
    ledger_path: Path | None = None
    results_dir: Path | None = None  # also write each DrillResult as JSON here
    junit: Path | None = None  # JUnit XML of all the drills run
    webhook_url: str | None = None  # secret: never printed
    parallel: int = 1
    env: dict[str, str] | None = None  # variables for ${...} in playbooks (default: os.environ)
    allow_unverified_base: bool = False  # also the playbook's source.allow_unverified_base


@dataclass
class _Run:
    """What one playbook run has gathered so far."""

    playbook: Playbook
    path: Path
    started_at: datetime
    started: float
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    target: RecoveryTarget | None = None
    checks: CheckReport | None = None
    restore: Restored | None = None
    databases: list[DatabaseOutcome] = field(default_factory=list)
    gameday: GameDayOutcome | None = None
    recover: RecoverResult | None = None
    failures: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # not checked: UNVERIFIED, not PASS
    allow_unverified: bool = False
    error: RestoreDrillError | None = None


# --- steps ----------------------------------------------------------------------------------------


def _restore_request(playbook: Playbook, target: RecoveryTarget, dbname: str) -> RestoreRequest:
    source = playbook.source
    if isinstance(source, MysqlSourceSpec):  # MariaDB/MySQL: snapshot + binlog replay
        return RestoreRequest(
            base_backups=source.snapshot,
            wal_archive=source.binlog_archive,
            target=target,
            os_user=playbook.sandbox.os_user,
            dbname=dbname,
            timeout=playbook.sandbox.timeout,
            engine=playbook.engine,
        )
    if isinstance(source, BarmanSourceSpec):  # a barman-cloud store, s3:// or a directory
        from restoredrill.engines.postgres.barman import open_barman

        return RestoreRequest(
            base_backups="",
            wal_archive="",
            target=target,
            pg_bin=playbook.sandbox.pg_bin,
            os_user=playbook.sandbox.os_user,
            dbname=dbname,
            timeout=playbook.sandbox.timeout,
            source=open_barman(source.location),
        )
    return RestoreRequest(
        base_backups=source.base_backups,
        wal_archive=source.wal_archive,
        target=target,
        pg_bin=playbook.sandbox.pg_bin,
        os_user=playbook.sandbox.os_user,
        dbname=dbname,
        timeout=playbook.sandbox.timeout,
    )


def _config_checks(playbook: Playbook) -> CheckReport:
    spec = playbook.checks
    assert spec is not None
    source = playbook.source
    # the schema allows checks with postgres only: a file or a barman source
    assert isinstance(source, FileSourceSpec | BarmanSourceSpec)
    files = source if isinstance(source, FileSourceSpec) and spec.archive else None
    return run_checks(
        CheckRequest(
            engine="postgres",
            dsn=spec.live,
            postgresql_conf=spec.postgresql_conf,
            pgbackrest_conf=spec.pgbackrest_conf,
            base_backups=files.base_backups if files else None,
            wal_archive=files.wal_archive if files else None,
            barman=source.location
            if isinstance(source, BarmanSourceSpec) and spec.archive
            else None,
            rpo_seconds=playbook.objectives.rpo,
            max_backup_age_seconds=spec.max_backup_age,
        )
    )


def apply_tolerances(
    report: VerifyReport, database: DatabaseSpec
) -> tuple[VerifyStatus, list[str]]:
    """The verify status once row-count tolerances are applied, and the tolerated tables."""
    spec = database.verify
    tolerated: list[str] = []
    effective: list[TableCheck] = []
    for check in report.tables:
        tolerance = spec.tolerances.get(check.table) if spec is not None else None
        if (
            tolerance is not None
            and check.status in (VerifyStatus.FAIL, VerifyStatus.INCONCLUSIVE)
            and check.restored is not None
            and check.reference is not None
            and tolerance.allows(check.restored.rows, check.reference.rows)
        ):
            tolerated.append(check.table)
            check = check.model_copy(update={"status": VerifyStatus.PASS})
        effective.append(check)
    return overall_status(effective), tolerated


def _verify_database(
    playbook: Playbook,
    database: DatabaseSpec,
    done: Restored,
    now: datetime,
    progress: ProgressListener,
) -> DatabaseOutcome:
    label = playbook.label(database)
    spec = database.verify
    if spec is None:
        return DatabaseOutcome(database=database.name, label=label, verdict="PASS")
    as_of = resolve_time(spec.as_of, now) if spec.as_of is not None else None
    report = verify(
        done.dsn(database.name),
        spec.reference,
        tables=spec.tables,
        as_of_columns=spec.as_of_columns,
        as_of=as_of,
        progress=progress,
    )
    status, tolerated = apply_tolerances(report, database)
    failures = [
        f"{label}: {check.table} {check.status}: {check.detail or ''}".rstrip(": ")
        for check in report.tables
        if check.status != VerifyStatus.PASS and check.table not in tolerated
    ]
    verdict: Verdict = {VerifyStatus.PASS: "PASS", VerifyStatus.ERROR: "ERROR"}.get(status, "FAIL")  # type: ignore[assignment]
    return DatabaseOutcome(
        database=database.name,
        label=label,
        verdict=verdict,
        verify=report,
        tolerated=tolerated,
        failures=failures,
    )


def _recover(playbook: Playbook, now: datetime, progress: ProgressListener) -> RecoverResult:
    spec = playbook.recover
    assert spec is not None
    source = playbook.source
    assert isinstance(source, FileSourceSpec)  # the schema allows recover with postgres only
    dbname = spec.database or playbook.databases[0].name
    return recover(
        RecoverRequest(
            base_backups=source.base_backups,
            wal_archive=source.wal_archive,
            before=resolve_time(spec.before, now),
            after=resolve_time(spec.after, now),
            tables=spec.tables,
            to_dsn=spec.to,
            out=spec.diff_out,
            # diff_out is the playbook's own output: each scheduled run replaces it (0600)
            reapply=ReapplyOptions(execute=False, max_rows=spec.max_rows, force=True),
            dbname=dbname,
            pg_bin=playbook.sandbox.pg_bin,
            os_user=playbook.sandbox.os_user,
        ),
        progress,
    )


def _recover_failures(result: RecoverResult) -> list[str]:
    problems = []
    total = sum(t.counts.total for t in result.tables)
    if total == 0:
        problems.append(
            "recover: the restores before and after the incident do not differ (wrong times?)"
        )
    if result.reapply.over_ceiling:
        problems.append(
            f"recover: {result.reapply.rows_selected} rows exceed max_rows "
            f"{result.reapply.max_rows}"
        )
    if result.reapply.conflict_count:
        problems.append(
            f"recover: {result.reapply.conflict_count} row(s) changed in production since the "
            f"incident would be skipped as conflicts"
        )
    return problems


# --- objectives ---------------------------------------------------------------------------------


def _measured_rto(run: _Run) -> tuple[float | None, str]:
    if run.gameday is not None:
        return run.gameday.verified_seconds, "incident → verified rows (game day)"
    if run.restore is not None:
        return run.restore.result.rto_seconds, "provision → ready"
    if run.recover is not None:
        return run.recover.seconds, "incident recovery: restores, diff, reapply plan"
    return None, "-"


def _measured_rpo(run: _Run) -> tuple[float | None, str]:
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


def objectives(run: _Run) -> list[ObjectiveCheck]:
    checks = []
    for name, objective, (measured, what) in (
        ("rto", run.playbook.objectives.rto, _measured_rto(run)),
        ("rpo", run.playbook.objectives.rpo, _measured_rpo(run)),
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


# --- one playbook -------------------------------------------------------------------------------


def _steps(run: _Run, progress: ProgressListener) -> None:
    playbook = run.playbook
    if playbook.checks is not None:
        progress.note("config checks")
        run.checks = _config_checks(playbook)
        run.failures += [f"check {c.rule}: {c.detail}" for c in run.checks.failures]
    if playbook.target is not None:
        run.target = playbook.target.recovery_target(run.started_at, playbook.engine)
        first = playbook.databases[0].name
        request = _restore_request(playbook, run.target, first)
        with restored(request, progress) as done:
            run.restore = done
            unchecked = unverified_base(done.result)
            if unchecked and not run.allow_unverified:
                run.unverified.append(f"{unchecked} ({ACCEPT_HINT})")
            for database in playbook.databases:
                outcome = _verify_database(playbook, database, done, run.started_at, progress)
                if database.assertions:
                    progress.note(f"assertions on {outcome.label}")
                    checks = run_assertions(done.dsn(database.name), database.assertions)
                    outcome = with_assertions(outcome, checks)
                run.databases.append(outcome)
            if playbook.gameday is not None:
                dbname = playbook.gameday.database or first
                run.gameday = run_gameday(playbook.gameday, done, request, dbname, progress)
                if run.gameday.verdict != "PASS":
                    run.failures.append(
                        f"game day: verification after recovery {run.gameday.verify.status}"
                    )
    if playbook.recover is not None:
        run.recover = _recover(playbook, run.started_at, progress)
        run.failures += _recover_failures(run.recover)


def _verdict(run: _Run) -> Verdict:
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
    run = _Run(playbook, Path(path), datetime.now(UTC), time.monotonic())
    source = playbook.source
    run.allow_unverified = opts.allow_unverified_base or source.allow_unverified_base
    try:
        _steps(run, listener)
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
        measured_rto_seconds=_measured_rto(run)[0],
        measured_rpo_seconds=_measured_rpo(run)[0],
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
