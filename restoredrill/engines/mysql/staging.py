"""MariaDB set-based reapply (engines/staging.py): a batch's rows go into a session-local
staging table by ``LOAD DATA LOCAL INFILE`` (the data sent from memory: driver.offered),
then a few guarded statements move them, in the batch's transaction:

- the stage: ``CREATE TEMPORARY TABLE restoredrill_stage`` (Aria: no undo, no redo; a
  temporary table's DDL commits nothing), its ``v`` columns typed as the target's (made by
  ``CREATE ... SELECT`` from the target, no row read), its ``g`` guard texts LONGBLOB;
  dropped and made again by the next batch, gone with the session;
- load: each field a utf8mb4 string assigned to its column, as a string literal of the
  per-row form is (``UNHEX`` for binary and geometry columns, whose text form is hex; ``CAST
  AS UNSIGNED`` for BIT). LOAD DATA LOCAL turns conversion errors into warnings, so a load
  with any warning, or another row count, fails the batch (the per-row form's strict error);
- lock: the production rows with the keys of the staged changed rows, ``FOR UPDATE``;
- archive: ``INSERT INTO archive SELECT t.* ... WHERE <guard>`` (what the UPDATEs overwrite);
- one ``UPDATE stage JOIN target ... SET ... WHERE <guard>`` per group of SET columns, which
  also marks the staged rows it matched (``restoredrill_done``: no RETURNING on UPDATE);
- ``INSERT ... SELECT ... WHERE NOT EXISTS (key)`` (execution tries it without NOT EXISTS
  first: a duplicate key rolls that statement back and the guarded form runs, with
  ``RETURNING`` the keys it inserted, MariaDB 10.5+);
- read back, where something can rewrite the rows written (a trigger, a foreign key onto the
  table itself): the written rows whose text forms are not the staged values'.

The guard is the per-row form's, column by column: ``CAST(<text form> AS BINARY) <=> g``.
The reviewable script loads the same data with multi-row INSERTs (the mariadb client has no
inline LOAD DATA): the same expressions over the same strings."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

from restoredrill.engines.mysql import stage_data
from restoredrill.engines.mysql.columns import BINARY_TYPES, ColumnInfo, text_expr
from restoredrill.engines.mysql.driver import offered, pymysql
from restoredrill.engines.mysql.session import MyConn, literal, quote_ident, quote_table, text_of
from restoredrill.engines.names import TableName
from restoredrill.engines.staging import StageRow, StageSpec

STAGE = "`restoredrill_stage`"
_N, _SIG, _DONE = "`restoredrill_n`", "`restoredrill_sig`", "`restoredrill_done`"
DUPLICATE_KEY = 1062
_FLOATS = ("float", "double", "real")


def _v(spec: StageSpec, column: str) -> str:
    return f"`v{spec.columns.index(column)}`"


def _g(spec: StageSpec, column: str) -> str:
    return f"`g{spec.guarded.index(column)}`"


def _info(spec: StageSpec, column: str) -> ColumnInfo:
    info: ColumnInfo = spec.infos[spec.columns.index(column)]
    return info


def _text(spec: StageSpec, column: str, alias: str) -> str:
    """The text form of ``alias``'s column: the target's (``t``) or the stage's (``s``)."""
    info = _info(spec, column)
    if alias == "s":
        info = dataclasses.replace(info, name=f"v{spec.columns.index(column)}")
    return text_expr(info, alias)


def _risky(spec: StageSpec) -> list[str]:
    """Columns whose text form may not read back as it was written (a FLOAT or DOUBLE
    printed short): the stage keeps their staged text too (``r``), to compare."""
    return [c for c in spec.columns if _info(spec, c).data_type.lower() in _FLOATS]


def _r(spec: StageSpec, column: str) -> str:
    return f"`r{spec.columns.index(column)}`"


def conversion(info: ColumnInfo) -> str:
    """How a staged field (a string) becomes the column's value: ``{}`` is the string."""
    kind = info.data_type.lower()
    if kind in BINARY_TYPES:
        return "UNHEX({})"
    if kind == "bit":
        return "CAST({} AS UNSIGNED)"
    return "{}"


def create(spec: StageSpec) -> list[str]:
    """The stage, its ``v`` columns typed as the target's (nullable: LEFT JOIN ... ON FALSE),
    in the batch's transaction (no implicit commit for a temporary table)."""
    guards = "".join(f", {_g(spec, c)} LONGBLOB" for c in spec.guarded)
    guards += "".join(f", {_r(spec, c)} LONGBLOB" for c in _risky(spec))
    values = ", ".join(f"t.{quote_ident(c)} AS {_v(spec, c)}" for c in spec.columns)
    return [
        f"DROP TEMPORARY TABLE IF EXISTS {STAGE}",
        f"CREATE TEMPORARY TABLE {STAGE} ({_N} INT, {_SIG} INT, {_DONE} TINYINT{guards})"
        f" ENGINE=Aria SELECT {values} FROM (SELECT 1) AS d"
        f" LEFT JOIN {quote_table(spec.table)} AS t ON FALSE WHERE FALSE",
    ]


