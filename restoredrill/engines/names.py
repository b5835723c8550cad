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
