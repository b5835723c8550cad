"""Playbooks run against the demo environment (real PostgreSQL): the examples as they are,
two at once, an SLA breach with its webhook, a correctness failure, the ledger evidence, the
SLA report in every format, and a Kubernetes Indexed Job emulated pod by pod."""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from restoredrill.demo.postgres_env import DemoEnvironment
from restoredrill.drill.result import DrillResult
from restoredrill.drill.run import DrillOptions, run_drills
from restoredrill.fleet import SCRATCH, FleetJobRequest, render_yaml
from restoredrill.ledger import Ledger
from tests.demohelp import PLAYBOOKS, Webhook, demo_environment, webhook
from tests.junitschema import assert_junit4
from tests.pgsetup import cli, run_cli

pytestmark = pytest.mark.slow


@dataclass
class Drilled:
    env: DemoEnvironment
    work: Path
    ledger: Path
    fleet: dict[str, Any]
    fleet_code: int
    junit: Path
    results: Path
    incident: DrillResult
    breach: dict[str, Any]
    breach_run: Any
    hook: Webhook
    failing: DrillResult


def _playbook(work: Path, name: str, text: str) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(text)
    return path


BREACH = """\
name: breach-drill
source: {kind: file, base_backups: "${DEMO_BASE_BACKUPS}", wal_archive: "${DEMO_WAL_ARCHIVE}"}
target: {restore_point: before-user-cleanup}
databases:
  - label: demo-shop
    verify: {manifest: "${DEMO_MANIFEST}"}
objectives:
  rto: 0
"""
FAILING = """\
name: failing-drill
source: {kind: file, base_backups: "${DEMO_BASE_BACKUPS}", wal_archive: "${DEMO_WAL_ARCHIVE}"}
target: {restore_point: before-user-cleanup}
databases:
  - label: demo-shop
    verify:
      production: "${DEMO_DSN}"
      tolerances:
        public.orders: {percent: 100}
objectives:
  rto: 1h
"""


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drilled]:
    work = tmp_path_factory.mktemp("drills")
    ledger = work / "ledger.db"
    with demo_environment() as env, webhook() as hook:
        junit = work / "fleet.junit.xml"
        results = work / "results"
        done = run_cli(
            [
                "drill",
                str(PLAYBOOKS / "quarterly-drill.yaml"),
                str(PLAYBOOKS / "ci-backup-check.yaml"),
                "--parallel",
                "2",
                "--json",
                "--junit",
                str(junit),
                "--results-dir",
                str(results),
                "--ledger",
                str(ledger),
            ]
        )
        assert done.returncode == 0, done.stderr
        fleet = json.loads(done.stdout)
        options = DrillOptions(ledger_path=ledger)
        incident = run_drills([PLAYBOOKS / "incident-recovery.yaml"], options).drills[0]
        breach_run = run_cli(
            ["drill", str(_playbook(work, "breach", BREACH)), "--json", "--ledger", str(ledger)],
            env={"RESTOREDRILL_WEBHOOK_URL": hook.url},
        )
        failing = run_drills([_playbook(work, "failing", FAILING)], options).drills[0]
        yield Drilled(
            env=env,
            work=work,
            ledger=ledger,
            fleet=fleet,
            fleet_code=done.returncode,
            junit=junit,
            results=results,
            incident=incident,
            breach=json.loads(breach_run.stdout),
            breach_run=breach_run,
            hook=hook,
            failing=failing,
        )