def _stage_columns(spec: StageSpec) -> list[str]:
    return [_N, _SIG, *(_v(spec, c) for c in spec.columns), *(_g(spec, c) for c in spec.guarded)]


def load_data(spec: StageSpec, name: str) -> str:
    fields, sets = [_N, _SIG], []
    risky = _risky(spec)
    for n, column in enumerate(spec.columns):
        how = conversion(_info(spec, column))
        if how == "{}" and column not in risky:
            fields.append(_v(spec, column))
            continue
        fields.append(f"@x{n}")
        sets.append(f"{_v(spec, column)} = {how.format(f'@x{n}')}")
        if column in risky:
            sets.append(f"{_r(spec, column)} = @x{n}")
    fields += [_g(spec, c) for c in spec.guarded]
    return (
        f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE {STAGE} CHARACTER SET utf8mb4"
        " FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
        f" ({', '.join(fields)})" + (f" SET {', '.join(sets)}" if sets else "")
    )


def script_inserts(spec: StageSpec, data: bytes) -> list[str]:
    """The staged rows as multi-row INSERTs into the stage: each field through the same
    conversion as the LOAD (a string literal assigned to the column)."""
    hows = ["{}", "{}", *(conversion(_info(spec, c)) for c in spec.columns)]
    head = f"INSERT INTO {STAGE} ({', '.join(_stage_columns(spec))}) VALUES\n"
    return stage_data.insert_statements(head, [*hows, *(["{}"] * len(spec.guarded))], data)


def _keys(spec: StageSpec, target: str = "t") -> str:
    parts = []
    for k in spec.key:
        op = "=" if _info(spec, k).not_null else "<=>"
        parts.append(f"{target}.{quote_ident(k)} {op} s.{_v(spec, k)}")
    return " AND ".join(parts)


def _guard(spec: StageSpec) -> str:
    if not spec.guarded:
        return "TRUE"
    return " AND ".join(
        f"CAST({_text(spec, c, 't')} AS BINARY) <=> s.{_g(spec, c)}" for c in spec.guarded
    )


def _read_columns(spec: StageSpec) -> str:
    cols = [*spec.key, *[c for c in spec.compared if c not in spec.key]]
    return ", ".join(_text(spec, c, "t") for c in cols)


def _differs(spec: StageSpec) -> list[str]:
    return [
        f"NOT (CAST({_text(spec, c, 't')} AS BINARY) <=> CAST({_text(spec, c, 's')} AS BINARY))"
        for c in spec.compared
    ]


def _as_restored(spec: StageSpec) -> str:
    """The production row reads as the diff's restored text in every compared column: the
    staged value's text, or for a FLOAT or DOUBLE (which may print short) the staged text."""
    risky = set(_risky(spec))
    return " AND ".join(
        f"CAST({_text(spec, c, 't')} AS BINARY) <=> "
        + (f"s.{_r(spec, c)}" if c in risky else f"CAST({_text(spec, c, 's')} AS BINARY)")
        for c in spec.compared
    )


def lock(spec: StageSpec) -> str:
    """(position, whether the guard holds, whether the row reads as staged, production's
    text forms) of the staged changed rows production still has, locked FOR UPDATE (the
    guard: the guarded UPDATE's own; "as staged": as the diff's restored text)."""
    return (
        f"SELECT STRAIGHT_JOIN s.{_N}, ({_guard(spec)}), ({_as_restored(spec)}),"
        f" {_read_columns(spec)}"
        f" FROM {STAGE} AS s"
        f" JOIN {quote_table(spec.table)} AS t ON {_keys(spec)}"
        f" WHERE s.{_SIG} IS NOT NULL FOR UPDATE"
    )


def skipped(spec: StageSpec) -> str:
    """(position, production's text forms) of the staged lost rows production does not hold
    as staged (absent: NULLs); see the PostgreSQL stager's."""
    differs = _differs(spec)
    first = quote_ident(spec.key[0])
    return (
        f"SELECT s.{_N}, {_read_columns(spec)} FROM {STAGE} AS s"
        f" LEFT JOIN {quote_table(spec.table)} AS t ON {_keys(spec)}"
        f" WHERE s.{_SIG} IS NULL AND (t.{first} IS NULL OR {' OR '.join(differs) or 'FALSE'})"
    )


