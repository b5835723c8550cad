"""PostgreSQL foreign keys as reapply meets them: which tables a table's rows reference (through
constraints on the table, its partitions and its inheritance children), the rows of a batch
whose parent is missing (checked by hand when ``session_replication_role = replica`` keeps the
constraint triggers from firing), and a foreign-key violation told in one line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from restoredrill.engines.postgres.catalog import TABLE_TREE, Connection, TableName
from restoredrill.models import RowValues

# The table and every relation below it (catalog.TABLE_TREE), and above what it references.
_TREE = (
    TABLE_TREE  # noqa: S608 (constant SQL, values are parameters)
    + """,
-- a referenced relation and every relation above it: a key on a partition of a diff's table
-- orders that table
up(oid, ref) AS (
    SELECT k.confrelid, k.confrelid FROM pg_catalog.pg_constraint k
    WHERE k.contype = 'f' AND k.conrelid IN (SELECT oid FROM tree)
  UNION
    SELECT i.inhparent, u.ref FROM pg_catalog.pg_inherits i JOIN up u ON i.inhrelid = u.oid
)
"""
)


def referenced_tables(conn: Connection, table: TableName) -> set[TableName]:
    """Tables that rows written into ``table`` may reference (other than itself and its own
    partitions or children), with each referenced relation's ancestors."""
    rows = conn.execute(
        _TREE  # noqa: S608 (constant SQL, values are parameters)
        + """
        SELECT rn.nspname, rc.relname
        FROM up u
        JOIN pg_catalog.pg_class rc ON rc.oid = u.oid
        JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE u.oid NOT IN (SELECT oid FROM tree)
        """,
        (table.schema, table.name),
    ).fetchall()
    return {TableName(str(r[0]), str(r[1])) for r in rows}


def _constraints(conn: Connection, table: TableName) -> list[Any]:
    """(name, owning relation oid, is the table itself, child columns, parent schema, parent
    name, parent columns) of every foreign key on the table or a relation below it."""
    return list(
        conn.execute(
            _TREE  # noqa: S608 (constant SQL, values are parameters)
            + """
            SELECT k.conname, k.conrelid,
                   NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                               WHERE i.inhrelid = k.conrelid
                                 AND i.inhparent IN (SELECT oid FROM tree)),
                   (SELECT array_agg(a.attname::text ORDER BY x.ord)
                    FROM unnest(k.conkey) WITH ORDINALITY AS x(attnum, ord)
                    JOIN pg_catalog.pg_attribute a
                      ON a.attrelid = k.conrelid AND a.attnum = x.attnum),
                   rn.nspname, rc.relname,
                   (SELECT array_agg(a.attname::text ORDER BY x.ord)
                    FROM unnest(k.confkey) WITH ORDINALITY AS x(attnum, ord)
                    JOIN pg_catalog.pg_attribute a
                      ON a.attrelid = k.confrelid AND a.attnum = x.attnum)
            FROM pg_catalog.pg_constraint k
            JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid
            JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
            WHERE k.contype = 'f' AND k.conrelid IN (SELECT oid FROM tree)
            ORDER BY k.conname
            """,
            (table.schema, table.name),
        ).fetchall()
    )


def _row(parts: Sequence[sql.Composable]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(", ").join(parts))


def _value(text: str | None) -> sql.Composable:
    return sql.SQL("NULL") if text is None else sql.Literal(text)


