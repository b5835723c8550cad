"""The diff and reapply commands: exit codes, one JSON document, CSV, one-line errors, and
no password anywhere in the output."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.ledger import Ledger
from tests.diffhelp import Pair, new_pair
from tests.pgsetup import cli

SECRET = "s3cret-pw"


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-diff-cli", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pair(cluster: LocalPostgres) -> Pair:
    made = new_pair(cluster)
    made.both(
        "CREATE TABLE items (id int PRIMARY KEY, label text, price numeric)",
        "INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 50) g",
        "CREATE TABLE loose (v text)",
    )
    made.run(
        made.production, "DELETE FROM items WHERE id = 5", "UPDATE items SET price = 0 WHERE id = 6"
    )
    return made


def _secret(dsn: str) -> str:
    """The same DSN with a password (the private socket trusts, so it is never checked)."""
    return f"{dsn} password={SECRET}"


def test_diff_exit_codes_and_formats(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    restored, production = _secret(pair.restored), _secret(pair.production)
    out = tmp_path / "items.json"
    code, stdout, stderr = cli(
        ["diff", restored, production, "--table", "items", "--out", str(out), "--json"], capsys
    )
    assert code == 1, stderr
    document = json.loads(stdout)  # exactly one JSON document
    assert document["tables"][0]["counts"] == {"lost": 1, "new": 0, "changed": 1}
    assert json.loads(out.read_text())["tables"][0]["counts"]["lost"] == 1
    assert SECRET not in stdout + stderr + out.read_text()

    code, stdout, _ = cli(
        ["diff", restored, production, "--table", "items", "--format", "csv"], capsys
    )
    assert code == 1
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0] == ["table", "class", "id", "label", "price", "changed_columns"]
    assert ["public.items", "lost", "5", "item 5", "5", ""] in rows
    assert ["public.items", "changed-production", "6", "item 6", "0", "price"] in rows

    code, stdout, _ = cli(["diff", restored, production, "--table", "items"], capsys)
    assert code == 1 and "1 lost, 0 new, 1 changed" in stdout and SECRET not in stdout

    # production against itself would find nothing, always: refused
    code, stdout, stderr = cli(["diff", restored, restored, "--table", "items"], capsys)
    assert code == 2 and stdout == "" and stderr.count("\n") == 1
    assert "is the reference itself" in stderr and SECRET not in stderr

    code, stdout, _ = cli(["diff", restored, production, "--table", "loose"], capsys)
    assert code == 2 and "cannot diff public.loose by key" in stdout
    assert "no differences" not in stdout and "verdict: not compared (no key" in stdout

    code, stdout, stderr = cli(["diff", restored, production, "--table", "nope"], capsys)
    assert code == 2 and stdout == ""
    assert stderr.startswith("restoredrill: error: unknown table") and stderr.count("\n") == 1


def test_reapply_exit_codes(pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    restored, production = _secret(pair.restored), _secret(pair.production)
    out = tmp_path / "items.json"
    assert (
        cli(["diff", restored, production, "--table", "items", "--out", str(out)], capsys)[0] == 1
    )

    code, stdout, stderr = cli(["reapply", str(out), "--to", production], capsys)
    assert code == 0, stderr
    assert "dry run" in stdout and "would insert 1, update 1" in stdout
    assert (tmp_path / "items.reapply.sql").is_file() and SECRET not in stdout

    code, stdout, stderr = cli(["reapply", str(out), "--to", restored], capsys)
    assert code == 2 and stdout == ""
    assert "restored database of this diff" in stderr and stderr.count("\n") == 1
    assert SECRET not in stderr

    code, _, stderr = cli(
        ["reapply", str(out), "--to", production, "--execute", "--max-rows", "1"], capsys
    )
    assert code == 2 and "ceiling" in stderr

    code, _, stderr = cli(["reapply", str(out), "--to", production, "--only", "some"], capsys)
    assert code == 2
    code, _, stderr = cli(
        ["reapply", str(out), "--to", production, "--lock-timeout", "1 x"], capsys
    )
    assert code == 2 and "--lock-timeout" in stderr

    pair.run(pair.production, "UPDATE items SET price = 7 WHERE id = 6")  # edited since
    ledger = tmp_path / "ledger.db"
    execute = ["--execute", "--json", "--batch-size", "1", "--ledger", str(ledger)]
    code, stdout, stderr = cli(["reapply", str(out), "--to", production, *execute], capsys)
    assert code == 1, stderr  # a conflict was skipped
    report = json.loads(stdout)
    assert report["executed"] and report["batches"] == 2
    assert [t["inserted"] for t in report["tables"]] == [1]
    assert report["conflicts"][0]["key"] == {"id": "6"}
    assert SECRET not in stdout + stderr
    with Ledger(ledger) as history:  # --ledger: the write is on record there
        (entry,) = history.entries()
    assert (entry.kind, entry.verdict) == ("reapply", "CONFLICTS")
