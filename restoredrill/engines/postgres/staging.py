"""PostgreSQL set-based reapply (engines/staging.py): a batch's rows are streamed with
``COPY ... FROM STDIN`` (text format: each value goes through its column type's input
function, exactly as the literals of the per-row form did) into a temporary table created
``ON COMMIT DROP`` in the batch's transaction with the target's column types, then:

- lock: the production rows with the keys of the staged changed rows, ``FOR UPDATE OF``
  them, as text forms (of the lost rows the INSERT skips, only those production does not
  hold as staged are read after it);
- archive: ``INSERT INTO archive SELECT t.* ... WHERE <guard>`` (what the UPDATEs overwrite);
- one ``UPDATE ... FROM stage WHERE <key> AND <guard>`` per group of SET columns;
- ``INSERT ... SELECT ... ON CONFLICT (key) DO NOTHING`` (execution tries it without ON
  CONFLICT first, under a savepoint: ``PostgresStager.apply``);
- read back: the written rows whose text forms are not the staged values' (a trigger).

The guard is the per-row form's, column by column: ``t.c::text IS NOT DISTINCT FROM s.g``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import sql
from psycopg._copy_base import format_row_text  # the C formatter COPY itself uses
from psycopg.adapt import Transformer
from psycopg.errors import UndefinedFunction, UniqueViolation
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

from restoredrill.engines.postgres.catalog import Connection, TableName
from restoredrill.engines.postgres.staging_catalog import may_rewrite
from restoredrill.engines.staging import StageRow, StageSpec

STAGE = sql.Identifier("pg_temp", "restoredrill_stage")
_N = sql.Identifier("restoredrill_n")
_SIG = sql.Identifier("restoredrill_sig")
_INT4, _TEXT = pg_types["int4"].oid, pg_types["text"].oid


def _v(spec: StageSpec, column: str) -> sql.Identifier:
    return sql.Identifier(f"v{spec.columns.index(column)}")


def _g(spec: StageSpec, column: str) -> sql.Identifier:
    return sql.Identifier(f"g{spec.guarded.index(column)}")


def _stage_columns(spec: StageSpec) -> list[sql.Identifier]:
    return [
        _N,
        _SIG,
        *(_v(spec, c) for c in spec.columns),
        *(_g(spec, c) for c in spec.guarded),
    ]


def create(spec: StageSpec) -> sql.Composed:
    """The staging table, typed like the target's columns (typmods and domains included, no
    constraints: the target checks them), dropped at the end of the batch's transaction."""
    values = [sql.SQL("t.{} AS {}").format(sql.Identifier(c), _v(spec, c)) for c in spec.columns]
    guards = [sql.SQL("NULL::pg_catalog.text AS {}").format(_g(spec, c)) for c in spec.guarded]
    return sql.SQL(
        "CREATE TEMPORARY TABLE restoredrill_stage ON COMMIT DROP AS SELECT "
        "NULL::pg_catalog.int4 AS {n}, NULL::pg_catalog.int4 AS {sig}, {cols} "
        "FROM {table} AS t WITH NO DATA"
    ).format(
        n=_N, sig=_SIG, cols=sql.SQL(", ").join([*values, *guards]), table=spec.table.identifier()
    )


def copy(spec: StageSpec) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        STAGE, sql.SQL(", ").join(_stage_columns(spec))
    )


def analyze(spec: StageSpec) -> sql.Composed:
    """Before a join with the target, the planner needs the staged row count to probe the
    key's index rather than scan the table (the INSERT of the lost rows joins nothing: no
    need). The columns the joins and filters use only: every column's statistics cost 36 ms
    per 10,000 rows of 8 columns, these 2.5 ms, for the same plans."""
    return sql.SQL("ANALYZE {} ({})").format(
        STAGE, sql.SQL(", ").join([_N, _SIG, *(_v(spec, k) for k in spec.key)])
    )


