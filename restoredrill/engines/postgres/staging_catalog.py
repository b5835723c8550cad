"""What the set-based reapply asks PostgreSQL's catalog: may the role stage (a temporary
table), and may a trigger or rule rewrite the rows written to a table (then they are read
back one by one)."""

from __future__ import annotations

from restoredrill.engines.postgres.catalog import TABLE_TREE, Connection, TableName

_MAY_REWRITE = (
    TABLE_TREE  # noqa: S608 (constant SQL, values are parameters)
    + """
SELECT EXISTS (
    SELECT FROM pg_catalog.pg_trigger g
    LEFT JOIN pg_catalog.pg_constraint k ON k.oid = g.tgconstraint
    WHERE g.tgrelid IN (SELECT oid FROM tree)
      AND (NOT g.tgisinternal
           OR (k.conrelid IN (SELECT oid FROM tree) AND k.confrelid IN (SELECT oid FROM tree)))
) OR EXISTS (
    SELECT FROM pg_catalog.pg_rewrite r
    WHERE r.ev_class IN (SELECT oid FROM tree) AND r.rulename <> '_RETURN'
)
"""
)


def may_rewrite(conn: Connection, table: TableName) -> bool:
    """Can anything but reapply's own statements change the rows they write? A user trigger
    (row or statement level) or a rule on the table or below it, or a foreign key of the
    table onto itself (a cascade). Without one, the rows stored are the staged values and
    reading them back would compare each value with itself."""
    row = conn.execute(_MAY_REWRITE, (table.schema, table.name)).fetchone()
    return bool(row is None or row[0])


def may_stage(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY')"
    ).fetchone()
    return bool(row and row[0])


__all__ = ["may_rewrite", "may_stage"]