def _checks(
    conn: Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
) -> list[tuple[str, TableName, list[str], sql.Composed]]:
    """Per foreign key on the table or below it: (name, parent, columns, a query returning the
    columns of one row of ``keys`` whose parent row is missing). MATCH SIMPLE, like the
    constraint: a NULL in the columns passes."""
    checks = []
    for name, owner, at_top, cols, p_schema, p_name, p_cols in _constraints(conn, table):
        parent = TableName(str(p_schema), str(p_name))
        query = sql.SQL(
            "SELECT {shown} FROM {table} AS r WHERE {keys} IN ({values}){only} AND {not_null}"
            " AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {match}) LIMIT 1"
        ).format(
            shown=sql.SQL(", ").join(sql.SQL("r.{}::text").format(sql.Identifier(c)) for c in cols),
            table=table.identifier(),
            keys=_row([sql.SQL("r.{}").format(sql.Identifier(k)) for k in key]),
            values=sql.SQL(", ").join(_row([_value(v.get(k)) for k in key]) for v in keys),
            # a key declared on one partition or child holds for that relation's rows only
            only=sql.SQL("")
            if at_top
            else sql.SQL(" AND r.tableoid = {}").format(sql.Literal(int(owner))),
            not_null=sql.SQL(" AND ").join(
                sql.SQL("r.{} IS NOT NULL").format(sql.Identifier(c)) for c in cols
            ),
            parent=parent.identifier(),
            match=sql.SQL(" AND ").join(
                sql.SQL("p.{} = r.{}").format(sql.Identifier(pc), sql.Identifier(c))
                for c, pc in zip(cols, p_cols, strict=True)
            ),
        )
        checks.append((str(name), parent, [str(c) for c in cols], query))
    return checks


def missing_parents(
    conn: Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
) -> list[str]:
    """One line per foreign key that a row of ``keys`` (now in ``table``) breaks: its parent
    row is missing."""
    if not keys:
        return []
    problems: list[str] = []
    for name, parent, cols, query in _checks(conn, table, key, keys):
        found = conn.execute(query).fetchone()
        if found is not None:
            values = ", ".join(f"{c}={v}" for c, v in zip(cols, found, strict=True))
            problems.append(
                f"foreign key {name} of {table.display}: no row ({values}) in the parent table "
                f"{parent.display}"
            )
    return problems


def parent_checks(
    conn: Connection, table: TableName, key: Sequence[str], keys: Sequence[RowValues]
) -> list[sql.Composed]:
    """``missing_parents`` as statements for the reviewable script (run by hand as replica,
    nothing else would check the foreign keys): each raises when a parent row is missing."""
    statements = []
    for name, parent, _, query in _checks(conn, table, key, keys) if keys else []:
        message = (
            f"restoredrill: foreign key {name} of {table.display}: a parent row is missing in "
            f"{parent.display}"
        )
        body = query.as_string(conn)
        tag = "$restoredrill$"
        while tag in body or tag in message:  # values are data: the quote must not end early
            tag = tag[:-1] + "_$"
        statements.append(
            sql.SQL(
                "DO {tag} BEGIN IF EXISTS ({query}) THEN RAISE EXCEPTION '%', {message};"
                " END IF; END {tag}"
            ).format(tag=sql.SQL(tag), query=query, message=sql.Literal(message))
        )
    return statements


def violation(conn: Connection, exc: BaseException) -> str | None:
    """A foreign-key violation as one line naming the constraint and the parent table, or
    None for any other error."""
    if not isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return None
    diag = exc.diag
    parent = None
    if diag.constraint_name and diag.table_name:
        try:
            row = conn.execute(
                "SELECT rn.nspname || '.' || rc.relname FROM pg_catalog.pg_constraint k"
                " JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid"
                " JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace"
                " WHERE k.conname = %s AND c.relname = %s AND n.nspname = %s",
                (diag.constraint_name, diag.table_name, diag.schema_name or "public"),
            ).fetchone()
            parent = None if row is None else str(row[0])
        except psycopg.Error:
            parent = None
    detail = (diag.message_detail or "").strip()
    return (
        f"foreign key {diag.constraint_name} of {diag.schema_name}.{diag.table_name} refused a "
        f"row: its parent is missing from {parent or 'the referenced table'}"
        + (f" ({detail})" if detail else "")
    )


__all__ = ["missing_parents", "parent_checks", "referenced_tables", "violation"]
