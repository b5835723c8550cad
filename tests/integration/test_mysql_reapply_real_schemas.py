"""Reapply on a real-world schema on a real MariaDB: a trimmed Sakila
(tests/data/sakila_trimmed.sql) with ENUM/SET/YEAR columns, ON UPDATE CURRENT_TIMESTAMP
stamps, Sakila's BEFORE INSERT triggers that set create_date / rental_date / payment_date to
NOW(), a store <-> staff foreign-key cycle and a generated column. An incident deletes
customers with their rentals and payments and edits films; reapply --execute puts every row
back byte-identical (the rows a trigger rewrote are set back before commit), parents first;
a rerun changes nothing and verify is clean."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restoredrill.drill.diff import diff_tables, make_document, write_diff
from restoredrill.drill.verify import verify
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.models import VerifyStatus
from tests.mysqlsetup import run_pinned as _run
from tests.pgsetup import run_cli

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "sakila_trimmed.sql"
TABLES = ["payment", "rental", "customer", "film"]  # children listed before parents on purpose
INCIDENT = (
    "DELETE FROM payment WHERE customer_id IN (5, 6, 7, 55)",
    "DELETE FROM rental WHERE customer_id IN (5, 6, 7, 55)",
    "DELETE FROM customer WHERE customer_id IN (5, 6, 7, 55)",
    "UPDATE film SET rental_rate = 0.49, rating = 'NC-17' WHERE film_id IN (1, 2, 3)",
    "UPDATE customer SET email = NULL WHERE customer_id = 10",
)
_names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMySQL]:
    with local_mysql("test-mysql-reapply-real") as instance:
        instance.init_datadir()
        instance.start(init_file=False)
        yield instance


def _statements() -> list[str]:
    text = "\n".join(
        line
        for line in FIXTURE.read_text(encoding="utf-8").splitlines()
        if not line.startswith("--")
    )
    return [s.strip() for s in re.split(r";\s*\n", text) if s.strip()]


@pytest.fixture
def sakila(server: LocalMySQL) -> tuple[str, str]:
    """(restored, production) DSNs: the fixture loaded in both, the incident in production."""
    n = next(_names)
    restored, production = f"sakila_restored_{n}", f"sakila_production_{n}"
    conn = server.connect()
    try:
        for name in (restored, production):
            conn.run(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    finally:
        conn.close()
    for name in (restored, production):
        _run(server.dsn(name), *_statements())
    _run(server.dsn(production), *INCIDENT)
    return server.dsn(restored), server.dsn(production)


def _rows(dsn: str, table: str) -> list[tuple[object, ...]]:
    conn = my.connect(dsn)
    try:
        my.pin_session(conn)
        columns = [str(r[0]) for r in conn.rows(f"SHOW COLUMNS FROM `{table}`")]
        texts = ", ".join(f"HEX(CAST(`{c}` AS CHAR))" for c in columns)
        return sorted(conn.rows(f"SELECT {texts} FROM `{table}`"), key=repr)
    finally:
        conn.close()


def _diff_file(restored: str, production: str, tmp_path: Path, tables: list[str]) -> Path:
    restored_id, production_id, results = diff_tables(restored, production, tables)
    out = tmp_path / "sakila.json"
    write_diff(make_document("production", restored_id, production_id, results, None), out)
    return out


def _reapply(diff_file: Path, dsn: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(["reapply", str(diff_file), "--to", dsn, "--json", *extra])
    document = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, document, done.stderr


def test_sakila_incident_is_put_back_byte_identical(
    sakila: tuple[str, str], tmp_path: Path
) -> None:
    restored, production = sakila
    out = _diff_file(restored, production, tmp_path, TABLES)
    before = {t: _rows(restored, t) for t in TABLES}

    code, dry, err = _reapply(out, production)
    assert code == 0, err
    plans = {t["table"]: t for t in dry["tables"]}
    order = list(plans)
    assert order.index("customer") < order.index("rental") < order.index("payment")
    notes = " ".join(plans["customer"]["notes"])
    assert "customer_create_date (BEFORE INSERT)" in notes and "set back" in notes
    assert "last_update assigned explicitly" in " ".join(plans["film"]["notes"])

    code, done, err = _reapply(out, production, "--execute", "--batch-size", "7")
    assert code == 0, (err, done.get("conflicts"))
    for table in TABLES:
        assert _rows(production, table) == before[table], table

    code, again, err = _reapply(out, production, "--execute")
    assert code == 0, err
    tables = again["tables"]
    assert sum(p["inserted"] + p["updated"] + p["conflicts"] for p in tables) == 0

    report = verify(restored, production)  # every table
    assert report.status == VerifyStatus.PASS, report


def test_a_missing_parent_row_is_a_data_problem(sakila: tuple[str, str], tmp_path: Path) -> None:
    restored, production = sakila
    out = _diff_file(restored, production, tmp_path, ["payment"])
    before = _rows(production, "payment")
    code, _, err = _reapply(out, production, "--execute")
    assert code == 1, err
    line = err.strip().splitlines()[-1]
    assert re.search(
        r"foreign key fk_payment_(customer|rental) of \S+ refused a row: its parent is missing "
        r"from `(customer|rental)`",
        line,
    ), line
    assert _rows(production, "payment") == before


def test_the_store_staff_cycle_is_refused_by_name(sakila: tuple[str, str], tmp_path: Path) -> None:
    restored, production = sakila
    """Store 2 and its manager, staff 2, are both lost: each needs the other first."""
    _run(
        production,
        "SET FOREIGN_KEY_CHECKS = 0",
        "DELETE FROM store WHERE store_id = 2",
        "DELETE FROM staff WHERE staff_id = 2",
    )
    out = _diff_file(restored, production, tmp_path, ["staff", "store"])
    code, _, err = _reapply(out, production, "--execute")
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert "foreign keys form a cycle among the tables with lost rows to insert" in line
    assert "staff → store → staff" in line


def test_a_before_update_trigger_that_rewrites_is_reported_by_name(
    sakila: tuple[str, str], tmp_path: Path
) -> None:
    """A BEFORE UPDATE trigger stamping a column overrides even an explicit assignment: the
    reverted film rows cannot be written as restored, so each is reported as rewritten by
    that trigger (exit 1) — never a silent success that a rerun calls 'edited since'."""
    restored, production = sakila
    _run(
        production,
        "CREATE TRIGGER film_touch BEFORE UPDATE ON film FOR EACH ROW SET NEW.last_update = NOW()",
    )
    out = _diff_file(restored, production, tmp_path, ["film"])
    code, dry, err = _reapply(out, production)
    assert code == 0, err
    assert any("film_touch (BEFORE UPDATE)" in n for n in dry["tables"][0]["notes"])
    code, done, err = _reapply(out, production, "--execute")
    assert code == 1, err
    reasons = [c["reason"] for c in done["conflicts"]]
    assert len(reasons) == 3
    assert all(r.startswith("rewritten by trigger film_touch: last_update") for r in reasons)
