"""The streamed diff file (drill/diff_file.py): the same JSON as a whole-document dump, for
values that look like its markers, several tables, many chunks and empty lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from restoredrill.drill import diff_file
from restoredrill.drill.diff import load_diff, write_diff
from restoredrill.errors import ConfigError
from restoredrill.models import (
    ChangedRow,
    DiffColumn,
    DiffCounts,
    DiffDocument,
    RowDiff,
    ServerIdentity,
)

TRICKY = '"lost": [] "new": [] \\ "changed": []\n\t é \u2028 \x00'


def _server(port: int) -> ServerIdentity:
    return ServerIdentity(
        label=f"port={port}",
        database="shop",
        system_identifier=7000,
        postmaster_start_time=datetime(2026, 12, 1, tzinfo=UTC),
        port=port,
        data_directory=None,
    )


def _table(name: str, rows: int) -> RowDiff:
    lost = [{"id": str(i), "note": TRICKY if i % 3 == 0 else None} for i in range(rows)]
    new: list[dict[str, str | None]] = [
        {"id": str(-i), "note": '"new": []'} for i in range(rows // 2)
    ]
    changed = [
        ChangedRow(
            restored={"id": str(i), "note": "a"},
            production={"id": str(i), "note": TRICKY},
            columns=["note"],
        )
        for i in range(rows // 3)
    ]
    return RowDiff(
        table=f"public.{name}",
        schema_name="public",
        table_name=name,
        keyed=True,
        key=["id"],
        columns=[
            DiffColumn(name="id", type="bigint", key=True),
            DiffColumn(name="note", type="text"),
        ],
        where=TRICKY,
        rows_restored=rows,
        rows_production=rows,
        counts=DiffCounts(lost=len(lost), new=len(new), changed=len(changed)),
        lost=lost,
        new=new,
        changed=changed,
        note=TRICKY,
    )


def test_streamed_file_equals_the_whole_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diff_file, "CHUNK_ROWS", 7)  # many chunks per list
    document = DiffDocument(
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        mode="production",
        restored=_server(1),
        production=_server(2),
        where=TRICKY,
        tables=[_table("a", 50), _table("empty", 0), _table("b", 8)],
    )
    path = tmp_path / "diff.json"
    write_diff(document, path)
    written = json.loads(path.read_text())
    for table in written["tables"]:  # the rows per line of the file (diff_reader.py)
        sizes = [len(table[name]) for name in ("lost", "new", "changed")]
        expected = [[7] * (n // 7) + ([n % 7] if n % 7 else []) for n in sizes]
        assert table.pop("lines") == (expected if any(sizes) else None)
    whole = json.loads(document.model_dump_json())
    assert [t.pop("lines") for t in whole["tables"]] == [None] * 3
    assert written == whole
    assert load_diff(path) == document
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="already exists"):
        write_diff(document, path)
