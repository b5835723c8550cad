"""PostgreSQL triggers as reapply meets them: the user triggers on a table and on every
relation below it (partitions, inheritance children — a row routed into a partition fires the
partition's triggers), and whether this session may keep them from firing with
``SET LOCAL session_replication_role = replica`` (superusers, or a role granted SET on it)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from restoredrill.engines.postgres.catalog import TABLE_TREE, Connection, TableName
from restoredrill.engines.triggers import Trigger

# pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h)
_ROW, _BEFORE, _INSERT, _DELETE, _UPDATE, _TRUNCATE, _INSTEAD = 1, 2, 4, 8, 16, 32, 64


def row_triggers(conn: Connection, table: TableName) -> list[Trigger]:
    """The user (not internal: constraint triggers are the foreign keys) triggers on the table
    and every relation below it, in name order."""
    rows = conn.execute(
        TABLE_TREE  # noqa: S608 (constant SQL, values are parameters)
        + """
        SELECT t.tgname,
               CASE WHEN t.tgrelid = (SELECT min(oid) FROM tree WHERE oid = t.tgrelid
                                      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                                                      WHERE i.inhrelid = t.tgrelid
                                                        AND i.inhparent IN (SELECT oid FROM tree)))
                    THEN '' ELSE t.tgrelid::pg_catalog.regclass::text END,
               t.tgtype, t.tgenabled::text
        FROM pg_catalog.pg_trigger t
        WHERE t.tgrelid IN (SELECT oid FROM tree) AND NOT t.tgisinternal
          -- a partition's clone of its parent's trigger is the parent's trigger
          AND t.tgparentid = 0
        ORDER BY t.tgname, 2
        """,
        (table.schema, table.name),
    ).fetchall()
    return [_trigger(r) for r in rows]


def _trigger(row: Any) -> Trigger:
    kind = int(row[2])
    events = {
        name
        for bit, name in ((_INSERT, "INSERT"), (_UPDATE, "UPDATE"), (_DELETE, "DELETE"))
        if kind & bit
    }
    if kind & _TRUNCATE:
        events.add("TRUNCATE")
    timing = "INSTEAD OF" if kind & _INSTEAD else "BEFORE" if kind & _BEFORE else "AFTER"
    return Trigger(
        name=str(row[0]),
        relation=str(row[1]),
        timing=timing,
        events=frozenset(events),
        row=bool(kind & _ROW),
        enabled=str(row[3]),
    )


def may_skip_triggers(conn: Connection) -> bool:
    """May this role SET session_replication_role (a superuser-only setting, grantable from
    PostgreSQL 15 on with GRANT SET ON PARAMETER)?"""
    row = conn.execute(
        "SELECT r.rolsuper, pg_catalog.current_setting('server_version_num')::int"
        " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user"
    ).fetchone()
    if row is None:
        return False
    if bool(row[0]):
        return True
    if int(row[1]) < 150000:
        return False
    granted = conn.execute(
        "SELECT pg_catalog.has_parameter_privilege('session_replication_role', 'SET')"
    ).fetchone()
    return bool(granted and granted[0])


def skip_triggers() -> list[sql.Composed]:
    """Per batch (LOCAL: ends with the transaction): ordinary triggers do not fire, and neither
    do the foreign-key triggers — reapply checks the written rows' parents itself."""
    return [sql.SQL("SET LOCAL session_replication_role = {}").format(sql.Literal("replica"))]


__all__ = ["may_skip_triggers", "row_triggers", "skip_triggers"]
