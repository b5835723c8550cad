"""MariaDB/MySQL SQL of the diff's dense path (drill/diff_rows.py), the same shapes as
``postgres/dense.py``: list a range's rows as (key, row hash), then fetch whole only the rows
with the differing keys."""

from __future__ import annotations

from collections.abc import Sequence

from restoredrill.engines.driver import Params
from restoredrill.engines.mysql.columns import ColumnInfo, text_expr, value_sql
from restoredrill.engines.mysql.diff_ranges import (
    key_order,
    key_ref,
    range_rows,
    row_hash,
)
from restoredrill.engines.mysql.session import quote_table
from restoredrill.engines.names import TableName
from restoredrill.engines.ranges import KeyRange, KeyText


def _escaped(text: str) -> str:
    """Backslash, tab and newline escaped (the session keeps backslash escapes on)."""
    return rf"REPLACE(REPLACE(REPLACE({text}, '\\', '\\\\'), '\t', '\\t'), '\n', '\\n')"


def hash_list_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    compared: Sequence[ColumnInfo],
    where: str | None,
    ranges: Sequence[KeyRange],
) -> tuple[str, Params]:
    """Rows (range index, row count, listing) of the ranges' rows that match ``where``; the
    listing is ``postgres/dense.hash_list_query``'s: rows in key order separated by newlines,
    each ``hash<TAB>key text...`` (escaped). It is one GROUP_CONCAT per range: the diff's
    sessions lift group_concat_max_len (``diff_session``) and the client checks the count."""
    parts = [f"CAST({row_hash(compared)} AS CHAR)"]
    parts += [_escaped(text_expr(c)) for c in key]
    element = "CONCAT(" + r", '\t', ".join(parts) + ")"
    branches = [
        f"SELECT {i} AS restoredrill_i, COUNT(*) AS n,"
        rf" GROUP_CONCAT({element} ORDER BY {key_order(key)} SEPARATOR '\n') AS l"
        + range_rows(table, key, bounds, where)
        for i, bounds in enumerate(ranges)
    ]
    return " UNION ALL ".join(branches), []


def rows_by_keys_query(
    table: TableName,
    key: Sequence[ColumnInfo],
    columns: Sequence[ColumnInfo],
    keys: Sequence[KeyText],
) -> tuple[str, Params]:
    """Rows (column text...) of the rows with these keys, whatever the diff's --where (an IN
    list on the key: range access on its index)."""
    texts = ", ".join(text_expr(c) for c in columns)
    values = []
    for row in keys:
        parts = [value_sql(c, v) for c, v in zip(key, row, strict=True)]
        values.append(parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")")
    where = f"{key_ref(key)} IN ({', '.join(values)})"
    return f"SELECT {texts} FROM {quote_table(table)} AS r WHERE {where}", []


__all__ = ["hash_list_query", "rows_by_keys_query"]
