"""SLA report from a ledger: percentiles, pass rate, breaches apart from failures, and every
renderer checked by content (plot points, PNG metadata, HTML evidence, JUnit, Prometheus)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from restoredrill.ledger import Ledger
from restoredrill.models import PhaseTiming
from restoredrill.report.html import report_html
from restoredrill.report.junit import report_junit, to_bytes
from restoredrill.report.markdown import report_markdown
from restoredrill.report.plot import POINTS_KEY, png_bytes, trend_figure
from restoredrill.report.prometheus import write_textfile
from restoredrill.report.sla import ReportRequest, build_report, parse_since, percentile
from tests.junitschema import assert_junit4

START = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)


def details(n: int, verdict: str, rto: float, objective: float = 600) -> dict[str, Any]:
    return {
        "run_id": f"run{n}",
        "playbook": "quarterly",
        "sla": "BREACHED" if rto > objective else "MET",
        "failures": [] if verdict == "PASS" else ["shop: public.users FAIL: row counts differ"],
        "objectives": [
            {
                "name": "rto",
                "objective_seconds": objective,
                "measured_seconds": rto,
                "status": "breached" if rto > objective else "met",
                "measured": "provision → ready",
            }
        ],
        "backup": {"path": f"/backups/base-{n}", "label": f"nightly-{n}", "end_lsn": "0/2000100"},
        "target": "latest",
        "checks": [{"check": "verify public.users", "status": verdict, "detail": None}],
        "differences": [] if verdict == "PASS" else [{"table": "public.users", "status": "FAIL"}],
    }


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    rtos = [100.0, 200.0, 300.0, 400.0, 900.0]
    verdicts = ["PASS", "PASS", "FAIL", "PASS", "PASS"]
    with Ledger(path) as ledger:
        for n, (rto, verdict) in enumerate(zip(rtos, verdicts, strict=True)):
            ledger.record(
                "drill",
                database="shop <prod>",
                source="file:/backups",
                target="latest",
                verdict=verdict,
                phases=[PhaseTiming(name="replay WAL", seconds=rto / 2)],
                rto_seconds=rto,
                rpo_seconds=5.0 + n,
                details=details(n, verdict, rto),
                started_at=START + timedelta(days=n),
            )
        ledger.record("restore", "shop <prod>", "file:/b", "latest", "RESTORED", rto_seconds=1.0)
        ledger.record(
            "drill",
            database="billing",
            source="file:/b2",
            target="latest",
            verdict="PASS",
            rto_seconds=50.0,
            details=details(9, "PASS", 50.0),
            started_at=START,
        )
    return path


def test_summary_per_database(ledger_path: Path) -> None:
    report = build_report(ReportRequest(ledger_path=ledger_path))
    shop = next(s for s in report.databases if s.database == "shop <prod>")
    # the 900 s drill verified but breached its RTO: not a pass for the rate
    assert shop.drills == 5 and shop.verified == 4 and shop.passed == 3 and shop.failed == 1
    assert shop.pass_rate == pytest.approx(0.6)
    assert shop.restore_p50_seconds == 300.0
    assert shop.restore_p95_seconds == pytest.approx(800.0)
    assert shop.restore_max_seconds == 900.0
    assert shop.rto_objective_seconds == 600
    assert shop.rto_breaches == 1 and shop.rpo_last_seconds == 9.0
    assert shop.last_success_at == START + timedelta(days=3)
    # breaches (SLA) and failures (correctness) are listed apart
    assert [(b.database, b.objective, b.measured_seconds) for b in report.breaches] == [
        ("shop <prod>", "rto", 900.0)
    ]
    assert [f.when for f in report.failures] == [START + timedelta(days=2)]
    assert len(report.evidence) == 6  # drills only, not the plain restore


def test_filters(ledger_path: Path) -> None:
    since = START + timedelta(days=3)
    report = build_report(
        ReportRequest(ledger_path=ledger_path, since=since, databases=["shop <prod>"])
    )
    assert [s.database for s in report.databases] == ["shop <prod>"]
    assert report.databases[0].drills == 2
    assert parse_since("2026-10-04", START) == since.replace(hour=0)
    assert parse_since("3d", START + timedelta(days=6)) == since


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_plot_has_one_point_per_drill(ledger_path: Path) -> None:
    report = build_report(ReportRequest(ledger_path=ledger_path))
    figure = trend_figure(report)
    # one panel per database, each on its own scale
    assert len(figure.axes) == 2
    lines = [ln for axes in figure.axes for ln in axes.get_lines() if ln.get_marker() == "o"]
    assert sorted(len(line.get_ydata()) for line in lines) == [1, 5]  # type: ignore[arg-type]
    shop = next(line for line in lines if line.get_label() == "shop <prod>")
    assert list(shop.get_ydata()) == [100.0, 200.0, 300.0, 400.0, 900.0]  # type: ignore[arg-type]
    png = Image.open(io.BytesIO(png_bytes(report)))
    assert png.format == "PNG"
    assert png.info[POINTS_KEY] == "6"


def test_html_evidence_pack(ledger_path: Path) -> None:
    report = build_report(ReportRequest(ledger_path=ledger_path))
    page = report_html(report, plot_png=b"\x89PNG fake")
    assert "shop &lt;prod&gt;" in page and "shop <prod>" not in page  # escaped
    for n in range(5):
        assert f"/backups/base-{n}" in page  # which backup, per drill
    assert "data:image/png;base64," in page
    assert page.count('class="evidence"') == 6
    assert "row counts differ" in page


def test_markdown_lists_breaches_and_failures_apart(ledger_path: Path) -> None:
    text = report_markdown(build_report(ReportRequest(ledger_path=ledger_path)))
    breaches = text.split("## SLA breaches")[1].split("## Correctness failures")[0]
    failures = text.split("## Correctness failures")[1].split("## Evidence")[0]
    assert "RTO" in breaches and "15m 00s" in breaches
    assert "row counts differ" in failures and "RTO" not in failures


def test_junit(ledger_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_bytes(to_bytes(report_junit(build_report(ReportRequest(ledger_path=ledger_path)))))
    assert_junit4(path)
    xml = JUnitXml.fromfile(str(path))
    assert xml.tests == 12 and xml.failures == 2  # one verification failure, one breach
    types = [r.type for suite in xml for case in suite for r in case.result]
    assert sorted(types) == ["sla-breach", "verification"]


def test_prometheus_textfile(ledger_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "restoredrill.prom"
    write_textfile(build_report(ReportRequest(ledger_path=ledger_path)), path)
    assert [p.name for p in tmp_path.iterdir() if p.name != "ledger.db"] == ["restoredrill.prom"]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }
    db = ("database", "shop <prod>")
    assert (
        samples[("restoredrill_last_success_timestamp_seconds", (db,))]
        == (START + timedelta(days=3)).timestamp()  # day 4 verified but breached its RTO
    )
    window = ("window", "all")
    assert samples[("restoredrill_restore_max_seconds", (db, window))] == 900.0
    assert samples[("restoredrill_sla_breaches", (db, ("objective", "rto"), window))] == 1.0
    assert samples[("restoredrill_drill_pass_ratio", (db, window))] == pytest.approx(0.6)
    assert samples[("restoredrill_report_databases", ())] >= 1
    # gauges only: "quantile" is reserved for summaries
    assert not any(dict(labels).get("quantile") for _, labels in samples)
    assert ("restoredrill_last_drill_passed", (db,)) in samples
    kinds = {
        dict(labels).get("kind")
        for name, labels in samples
        if name.startswith("restoredrill_kind_")
    }
    assert kinds and None not in kinds
    for kind in kinds:
        key = (db, ("kind", kind))
        assert ("restoredrill_kind_last_drill_passed", key) in samples
        assert ("restoredrill_kind_last_success_timestamp_seconds", key) in samples
        assert ("restoredrill_kind_drills", (db, ("kind", kind), window)) in samples


def test_prometheus_textfile_with_no_drills(tmp_path: Path) -> None:
    """An empty ledger still gives a scrape with series (report time, zero databases)."""
    path = tmp_path / "restoredrill.prom"
    write_textfile(build_report(ReportRequest(ledger_path=tmp_path / "empty.db")), path)
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }
    assert samples["restoredrill_report_databases"] == 0
    assert samples["restoredrill_report_timestamp_seconds"] > 1.7e9


def test_unverified_drill_is_neither_a_pass_nor_an_error(tmp_path: Path) -> None:
    """A drill over a base without backup_manifest (UNVERIFIED) counts against the pass
    rate and the dead-man's switch, and fails its JUnit case, like a FAIL."""
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        for n, verdict in enumerate(["PASS", "UNVERIFIED"]):
            ledger.record(
                "drill",
                database="shop",
                source="file:/b",
                target="latest",
                verdict=verdict,
                rto_seconds=10.0,
                details={"run_id": f"r{n}", "failures": [] if n == 0 else ["base not checked"]},
                started_at=START + timedelta(days=n),
            )
    report = build_report(ReportRequest(ledger_path=path))
    shop = report.databases[0]
    assert (shop.passed, shop.failed, shop.errors) == (1, 1, 0)
    assert shop.last_success_at == START
    assert [(f.verdict, f.reasons) for f in report.failures] == [
        ("UNVERIFIED", ["base not checked"])
    ]
    xml = report_junit(report)
    assert sum(suite.failures for suite in xml) == 1
