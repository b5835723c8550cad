"""Engine-neutral names: a table is (schema, name); in MariaDB/MySQL the schema is the database."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True, order=True)
class TableName:
    schema: str  # "" for MariaDB/MySQL: the table is in the connection's own database
    name: str

    @property
    def display(self) -> str:
        """``schema.table`` as shown in output and manifests (not SQL: never parse it back);
        just ``table`` when the schema is the connection's database (MariaDB/MySQL)."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def identifier(self) -> sql.Identifier:
        """The PostgreSQL identifier (MariaDB/MySQL quote with ``mysql.quote_table``)."""
        return sql.Identifier(self.schema, self.name)


def split_quoted(spec: str, quote: str) -> list[str] | None:
    """Split ``a.b`` or quoted ``"My Schema"."we""ird"`` into its parts, verbatim (no case
    folding). ``quote`` is PostgreSQL's double quote or MariaDB/MySQL's backtick, doubled
    inside a quoted part. None when malformed: an empty part, an unclosed quote, a quote
    inside an unquoted part."""
    parts: list[str] = []
    i = 0
    while i <= len(spec):
        if i < len(spec) and spec[i] == quote:
            j = i + 1
            buf = []
            while True:
                if j >= len(spec):
                    return None
                if spec[j] == quote:
                    if j + 1 < len(spec) and spec[j + 1] == quote:
                        buf.append(quote)
                        j += 2
                        continue
                    break
                buf.append(spec[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = spec.find(".", i)
            j = len(spec) if j < 0 else j
            part = spec[i:j]
            if quote in part:
                return None
            parts.append(part)
            i = j
        if i == len(spec):
            break
        if spec[i] != ".":
            return None
        i += 1
    if not parts or any(p == "" for p in parts):
        return None
    return parts
