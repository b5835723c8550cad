"""doctor looks at the real machine: what it finds here is what the suite itself needs."""

from __future__ import annotations

from pathlib import Path

from restoredrill.doctor import diagnose


def test_doctor_sees_this_machines_tools_and_its_ledger(tmp_path: Path) -> None:
    report = diagnose(tmp_path / "ledger.db")
    found = {f.subject: f for f in report.findings}
    assert found["PostgreSQL server"].status == "ok"  # the suite runs real PostgreSQL
    assert found["pg_waldump"].status == "ok"
    assert str(tmp_path / "ledger.db") in found["ledger"].detail
    assert "sandbox directory" in found and "Docker" in found
    assert all(f.detail and "\n" not in f.detail for f in report.findings)  # one line each
    assert report.ok


def test_doctor_names_a_ledger_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    report = diagnose(tmp_path / "dir")  # a directory, not a SQLite file
    ledger = next(f for f in report.findings if f.subject == "ledger")
    assert ledger.status == "problem" and "cannot open the ledger" in ledger.detail
    assert not report.ok


def test_doctor_and_version_through_the_cli(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    exe = [sys.executable, "-m", "restoredrill"]
    done = subprocess.run([*exe, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("restoredrill ")
    ledger = str(tmp_path / "l.db")
    done = subprocess.run(
        [*exe, "doctor", "--ledger", ledger, "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["format"] == "restoredrill-doctor/1"
    assert any(f["subject"] == "ledger" for f in document["findings"])
