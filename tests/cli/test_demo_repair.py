"""`restoredrill demo --repair`: the incident's rows are put back and production checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.pgsetup import sandbox_dirs


def test_demo_repair_end_to_end(tmp_path: Path, sandbox_dir: Path) -> None:
    env = {
        **os.environ,
        "RESTOREDRILL_SANDBOX_DIR": str(sandbox_dir),
        "RESTOREDRILL_LEDGER": str(tmp_path / "ledger.db"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", "demo", "--repair", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    lost = {t["table"]: t["counts"] for t in result["incident_diff"]}
    cost = {row["table"]: row["rows_lost"] for row in result["incident_cost"]}
    # the exact effect of the incident: deletes only, nothing new or changed
    assert lost["public.users"] == {"lost": cost["public.users"], "new": 0, "changed": 0}
    assert lost["public.orders"] == {"lost": cost["public.orders"], "new": 0, "changed": 0}
    assert not result["reapply"]["executed"]
    repair = result["repair"]
    assert repair["executed"] and repair["conflicts"] == []
    assert sum(t["inserted"] for t in repair["tables"]) == sum(cost.values())
    again = result["repair_again"]
    assert sum(t["inserted"] + t["updated"] for t in again["tables"]) == 0
    for check in result["repair_check"]:
        assert check["status"] == "PASS"
        assert check["rows_now"] == check["rows_before_incident"]
        assert check["rows_since_after_repair"] == check["rows_since_before_repair"] > 0
    assert sandbox_dirs(sandbox_dir) == []  # (a detached rm may still be deleting one)


def test_demo_without_repair_ends_with_the_dry_run(tmp_path: Path, sandbox_dir: Path) -> None:
    env = {
        **os.environ,
        "RESTOREDRILL_SANDBOX_DIR": str(sandbox_dir),
        "RESTOREDRILL_LEDGER": str(tmp_path / "ledger.db"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for phrase in ("Exactly what the incident did", "dry run", "would insert", "demo --repair"):
        assert phrase in done.stdout
