"""The steps of one playbook run: config checks → restore → verify each database (with
tolerances and assertions) → game day → incident recovery."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from restoredrill.checks.registry import CheckReport
from restoredrill.checks.run import CheckRequest, run_checks
from restoredrill.drill.assertions import run_assertions, with_assertions
from restoredrill.drill.gameday import run_gameday
from restoredrill.drill.reapply import ReapplyOptions
from restoredrill.drill.recording import unverified_base
from restoredrill.drill.recover import RecoverRequest, RecoverResult, recover
from restoredrill.drill.restore import Restored, RestoreRequest, restored
from restoredrill.drill.result import DatabaseOutcome, Verdict
from restoredrill.drill.run_state import ACCEPT_HINT, PlaybookRun
from restoredrill.drill.verify import verify
from restoredrill.drill.verify_verdict import overall_status
from restoredrill.models import RecoveryTarget, TableCheck, VerifyReport, VerifyStatus
from restoredrill.playbook import (
    BarmanSourceSpec,
    DatabaseSpec,
    FileSourceSpec,
    Playbook,
    resolve_time,
)
from restoredrill.sandboxes.registry import local_restore
from restoredrill.sources.base import Source
from restoredrill.timing import ProgressListener


def _restore_request(playbook: Playbook, target: RecoveryTarget, dbname: str) -> RestoreRequest:
    base, archive = playbook.source.locations()
    return RestoreRequest(
        base_backups=base,
        wal_archive=archive,
        target=target,
        os_user=playbook.sandbox.os_user,
        dbname=dbname,
        timeout=playbook.sandbox.timeout,
        source=cast("Source | None", playbook.source.opened()),
        backend=local_restore(playbook.engine).options(playbook.sandbox.pg_bin),
    )


def _config_checks(playbook: Playbook) -> CheckReport:
    spec = playbook.checks
    assert spec is not None
    source = playbook.source
    # the schema allows checks with postgres only: a file or a barman source
    assert isinstance(source, FileSourceSpec | BarmanSourceSpec)
    files = source if isinstance(source, FileSourceSpec) and spec.archive else None
    store = source if isinstance(source, BarmanSourceSpec) and spec.archive else None
    return run_checks(
        CheckRequest(
            engine="postgres",
            dsn=spec.live,
            postgresql_conf=spec.postgresql_conf,
            pgbackrest_conf=spec.pgbackrest_conf,
            base_backups=files.base_backups if files else None,
            wal_archive=files.wal_archive if files else None,
            barman=store.location if store else None,
            rpo_seconds=playbook.objectives.rpo,
            max_backup_age_seconds=spec.max_backup_age,
            recovery_window_seconds=spec.recovery_window,
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
    base, archive = playbook.source.locations()
    dbname = spec.database or playbook.databases[0].name
    return recover(
        RecoverRequest(
            base_backups=base,
            wal_archive=archive,
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


def run_steps(run: PlaybookRun, progress: ProgressListener) -> None:
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
