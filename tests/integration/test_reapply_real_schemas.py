"""Reapply on a real-world schema (a trimmed Pagila, tests/data/pagila_trimmed.sql) on a real
PostgreSQL: user-defined types in several schemas (domain, enum, composite), payment
partitioned by month with its foreign keys declared on the partitions, last_update and
tsvector triggers, a generated column. An incident deletes customers with their rentals and
payments (across partitions) and edits films; reapply --execute puts every row back
byte-identical, parents first, a rerun changes nothing and verify is clean."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from restoredrill.drill.diff import diff_tables, make_document, write_diff
from restoredrill.drill.verify import verify
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import VerifyStatus
from tests.diffhelp import Pair, all_text, new_pair
from tests.pgsetup import run_cli

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "pagila_trimmed.sql"
TABLES = ["payment", "rental", "customer", "film"]  # children listed before parents on purpose
LOST_CUSTOMERS = (5, 6, 7, 55)


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-reapply-real", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pagila(cluster: LocalPostgres) -> Pair:
    """The fixture in both databases ("restored" is the twin copy); then the incident in
    production: customers deleted with their rentals and payments, films and a customer
    edited (the last_updated triggers stamp them)."""
    made = new_pair(cluster)
    script = FIXTURE.read_text(encoding="utf-8")
    made.both(script)
    made.run(
        made.production,
        "DELETE FROM payment WHERE customer_id IN (5, 6, 7, 55)",  # LOST_CUSTOMERS
        "DELETE FROM rental WHERE customer_id IN (5, 6, 7, 55)",  # LOST_CUSTOMERS
        "DELETE FROM customer WHERE customer_id IN (5, 6, 7, 55)",  # LOST_CUSTOMERS
        "UPDATE film SET rental_rate = 0.49, rating = 'NC-17' WHERE film_id IN (1, 2, 3)",
        "UPDATE customer SET email = NULL, contact = ROW('0', '0') WHERE customer_id = 10",
    )
    return made


def _diff_file(pair: Pair, tmp_path: Path, tables: list[str]) -> Path:
    restored, production, results = diff_tables(pair.restored, pair.production, tables)
    out = tmp_path / "pagila.json"
    write_diff(make_document("production", restored, production, results, None), out)
    return out


def _columns(dsn: str, table: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum",
            (f"public.{table}",),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _rows(dsn: str, table: str) -> list[tuple[str | None, ...]]:
    columns = _columns(dsn, table)  # every column, the generated one included
    found = all_text(dsn, sql.Identifier("public", table), columns)
    return sorted(tuple(r[c] for c in columns) for r in found)


def _reapply(diff_file: Path, dsn: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(["reapply", str(diff_file), "--to", dsn, "--json", *extra])
    document = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, document, done.stderr


def test_pagila_incident_is_put_back_byte_identical(pagila: Pair, tmp_path: Path) -> None:
    out = _diff_file(pagila, tmp_path, TABLES)
    before = {t: _rows(pagila.restored, t) for t in TABLES}
    assert before["payment"] != _rows(pagila.production, "payment")

    code, dry, err = _reapply(out, pagila.production)
    assert code == 0, err
    order = [t["table"] for t in dry["tables"]]
    # FKs on the payment partitions order payment after customer and rental
    assert (
        order.index("public.customer")
        < order.index("public.rental")
        < order.index("public.payment")
    )
    film = next(t for t in dry["tables"] if t["table"] == "public.film")
    notes = " ".join(film["notes"])
    assert "last_updated (BEFORE UPDATE)" in notes and "film_fulltext_trigger" in notes
    assert "session_replication_role = replica" in notes and "foreign-key" in notes
    assert _rows(pagila.production, "customer") != before["customer"]  # dry run wrote nothing

    code, done, err = _reapply(out, pagila.production, "--execute", "--batch-size", "7")
    assert code == 0, err
    assert done["conflicts"] == []
    for table in TABLES:
        assert _rows(pagila.production, table) == before[table], table

    code, again, err = _reapply(out, pagila.production, "--execute")
    assert code == 0, err
    plans = again["tables"]
    assert sum(p["inserted"] + p["updated"] + p["conflicts"] for p in plans) == 0
    assert sum(p["already"] for p in plans) == sum(
        p["selected_lost"] + p["selected_changed"] for p in plans
    )

    report = verify(pagila.restored, pagila.production)  # every table, archive aside
    assert report.status == VerifyStatus.PASS, report


def test_rows_a_trigger_rewrites_are_reported_when_triggers_must_fire(
    pagila: Pair, tmp_path: Path
) -> None:
    """A role that may not set session_replication_role (and whose search_path prints
    extra.contact unqualified): the film rows reverted are stamped by last_updated, so they
    are reported as rewritten by it (exit 1), never as success; the lost customers (no INSERT
    trigger, a composite column) go back as restored."""
    pagila.run(
        pagila.production,
        "CREATE ROLE clerk LOGIN",
        # types print unqualified under this path (extra.contact as "contact"): compared by
        # identity, the diff's "extra.contact" is the same type
        "ALTER ROLE clerk SET search_path = extra, public",
        "GRANT USAGE ON SCHEMA extra TO clerk",
        "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO clerk",
        sql.SQL("GRANT CREATE ON DATABASE {} TO clerk").format(
            sql.Identifier(pagila.production_db)
        ),
    )
    out = _diff_file(pagila, tmp_path, ["customer", "film"])
    clerk = pagila.cluster.dsn(pagila.production_db, user="clerk")
    code, dry, err = _reapply(out, clerk)
    assert code == 0, err
    film = next(t for t in dry["tables"] if t["table"] == "public.film")
    assert any("may rewrite the rows written" in n and "last_updated" in n for n in film["notes"])

    code, done, err = _reapply(out, clerk, "--execute")
    assert code == 1, err
    reasons = [c["reason"] for c in done["conflicts"] if c["table"] == "public.film"]
    assert len(reasons) == 3
    assert all(r.startswith("rewritten by trigger ") for r in reasons), reasons
    assert all("last_updated" in r and ": last_update not as restored" in r for r in reasons)
    customers = {r[0] for r in _rows(pagila.production, "customer")}
    assert {str(c) for c in LOST_CUSTOMERS} <= customers
    pagila.run(pagila.production, "DROP OWNED BY clerk", "DROP ROLE clerk")


def test_a_missing_parent_row_is_a_data_problem_naming_the_key(
    pagila: Pair, tmp_path: Path
) -> None:
    """payment alone: its rows reference customers and rentals that are lost too. The
    foreign key declared on the partition refuses the batch: exit 1, one line naming the
    constraint and the parent table; nothing of the batch is written."""
    out = _diff_file(pagila, tmp_path, ["payment"])
    before = _rows(pagila.production, "payment")
    code, _, err = _reapply(out, pagila.production, "--execute")
    assert code == 1, err
    line = err.strip().splitlines()[-1]
    assert re.search(
        r"foreign key payment_p2022_0\d_(customer|rental)_id_fkey of public\.payment_p2022_0\d "
        r"refused a row: its parent is missing from public\.(customer|rental) \(Key ",
        line,
    ), line
    assert _rows(pagila.production, "payment") == before


def test_replica_mode_still_checks_foreign_keys(
    pagila: Pair, tmp_path: Path, pg_tools: PgTools
) -> None:
    """rental 20 is reverted (an UPDATE: last_updated would stamp it, so batches run as
    replica, where PostgreSQL's own FK triggers are off) to a customer that is gone:
    reapply's own check stops the batch, exit 1, naming the key and the parent."""
    pagila.run(pagila.restored, "UPDATE rental SET customer_id = 6 WHERE rental_id = 20")
    out = _diff_file(pagila, tmp_path, ["rental"])
    code, _, err = _reapply(out, pagila.production, "--execute", "--only", "changed")
    assert code == 1, err
    line = err.strip().splitlines()[-1]
    assert "foreign key rental_customer_id_fkey of public.rental: no row (customer_id=6)" in line
    assert "parent table public.customer" in line
    # the reviewable script runs as replica too, so it checks the parents itself: psql stops
    script = Path(str(out).removesuffix(".json") + ".reapply.sql")
    text = script.read_text()
    assert "SET LOCAL session_replication_role = 'replica'" in text
    assert "DO $restoredrill$" in text
    psql = [pg_tools.path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pagila.production]
    done = subprocess.run([*psql, "-f", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "restoredrill: foreign key rental_customer_id_fkey of public.rental" in done.stderr


def test_a_foreign_key_cycle_among_the_tables_to_write_is_refused(
    cluster: LocalPostgres, tmp_path: Path
) -> None:
    pair = new_pair(cluster)
    pair.both(
        "CREATE TABLE hen (id int PRIMARY KEY, egg_id int)",
        "CREATE TABLE egg (id int PRIMARY KEY, hen_id int REFERENCES hen)",
        "ALTER TABLE hen ADD FOREIGN KEY (egg_id) REFERENCES egg",
        "INSERT INTO hen VALUES (1, NULL), (2, NULL)",
        "INSERT INTO egg VALUES (1, 1), (2, 2)",
    )
    pair.run(pair.production, "DELETE FROM egg WHERE id = 2", "DELETE FROM hen WHERE id = 2")
    out = _diff_file(pair, tmp_path, ["egg", "hen"])
    code, _, err = _reapply(out, pair.production, "--execute")
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert "foreign keys form a cycle among the tables with lost rows to insert" in line
    assert "public.egg → public.hen → public.egg" in line
