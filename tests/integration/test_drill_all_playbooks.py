"""The README's fleet route as written, on real servers: both demo environments set up, both
demo.env files sourced in one shell, `drill playbooks/*.yaml --parallel 2 --results-dir`
PASS, and `report --from` reads every result file drill wrote. Playbook assertions run on
the restored copy (PostgreSQL and MariaDB), and a drill that is not PASS says why."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from restoredrill.demo.postgres_env import DemoEnvironment
from restoredrill.drill.run import DrillOptions, run_drills
from restoredrill.engines.postgres.sandbox_local import free_port
from restoredrill.sandboxes.labels import list_sandboxes
from tests.demohelp import PLAYBOOKS, REPO, demo_environment
from tests.junitschema import assert_junit4
from tests.pgsetup import CLI, cli, run_cli

pytestmark = pytest.mark.slow


@dataclass
class Fleet:
    pg: DemoEnvironment
    maria_env: dict[str, str]  # DEMO_MARIADB_* as demo.env exports them
    work: Path
    done: subprocess.CompletedProcess[str]
    results: Path
    junit: Path
    productions: set[str]  # the demo productions' sandboxes (left up on purpose)


def _exports(env_file: Path) -> dict[str, str]:
    found = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            found[name] = shlex.split(value)[0]
    return found


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("all-playbooks")
    root = Path(tempfile.mkdtemp(prefix="restoredrill-test-maria-all-", dir="/tmp"))
    root.chmod(0o711)
    maria = root / "demo"
    with demo_environment() as pg:
        try:
            made = run_cli(["demo", "--engine", "mariadb", "--setup-only", str(maria), "--json"])
            assert made.returncode == 0, made.stderr
            results, junit = work / "results", work / "fleet.junit.xml"
            # as the README says: source both env files, then run every playbook at once
            script = (
                f"source {shlex.quote(pg.env_file)} && "
                f"source {shlex.quote(str(maria / 'demo.env'))} && "
                f"cd {shlex.quote(str(REPO))} && "
                f"{shlex.quote(str(CLI))} drill playbooks/*.yaml --parallel 2 "
                f"--results-dir {shlex.quote(str(results))} --junit {shlex.quote(str(junit))} "
                f"--ledger {shlex.quote(str(work / 'ledger.db'))} --json"
            )
            clean = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
            done = subprocess.run(
                ["bash", "-c", script], capture_output=True, text=True, env=clean, timeout=1500
            )
            productions = {
                pg.sandbox_path,
                json.loads(made.stdout)["sandbox_path"],
            }
            yield Fleet(pg, _exports(maria / "demo.env"), work, done, results, junit, productions)
        finally:
            gone = run_cli(["demo", "--teardown", str(maria)])
            shutil.rmtree(root, ignore_errors=True)
            assert gone.returncode == 0, gone.stderr


def _left_running(fleet: Fleet) -> list[str]:
    return [s.path for s in list_sandboxes() if s.path not in fleet.productions]


def test_every_playbook_passes_side_by_side(fleet: Fleet) -> None:
    assert fleet.done.returncode == 0, fleet.done.stderr[-3000:] + fleet.done.stdout[-3000:]
    document = json.loads(fleet.done.stdout)
    assert document["format"] == "restoredrill-fleet/1" and document["parallel"] == 2
    verdicts = {d["playbook"]: (d["verdict"], d["failures"]) for d in document["drills"]}
    assert set(verdicts) == {p.stem for p in PLAYBOOKS.glob("*.yaml")}
    assert all(v == ("PASS", []) for v in verdicts.values()), verdicts
    assert _left_running(fleet) == []


def test_report_reads_every_result_drill_wrote(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(fleet.results.glob("*.json"))
    assert len(files) == len(list(PLAYBOOKS.glob("*.yaml")))
    # the config-check playbook's result holds the computed checks.status: read back too
    assert any(json.loads(f.read_text()).get("checks") for f in files)
    code, out, err = cli(
        [
            "report",
            "--from",
            str(fleet.results),
            "--ledger",
            str(tmp_path / "empty.db"),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert {e["playbook"] for e in report["evidence"]} == {p.stem for p in PLAYBOOKS.glob("*.yaml")}
    assert all(e["origin"].startswith(str(fleet.results)) for e in report["evidence"])


def test_assertions_are_checks_of_the_drill(fleet: Fleet) -> None:
    document = json.loads(fleet.done.stdout)
    quarterly = next(d for d in document["drills"] if d["playbook"] == "quarterly-drill")
    (database,) = quarterly["databases"]
    assertions = {a["name"]: a["status"] for a in database["assertions"]}
    assert assertions == {
        "no orphaned orders": "PASS",
        "users who never logged in are there (restored before the cleanup)": "PASS",
    }
    assert_junit4(fleet.junit)
    suites = {s.name: s for s in JUnitXml.fromfile(str(fleet.junit))}
    names = [c.name for c in suites["drill quarterly-drill"]]
    assert "assert demo-shop no orphaned orders" in names


PG_ASSERTIONS = """\
name: pg-assertions
source: {kind: file, base_backups: "${DEMO_BASE_BACKUPS}", wal_archive: "${DEMO_WAL_ARCHIVE}"}
target: {restore_point: before-user-cleanup}
databases:
  - label: demo-shop
    assertions:
      - {name: users exist, sql: "SELECT count(*) > 0 FROM public.users"}
      - {name: no users at all, sql: "SELECT count(*) = 0 FROM public.users"}
      - {name: cleanup cannot write, sql: "DELETE FROM public.users RETURNING true"}
      - {name: not a boolean, sql: "SELECT 'yes'"}
      - name: like with percent
        sql: "SELECT count(*) > 0 FROM public.users WHERE email LIKE '%@%'"
