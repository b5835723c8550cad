"""The data of a MariaDB staging load (engines/mysql/staging.py): LOAD DATA's text format
(fields separated by tabs, rows by newlines, ``\\N`` for NULL, backslash escapes), and the
same rows as multi-row INSERTs for the reviewable script, decoded from that very text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from restoredrill.engines.mysql.session import literal
from restoredrill.engines.staging import StageRow

_SPECIAL = re.compile(r"[\\\t\n\0]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\0": "\\0"})
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"t": "\t", "n": "\n", "0": "\0"}
SCRIPT_STATEMENT_BYTES = 1 << 20  # per INSERT of the script (under the client's 16 MiB)


def _field(value: int | str | None) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, int):
        return str(value)
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def _unfield(field: str) -> str | None:
    if field == "\\N":
        return None
    if "\\" not in field:
        return field
    return _UNESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(1)), field)


def encode(rows: Iterable[StageRow]) -> bytes:
    field = _field
    return "".join("\t".join([field(v) for v in row]) + "\n" for row in rows).encode()


def insert_statements(head: str, conversions: Sequence[str], data: bytes) -> list[str]:
    """``data`` as ``head`` + rows of values, each field a string literal (the first two,
    position and group, as numbers) through its conversion (``{}``: the literal)."""
    statements: list[str] = []
    rows: list[str] = []
    size = 0
    for line in data.decode().split("\n")[:-1]:  # escaped: a raw newline ends a row
        values = []
        for n, (how, field) in enumerate(zip(conversions, line.split("\t"), strict=True)):
            value = _unfield(field)
            if value is None:
                values.append("NULL")
            else:
                values.append(how.format(value if n < 2 else literal(value)))
        row = "(" + ", ".join(values) + ")"
        if rows and size + len(row) > SCRIPT_STATEMENT_BYTES:
            statements.append(head + ",\n".join(rows))
            rows, size = [], 0
        rows.append(row)
        size += len(row) + 2
    if rows:
        statements.append(head + ",\n".join(rows))
    return statements


__all__ = ["encode", "insert_statements"]
