"""The driver boundary, named: what the use cases hand to an engine without looking inside.

``Connection`` is a ``psycopg.Connection`` (PostgreSQL) or ``mysql.session.MyConn``
(MariaDB/MySQL); a ``Statement`` is a ``psycopg.sql`` object or a complete SQL string (or a
fragment of one, such as a WHERE condition); ``Params`` are values the driver binds to a
statement's placeholders, and a ``Row`` is what it returns. Only the engine that made one
opens it."""

from __future__ import annotations

from typing import Any

Connection = Any
Statement = Any
Params = list[Any]
Row = tuple[Any, ...]
Query = tuple[Statement, Params]
