"""MariaDB / MySQL SQL of diff bisection over key ranges (the same shapes as PostgreSQL's
``diff_ranges.py``, behind the same ``Diffing`` role).

- Ranges are half-open ``[lo, hi)`` in key order; bounds are the key values' text forms
  turned back into typed values (``columns.value_sql``), so a BIGINT is never compared as a
  double and strings compare in the column's collation. Many ranges go into one statement
  as UNION ALL branches (no LATERAL in MariaDB), each an index range scan.
- A bucket's checksum is ``COUNT(*)`` plus the exact sum of the first 64 bits of each row's
  MD5 (of ``columns.row_text``); it only decides which ranges to look at more closely, the
  final comparison is of the rows' text forms.
"""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.engines.driver import Params
from restoredrill.engines.mysql.columns import ColumnInfo, row_text, text_expr, value_sql
from restoredrill.engines.mysql.session import (
    quote_ident,
    quote_table,
)
from restoredrill.engines.names import TableName
from restoredrill.engines.ranges import KeyRange

MAX_RANGES_PER_STATEMENT = 256


def where_clause(where: str | None) -> str:
    """The user's --where, parenthesised; TRUE without one."""
    return "TRUE" if where is None else f"({where})"


def key_ref(key: Sequence[ColumnInfo]) -> str:
    refs = [f"r.{quote_ident(c.name)}" for c in key]
    return refs[0] if len(refs) == 1 else "(" + ", ".join(refs) + ")"


def _key_value(key: Sequence[ColumnInfo], bound: Sequence[str]) -> str:
    values = [value_sql(c, v) for c, v in zip(key, bound, strict=True)]
    return values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"


def range_predicate(key: Sequence[ColumnInfo], bounds: KeyRange) -> str:
    parts = []
    if bounds.lo is not None:
        parts.append(f"{key_ref(key)} >= {_key_value(key, bounds.lo)}")
    if bounds.hi is not None:
        parts.append(f"{key_ref(key)} < {_key_value(key, bounds.hi)}")
    return " AND ".join(parts) if parts else "TRUE"


def key_order(key: Sequence[ColumnInfo]) -> str:
    return ", ".join(f"r.{quote_ident(c.name)}" for c in key)


def range_rows(
    table: TableName, key: Sequence[ColumnInfo], bounds: KeyRange, where: str | None
) -> str:
    """`` FROM <table> AS r WHERE <in the range> AND <the user's --where>``."""
    return (
        f" FROM {quote_table(table)} AS r"
        f" WHERE {range_predicate(key, bounds)} AND {where_clause(where)}"
    )


def row_hash(columns: Sequence[ColumnInfo]) -> str:
    return f"CAST(CONV(SUBSTRING(MD5({row_text(list(columns))}), 1, 16), 16, 10) AS UNSIGNED)"


def checksum_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    compared: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
) -> tuple[str, Params]:
    """Rows (range index, count, checksum) for every range, in one statement."""
    branches = [
        f"SELECT {i} AS restoredrill_i, COUNT(*) AS n, COALESCE(SUM({row_hash(compared)}), 0) AS h"
        + range_rows(table, key, bounds, where)
        for i, bounds in enumerate(ranges)
    ]
    return " UNION ALL ".join(branches), []


def boundaries_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
    steps: Sequence[int],
) -> tuple[str, Params]:
    """Rows (range index, n, key text...) of every ``steps[i]``-th row of range i in key order."""
    texts = ", ".join(f"{text_expr(c)} AS k{n}" for n, c in enumerate(key))
    outs = ", ".join(f"x.k{n}" for n in range(len(key)))
    branches = []
    for i, (bounds, step) in enumerate(zip(ranges, steps, strict=True)):
        step = max(1, int(step))
        branches.append(
            f"SELECT {i} AS restoredrill_i, x.rn DIV {step} AS n, {outs} FROM (SELECT {texts},"
            f" ROW_NUMBER() OVER (ORDER BY {key_order(key)}) AS rn"
            + range_rows(table, key, bounds, where)
            + f") AS x WHERE MOD(x.rn, {step}) = 0"
        )
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS u ORDER BY 1, 2", []


def fetch_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
) -> tuple[str, Params]:
    """Rows (range index, n, column text...) of every row in the ranges, in key order."""
    texts = ", ".join(f"{text_expr(c)} AS c{n}" for n, c in enumerate(columns))
    numbered = f"ROW_NUMBER() OVER (ORDER BY {key_order(key)}) AS rn"
    branches = [
        f"SELECT {i} AS restoredrill_i, {numbered}, {texts}" + range_rows(table, key, bounds, where)
        for i, bounds in enumerate(ranges)
    ]
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS u ORDER BY 1, 2", []