def test_example_playbooks_pass_side_by_side(drilled: Drilled) -> None:
    fleet = drilled.fleet
    assert fleet["format"] == "restoredrill-fleet/1" and fleet["parallel"] == 2
    drills = {d["playbook"]: d for d in fleet["drills"]}
    assert set(drills) == {"quarterly-drill", "ci-backup-check"}
    for drill in drills.values():
        assert drill["verdict"] == "PASS" and drill["sla"] == "MET", drill["failures"]
        assert drill["exit_code"] == 0
        assert drill["restore"]["plan"]["base_backup"]["path"].startswith(drilled.env.base_backups)
    quarterly, ci = drills["quarterly-drill"], drills["ci-backup-check"]
    assert [d["verify"]["status"] for d in quarterly["databases"]] == ["PASS"]
    assert quarterly["databases"][0]["verify"]["reference"] == drilled.env.manifest
    # CI: config checks ran (live + archive) and passed; RPO measured for the latest target
    rules = {c["rule"]: c["status"] for c in ci["checks"]["checks"]}
    assert rules["postgres.archive_mode"] == "ok" and rules["archive.wal_continuity"] == "ok"
    assert rules["archive.base_backup_age"] == "ok"
    objectives = {o["name"]: o for o in ci["objectives"]}
    assert objectives["rpo"]["status"] == "met" and objectives["rpo"]["measured_seconds"] > 0
    assert objectives["rto"]["status"] == "met"
    # outputs named by the playbooks, under ${DEMO_DIR}
    reports = Path(drilled.env.directory) / "reports"
    assert (reports / "quarterly-drill.md").read_text().startswith("# Drill quarterly-drill: PASS")
    assert (
        "restoredrill_last_success_timestamp_seconds" in (reports / "restoredrill.prom").read_text()
    )
    assert json.loads((reports / "ci-backup-check.json").read_text())["verdict"] == "PASS"


def test_fleet_junit_and_results_dir(drilled: Drilled) -> None:
    assert_junit4(drilled.junit)
    xml = JUnitXml.fromfile(str(drilled.junit))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"drill quarterly-drill", "drill ci-backup-check"}
    assert xml.failures == 0 and xml.errors == 0
    names = [case.name for case in suites["drill ci-backup-check"]]
    assert "check postgres.archive_timeout" in names
    assert "verify demo-shop public.orders" in names and "objective RPO" in names
    # the RTO is the restore case's time only: an objective case adds none to the suite
    assert all(
        case.time == 0 for case in suites["drill quarterly-drill"] if "objective" in case.name
    )
    files = sorted(drilled.results.glob("*.json"))
    assert len(files) == 2
    assert {json.loads(f.read_text())["playbook"] for f in files} == {
        "quarterly-drill",
        "ci-backup-check",
    }


def test_incident_recovery_playbook(drilled: Drilled) -> None:
    result = drilled.incident
    assert result.verdict == "PASS" and result.exit_code == 0, result.failures
    assert result.recover is not None
    lost = {t.table: t.counts.lost for t in result.recover.tables}
    assert lost["public.users"] > 0 and lost["public.orders"] > 0
    assert not result.recover.reapply.executed  # a playbook never writes to production
    diff_file = Path(drilled.env.directory) / "reports" / "incident.diff.json"
    assert json.loads(diff_file.read_text())["mode"] == "incident"


def test_sla_breach_is_not_a_correctness_failure(drilled: Drilled) -> None:
    breach = drilled.breach
    assert drilled.breach_run.returncode == 1
    assert breach["verdict"] == "PASS" and breach["sla"] == "BREACHED"
    assert breach["failures"] == [] and len(breach["breaches"]) == 1
    assert breach["breaches"][0].startswith("RTO ")
    assert breach["notifications"] == ["webhook: sent (HTTP 200)"]
    # the webhook got a Slack-compatible message; its URL (a secret) is nowhere
    assert len(drilled.hook.received) == 1
    text = drilled.hook.received[0]["text"]
    assert "breach-drill" in text and "SLA BREACHED" in text
    assert drilled.hook.paths == ["/services/T000/B000/SECRET-token-5f3a9c"]
    secret = "SECRET-token-5f3a9c"
    assert secret not in drilled.breach_run.stdout + drilled.breach_run.stderr
    assert secret not in drilled.ledger.read_bytes().decode(errors="replace")


