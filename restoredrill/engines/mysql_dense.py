"""MariaDB/MySQL SQL of the diff's dense path (drill/diff_rows.py), the same shapes as
``postgres_dense.py``: list a range's rows as (key, row hash), then fetch whole only the rows
with the differing keys."""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.engines.mysql import ColumnInfo, quote_table, text_expr, value_sql
from restoredrill.engines.mysql_diff import _key_ref, _order, _where, range_predicate, row_hash
from restoredrill.engines.names import TableName
from restoredrill.engines.postgres_diff import KeyRange, KeyText


def hash_list_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    compared: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
) -> tuple[str, list[object]]:
    """Rows (range index, n, key text..., row hash) of every row in the ranges that matches
    ``where``, n numbering them in key order within their range."""
    texts = ", ".join(f"{text_expr(c)} AS k{n}" for n, c in enumerate(key))
    branches = [
        f"SELECT {i} AS restoredrill_i, ROW_NUMBER() OVER (ORDER BY {_order(key)}) AS rn, {texts},"
        f" {row_hash(compared)} AS h FROM {quote_table(table)} AS r"
        f" WHERE {range_predicate(key, bounds)} AND {_where(where)}"
        for i, bounds in enumerate(ranges)
    ]
    return f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS u ORDER BY 1, 2", []


def rows_by_keys_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    keys: Sequence[KeyText],
) -> tuple[str, list[object]]:
    """Rows (column text...) of the rows with these keys, whatever the diff's --where (an IN
    list on the key: range access on its index)."""
    texts = ", ".join(text_expr(c) for c in columns)
    values = []
    for row in keys:
        parts = [value_sql(c, v) for c, v in zip(key, row, strict=True)]
        values.append(parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")")
    where = f"{_key_ref(key)} IN ({', '.join(values)})"
    return f"SELECT {texts} FROM {quote_table(table)} AS r WHERE {where}", []


__all__ = ["hash_list_query", "rows_by_keys_query"]
