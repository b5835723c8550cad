"""PyMySQL, the MariaDB/MySQL driver, imported in this one place: an install without the
``mysql`` extra (PostgreSQL only) does not have it, and every MariaDB path then says so in
one line instead of failing with a traceback.

``LOAD DATA LOCAL INFILE`` (reapply's staging, engines/mysql/staging.py): the server names
the "file" the client sends, and PyMySQL would open whatever path it names. Here the client
sends only data restoredrill itself offered for that statement (``offered``), from memory:
no file on disk is ever read for a server, and a server asking for another name gets an
error instead."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from typing import Any

from restoredrill.errors import ToolMissing

try:
    import pymysql
    import pymysql.connections
    from pymysql.constants import CLIENT, ER
    from pymysql.converters import escape_string
except ImportError:  # pragma: no cover - the dev install has it; tests block it by hand
    raise ToolMissing(
        "MariaDB/MySQL needs the PyMySQL driver: pip install 'restoredrill[mysql]'"
    ) from None

_OFFERED: dict[bytes, memoryview] = {}
_LOCK = threading.Lock()
_CHUNK = 16 * 1024  # bytes per packet, as PyMySQL's own sender (under any server limit)


def _send_offered(filename: bytes | str, conn: Any) -> None:
    """PyMySQL's ``_send_local_file``, serving only the data ``offered`` under that name."""
    name = filename.encode() if isinstance(filename, str) else bytes(filename)
    with _LOCK:
        data = _OFFERED.get(name)
    if data is None:
        raise pymysql.err.OperationalError(
            ER.FILE_NOT_FOUND, f"the server asked for {name[:80]!r}: not offered by restoredrill"
        )
    for start in range(0, len(data), _CHUNK):  # an interrupt lands between packets
        conn.write_packet(data[start : start + _CHUNK])


# PyMySQL calls this module-level function for every LOAD_LOCAL request it receives
pymysql.connections._send_local_file = _send_offered  # type: ignore[attr-defined]


@contextlib.contextmanager
def offered(data: bytes) -> Iterator[str]:
    """A one-time name under which the client sends ``data`` to a LOAD DATA LOCAL INFILE
    statement run inside the block."""
    name = f"restoredrill-{secrets.token_hex(16)}"
    with _LOCK:
        _OFFERED[name.encode()] = memoryview(data)
    try:
        yield name
    finally:
        with _LOCK:
            _OFFERED.pop(name.encode(), None)


__all__ = ["CLIENT", "escape_string", "offered", "pymysql"]
