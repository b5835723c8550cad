"""The data of a MariaDB staging load (engines/mysql/staging.py): LOAD DATA's text format
(fields separated by tabs, rows by newlines, ``\\N`` for NULL, backslash escapes), and the
same rows as multi-row INSERTs for the reviewable script, decoded from that very text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from restoredrill.engines.staging import StageRow

_SPECIAL = re.compile(r"[\\\t\n\0]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\0": "\\0"})
SCRIPT_STATEMENT_BYTES = 1 << 20  # per INSERT of the script (under the client's 16 MiB)


def _field(value: int | str | None) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, int):
        return str(value)
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def encode(rows: Iterable[StageRow]) -> bytes:
    field, out = _field, []
    for row in rows:
        line = "\t".join(["\\N" if v is None else v if type(v) is str else str(v) for v in row])
        # most rows hold nothing to escape: told by counting (C speed), not field by field
        if (
            line.count("\t") != len(row) - 1
            or line.count("\\") != row.count(None)
            or "\n" in line
            or "\0" in line
        ):
            line = "\t".join([field(v) for v in row])
        out.append(line)
    return ("\n".join(out) + "\n").encode() if out else b""


def insert_statements(head: str, conversions: Sequence[str], data: bytes) -> list[str]:
    """``data`` as ``head`` + rows of values, each field a string literal (the first two,
    position and group, as numbers) through its conversion (``{}``: the literal). The text
    is LOAD DATA's escaped form, whose escapes (``\\\\ \\t \\n \\0``) mean the same in
    a string literal (backslash escapes on: the script pins sql_mode): only ``'`` is doubled."""
    plain = all(how == "{}" for how in conversions[2:])
    statements: list[str] = []
    rows: list[str] = []
    size = 0
    for line in data.decode().split("\n")[:-1]:  # escaped: a raw newline ends a row
        fields = line.replace("'", "''").split("\t")
        values = [f if f != "\\N" else "NULL" for f in fields[:2]]
        if plain:
            values += ["NULL" if f == "\\N" else "'" + f + "'" for f in fields[2:]]
        else:
            values += [
                "NULL" if f == "\\N" else how.format("'" + f + "'")
                for how, f in zip(conversions[2:], fields[2:], strict=True)
            ]
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