"""


def test_false_or_failing_assertion_fails_the_drill_by_name(fleet: Fleet, tmp_path: Path) -> None:
    playbook = tmp_path / "pg-assertions.yaml"
    playbook.write_text(PG_ASSERTIONS)
    done = run_cli(
        ["drill", str(playbook), "--json", "--ledger", str(tmp_path / "l.db")],
        env=fleet.pg.variables(),
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["verdict"] == "FAIL"
    statuses = {a["name"]: a["status"] for a in result["databases"][0]["assertions"]}
    assert statuses == {
        "users exist": "PASS",
        "no users at all": "FAIL",
        "cleanup cannot write": "ERROR",  # read-only: the restored copy is not changed
        "not a boolean": "ERROR",
        "like with percent": "PASS",
    }
    failures = result["failures"]
    assert any("'no users at all' FAIL" in f for f in failures), failures
    assert any("'cleanup cannot write' ERROR" in f and "read-only" in f for f in failures)
    assert _left_running(fleet) == []


MARIA_ASSERTIONS = """\
name: maria-assertions
engine: mariadb
source:
  kind: mysql
  snapshot: "${DEMO_MARIADB_SNAPSHOT}"
  binlog_archive: "${DEMO_MARIADB_BINLOG_ARCHIVE}"
sandbox: {os_user: mysql}
target: {time: "${DEMO_MARIADB_INCIDENT_BEFORE}"}
databases:
  - name: shop
    label: demo-shop-mariadb
    assertions:
      - name: no orphaned orders
        sql: >-
          SELECT NOT EXISTS (SELECT 1 FROM orders o LEFT JOIN users u ON u.id = o.user_id
                             WHERE u.id IS NULL)
      - {name: every user logged in, sql: "SELECT COUNT(*) = 0 FROM users WHERE last_login IS NULL"}
"""


def test_mariadb_assertions(fleet: Fleet, tmp_path: Path) -> None:
    playbook = tmp_path / "maria-assertions.yaml"
    playbook.write_text(MARIA_ASSERTIONS)
    options = DrillOptions(ledger_path=tmp_path / "l.db", env=fleet.maria_env)
    (result,) = run_drills([playbook], options).drills
    assert result.verdict == "FAIL" and result.exit_code == 1
    (database,) = result.databases
    assert {a.name: a.status for a in database.assertions} == {
        "no orphaned orders": "PASS",
        "every user logged in": "FAIL",  # restored before the cleanup: some never did
    }
    assert any("'every user logged in' FAIL" in f for f in result.failures), result.failures
    assert _left_running(fleet) == []


UNREACHABLE = """\
name: unreachable-reference
source: {kind: file, base_backups: "${DEMO_BASE_BACKUPS}", wal_archive: "${DEMO_WAL_ARCHIVE}"}
target: {restore_point: before-user-cleanup}
databases:
  - label: demo-shop
    verify: {production: "host=127.0.0.1 port=${NOWHERE_PORT} dbname=app user=app"}
"""


def test_error_verdict_carries_its_reason(fleet: Fleet, tmp_path: Path) -> None:
    """The reference does not answer: ERROR, and failures say so (not an empty list)."""
    playbook = tmp_path / "unreachable.yaml"
    playbook.write_text(UNREACHABLE)
    env = {**fleet.pg.variables(), "NOWHERE_PORT": str(free_port())}
    done = run_cli(["drill", str(playbook), "--json", "--ledger", str(tmp_path / "l.db")], env=env)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["verdict"] == "ERROR" and done.returncode == result["exit_code"] == 3
    assert result["failures"], result
    assert any("127.0.0.1" in f for f in result["failures"]), result["failures"]
    assert _left_running(fleet) == []
