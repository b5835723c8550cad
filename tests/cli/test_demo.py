"""The README's main command: `restoredrill demo` runs end to end on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.pgsetup import sandbox_dirs


def test_demo_runs_end_to_end(tmp_path: Path, sandbox_dir: Path) -> None:
    sandboxes = sandbox_dir
    ledger = tmp_path / "ledger.db"
    env = {
        **os.environ,
        "RESTOREDRILL_SANDBOX_DIR": str(sandboxes),
        "RESTOREDRILL_LEDGER": str(ledger),
    }
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verify"]["status"] == "PASS"
    lost = {row["table"]: row["rows_lost"] for row in result["incident_cost"]}
    assert lost["public.users"] > 0 and lost["public.orders"] > 0
    # the incident was found in the WAL archive: the biggest transaction is the DELETE, and
    # it deleted exactly the rows the incident cost (users, and their orders by cascade)
    biggest = result["found"]["incidents"][0]
    deleted = {t["table"]: t["deleted"] for t in biggest["tables"]}
    assert deleted == lost
    assert all(t["inserted"] == t["updated"] == 0 for t in biggest["tables"])
    diffed = {t["table"]: t["counts"]["lost"] for t in result["incident_diff"]}
    assert diffed == lost
    phases = [p["name"] for p in result["restore"]["phases"]]
    assert phases == [
        "plan",
        "provision",
        "restore base",
        "fetch WAL",
        "replay WAL",
        "promote/ready",
    ]
    assert result["restore"]["rpo_seconds"] is not None
    # Everything the demo started is gone, and the drill is in the ledger.
    assert sandbox_dirs(sandboxes) == []  # (a detached rm may still be deleting one)
    history = subprocess.run(
        [sys.executable, "-m", "restoredrill", "history", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    document = json.loads(history.stdout)
    assert document["format"] == "restoredrill-history/1"
    entries = document["entries"]
    assert entries[0]["kind"] == "drill" and entries[0]["verdict"] == "PASS"


def test_demo_text_output_tells_the_story(tmp_path: Path, sandbox_dir: Path) -> None:
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
    for phrase in (
        "coalesce(last_login, 'epoch')",
        "RTO",
        "RPO",
        "PASS",
        "rows lost",
        "Found in the WAL archive",
        "--incident-xid",
        "Next:",
    ):
        assert phrase in done.stdout
