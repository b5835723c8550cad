"""Terminal output reads at 80 columns (no identifier cut, folded or wrapped; values whole)
and piped output carries whole values: report, verify, history and diff samples."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from restoredrill.cli.console import PIPED_WIDTH, StdoutConsole
from restoredrill.drill.incident_models import (
    Incident,
    IncidentReport,
    StorageIncident,
    TableChanges,
)
from restoredrill.ledger import Ledger
from restoredrill.models import (
    ChangedRow,
    DiffCounts,
    LedgerEntry,
    ReapplyPlan,
    ReapplyReport,
    RowDiffSummary,
    RowValues,
    ServerIdentity,
    TableCheck,
    TableFingerprint,
    VerifyReport,
    VerifyStatus,
)
from restoredrill.report.sla import ReportRequest, build_report
from restoredrill.report.terminal import render_history
from restoredrill.report.terminal_diff import render_reapply, render_summary
from restoredrill.report.terminal_incident import print_incidents, render_incidents
from restoredrill.report.terminal_report import render_report
from restoredrill.report.terminal_verify import render_verify_report

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NAMES = ["demo-shop-primary-eu-west-1", "demo-shop-gameday-replica", "demo-billing-ledger"]
STAMP = "2026-11-21 03:14:00.123456+00"


def _console(width: int = 80) -> Console:
    return Console(width=width, record=True, file=io.StringIO(), force_terminal=True)


def _lines(console: Console) -> list[str]:
    return console.export_text().splitlines()


def _assert_reads(console: Console, whole: list[str]) -> str:
    text = console.export_text()
    assert all(len(line) <= console.width for line in text.splitlines()), text
    assert "…" not in text, text
    for value in whole:
        assert any(value in line for line in text.splitlines()), (value, text)
    return text


def _ledger(path: Path) -> Path:
    with Ledger(path) as ledger:
        for n, name in enumerate(NAMES):
            for target, rto in (("latest", 1300.0), ("name 'q4'", 4.0)):
                ledger.record(
                    "drill",
                    database=name,
                    source="file:/backups",
                    target=target,
                    verdict="FAIL" if n == 2 else "PASS",
                    rto_seconds=rto,
                    details={
                        "run_id": f"{n}{target}",
                        "target": target,
                        "failures": ["public.orders_archive_2025 FAIL: row counts differ"]
                        if n == 2
                        else [],
                        "objectives": [
                            {
                                "name": "rto",
                                "objective_seconds": 900,
                                "measured_seconds": rto,
                                "status": "breached" if rto > 900 else "met",
                            }
                        ],
                    },
                    started_at=NOW - timedelta(days=n + 1),
                )
    return path


def test_report_at_80_columns_keeps_database_names_whole(tmp_path: Path) -> None:
    report = build_report(ReportRequest(ledger_path=_ledger(tmp_path / "l.db"), now=NOW))
    console = _console()
    render_report(console, report)
    text = _assert_reads(console, [*NAMES, "0 of 3 databases within their RTO; 3 breached"])
    assert "point in time" in text and "latest" in text  # one row per kind
    assert "RTO 21m 40s > 15m 00s" in text  # a breach line, durations unbroken
    wide = _console(200)
    render_report(wide, report)
    assert "last success" in wide.export_text()  # the wide table has the extra columns


def _verify() -> VerifyReport:
    detail = (
        "row counts differ (17200 restored, 10320 reference); production may have moved "
        "on since the restored point, so later traffic may explain it"
    )
    checks = [
        TableCheck(
            table=name,
            status=VerifyStatus.FAIL,
            restored=TableFingerprint(rows=17_200, checksum="a" * 32),
            reference=TableFingerprint(rows=10_320, checksum="b" * 32),
            predicate=f"\"created_at\" <= '{STAMP}'::timestamptz",
            detail=detail,
        )
        for name in ("public.orders_archive_2025", "public.users")
    ]
    return VerifyReport(
        status=VerifyStatus.FAIL, reference="production", as_of=None, tables=checks, seconds=0.12
    )


def test_verify_at_80_columns_stacks_details() -> None:
    console = _console()
    render_verify_report(_verify(), console)
    text = _assert_reads(console, ["public.orders_archive_2025", "17,200", "120 ms"])
    assert "public.orders_archive_2025: " in text  # the detail stacked under the table
    wide = _console(250)
    render_verify_report(_verify(), wide)
    assert "predicate / detail" in wide.export_text()


def test_history_at_80_columns_keeps_dates_whole() -> None:
    entries = [
        LedgerEntry(
            id=n,
            kind="drill",
            started_at=NOW - timedelta(hours=n),
            database=f"/tmp/restoredrill-sandboxes/postgres-{n}/socket:5432/{NAMES[0]}",
            source="file:/b",
            target="name 'before-user-cleanup'",
            verdict="PASS",
            rto_seconds=4.2,
            rpo_seconds=None,
            phases=[],
        )
        for n in range(1, 4)
    ]
    console = _console()
    render_history(console, entries)
    text = _assert_reads(console, ["2026-11-30 11:00:00", "name 'before-user-cleanup'"])
    assert "4.2 s" in text


def _diff() -> RowDiffSummary:
    row: RowValues = {
        "id": "17",
        "email": "user17@example.com",
        "name": "User 17",
        "created_at": STAMP,
    }
    return RowDiffSummary(
        table="public.users",
        keyed=True,
        key=["id"],
        rows_restored=4400,
        rows_production=2840,
        counts=DiffCounts(lost=1, changed=1),
        lost_sample=[{**row, "note": "x" * 60}],
        new_sample=[],
        changed_sample=[
            ChangedRow(
                restored=row,
                production={**row, "created_at": STAMP[:-2] + "01"},
                columns=["created_at"],
            )
        ],
    )


def test_diff_samples_at_80_columns_keep_timestamps_whole() -> None:
    console = _console()
    columns = ["id", "email", "name", "created_at", "note"]
    render_summary(console, _diff(), columns)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()), text
    # whole on one line each: the lost row's and the changed row's restored side
    assert sum(STAMP in line for line in text.splitlines()) == 2, text
    assert "user17@example.com" in text
    assert "x" * 39 + "…" in text  # on a terminal, only long free values are shortened


def test_diff_samples_piped_are_whole() -> None:
    """Not a terminal: no value shortened to 40 characters."""
    console = Console(width=PIPED_WIDTH, record=True, file=io.StringIO())
    render_summary(console, _diff(), ["id", "email", "name", "created_at", "note"])
    assert "x" * 60 in console.export_text()


def test_stdout_console_is_wide_when_piped() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    assert StdoutConsole(file=io.StringIO(), _environ=environ).width == PIPED_WIDTH
    assert StdoutConsole(file=io.StringIO(), width=80).width == 80


def test_piped_report_and_history_print_whole_values(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "l.db")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for command in ("report", "history"):
        done = subprocess.run(
            [sys.executable, "-m", "restoredrill", command, "--ledger", str(ledger)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "…" not in done.stdout
        for name in NAMES:
            assert name in done.stdout
    # history piped is one table row per entry: date, database and target on one line
    rows = [line for line in done.stdout.splitlines() if NAMES[0] in line]
    assert len(rows) == 2 and all("name 'q4'" in r or "latest" in r for r in rows)


def test_piped_rules_are_not_piped_width() -> None:
    """Section rules on a piped stdout span their title (80 at least), not PIPED_WIDTH."""
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    stream = io.StringIO()
    console = StdoutConsole(file=stream, _environ=environ)
    console.rule("Restore to just before the incident")
    (line,) = stream.getvalue().splitlines()
    assert len(line) == 80 and "Restore to just before the incident" in line


def _incident_report(
    incidents: list[Incident] | None = None, storage: list[StorageIncident] | None = None
) -> IncidentReport:
    return IncidentReport(
        wal_archive="/backups/wal",
        since=None,
        until=None,
        tables=[],
        names_resolved=True,
        segments_scanned=3,
        first_segment="000000010000000000000001",
        last_segment="000000010000000000000003",
        missing_segments=[],
        transactions=len(incidents or []),
        aborted=0,
        unfinished=0,
        recover_command=None,
        notes=[],
        incidents=incidents or [],
        storage=storage or [],
    )


def test_incident_find_at_80_columns_keeps_commit_times_whole() -> None:
    committed = datetime(2026, 12, 1, 0, 35, 5, 290402, tzinfo=UTC)
    report = _incident_report(
        incidents=[
            Incident(
                xid=745,
                commit_time=committed,
                commit_lsn="0/3258C48",
                rows=8640,
                tables=[
                    TableChanges(
                        table=f"public.{name}",
                        database_oid=5,
                        relfilenode=16384 + n,
                        named=True,
                        inserted=0,
                        updated=0,
                        deleted=deleted,
                    )
                    for n, (name, deleted) in enumerate(
                        [("orders_archive_2025_q4", 6880), ("users", 1760)]
                    )
                ],
            )
        ],
    )
    console = _console()
    print_incidents(console, report)
    _assert_reads(
        console,
        [committed.isoformat(), "public.orders_archive_2025_q4: 6,880 deleted"],
    )


def test_dropped_and_emptied_tables_come_first_with_commands_on_one_line() -> None:
    """A TRUNCATE or a DROP TABLE has no row counts: it is listed before the row incidents,
    and each command is one line (the terminal folds it; newlines would paste as several
    commands)."""
    committed = datetime(2026, 12, 1, 0, 35, 5, 290402, tzinfo=UTC)
    archive = "/backups/wal/a/long/path/to/the/archive/of/the/production/cluster"
    recover = f"restoredrill recover --wal-archive {archive} --incident-xid 745 --table t"
    restore = f"restoredrill restore --wal-archive {archive} --target-xid 746 --exclusive --keep"
    storage = [
        StorageIncident(kind="truncate", xid=745, commit_time=committed, tables=["public.t"],
                        files_dropped=4, command=recover),
        StorageIncident(kind="drop", xid=746, commit_time=committed, tables=[], files_dropped=3,
                        command=restore),
    ]  # fmt: skip
    report = _incident_report(storage=storage)
    console = _console()
    render_incidents(console, report)
    lines = _lines(console)
    assert "whole tables dropped or emptied (no row counts for these)" in lines
    assert any(line.endswith(f"put its rows back: {recover}") for line in lines), lines
    assert any(line.endswith(f"restore a copy from just before it: {restore}") for line in lines)
    assert any("DROP TABLE: 3 relation file(s) removed" in line for line in lines)
    assert all(len(line) <= 80 for line in lines if "restoredrill " not in line), lines


def test_executed_reapply_at_80_columns_names_its_archive_whole() -> None:
    """The archive table is what a person needs to undo a revert: on a line of its own,
    never folded in a column (it was, at 80 columns)."""
    archive = "restoredrill_archive.users_20261202T045244Z"
    report = ReapplyReport(
        executed=True,
        diff_file="/tmp/users.json",
        target=ServerIdentity(
            label="host=/tmp/s port=5432 dbname=shop",
            database="shop",
            system_identifier=1,
            postmaster_start_time=NOW,
            port=5432,
            data_directory=None,
        ),
        sql_file="/tmp/users.reapply.sql",
        checkpoint_file=None,
        resumed=False,
        only="all",
        where=None,
        max_rows=50_000,
        rows_selected=1218,
        over_ceiling=False,
        batches=1,
        tables=[
            ReapplyPlan(
                table="public.users",
                key=["id"],
                selected_lost=947,
                selected_changed=271,
                inserted=947,
                updated=271,
                archive_table=archive,
            )
        ],
        conflicts=[],
        seconds=0.1,
    )
    console = _console()
    render_reapply(console, report)
    text = _assert_reads(console, [archive])  # whole on a line (the sentence may wrap before it)
    assert "public.users: the rows it overwrote are in" in text
