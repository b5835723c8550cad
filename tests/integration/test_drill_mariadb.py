"""The MariaDB binlog drill playbook, as it is, against the MariaDB demo environment
(``restoredrill demo --engine mariadb --setup-only DIR``, real mariadbd servers), also from
S3 (moto); playbooks mixing engines and sources are refused with file:line, exit 2."""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restoredrill.drill.run import DrillOptions, run_drills
from restoredrill.sandboxes.labels import list_sandboxes
from tests.awshelp import new_bucket, upload_tree
from tests.demohelp import PLAYBOOKS
from tests.pgsetup import cli, run_cli

pytestmark = pytest.mark.slow
PLAYBOOK = PLAYBOOKS / "mariadb-binlog-drill.yaml"


@dataclass
class MariaDemo:
    directory: Path
    env: dict[str, str]
    state: dict[str, str]


def _exports(env_file: Path) -> dict[str, str]:
    found = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            found[name] = shlex.split(value)[0]
    return found


@pytest.fixture(scope="module")
def maria_demo() -> Iterator[MariaDemo]:
    root = Path(tempfile.mkdtemp(prefix="restoredrill-test-maria-demo-", dir="/tmp"))
    root.chmod(0o711)
    directory = root / "demo"
    try:
        done = run_cli(["demo", "--engine", "mariadb", "--setup-only", str(directory), "--json"])
        assert done.returncode == 0, done.stderr
        state = json.loads(done.stdout)
        yield MariaDemo(directory, _exports(directory / "demo.env"), state)
    finally:
        gone = run_cli(["demo", "--teardown", str(directory)])
        shutil.rmtree(root, ignore_errors=True)
        assert gone.returncode == 0, gone.stderr
        assert all(s.path != state["sandbox_path"] for s in list_sandboxes())


def test_setup_only_writes_the_playbook_variables(maria_demo: MariaDemo) -> None:
    env = maria_demo.env
    # apart from the PostgreSQL demo's DEMO_*: both can be sourced in one shell
    assert all(name.startswith("DEMO_MARIADB_") for name in env), env
    assert env["DEMO_MARIADB_DSN"].startswith("mysql://")
    for name in ("DEMO_MARIADB_SNAPSHOT", "DEMO_MARIADB_BINLOG_ARCHIVE", "DEMO_MARIADB_MANIFEST"):
        assert Path(env[name]).exists(), name
    assert list(Path(env["DEMO_MARIADB_SNAPSHOT"]).glob("*.sql.gz"))


def test_example_playbook_runs_green(maria_demo: MariaDemo, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    done = run_cli(["drill", str(PLAYBOOK), "--json", "--ledger", str(ledger)], env=maria_demo.env)
    assert done.returncode == 0, done.stderr + done.stdout
    drill = json.loads(done.stdout)  # one playbook: its DrillResult
    assert drill["verdict"] == "PASS" and drill["sla"] == "MET", drill
    assert drill["engine"] == "mariadb"
    assert drill["source"] == f"file:{maria_demo.env['DEMO_MARIADB_SNAPSHOT']}"
    (database,) = drill["databases"]
    assert database["verdict"] == "PASS" and database["label"] == "demo-shop-mariadb"
    assert {t["table"] for t in database["verify"]["tables"]} == {"users", "orders"}
    restore = drill["restore"]
    assert restore["plan"]["binlog_range"]["transactions"] > 0
    assert restore["rpo_seconds"] is not None and restore["rpo_seconds"] < 300
    reports = Path(maria_demo.env["DEMO_MARIADB_DIR"]) / "reports"
    assert (reports / "mariadb-binlog-drill.junit.xml").is_file()
    assert "PASS" in (reports / "mariadb-binlog-drill.md").read_text()


def test_playbook_from_s3(maria_demo: MariaDemo, aws_env: str, tmp_path: Path) -> None:
    """The same playbook with s3:// URLs: the demo's dump and binlogs uploaded to moto."""
    bucket = new_bucket(aws_env)
    upload_tree(aws_env, Path(maria_demo.env["DEMO_MARIADB_SNAPSHOT"]), bucket, "dumps")
    upload_tree(aws_env, Path(maria_demo.env["DEMO_MARIADB_BINLOG_ARCHIVE"]), bucket, "binlogs")
    env = {
        **maria_demo.env,
        "DEMO_MARIADB_SNAPSHOT": f"s3://{bucket}/dumps",
        "DEMO_MARIADB_BINLOG_ARCHIVE": f"s3://{bucket}/binlogs",
        "DEMO_MARIADB_DIR": str(tmp_path),
    }
    options = DrillOptions(ledger_path=tmp_path / "ledger.db", env=env)
    (drill,) = run_drills([PLAYBOOK], options).drills
    assert drill.verdict == "PASS", (drill.error, drill.failures)
    assert drill.source == f"s3://{bucket}/dumps (binlogs s3://{bucket}/binlogs)"
    assert drill.restore is not None and drill.restore.plan.snapshot is not None
    assert drill.restore.plan.snapshot.path.startswith(f"s3://{bucket}/dumps/")


BAD_SOURCE = """\
name: mixed-up
engine: mariadb
source:
  kind: file
  base_backups: /backups/base
  wal_archive: /backups/wal
target: latest
"""
BAD_ENGINE = """\
name: mixed-up-too
engine: postgres
target: latest
source: {kind: mysql, snapshot: s3://bucket/dumps, binlog_archive: s3://bucket/binlogs}
"""
BAD_TARGET = """\
name: mixed-up-three
engine: mariadb
source: {kind: mysql, snapshot: dumps, binlog_archive: binlogs}
gameday: {incident: drop-table, table: users}
target:
  lsn: 0/1
"""


def test_engine_and_source_mismatch_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SOURCE)
    code, out, err = cli(["drill", str(bad), "--json"], capsys)
    assert code == 2 and json.loads(out)["format"] == "restoredrill-error/1", err
    assert f"{bad}:3: source: kind file is not a source for engine mariadb" in err
    assert "kind: mysql (snapshot, binlog_archive)" in err
    other = tmp_path / "other.yaml"
    other.write_text(BAD_ENGINE)
    code, out, err = cli(["drill", str(other)], capsys)
    assert code == 2 and f"{other}:4: source: kind mysql is not a source for engine postgres" in err
    third = tmp_path / "third.yaml"
    third.write_text(BAD_TARGET)
    code, out, err = cli(["drill", str(third)], capsys)
    assert code == 2
    assert f"{third}:4: gameday: only with engine postgres" in err
    assert f"{third}:5: target: lsn is not a target for engine mariadb" in err


def test_python_api_plans_the_mariadb_demo(maria_demo: MariaDemo) -> None:
    import restoredrill

    env = maria_demo.env
    request = restoredrill.RestoreRequest(
        base_backups=env["DEMO_MARIADB_SNAPSHOT"],
        wal_archive=env["DEMO_MARIADB_BINLOG_ARCHIVE"],
        target=restoredrill.parse_target(target="latest", engine="mariadb"),
        backend=restoredrill.MySqlOptions(),
    )
    plan = restoredrill.plan(request)
    assert plan.ok, plan.checks
    assert plan.engine == "mariadb" and plan.snapshot is not None
    assert plan.binlog_range is not None
