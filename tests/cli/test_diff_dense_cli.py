"""`restoredrill diff` on a table big enough for the dense path with its default options
(first-level ranges of more than 64 rows, most of them differing): a key that is not unique
is refused with exit 2 and one line, never compared as if it were."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from tests.diffhelp import Pair, new_pair
from tests.pgsetup import cli


@pytest.fixture(scope="module")
def cluster(pg_tools: PgTools) -> Iterator[LocalPostgres]:
    with local_postgres("test-diff-dense-cli", tools=pg_tools) as sandbox:
        sandbox.initdb()
        sandbox.start()
        yield sandbox


@pytest.fixture
def pair(cluster: LocalPostgres) -> Pair:
    made = new_pair(cluster)
    made.both(
        "CREATE TABLE d (k int NOT NULL, v text)",
        "CREATE INDEX ON d (k)",  # a btree on the key, not a unique one
        "INSERT INTO d SELECT g, 'v' || g FROM generate_series(1, 400000) g",
        "INSERT INTO d VALUES (5, 'v5')",  # the same row twice, on both sides
    )
    made.run(made.production, "DELETE FROM d WHERE k % 5 IN (1, 2) AND k <> 5")
    made.both("ANALYZE d")
    return made


def test_duplicate_key_in_a_dense_range_is_refused(
    pair: Pair, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = cli(
        ["diff", pair.restored, pair.production, "--table", "d", "--key", "k", "--json"], capsys
    )
    assert code == 2, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines[-1].endswith("the key (k) of public.d is not unique: ('5',) appears twice")
    error = json.loads(stdout)  # --json: the error as a document too
    assert error["format"] == "restoredrill-error/1" and error["exit_code"] == 2
