"""reapply's --where filter on a real server: the restored rows travel as their text forms
(one JSON text per chunk) and are read as the target's column types, whatever they hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from restoredrill.engines.names import TableName
from restoredrill.engines.postgres.columns import column_info
from restoredrill.engines.postgres.reapply_sql import filter_query
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import RowValues

pytestmark = pytest.mark.slow

AWKWARD = 'say "hi"\t\\n\nnew'  # a quote, a tab, a backslash-n, a newline
ROWS: list[RowValues] = [
    {"id": "1", "t": AWKWARD, "a": "{1,2,3}", "j": '{"k": "v\\"q"}', "b": "\\x00ff",
     "ts": "2026-01-01 00:00:00+00", "n": "1.50"},
    {"id": "2", "t": "é ☃ 𝄞", "a": "{}", "j": "null", "b": "\\x", "ts": None, "n": "NaN"},
    {"id": "3", "t": None, "a": None, "j": None, "b": None, "ts": "infinity"},  # n: left out
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-reapply-filter", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        with sandbox.connect() as conn:
            conn.execute(
                "CREATE TABLE odd (id int PRIMARY KEY, t text, a int[], j jsonb, b bytea,"
                " ts timestamptz, n numeric)"
            )
        yield sandbox


@pytest.mark.parametrize(
    ("where", "chosen"),
    [
        ("t = 'say \"hi\"' || E'\\t\\\\n\\nnew'", [0]),
        ("t = 'é ☃ 𝄞'", [1]),
        ("t IS NULL AND a IS NULL AND j IS NULL AND b IS NULL AND n IS NULL", [2]),
        ("a @> ARRAY[2] AND cardinality(a) = 3", [0]),
        ("cardinality(a) = 0", [1]),
        ("j ->> 'k' = 'v\"q'", [0]),
        ("j = 'null'::jsonb", [1]),
        ("length(b) = 2 AND get_byte(b, 1) = 255", [0]),
        ("length(b) = 0", [1]),
        ("ts < now()", [0]),
        ("ts IS NULL", [1]),
        ("ts = 'infinity'", [2]),
        ("n > 1", [0, 1]),  # NaN sorts above every number in PostgreSQL
        ("TRUE", [0, 1, 2]),
    ],
)
def test_where_reads_each_text_form_as_its_column_type(
    cluster: LocalPostgres, where: str, chosen: list[int]
) -> None:
    with cluster.connect() as conn:
        columns = column_info(conn, TableName("public", "odd"))
        query, params = filter_query(columns, ROWS, where)
        rows = conn.execute(query, params).fetchall()
    assert sorted(int(str(r[0])) for r in rows) == chosen
