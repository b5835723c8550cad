"""Naming relfilenodes seen in WAL: pg_filenode_relation in each database, read-only.

A relfilenode names a table only as of now: one dropped or rewritten since (TRUNCATE,
VACUUM FULL, ALTER TABLE … TYPE) no longer resolves, and is then shown by its numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import psycopg
from psycopg.conninfo import make_conninfo

from restoredrill import dsn as dsnlib
from restoredrill.engines.postgres.wal_stats import RelFile
from restoredrill.errors import DatabaseUnavailable

REL_ID = re.compile(r"^(?:rel )?(?P<db>\d+)/(?P<node>\d+)$")  # --table DBOID/RELFILENODE
_LOOKUP = """
SELECT n.nspname, c.relname, c.relkind, c.oid = c.relfilenode,
       (SELECT array[o.nspname, p.relname] FROM pg_class p
          JOIN pg_namespace o ON o.oid = p.relnamespace WHERE p.reltoastrelid = c.oid),
       (SELECT array[o.nspname, r.relname] FROM pg_class r
          JOIN pg_namespace o ON o.oid = r.relnamespace
         WHERE r.oid = pg_partition_root(c.oid) AND r.oid <> c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = pg_filenode_relation(%s, %s)
"""


@dataclass(frozen=True)
class RelName:
    label: str
    schema: str | None = None
    table: str | None = None
    toast: bool = False
    kind: str | None = None  # pg_class.relkind: r, p, m a table; i an index
    fresh: bool = False  # its file number is its oid: the relation's first file (CREATE)
    root: tuple[str, str] | None = None  # a partition's partitioned table: --table matches it


class RelNamer:
    """Names per relfilenode, cached; one read-only connection per database asked about."""

    def __init__(self, dsn: str | None) -> None:
        self.dsn = dsn
        self.notes: list[str] = []
        self.cache: dict[RelFile, RelName] = {}
        self.conns: dict[int, psycopg.Connection[tuple[object, ...]] | None] = {}
        self.databases: dict[int, tuple[str, int]] = {}  # oid -> (name, default tablespace)

    def __enter__(self) -> RelNamer:
        if self.dsn is not None:
            conn = dsnlib.connect(self.dsn, read_only=True, autocommit=True)
            try:
                rows = conn.execute("SELECT oid, datname, dattablespace FROM pg_database")
                self.databases = {int(str(o)): (str(n), int(str(t))) for o, n, t in rows}
                row = conn.execute(
                    "SELECT oid FROM pg_database WHERE datname = current_database()"
                ).fetchone()
            except psycopg.Error as exc:
                conn.close()
                raise DatabaseUnavailable(f"{dsnlib.redact(self.dsn)}: {exc}") from exc
            assert row is not None
            self.conns[int(str(row[0]))] = conn
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for conn in self.conns.values():
            if conn is not None:
                conn.close()

    def _conn(self, db: int) -> psycopg.Connection[tuple[object, ...]] | None:
        if db in self.conns:
            return self.conns[db]
        assert self.dsn is not None
        conn = None
        if db in self.databases:
            try:
                dsn = make_conninfo(self.dsn, dbname=self.databases[db][0])
                conn = dsnlib.connect(dsn, read_only=True, autocommit=True)
            except DatabaseUnavailable as exc:
                self.notes.append(f"tables of database {self.databases[db][0]} not named: {exc}")
        else:
            self.notes.append(f"database oid {db} no longer exists: its tables are not named")
        self.conns[db] = conn
        return conn

    def name(self, rel: RelFile) -> RelName:
        if rel in self.cache:
            return self.cache[rel]
        found = RelName(label=rel.label())
        conn = self._conn(rel.db) if self.dsn is not None else None
        if conn is not None:
            # pg_filenode_relation wants 0 for the database's default tablespace
            default_spc = self.databases.get(rel.db, ("", 0))[1]
            spc = 0 if rel.spc == default_spc else rel.spc
            row = conn.execute(_LOOKUP, (spc, rel.node)).fetchone()
            if row is None:
                self.notes.append(
                    f"{rel.label()} is not in the database now (dropped or rewritten since)"
                )
            else:
                schema, table, kind, fresh, owner, root = row
                toast = False
                if isinstance(owner, list) and len(owner) == 2:
                    toast, (schema, table) = True, owner  # a TOAST table: its table's name
                label = f"{schema}.{table}" + (" (toast)" if toast else "")
                parent = (str(root[0]), str(root[1])) if isinstance(root, list) else None
                found = RelName(
                    label, str(schema), str(table), toast, str(kind), fresh is True, parent
                )
        self.cache[rel] = found
        return found


def wanted(name: RelName, rel: RelFile, tables: Sequence[str]) -> bool:
    if not tables:
        return True
    for asked in (t.strip() for t in tables):
        ident = REL_ID.match(asked)
        if ident is not None:
            if (int(ident["db"]), int(ident["node"])) == (rel.db, rel.node):
                return True
        elif name.table is not None and asked in (f"{name.schema}.{name.table}", name.table):
            return True
        elif name.root is not None and asked in (".".join(name.root), name.root[1]):
            return True  # a partition of the table asked for
    return False