def _keys(spec: StageSpec, bounded: bool) -> sql.Composable:
    """The target (t) joined to the stage (s) on the key. ``bounded`` (the key sorts):
    also between the batch's least and greatest first key, as the join implies, or the
    planner merge-joins from the start of the key's index: batch n reads n batches of it."""
    first = _v(spec, spec.key[0])
    join = sql.SQL("({}) = ({})").format(
        sql.SQL(", ").join(sql.Identifier("t", k) for k in spec.key),
        sql.SQL(", ").join(sql.SQL("s.{}").format(_v(spec, k)) for k in spec.key),
    )
    if not bounded:
        return join
    edge = "(SELECT b.{v} FROM {stage} AS b WHERE b.{v} IS NOT NULL ORDER BY b.{v} %s LIMIT 1)"
    return sql.SQL("{join} AND t.{k} BETWEEN {low} AND {high}").format(
        join=join,
        k=sql.Identifier(spec.key[0]),
        low=sql.SQL(edge % "ASC").format(v=first, stage=STAGE),
        high=sql.SQL(edge % "DESC").format(v=first, stage=STAGE),
    )


def orders(conn: Connection, table: TableName, column: str) -> bool:
    """Does ``column`` sort (a default b-tree class)? The planner refuses ORDER BY if not."""
    probe = sql.SQL("EXPLAIN SELECT 1 FROM {} AS t ORDER BY t.{} LIMIT 1").format(
        table.identifier(), sql.Identifier(column)
    )
    try:
        with conn.transaction():  # a savepoint inside a batch's transaction
            conn.execute(probe)
    except UndefinedFunction:
        return False
    return True


def _guard(spec: StageSpec) -> sql.Composable:
    if not spec.guarded:
        return sql.SQL("TRUE")
    return sql.SQL(" AND ").join(
        sql.SQL("t.{}::text IS NOT DISTINCT FROM s.{}").format(sql.Identifier(c), _g(spec, c))
        for c in spec.guarded
    )


def lock(spec: StageSpec, bounded: bool = False) -> sql.Composed:
    """(position, whether the guard holds, whether the row reads as staged, production's
    text forms) of the staged changed rows production still has, locked FOR UPDATE before
    they are classified and written. The guard is the guarded UPDATE's own predicate (the
    rows it admits are reverted); "as staged" is the read back's (already reverted). Both
    are computed in the select list, on the row as locked: a row changed while this waits
    for its lock is rechecked on its new version, which a subquery's result would not be
    (test_a_row_edited_while_the_locked_read_waits_is_judged_on_its_new_version)."""
    cols = [*spec.key, *[c for c in spec.compared if c not in spec.key]]
    return sql.SQL(
        "SELECT s.{n}, {guard}, NOT ({differs}), {cols} FROM {table} AS t JOIN {stage} AS s"
        " ON {keys} WHERE s.{sig} IS NOT NULL FOR UPDATE OF t"
    ).format(
        n=_N,
        guard=_guard(spec),
        differs=sql.SQL(" OR ").join(_differs(spec)),
        cols=sql.SQL(", ").join(sql.SQL("t.{}::text").format(sql.Identifier(c)) for c in cols),
        table=spec.table.identifier(),
        stage=STAGE,
        keys=_keys(spec, bounded),
        sig=_SIG,
    )


def _differs(spec: StageSpec) -> list[sql.Composable]:
    return [
        sql.SQL("t.{}::text IS DISTINCT FROM s.{}::text").format(sql.Identifier(c), _v(spec, c))
        for c in spec.compared
    ]


def skipped(spec: StageSpec, bounded: bool = False) -> sql.Composed:
    """(position, production's text forms) of the staged lost rows production does not hold
    as staged (absent: NULLs), read after the INSERT skipped some (never written, so never
    locked). The rows it holds as staged are "already there" without crossing the wire: a
    rerun skips every row of every batch. The comparison is the read back's."""
    cols = [*spec.key, *[c for c in spec.compared if c not in spec.key]]
    differs = _differs(spec)
    return sql.SQL(
        "SELECT s.{n}, {cols} FROM {stage} AS s LEFT JOIN {table} AS t ON {keys}"
        " WHERE s.{sig} IS NULL AND (t.{first} IS NULL OR {any})"
    ).format(
        n=_N,
        cols=sql.SQL(", ").join(sql.SQL("t.{}::text").format(sql.Identifier(c)) for c in cols),
        stage=STAGE,
        table=spec.table.identifier(),
        keys=_keys(spec, bounded),
        sig=_SIG,
        first=sql.Identifier(spec.key[0]),
        any=sql.SQL(" OR ").join(differs) if differs else sql.SQL("FALSE"),
    )


