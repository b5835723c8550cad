"""MariaDB / MySQL catalog: the schemas restoredrill keeps out of sight, the tables of a
database and how a user names one."""

from __future__ import annotations

from restoredrill.engines.mysql.session import MyConn, literal, text_of
from restoredrill.engines.names import TableName, split_quoted
from restoredrill.errors import ConfigError

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
META_SCHEMA = "restoredrill_sandbox"  # only in restored sandboxes: where replay stopped
META_TABLE = "restored_point"
ARCHIVE_SCHEMA = "restoredrill_archive"
HIDDEN_SCHEMAS = (*SYSTEM_SCHEMAS, META_SCHEMA, ARCHIVE_SCHEMA)

# --- tables --------------------------------------------------------------------------------------


def list_tables(conn: MyConn) -> list[TableName]:
    """Base tables of the connection's database, named without it (so a restored copy and
    production match whatever their databases are called); every user database's, named
    ``db.table``, when the DSN names none."""
    hidden = ", ".join(literal(s) for s in HIDDEN_SCHEMAS)
    rows = conn.rows(
        "SELECT IF(TABLE_SCHEMA = DATABASE(), '', TABLE_SCHEMA), TABLE_NAME"
        " FROM information_schema.TABLES"
        f" WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ({hidden})"
        " AND (DATABASE() IS NULL OR TABLE_SCHEMA = DATABASE())"
        " ORDER BY BINARY TABLE_SCHEMA, BINARY TABLE_NAME"
    )
    return [TableName(text_of(r[0]), text_of(r[1])) for r in rows]


def resolve_table(spec: str, known: set[str]) -> str:
    """``table`` (unique among the databases looked at), ``db.table`` or ```db`.`table```."""
    text = spec.strip()
    if text in known:
        return text
    parts = split_quoted(text, "`")
    if parts is not None and len(parts) == 2 and f"{parts[0]}.{parts[1]}" in known:
        return f"{parts[0]}.{parts[1]}"
    if parts is not None and len(parts) == 2 and parts[1] in known:
        return parts[1]  # db.table for a table of the connection's own database
    name = parts[0] if parts is not None and len(parts) == 1 else text
    matches = sorted(k for k in known if k.split(".", 1)[-1] == name)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(f"table {spec!r} is ambiguous ({', '.join(matches)}): give db.table")
    raise ConfigError(f"unknown table {spec!r} (give it as table, db.table or `db`.`table`)")
