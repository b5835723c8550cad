"""JUnit XML (junitparser) for CI: drills, SLA reports and backup-configuration checks.

A correctness problem is a <failure type="verification">, an SLA breach a separate testcase
with <failure type="sla-breach">, an infrastructure problem an <error>."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from restoredrill.checks.registry import CheckReport
from restoredrill.drill.result import DrillResult
from restoredrill.durations import format_duration
from restoredrill.models import CheckStatus, VerifyStatus
from restoredrill.report.atomic_file import write_atomic
from restoredrill.report.sla import SlaReport


def _case(name: str, classname: str, seconds: float | None = None) -> TestCase:
    case = TestCase(name, classname, seconds if seconds is not None else 0.0)
    return case


def _fail(case: TestCase, message: str, kind: str) -> None:
    case.result = [Failure(message, kind)]


def _error(case: TestCase, message: str, kind: str = "error") -> None:
    case.result = [Error(message, kind)]


def drill_suite(result: DrillResult) -> TestSuite:
    suite = TestSuite(f"drill {result.playbook}")
    cls = f"restoredrill.drill.{result.playbook}"
    if result.checks is not None:
        for check in result.checks.checks:
            case = _case(f"check {check.rule}", cls)
            if check.status == CheckStatus.FAILED:
                _fail(case, check.detail, "config")
            case.system_out = check.detail
            suite.add_testcase(case)
    restore = _case("restore", cls, result.restore.rto_seconds if result.restore else None)
    if result.restore is not None:
        backup = result.restore.plan.base_backup
        restore.system_out = (
            f"target {result.target}; base backup {backup.path if backup else '?'}; "
            f"RTO {format_duration(result.restore.rto_seconds)}"
        )
        if result.verdict == "UNVERIFIED":  # restored, but not all of it could be checked
            _fail(restore, "; ".join(result.restore.warnings) or "not verified", "unverified")
    elif result.target is not None:
        if result.error:
            _error(restore, result.error)
        else:
            _fail(restore, "; ".join(result.failures) or "restore failed", "restore")
    if result.target is not None:
        suite.add_testcase(restore)
    for outcome in result.databases:
        if outcome.verify is None:
            continue
        for table in outcome.verify.tables:
            case = _case(f"verify {outcome.label} {table.table}", cls)
            if table.table in outcome.tolerated:
                case.system_out = f"within tolerance: {table.detail}"
            elif table.status == VerifyStatus.ERROR:
                _error(case, table.detail or "error", "verify-error")
            elif table.status != VerifyStatus.PASS:
                _fail(case, f"{table.status}: {table.detail or ''}", "verification")
            suite.add_testcase(case)
    for outcome in result.databases:  # application checks of the playbook, one case each
        for held in outcome.assertions:
            case = _case(f"assert {outcome.label} {held.name}", cls)
            case.system_out = f"{held.sql} → {held.detail}"
            if held.status != "PASS":
                _fail(case, f"{held.status}: {held.detail}", "assertion")
            suite.add_testcase(case)
    if result.gameday is not None:
        game = result.gameday
        case = _case(f"game day {game.incident} {game.table}", cls, game.verified_seconds)
        case.system_out = f"{game.sql}; {game.rows_recovered} rows recovered"
        if game.verdict != "PASS":
            _fail(case, f"after recovery: {game.verify.status}", "verification")
        suite.add_testcase(case)
    if result.recover is not None:
        case = _case("incident recovery (dry run)", cls, result.recover.seconds)
        problems = [f for f in result.failures if f.startswith("recover:")]
        if problems:
            _fail(case, "; ".join(problems), "verification")
        suite.add_testcase(case)
    for objective in result.objectives:
        # no time of its own: the restore case already counts the RTO in the suite's time
        case = _case(f"objective {objective.name.upper()}", cls)
        text = (
            f"{objective.name.upper()} {format_duration(objective.measured_seconds)} "
            f"(objective {format_duration(objective.objective_seconds)}; {objective.measured})"
        )
        if objective.status == "breached":
            _fail(case, text, "sla-breach")
        elif objective.status == "unmeasured":
            case.result = [Skipped(f"not measured: {objective.measured}")]
        case.system_out = text
        suite.add_testcase(case)
    if result.error and result.target is None:
        case = _case("drill", cls)
        _error(case, result.error)
        suite.add_testcase(case)
    suite.update_statistics()  # type: ignore[no-untyped-call]
    return suite


def drills_junit(results: Sequence[DrillResult]) -> JUnitXml:
    xml = JUnitXml("restoredrill drills")
    for result in results:
        xml.add_testsuite(drill_suite(result))
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def report_junit(report: SlaReport) -> JUnitXml:
    xml = JUnitXml("restoredrill report")
    for summary in report.databases:
        suite = TestSuite(f"database {summary.database}")
        cls = f"restoredrill.report.{summary.database}"
        for item in (e for e in report.evidence if e.database == summary.database):
            ident = item.ledger_id or item.run_id
            name = f"drill {ident} {item.playbook or ''} {item.when:%Y-%m-%d %H:%M}"
            case = _case(name.strip(), cls, item.rto_seconds)
            if item.verdict == "ERROR":
                _error(case, item.error or "; ".join(item.failures) or "error")
            elif item.verdict != "PASS":
                _fail(case, "; ".join(item.failures) or item.verdict, "verification")
            case.system_out = f"backup {(item.backup or {}).get('path', '-')}; target {item.target}"
            suite.add_testcase(case)
            for objective in item.objectives:
                sla = _case(f"{name.strip()} {str(objective.get('name', '')).upper()}", cls)
                if objective.get("status") == "breached":
                    _fail(
                        sla,
                        f"{format_duration(objective.get('measured_seconds'))} over the "
                        f"objective {format_duration(objective.get('objective_seconds'))}",
                        "sla-breach",
                    )
                elif objective.get("status") == "unmeasured":
                    sla.result = [Skipped("not measured")]
                suite.add_testcase(sla)
        suite.update_statistics()  # type: ignore[no-untyped-call]
        xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def checks_junit(report: CheckReport) -> JUnitXml:
    xml = JUnitXml("restoredrill check")
    suite = TestSuite("backup configuration")
    for check in report.checks:
        # the rule alone names the case: a DSN (socket path, port) would change every run
        case = _case(check.rule, f"restoredrill.check.{check.engine}")
        if check.status == CheckStatus.FAILED:
            _fail(case, check.detail, "config")
        case.system_out = f"{check.subject}: {check.status}: {check.detail}"
        suite.add_testcase(case)
    suite.update_statistics()  # type: ignore[no-untyped-call]
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def to_bytes(xml: JUnitXml, now: datetime | None = None) -> bytes:
    """The document as the JUnit 4 schema (Jenkins, GitLab) accepts it: an XML declaration,
    no ``skipped`` on <testsuites> (the schema has none there), and each suite stamped with
    when and where it ran (UTC, ISO 8601 without a zone, as the strictest readers demand)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = xml._elem  # junitparser keeps the element tree; no public accessor for it
    root.attrib.pop("skipped", None)
    for suite in root.iter("testsuite"):
        suite.set("timestamp", stamp)
        suite.set("hostname", socket.gethostname())
    body: bytes = xml.tostring()  # type: ignore[no-untyped-call]
    if not body.startswith(b"<?xml"):
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return body


def write_xml(xml: JUnitXml, path: Path) -> None:
    write_atomic(Path(path), to_bytes(xml))