def archive(spec: StageSpec, into: TableName) -> str:
    cols = ", ".join(quote_ident(c) for c in spec.all_columns)
    tcols = ", ".join(f"t.{quote_ident(c)}" for c in spec.all_columns)
    return (
        f"INSERT INTO {quote_table(into)} ({cols}) SELECT STRAIGHT_JOIN {tcols} FROM {STAGE} AS s"
        f" JOIN {quote_table(spec.table)} AS t ON {_keys(spec)}"
        f" WHERE s.{_SIG} IS NOT NULL AND {_guard(spec)}"
    )


def update(spec: StageSpec, sig: int, set_columns: Sequence[str]) -> str:
    """Revert the changed rows of group ``sig`` while they still hold their guard values."""
    sets = [f"t.{quote_ident(c)} = s.{_v(spec, c)}" for c in set_columns]
    # the stage's columns copied ON UPDATE CURRENT_TIMESTAMP from the target's (CREATE ...
    # SELECT does): assigned to themselves, marking the row done leaves them as staged
    keep = [
        f"s.{_v(spec, c)} = s.{_v(spec, c)}"
        for c in spec.columns
        if _info(spec, c).data_type.lower() in ("timestamp", "datetime")
    ]
    return (
        f"UPDATE {STAGE} AS s STRAIGHT_JOIN {quote_table(spec.table)} AS t ON {_keys(spec)}"
        f" SET {', '.join([*sets, f's.{_DONE} = 1', *keep])}"
        f" WHERE s.{_SIG} = {int(sig)} AND {_guard(spec)}"
    )


def insert(spec: StageSpec, plain: bool = False, returning: bool = False) -> str:
    """The lost rows not in production (``plain``: every staged lost row, or a duplicate key
    error; ``returning``: the text forms of the keys inserted)."""
    cols = ", ".join(quote_ident(c) for c in spec.columns)
    scols = ", ".join(f"s.{_v(spec, c)}" for c in spec.columns)
    table = quote_table(spec.table)
    absent = "" if plain else f" AND NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {_keys(spec)})"
    back = ", ".join(text_expr(_info(spec, k), None) for k in spec.key)
    return (
        f"INSERT INTO {table} ({cols}) SELECT {scols} FROM {STAGE} AS s"
        f" WHERE s.{_SIG} IS NULL{absent} ORDER BY s.{_N}"
        + (f" RETURNING {back}" if returning else "")
    )


def readback(spec: StageSpec) -> str:
    differs = _differs(spec)
    missing = f"t.{quote_ident(spec.key[0])} IS NULL"
    return (
        f"SELECT s.{_N}, {missing}, {', '.join(differs) or 'FALSE'} FROM {STAGE} AS s"
        f" LEFT JOIN {quote_table(spec.table)} AS t ON {_keys(spec)}"
        f" WHERE {missing} OR {' OR '.join(differs) or 'FALSE'}"
    )


def staged_texts(spec: StageSpec) -> str | None:
    """(position, differs...) of the staged rows whose risky values do not read back as
    their staged text (``_risky``); None without such columns."""
    risky = _risky(spec)
    if not risky:
        return None
    differs = [f"NOT (CAST({_text(spec, c, 's')} AS BINARY) <=> s.{_r(spec, c)})" for c in risky]
    return f"SELECT s.{_N}, {', '.join(differs)} FROM {STAGE} AS s WHERE {' OR '.join(differs)}"


def may_rewrite(conn: MyConn, table: TableName) -> bool:
    """Can anything but reapply's own statements change the rows they write? A trigger on
    the table, or a foreign key of the table onto itself (a cascade)."""
    schema = literal(table.schema) if table.schema else "DATABASE()"
    name = literal(table.name)
    found = conn.scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.TRIGGERS"
        f" WHERE EVENT_OBJECT_SCHEMA = {schema} AND EVENT_OBJECT_TABLE = {name})"
        " OR EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS"
        f" WHERE CONSTRAINT_SCHEMA = {schema} AND TABLE_NAME = {name}"
        f" AND UNIQUE_CONSTRAINT_SCHEMA = {schema} AND REFERENCED_TABLE_NAME = {name})"
    )
    return found is None or bool(int(found))


def may_stage(conn: MyConn) -> bool:
    """MariaDB 10.5+ (INSERT ... RETURNING) with LOAD DATA LOCAL allowed by the server."""
    if not conn.mariadb:
        return False
    found = re.match(r"(\d+)\.(\d+)", conn.version)
    if found is None or (int(found.group(1)), int(found.group(2))) < (10, 5):
        return False
    return bool(int(conn.scalar("SELECT @@local_infile") or 0))