def archive(spec: StageSpec, into: TableName, bounded: bool = False) -> sql.Composed:
    """The current version of every changed row the UPDATEs are about to overwrite."""
    return sql.SQL(
        "INSERT INTO {archive} ({cols}) SELECT {tcols} FROM {table} AS t JOIN {stage} AS s"
        " ON {keys} WHERE s.{sig} IS NOT NULL AND {guard}"
    ).format(
        archive=into.identifier(),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in spec.all_columns),
        tcols=sql.SQL(", ").join(sql.Identifier("t", c) for c in spec.all_columns),
        table=spec.table.identifier(),
        stage=STAGE,
        keys=_keys(spec, bounded),
        sig=_SIG,
        guard=_guard(spec),
    )


def update(
    spec: StageSpec, sig: int, set_columns: Sequence[str], bounded: bool = False
) -> sql.Composed:
    """Revert the changed rows of group ``sig`` while they still hold their guard values."""
    return sql.SQL(
        "UPDATE {table} AS t SET {sets} FROM {stage} AS s"
        " WHERE {keys} AND s.{sigcol} = {sig} AND {guard} RETURNING s.{n}"
    ).format(
        table=spec.table.identifier(),
        sets=sql.SQL(", ").join(
            sql.SQL("{} = s.{}").format(sql.Identifier(c), _v(spec, c)) for c in set_columns
        ),
        stage=STAGE,
        keys=_keys(spec, bounded),
        sigcol=_SIG,
        sig=sql.Literal(sig),
        guard=_guard(spec),
        n=_N,
    )


def insert(spec: StageSpec, plain: bool = False) -> sql.Composed:
    """The lost rows not in production: ON CONFLICT skips a key production has (it probes
    the key's index once per row; a NOT EXISTS anti-join before it made the INSERT 1.5x
    slower in bench/reapply_bench.py for no other effect). ``plain``: without ON CONFLICT,
    which execution tries first (see ``PostgresStager.apply``); it inserts every staged lost
    row or fails, so it returns nothing."""
    conflict = sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(
        sql.SQL(", ").join(sql.Identifier(k) for k in spec.key)
    )
    returning = sql.SQL(" RETURNING {}").format(
        sql.SQL(", ").join(sql.SQL("t.{}::text").format(sql.Identifier(k)) for k in spec.key)
    )
    return sql.SQL(
        "INSERT INTO {table} AS t ({cols}){overriding} SELECT {scols} FROM {stage} AS s"
        " WHERE s.{sig} IS NULL ORDER BY s.{n}{conflict}{returning}"
    ).format(
        table=spec.table.identifier(),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns),
        overriding=sql.SQL(" OVERRIDING SYSTEM VALUE") if spec.overriding else sql.SQL(""),
        scols=sql.SQL(", ").join(sql.SQL("s.{}").format(_v(spec, c)) for c in spec.columns),
        stage=STAGE,
        sig=_SIG,
        n=_N,
        conflict=sql.SQL("") if plain else conflict,
        returning=sql.SQL("") if plain else returning,
    )


def readback(spec: StageSpec, bounded: bool = False) -> sql.Composed:
    """(position, row missing, column differs...) of the staged rows that do not read as
    their staged values (the caller keeps the written ones: a row not written, a conflict,
    reads otherwise by definition). No position list: ``= ANY(big array)`` per row is
    quadratic."""
    differs = _differs(spec)
    missing = sql.SQL("t.{} IS NULL").format(sql.Identifier(spec.key[0]))
    return sql.SQL(
        "SELECT s.{n}, {missing}, {differs} FROM {stage} AS s LEFT JOIN {table} AS t ON {keys}"
        " WHERE {missing} OR {any}"
    ).format(
        n=_N,
        missing=missing,
        differs=sql.SQL(", ").join(differs) if differs else sql.SQL("FALSE"),
        stage=STAGE,
        table=spec.table.identifier(),
        keys=_keys(spec, bounded),
        any=sql.SQL(" OR ").join(differs) if differs else sql.SQL("FALSE"),
    )


