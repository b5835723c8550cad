"""MariaDB/MySQL triggers and automatic columns as reapply meets them.

There is no session switch that keeps a trigger from firing, so reapply writes in the forms
that leave the restored values alone and reads them back: columns ``ON UPDATE
CURRENT_TIMESTAMP`` are assigned explicitly in every UPDATE (an explicitly assigned column
keeps its value), and a row a BEFORE INSERT trigger rewrote is set back with a plain UPDATE
(which fires only the UPDATE triggers) before the batch commits."""

from __future__ import annotations

import re

from restoredrill.engines.mysql.driver import pymysql
from restoredrill.engines.mysql.session import MyConn, literal, schema_sql
from restoredrill.engines.names import TableName
from restoredrill.engines.triggers import Trigger


def row_triggers(conn: MyConn, table: TableName) -> list[Trigger]:
    rows = conn.rows(
        "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION FROM information_schema.TRIGGERS"
        f" WHERE EVENT_OBJECT_SCHEMA = {schema_sql(table)}"
        f" AND EVENT_OBJECT_TABLE = {literal(table.name)} ORDER BY TRIGGER_NAME"
    )
    return [
        Trigger(
            name=_text(r[0]),
            relation="",
            timing=_text(r[1]).upper(),
            events=frozenset({_text(r[2]).upper()}),
            row=True,  # MariaDB/MySQL triggers are all FOR EACH ROW
        )
        for r in rows
    ]


def stamp_columns(conn: MyConn, table: TableName) -> list[str]:
    """Columns the server stamps on every UPDATE that does not assign them."""
    rows = conn.rows(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS"
        f" WHERE TABLE_SCHEMA = {schema_sql(table)} AND TABLE_NAME = {literal(table.name)}"
        " AND LOWER(EXTRA) LIKE '%on update%' ORDER BY ORDINAL_POSITION"
    )
    return [_text(r[0]) for r in rows]


_FK = re.compile(
    r"CONSTRAINT `(?P<name>(?:[^`]|``)+)` FOREIGN KEY \((?P<cols>[^)]*)\) REFERENCES "
    r"(?P<parent>`(?:[^`]|``)+`(?:\.`(?:[^`]|``)+`)?)"
)
_CHILD = re.compile(r"child row: a foreign key constraint fails \((?P<child>[^,]+),")


def violation(exc: BaseException) -> str | None:
    """ER_NO_REFERENCED_ROW_2 (1452) as one line naming the constraint and the parent table."""
    if not isinstance(exc, pymysql.err.IntegrityError) or not exc.args or exc.args[0] != 1452:
        return None
    message = str(exc.args[1]) if len(exc.args) > 1 else ""
    found = _FK.search(message)
    child = _CHILD.search(message)
    if found is None:
        return f"a foreign key refused a row: its parent is missing ({message})"
    return (
        f"foreign key {found['name']} of {child['child'] if child else 'the table'} refused a "
        f"row: its parent is missing from {found['parent']} (columns {found['cols']})"
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["row_triggers", "stamp_columns", "violation"]