def test_verification_failure_fails_the_drill(drilled: Drilled) -> None:
    result = drilled.failing
    assert result.verdict == "FAIL" and result.exit_code == 1 and result.sla == "MET"
    outcome = result.databases[0]
    assert outcome.verdict == "FAIL"
    assert outcome.tolerated == ["public.orders"]  # within its tolerance
    assert any("public.users" in f for f in outcome.failures)
    assert outcome.ledger_id is not None


def test_ledger_holds_the_evidence(drilled: Drilled) -> None:
    with Ledger(drilled.ledger) as ledger:
        records = ledger.records(kind="drill")
    assert [r.details["playbook"] for r in records].count("quarterly-drill") == 1
    quarterly = next(r for r in records if r.details["playbook"] == "quarterly-drill")
    assert quarterly.database == "demo-shop" and quarterly.verdict == "PASS"
    details = quarterly.details
    assert details["backup"]["path"] == f"{drilled.env.base_backups}/base-1"
    assert details["backup"]["label"] and details["backup"]["end_lsn"]
    assert details["target"] == "name 'before-user-cleanup'"
    assert details["recovered_to"]["lsn"]
    assert {c["check"] for c in details["checks"]} == {
        "verify public.users",
        "verify public.orders",
        "assert no orphaned orders",  # the playbook's application checks
        "assert users who never logged in are there (restored before the cleanup)",
    }
    assert details["objectives"][0]["name"] == "rto"
    failing = next(r for r in records if r.details["playbook"] == "failing-drill")
    assert {d["table"] for d in failing.details["differences"]} == {
        "public.users",
        "public.orders",
    }


def test_report_every_format(drilled: Drilled, capsys: pytest.CaptureFixture[str]) -> None:
    work, ledger = drilled.work, str(drilled.ledger)
    html, plot = work / "report.html", work / "trend.png"
    code, _, err = cli(
        ["report", "--ledger", ledger, "--format", "html", "--out", str(html), "--plot", str(plot)],
        capsys,
    )
    assert code == 0, err
    page = html.read_text()
    assert f"{drilled.env.base_backups}/base-1" in page  # the evidence names the backup
    assert "data:image/png;base64," in page and "breach-drill" in page
    png = Image.open(io.BytesIO(plot.read_bytes()))
    drills = 5  # quarterly, CI, incident recovery, breach, failing: one database label
    assert png.info["restoredrill:points"] == str(drills)

    code, out, _ = cli(["report", "--ledger", ledger, "--format", "json"], capsys)
    report = json.loads(out)
    (summary,) = report["databases"]
    assert summary["database"] == "demo-shop" and summary["drills"] == drills
    # breach-drill verified but took longer than its RTO: verified, not a pass
    assert summary["verified"] == 4 and summary["passed"] == 3 and summary["failed"] == 1
    assert summary["rto_status"] == "breached"
    assert (
        report["headline"] == "0 of 1 database within their RTO; 1 breached; 1 with failed drills"
    )
    kinds = {k["kind"]: k["drills"] for k in summary["kinds"]}
    assert kinds["latest"] == 1 and kinds["incident recovery"] == 1  # the CI check, recover
    assert sum(kinds.values()) == drills
    assert summary["restore_p50_seconds"] <= summary["restore_p95_seconds"]
    assert summary["restore_p95_seconds"] <= summary["restore_max_seconds"]
    assert [b["objective"] for b in report["breaches"]] == ["rto"]
    assert [f["playbook"] for f in report["failures"]] == ["failing-drill"]

    code, out, _ = cli(["report", "--ledger", ledger, "--format", "md", "--strict"], capsys)
    assert code == 1  # the window holds a failure and a breach
    assert "## SLA breaches" in out and "## Evidence" in out

    junit = work / "report.xml"
    cli(["report", "--ledger", ledger, "--format", "junit", "--out", str(junit)], capsys)
    xml = JUnitXml.fromfile(str(junit))
    kinds = sorted(r.type for suite in xml for case in suite for r in case.result if r.type)
    assert kinds == ["sla-breach", "verification"]

    prom = work / "textfile" / "restoredrill.prom"
    prom.parent.mkdir()
    cli(["report", "--ledger", ledger, "--format", "prometheus", "--out", str(prom)], capsys)
    assert sorted(p.name for p in prom.parent.iterdir()) == ["restoredrill.prom"]
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    (last,) = families["restoredrill_last_success_timestamp_seconds"].samples
    assert last.labels == {"database": "demo-shop"} and last.value > 1.7e9

    code, _, err = cli(["report", "--ledger", ledger, "--since", "yesterday"], capsys)
    assert code == 2 and "--since" in err