class PostgresStager:
    """``engines.staging.Stager`` for PostgreSQL."""

    def __init__(self) -> None:
        self._analyze: sql.Composed | None = None  # the staged batch's, until it has run
        self._bounded: dict[TableName, bool] = {}  # _keys(bounded=...) per table

    def encode(self, conn: Connection, spec: StageSpec, rows: Iterable[StageRow]) -> bytes:
        """COPY text data of ``rows``, made by the formatter COPY itself uses, appended to
        one buffer (no per-row buffer to join: half the time of ``write_row``)."""
        self._learn(conn, spec)
        transformer, data = Transformer(conn), bytearray()
        # position and group are ints, every value a text form (or None): dumpers chosen
        # once, not per value (a third of the time for the same bytes)
        texts = len(spec.columns) + len(spec.guarded)
        transformer.set_dumper_types([_INT4, _INT4] + [_TEXT] * texts, Format.TEXT)
        for row in rows:
            format_row_text(row, transformer, data)
        return bytes(data)

    def _learn(self, conn: Connection, spec: StageSpec) -> None:
        """Can the table's joins be bounded? Asked once per table and stager (the script's
        encoding and execution's loading each have their own)."""
        if spec.table not in self._bounded:
            self._bounded[spec.table] = orders(conn, spec.table, spec.key[0])

    def load(self, conn: Connection, spec: StageSpec, data: bytes) -> None:
        self._learn(conn, spec)
        conn.execute(create(spec))
        with conn.cursor().copy(copy(spec)) as stream:
            view = memoryview(data)
            for start in range(0, len(data), 1 << 20):  # an interrupt lands between chunks
                stream.write(view[start : start + (1 << 20)])
        self._analyze = analyze(spec)

    def before_join(self, conn: Connection) -> None:
        if self._analyze is not None:
            conn.execute(self._analyze)
            self._analyze = None

    def script_load(self, conn: Connection, spec: StageSpec, data: bytes) -> str:
        """``load`` for psql: the COPY's data follows it inline, ended by ``\\.``."""
        return (
            f"{create(spec).as_string(conn)};\n{copy(spec).as_string(conn)};\n"
            f"{data.decode(conn.info.encoding)}\\.\n{analyze(spec).as_string(conn)};\n"
        )

    def lock(self, spec: StageSpec) -> sql.Composed:
        return lock(spec, self._bounded.get(spec.table, False))

    def skipped(self, spec: StageSpec) -> sql.Composed:
        return skipped(spec, self._bounded.get(spec.table, False))

    def archive(self, spec: StageSpec, archive_table: TableName) -> sql.Composed:
        return archive(spec, archive_table, self._bounded.get(spec.table, False))

    def update(self, spec: StageSpec, sig: int, set_columns: Sequence[str]) -> sql.Composed:
        return update(spec, sig, set_columns, self._bounded.get(spec.table, False))

    def insert(self, spec: StageSpec) -> sql.Composed:
        return insert(spec)

    def apply(
        self,
        conn: Connection,
        spec: StageSpec,
        archive_statement: Any,
        updates: Sequence[Any],
        insert_statement: Any,
    ) -> tuple[set[int], set[tuple[str | None, ...]] | None]:
        """Positions the UPDATEs changed (pipelined), keys the INSERT inserted (None: every
        staged lost row).

        The lost rows go in first with a plain INSERT under a savepoint: ON CONFLICT's
        speculative insertion costs a second index probe and a WAL record per row (a plain
        INSERT took half its time in bench/reapply_bench.py), and the plain form inserts all
        rows or none, so it returns nothing. A key production has (a rerun, a row inserted
        since) fails it with a unique violation: rolled back to the savepoint, the rows go
        through ``insert_statement`` (ON CONFLICT DO NOTHING), so the outcome is that
        statement's either way and no row is ever overwritten."""
        cursors = []
        if archive_statement is not None or updates:
            with conn.pipeline():
                if archive_statement is not None:
                    conn.execute(archive_statement)
                cursors = [conn.execute(u) for u in updates]
        updated = {int(row[0]) for cursor in cursors for row in cursor.fetchall()}
        if insert_statement is None:
            return updated, set()
        try:
            with conn.transaction():  # a savepoint inside the batch's transaction
                conn.execute(insert(spec, plain=True))
            return updated, None
        except UniqueViolation:
            return updated, set(conn.execute(insert_statement).fetchall())  # key::text: str

    def readback(
        self, conn: Connection, spec: StageSpec, positions: Sequence[int]
    ) -> dict[int, list[str]]:
        if not positions or not may_rewrite(conn, spec.table):
            return {}
        self.before_join(conn)
        wanted = set(positions)
        rows = conn.execute(readback(spec, self._bounded.get(spec.table, False))).fetchall()
        bad: dict[int, list[str]] = {}
        for row in rows:
            if int(row[0]) not in wanted:
                continue
            if row[1]:
                bad[int(row[0])] = list(spec.compared)
            else:
                bad[int(row[0])] = [c for c, d in zip(spec.compared, row[2:], strict=False) if d]
        return bad


__all__ = ["PostgresStager"]
