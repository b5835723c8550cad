"""The SLA report's figures: the headline, a pass rate that counts SLA breaches, restore
times per kind of drill, days since the last success, demo runs kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from restoredrill.drill.drill_kind import kind_of, kind_of_details
from restoredrill.durations import format_age, format_duration
from restoredrill.ledger import Ledger
from restoredrill.report.html import report_html
from restoredrill.report.markdown import report_markdown
from restoredrill.report.sla import ReportRequest, build_report

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def details(run: str, rto: float, objective: float, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run,
        "playbook": extra.pop("playbook", "nightly"),
        "objectives": [
            {
                "name": "rto",
                "objective_seconds": objective,
                "measured_seconds": rto,
                "status": "breached" if rto > objective else "met",
            }
        ],
        **extra,
    }


def record(
    ledger: Ledger,
    database: str,
    run: str,
    rto: float,
    objective: float,
    *,
    target: str = "latest",
    verdict: str = "PASS",
    days_ago: float = 1,
    **extra: Any,
) -> None:
    ledger.record(
        "drill",
        database=database,
        source="file:/b",
        target=target,
        verdict=verdict,
        rto_seconds=rto,
        details=details(run, rto, objective, target=target, **extra),
        started_at=NOW - timedelta(days=days_ago),
    )


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """billing: 3 verified drills, all over their RTO; shop: within; orders: a FAIL; the
    demo's own drill (marked by drill/demo_story.record_demo)."""
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        for n in range(3):
            record(ledger, "billing", f"b{n}", 1300, 900, days_ago=3 - n)
        record(ledger, "shop", "s1", 2.0, 900, days_ago=2)
        record(ledger, "orders", "o1", 5.0, 600, days_ago=5)
        record(ledger, "orders", "o2", 6.0, 600, verdict="FAIL", days_ago=1)
        record(ledger, "demo (postgres)", "d1", 1.0, 900, days_ago=0.5, demo=True)
    return path


def test_headline_and_pass_rate_count_breaches(fleet: Path) -> None:
    report = build_report(ReportRequest(ledger_path=fleet, now=NOW))
    assert report.headline == (
        "2 of 3 databases within their RTO; 1 breached; 1 with failed drills"
    )
    billing = next(s for s in report.databases if s.database == "billing")
    # verified every time, breached every time: 0 % pass, not 100 %
    assert (billing.verified, billing.passed, billing.pass_rate) == (3, 0, 0.0)
    assert billing.rto_status == "breached" and billing.rto_breaches == 3
    assert billing.last_success_at is None and billing.days_since_success is None
    shop = next(s for s in report.databases if s.database == "shop")
    assert shop.pass_rate == 1.0 and shop.rto_status == "met"
    assert shop.days_since_success == pytest.approx(2.0)
    orders = next(s for s in report.databases if s.database == "orders")
    assert (orders.passed, orders.failed) == (1, 1)
    assert orders.days_since_success == pytest.approx(5)


def test_demo_runs_are_kept_apart(fleet: Path) -> None:
    report = build_report(ReportRequest(ledger_path=fleet, now=NOW))
    assert "demo (postgres)" not in [s.database for s in report.databases]
    assert [(s.database, s.drills) for s in report.demo] == [("demo (postgres)", 1)]
    assert not any(e.demo for e in report.evidence)
    counted = build_report(ReportRequest(ledger_path=fleet, now=NOW, include_demo=True))
    assert "demo (postgres)" in [s.database for s in counted.databases]
    assert counted.demo == [] and counted.headline.startswith("3 of 4 databases")
    page, text = report_html(report), report_markdown(report)
    assert "Demo runs" in page and "--include-demo" in text


def test_restore_times_grouped_per_kind(tmp_path: Path) -> None:
    """A quarterly restore to a point in time, a CI check of latest, a game day and an
    incident recovery each have their own RTO: summarised apart, not in one p50."""
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        record(ledger, "shop", "t1", 600, 1800, target="time 2026-11-01T00:00:00+00:00")
        record(ledger, "shop", "t2", 800, 1800, target="name 'q4'")
        record(ledger, "shop", "l1", 4.0, 5.0, target="latest")
        record(ledger, "shop", "l2", 6.0, 5.0, target="latest")
        record(ledger, "shop", "g1", 30, 1200, target="name 'q4'", gameday={"sql": "DELETE"})
        record(
            ledger,
            "shop",
            "i1",
            50,
            3600,
            target="-",
            playbook="cleanup",
            differences=[
                {
                    "table": "public.users",
                    "status": "incident diff",
                    "lost": 3,
                    "new": 0,
                    "changed": 0,
                }
            ],
        )
    report = build_report(ReportRequest(ledger_path=path, now=NOW))
    kinds = {k.kind: k for k in report.databases[0].kinds}
    assert list(kinds) == ["point in time", "latest", "game day", "incident recovery"]
    assert (kinds["point in time"].drills, kinds["point in time"].restore_p50_seconds) == (2, 700)
    assert kinds["point in time"].rto_objective_seconds == 1800
    latest = kinds["latest"]
    assert (latest.rto_objective_seconds, latest.rto_breaches, latest.pass_rate) == (5.0, 1, 0.5)
    assert kinds["game day"].restore_max_seconds == 30
    assert kinds["incident recovery"].rto_objective_seconds == 3600
    assert [b.kind for b in report.breaches] == ["latest"]
    assert "Restore time per kind of drill" in report_markdown(report)


def test_kind_of() -> None:
    assert kind_of("latest") == "latest"
    assert kind_of("xid 4711 (exclusive)") == "point in time"
    assert kind_of("name 'q4'", gameday=True) == "game day"
    assert kind_of(None, recover=True) == "incident recovery"
    assert kind_of("-", playbook="incident-recovery") == "incident recovery"
    assert kind_of(None, playbook="ci-backup-check") == "checks only"
    assert kind_of_details("latest", {"kind": "game day"}) == "game day"  # as recorded


def test_durations_in_one_style() -> None:
    assert format_duration(0.85) == "850 ms"
    assert format_duration(3 * 3600 + 240) == "3h 04m"
    assert format_duration(47 * 3600) == "47h 00m"
    assert format_duration(2 * 86400 + 5 * 3600) == "2d 05h"
    assert format_age(None) == "never" and format_age(90) == "1m 30s ago"


def test_demo_only_headline(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        record(ledger, "demo (postgres)", "d1", 1.0, 900, demo=True)
        record(ledger, "demo (postgres)", "d2", 1.0, 900, demo=True)
    report = build_report(ReportRequest(ledger_path=path, now=NOW))
    assert report.databases == [] and report.breaches == [] and report.evidence == []
    assert report.headline == (
        "No drills in this window besides 2 demo runs (--include-demo counts them)."
    )


def test_headline_without_objectives(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        ledger.record("drill", "shop", "file:/b", "latest", "PASS", rto_seconds=3.0)
        record(ledger, "billing", "b1", 1300, 900)
    report = build_report(ReportRequest(ledger_path=path, now=NOW))
    assert report.headline == (
        "0 of 1 database within their RTO; 1 breached; 1 more without an RTO objective"
    )
    only = build_report(ReportRequest(ledger_path=path, now=NOW, databases=["shop"]))
    assert only.headline == "1 database drilled, none with an RTO objective"