def test_kubernetes_indexed_job_emulated(
    drilled: Drilled,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    """Render the Job, then do what Kubernetes would: mount the ConfigMap, set the index,
    expand $(VAR) in args, run each pod's command; then aggregate the shared results."""
    playbooks = [PLAYBOOKS / "quarterly-drill.yaml", PLAYBOOKS / "incident-recovery.yaml"]
    shared = tmp_path / "shared"
    text = render_yaml(
        FleetJobRequest(playbooks=playbooks, image="restoredrill:test", results_dir=str(shared))
    )
    config_map, job = list(YAML(typ="safe").load_all(text))
    mount = tmp_path / "playbooks"
    mount.mkdir()
    for key, body in config_map["data"].items():
        (mount / key).write_text(body)
    container = job["spec"]["template"]["spec"]["containers"][0]
    # the pod's emptyDir; under /tmp so the server's OS user can traverse to its sandboxes,
    # and short: a sandbox's socket path must stay under the 107-byte Unix socket limit
    scratch = Path(tempfile.mkdtemp(prefix="rd-k8s-", dir="/tmp"))
    scratch.chmod(0o711)
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    assert container["command"] == ["restoredrill"]
    for index in range(job["spec"]["completions"]):
        env = {"RESTOREDRILL_INDEX": str(index)}
        for item in container["env"]:
            if "value" in item:
                value = _kubelet_expand(item["value"], env).replace(SCRATCH, str(scratch))
                env[item["name"]] = value
        args = [
            _kubelet_expand(a, env).replace("/playbooks", str(mount)) for a in container["args"]
        ]
        done = run_cli(args, env=env)
        assert done.returncode == 0, done.stderr + done.stdout[-2000:]
        assert json.loads(done.stdout)["verdict"] == "PASS"
    assert len(list(shared.glob("*.json"))) == 2
    assert len(list(shared.glob("ledger-*.db"))) == 2
    code, out, err = cli(
        [
            "report",
            "--from",
            str(shared),
            "--ledger",
            str(tmp_path / "empty.db"),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["databases"][0]["drills"] == 2
    assert {e["playbook"] for e in report["evidence"]} == {"quarterly-drill", "incident-recovery"}
    assert all(e["origin"].startswith(str(shared)) for e in report["evidence"])


def _kubelet_expand(text: str, env: dict[str, str]) -> str:
    """$(VAR) references, as the kubelet expands them in args and env values."""
    return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], text)


def test_invalid_playbook_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (PLAYBOOKS / "quarterly-drill.yaml")
        .read_text()
        .replace("  rto: 15m", "  rto: 15m\n  mtbf: 1d")
    )
    good = PLAYBOOKS / "quarterly-drill.yaml"
    code, out, err = cli(["drill", str(good), str(bad), "--json"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{bad}:" in err and "unknown key 'mtbf'" in err
    document = json.loads(out)  # --json: the error as a document on stdout too
    assert document["format"] == "restoredrill-error/1" and document["exit_code"] == 2
    assert document["kind"] == "ConfigError" and "unknown key 'mtbf'" in document["error"]
