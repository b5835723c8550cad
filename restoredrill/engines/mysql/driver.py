"""PyMySQL, the MariaDB/MySQL driver, imported in this one place: an install without the
``mysql`` extra (PostgreSQL only) does not have it, and every MariaDB path then says so in
one line instead of failing with a traceback."""

from __future__ import annotations

from restoredrill.errors import ToolMissing

try:
    import pymysql
    from pymysql.constants import CLIENT
    from pymysql.converters import escape_string
except ImportError:  # pragma: no cover - the dev install has it; tests block it by hand
    raise ToolMissing(
        "MariaDB/MySQL needs the PyMySQL driver: pip install 'restoredrill[mysql]'"
    ) from None

__all__ = ["CLIENT", "escape_string", "pymysql"]
