"""`restoredrill verify` and `restoredrill manifest` end to end: exit codes, stdout/stderr,
the ledger. Runs ``restoredrill.cli.app.main`` in-process against real clusters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.cli.app import main
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, free_port, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.ledger import Ledger


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def _populate(cluster: LocalPostgres) -> None:
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE public.orders (id int PRIMARY KEY, total numeric)")
        conn.execute("INSERT INTO public.orders SELECT g, g * 1.10 FROM generate_series(1, 100) g")
        conn.execute('CREATE SCHEMA "My Schema"')
        conn.execute('CREATE TABLE "My Schema"."we""ird Table" (v text)')
        conn.execute("""INSERT INTO "My Schema"."we""ird Table" VALUES (NULL), (''), ('')""")


@pytest.fixture
def db(pg_cluster: LocalPostgres) -> LocalPostgres:
    _populate(pg_cluster)
    return pg_cluster


@pytest.fixture
def twin(db: LocalPostgres) -> str:
    """A copy of ``db``'s database on the same server (verify refuses a database against
    itself: the restored side must be another database or server)."""
    with db.connect() as conn:
        conn.autocommit = True
        conn.execute("CREATE DATABASE twin TEMPLATE postgres")
    return db.dsn("twin")


@pytest.fixture
def second_pg_cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-second", tools=pg_tools) as cluster:
        cluster.initdb()
        cluster.start()
        yield cluster


def test_verify_pass_json_is_one_document(
    db: LocalPostgres, twin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    code, out, err = run(capsys, "verify", db.dsn(), twin, "--json", "--ledger", str(ledger))
    assert code == 0, err
    document = json.loads(out)
    assert document["status"] == "PASS"
    assert [t["table"] for t in document["tables"]] == ['My Schema.we"ird Table', "public.orders"]
    assert err == ""
    (entry,) = Ledger(ledger).entries()
    assert entry.kind == "verify" and entry.verdict == "PASS" and entry.target == "-"
    assert entry.database.endswith("/postgres")


def test_verify_text_against_manifest_pass_then_fail(
    db: LocalPostgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "prod.json"
    code, out, err = run(capsys, "manifest", db.dsn(), "--out", str(manifest))
    assert code == 0, err
    assert "public.orders" in out
    assert json.loads(manifest.read_text())["tables"]["public.orders"]["rows"] == 100

    code, out, err = run(capsys, "verify", db.dsn(), str(manifest))
    assert code == 0, err
    assert "PASS" in out and "verdict" in out

    with db.connect() as conn:
        conn.execute("UPDATE public.orders SET total = 1.1 WHERE id = 1")  # was 1.10
    # --tables: the old spelling of --table still works
    code, out, err = run(capsys, "verify", db.dsn(), str(manifest), "--tables", "orders")
    assert code == 1, err
    assert "FAIL" in out and "differs" in out
    entries = Ledger().entries()  # RESTOREDRILL_LEDGER from the test's environment
    assert [e.verdict for e in entries] == ["FAIL", "PASS"]
    assert entries[0].source == str(manifest)


def test_verify_inconclusive_then_as_of_column(
    db: LocalPostgres, second_pg_cluster: LocalPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(second_pg_cluster)
    with second_pg_cluster.connect() as conn:
        conn.execute("INSERT INTO public.orders VALUES (101, 1)")
    code, out, _ = run(capsys, "verify", db.dsn(), second_pg_cluster.dsn(), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["status"] == "INCONCLUSIVE"

    code, out, _ = run(
        capsys,
        "verify",
        db.dsn(),
        second_pg_cluster.dsn(),
        "--table",
        "orders",
        "--as-of-column",
        "orders=id",
        "--as-of",
        "2024-01-01T00:00:00Z",
        "--json",
    )
    # "id" is no time column: the comparison fails in the server → an ERROR for that table
    assert code == 3
    (table,) = json.loads(out)["tables"]
    assert table["status"] == "ERROR" and "operator does not exist" in table["detail"]


def test_usage_errors_exit_2_with_one_line(
    db: LocalPostgres, twin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["--table", "nope"], "unknown table 'nope'"),
        (["--as-of-column", "orders"], "expected TABLE=COLUMN"),
        (["--as-of-column", "orders=id", "--as-of", "2024-01-01T00:00:00"], "no timezone"),
        (["--as-of", "soon"], "not an ISO 8601 time"),
    ]
    for extra, message in cases:
        code, out, err = run(capsys, "verify", db.dsn(), twin, *extra)
        assert code == 2, (extra, err)
        assert out == ""
        assert err.count("\n") == 1 and message in err, err
    code, _, err = run(capsys, "verify", db.dsn(), str(tmp_path / "nothing.json"))
    assert code == 2 and "no such manifest file" in err

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{ not json")
    code, _, err = run(capsys, "verify", db.dsn(), str(garbage))
    assert code == 2 and err.count("\n") == 1 and "not a restoredrill manifest" in err


def test_unreachable_database_exits_3_with_one_line(
    db: LocalPostgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"host=127.0.0.1 port={free_port()} dbname=app user=app password=s3cret"
    ledger = tmp_path / "ledger.db"
    code, out, err = run(capsys, "verify", nowhere, db.dsn(), "--json", "--ledger", str(ledger))
    assert code == 3
    document = json.loads(out)  # --json: the error is a document on stdout too
    assert document["format"] == "restoredrill-error/1" and document["exit_code"] == 3
    assert document["kind"] == "DatabaseUnavailable" and "s3cret" not in out
    assert err.count("\n") == 1 and "cannot connect" in err
    assert "Traceback" not in err and "s3cret" not in err
    (entry,) = Ledger(ledger).entries()
    assert entry.verdict == "ERROR"

    code, out, err = run(capsys, "verify", db.dsn(), nowhere)
    assert code == 3 and err.count("\n") == 1 and "s3cret" not in err

    code, _, err = run(capsys, "manifest", nowhere, "--out", str(tmp_path / "m.json"))
    assert code == 3 and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()


def test_manifest_command(
    db: LocalPostgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "m.json"
    code, out, err = run(
        capsys,
        "manifest",
        db.dsn(),
        "--out",
        str(out_file),
        "--restore-point",
        "drill-1",
        "--table",
        '"My Schema"."we""ird Table"',
        "--json",
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["restore_point"] == "drill-1"
    assert document["restore_point_lsn"] is not None
    assert list(document["tables"]) == ['My Schema.we"ird Table']
    assert json.loads(out_file.read_text()) == document

    code, out, err = run(capsys, "manifest", db.dsn(), "--out", str(out_file))
    assert code == 2 and "already exists" in err and "--force" in err
    code, out, err = run(capsys, "manifest", db.dsn(), "--out", str(out_file), "--force")
    assert code == 0, err
    assert len(json.loads(out_file.read_text())["tables"]) == 2

    code, _, err = run(
        capsys, "manifest", db.dsn(), "--out", str(tmp_path / "x.json"), "--table", "x"
    )
    assert code == 2 and "unknown table 'x'" in err
