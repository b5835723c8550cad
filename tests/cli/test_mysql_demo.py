"""`restoredrill demo --engine mariadb`: the incident story on real MariaDB servers."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from restoredrill.demo.postgres import DemoResult
from restoredrill.report.terminal_demo import render_demo
from restoredrill.sandboxes.labels import sandbox_root
from tests.pgsetup import cli

pytestmark = pytest.mark.slow


def _rendered(result: dict[str, object]) -> str:
    console = Console(record=True, width=200, force_terminal=False)
    render_demo(console, DemoResult.model_validate(result))
    return console.export_text()


def test_demo_mariadb_repair(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["demo", "--engine", "mariadb", "--repair", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["engine"] == "mariadb"
    assert result["verify"]["status"] == "PASS"
    lost = {t["table"]: t["rows_lost"] for t in result["incident_cost"]}
    assert lost["users"] > 0 and lost["orders"] > 0
    diffs = {t["table"]: t["counts"]["lost"] for t in result["incident_diff"]}
    assert diffs == lost
    # found in the binlog archive, not told: the biggest transaction is the DELETE, by GTID
    biggest = result["found"]["incidents"][0]
    assert result["found"]["engine"] == "mariadb" and biggest["gtid"] and biggest["xid"] is None
    assert [(t["table"], t["deleted"]) for t in biggest["tables"]] == [
        ("shop.users", lost["users"])
    ]
    shown = _rendered(result)
    assert "Found in the binlog archive" in shown and f"--incident-gtid {biggest['gtid']}" in shown
    assert f"GTID {biggest['gtid']}, inclusive" in shown
    assert result["reapply"]["executed"] is False
    assert all(c["status"] == "PASS" for c in result["repair_check"])
    assert result["repair_again"]["tables"][0]["inserted"] == 0
    assert result["drill_seconds"] < 60
    leftovers = [p for p in sandbox_root().iterdir() if not p.name.startswith(".")]
    assert leftovers == []


def test_demo_rejects_unknown_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = cli(["demo", "--engine", "oracle"], capsys)
    assert code == 2
