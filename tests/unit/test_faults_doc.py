"""docs/faults.md is a promise: every row names a test that exists and injects that fault."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "faults.md"
_REF = re.compile(r"(tests/[\w/]+\.py)?(::\w+)?")


def references(cell: str) -> list[tuple[str, str | None]]:
    """(test file, test function or None) for each reference in a row's last cell;
    ``::name`` alone continues the file named before it."""
    found: list[tuple[str, str | None]] = []
    current: str | None = None
    for part in re.split(r"[,;]\s*|\s+\(|\)", cell):
        part = part.strip().strip("`")
        if not part or part.startswith("also"):
            continue
        match = _REF.fullmatch(part.split("[")[0])
        assert match and (match.group(1) or current), f"unreadable test reference {part!r}"
        current = match.group(1) or current
        assert current is not None
        name = match.group(2)[2:] if match.group(2) else None
        found.append((current, name))
    return found


def rows() -> list[list[str]]:
    table = []
    for line in DOC.read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| fault "):
            table.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return table


def test_every_row_is_whole_and_names_a_test_that_exists() -> None:
    table = rows()
    assert len(table) > 60
    for cells in table:
        assert len(cells) == 5, f"a row needs 5 cells: {cells[0]!r}"
        assert cells[3], f"no exit code for {cells[0]!r}"
        refs = references(cells[4])
        assert refs, f"no test for {cells[0]!r}"
        for file, name in refs:
            path = ROOT / file
            assert path.is_file(), f"{cells[0]!r}: {file} does not exist"
            if name is not None:
                assert f"def {name}(" in path.read_text(), f"{cells[0]!r}: no {file}::{name}"