class MariaDBStager:
    """``engines.staging.Stager`` for MariaDB."""

    def __init__(self) -> None:
        self._rewrites: dict[TableName, bool] = {}

    def encode(self, conn: MyConn, spec: StageSpec, rows: Iterable[StageRow]) -> bytes:
        """LOAD DATA's text: tab-separated fields, ``\\N`` for NULL, backslash escapes."""
        return stage_data.encode(rows)

    def load(self, conn: MyConn, spec: StageSpec, data: bytes) -> None:
        for statement in create(spec):
            conn.run(statement)
        with offered(data) as name, conn.cursor() as cursor:
            count = cursor.execute(load_data(spec, name))
            warnings = cursor.warning_count
        expected = data.count(b"\n")
        if warnings or count != expected:
            found = conn.rows("SHOW WARNINGS LIMIT 1")
            what = f"{text_of(found[0][2])}" if found else f"{count} of {expected} rows"
            code = int(found[0][1]) if found else 0
            raise pymysql.err.DataError(code, f"staging the batch: {what}")

    def before_join(self, conn: MyConn) -> None:
        pass  # Aria counts its rows; the joins name their order (STRAIGHT_JOIN)

    def script_load(self, conn: MyConn, spec: StageSpec, data: bytes) -> str:
        statements = [*create(spec), *script_inserts(spec, data)]
        return "".join(s + ";\n" for s in statements)

    def lock(self, spec: StageSpec) -> str:
        return lock(spec)

    def skipped(self, spec: StageSpec) -> str:
        return skipped(spec)

    def archive(self, spec: StageSpec, archive_table: TableName) -> str:
        return archive(spec, archive_table)

    def update(self, spec: StageSpec, sig: int, set_columns: Sequence[str]) -> str:
        return update(spec, sig, set_columns)

    def insert(self, spec: StageSpec) -> str:
        return insert(spec)

    def apply(
        self,
        conn: MyConn,
        spec: StageSpec,
        archive_statement: Any,
        updates: Sequence[Any],
        insert_statement: Any,
    ) -> tuple[set[int], set[tuple[str | None, ...]] | None]:
        """Positions the UPDATEs changed, keys the INSERT inserted (None: every staged lost
        row). The plain INSERT first (no anti-join: one index probe per row); a key
        production has fails it with a duplicate key, InnoDB rolls that one statement back,
        and ``insert_statement`` (NOT EXISTS) runs instead, returning the keys it inserted:
        no row is ever overwritten either way."""
        if archive_statement is not None:
            conn.run(str(archive_statement))
        for statement in updates:
            conn.run(str(statement))
        updated: set[int] = set()
        if updates:
            rows = conn.rows(f"SELECT {_N} FROM {STAGE} WHERE {_DONE} = 1")
            updated = {int(r[0]) for r in rows}
        if insert_statement is None:
            return updated, set()
        try:
            conn.run(insert(spec, plain=True))
            return updated, None
        except pymysql.err.IntegrityError as exc:
            if not exc.args or exc.args[0] != DUPLICATE_KEY:
                raise
        rows = conn.rows(insert(spec, returning=True))
        keys = {tuple(None if v is None else text_of(v) for v in r) for r in rows}
        return updated, keys

    def readback(
        self, conn: MyConn, spec: StageSpec, positions: Sequence[int]
    ) -> dict[int, list[str]]:
        """The written rows not as staged (a trigger, a cascade), and those whose FLOAT or
        DOUBLE value does not read back as the diff's text (the per-row form read every row
        back against the diff; elsewhere the stage's values are the diff's, exactly)."""
        if not positions:
            return {}
        wanted = set(positions)
        bad: dict[int, list[str]] = {}
        texts = staged_texts(spec)
        if texts is not None:
            risky = _risky(spec)
            for row in conn.rows(texts):
                if int(row[0]) in wanted:
                    bad[int(row[0])] = [c for c, d in zip(risky, row[1:], strict=True) if int(d)]
        if spec.table not in self._rewrites:
            self._rewrites[spec.table] = may_rewrite(conn, spec.table)
        if not self._rewrites[spec.table]:
            return bad
        for row in conn.rows(readback(spec)):
            n = int(row[0])
            if n not in wanted:
                continue
            found = [c for c, d in zip(spec.compared, row[2:], strict=False) if int(d)]
            bad[n] = list(spec.compared) if int(row[1]) else [*bad.get(n, []), *found]
        return bad


__all__ = ["MariaDBStager", "may_stage"]
