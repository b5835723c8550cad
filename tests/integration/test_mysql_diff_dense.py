"""The diff's dense path on a real MariaDB: the same rows as the plain bisection, with a
composite key whose texts hold the listing's separators, NULLs, 40 % of the rows gone, and
--where matching on either side."""

from __future__ import annotations

import json

import pytest

from restoredrill.drill.diff import DiffOptions, diff
from restoredrill.models import RowDiff
from tests.integration.test_mysql_diff import Pair, pair, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

DENSE = DiffOptions(
    fetch_threshold=4, first_level_buckets=64, max_fanout=8, dense_chunk_rows=400,
    fetch_chunk_rows=300,
)  # fmt: skip
BISECT = DiffOptions(fetch_threshold=4, first_level_buckets=64, max_fanout=8, dense_fraction=2.0)


def _rows(result: RowDiff) -> tuple[object, ...]:
    """The rows found, in a canonical order: both paths sort by key range then position,
    but with --where a changed row can take its position from either side's listing."""
    return (
        sorted(json.dumps(r, sort_keys=True) for r in result.lost),
        sorted(json.dumps(r, sort_keys=True) for r in result.new),
        sorted(json.dumps(c.model_dump(), sort_keys=True) for c in result.changed),
    )


@pytest.mark.parametrize("where", [None, "note IS NULL"], ids=["all", "where"])
def test_dense_equals_bisection(pair: Pair, where: str | None) -> None:  # noqa: F811
    pair.both(
        "CREATE TABLE t (region VARCHAR(20) NOT NULL, id INT NOT NULL, v DECIMAL(10, 2) NULL,"
        " note VARCHAR(20) NULL, PRIMARY KEY (region, id))",
        "INSERT INTO t SELECT ELT(1 + seq % 6, 'a', 'B', ' z', 'x\\\\y', 't\\tab', 'n\\nl'),"
        " seq, IF(seq % 7 = 0, NULL, seq * 1.5), IF(seq % 4 = 0, NULL, CONCAT('n', seq))"
        " FROM seq_1_to_2000",
    )
    pair.run(
        pair.production,
        "DELETE FROM t WHERE id % 5 IN (1, 2)",
        "UPDATE t SET v = NULL WHERE id % 50 = 3",
        "UPDATE t SET note = NULL WHERE id % 50 = 9",  # matches --where in production only
        "UPDATE t SET note = 'set' WHERE id % 40 = 8",  # matched in the restored db only
        "INSERT INTO t SELECT 'new', seq, NULL, NULL FROM seq_1_to_30",
    )
    dense = diff(pair.restored, pair.production, "t", where=where, options=DENSE).tables[0]
    plain = diff(pair.restored, pair.production, "t", where=where, options=BISECT).tables[0]
    assert dense.stats is not None and dense.stats.dense_ranges > 0
    assert plain.stats is not None and plain.stats.dense_ranges == 0
    assert _rows(dense) == _rows(plain)
    deleted = [i for i in range(1, 2001) if i % 5 in (1, 2)]
    if where is None:
        assert dense.counts.lost == len(deleted) and dense.counts.new == 30
    else:
        assert dense.counts.lost == len([i for i in deleted if i % 4 == 0])
        changed = {int(str(c.restored["id"])) for c in dense.changed}
        assert {i for i in range(1, 2001) if i % 40 == 8 and i % 5 not in (1, 2)} <= changed
        assert {i for i in range(1, 2001) if i % 50 == 9 and i % 4 != 0} <= changed
    texts = {str(r["region"]) for r in dense.lost} | {
        str(c.restored["region"]) for c in dense.changed
    }
    assert {"x\\y", "t\tab", "n\nl"} <= texts


def test_extreme_doubles_are_listed_whole_on_both_paths(pair: Pair) -> None:  # noqa: F811
    """A double's text is typed 22 characters long by the server; GROUP_CONCAT (the dense
    listing) cut '-2.2250738585072014e-308' to '-2.2250738585072014e-3'."""
    pair.both(
        "CREATE TABLE dbl (k DOUBLE NOT NULL PRIMARY KEY, v DOUBLE NULL, f FLOAT NULL)",
        "INSERT INTO dbl SELECT -seq * 1.2345678901234567e-300, -2.2250738585072014e-308,"
        " -1.17549435e-38 FROM seq_1_to_200",
    )
    pair.run(pair.production, "DELETE FROM dbl WHERE k < -1.2345678901234567e-298")
    for options in (DENSE, BISECT):
        found = diff(pair.restored, pair.production, "dbl", options=options).tables[0]
        assert found.counts.lost > 0
        for row in found.lost:
            assert row["v"] == "-2.2250738585072014e-308"
            assert row["f"] == "-1.1754943508222875e-38"
            assert str(row["k"]).endswith("e-298")  # every deleted key is -1.2e-298 to -2.5e-298
