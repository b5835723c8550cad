"""Every --json document names its format; lists are wrapped, never bare arrays; an error
with --json is also a document on stdout (besides the one line on stderr)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pgsetup import cli


def test_error_with_json_prints_an_error_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    code, out, err = cli(["drill", str(missing), "--json"], capsys)
    assert code == 2
    assert err.startswith("restoredrill: error: ") and err.count("\n") == 1
    document = json.loads(out)
    assert document == {
        "format": "restoredrill-error/1",
        "error": err.removeprefix("restoredrill: error: ").strip(),
        "exit_code": 2,
        "kind": document["kind"],
    }
    assert document["kind"] == "ConfigError" and str(missing) in document["error"]


def test_error_without_json_leaves_stdout_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(["drill", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    # the flag of one invocation does not leak into the next
    code, out, _ = cli(["drill", str(tmp_path / "missing.yaml"), "--json"], capsys)
    assert json.loads(out)["exit_code"] == 2
    code, out, _ = cli(["drill", str(tmp_path / "missing.yaml")], capsys)
    assert out == ""


def test_history_is_a_named_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["history", "--ledger", str(tmp_path / "l.db"), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"format": "restoredrill-history/1", "entries": []}


def test_sandbox_list_is_a_named_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sandboxes"
    root.mkdir()
    code, out, err = cli(["sandbox", "list", "--root", str(root), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"format": "restoredrill-sandboxes/1", "sandboxes": []}
