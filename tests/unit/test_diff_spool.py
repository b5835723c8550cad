"""The diff's rows on disk (drill/diff_spool.py): out in key (path) order whatever order the
chunks were found in, the same document text as rows held in memory, and never silently
empty when something serializes them the wrong way."""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import PydanticSerializationError

from restoredrill.drill.diff import load_diff, write_diff
from restoredrill.drill.diff_file import document_digest
from restoredrill.drill.diff_spool import Spool, SpooledRows
from restoredrill.errors import ConfigError, InfrastructureError
from restoredrill.models import (
    ChangedRow,
    DiffColumn,
    DiffCounts,
    DiffDocument,
    RowDiff,
    ServerIdentity,
)

TRICKY = '"lost": [] \\ é \u2028 \x00'


def _row(path: tuple[int, ...], n: int) -> dict[str, str | None]:
    return {"id": ".".join(map(str, path)) + f"/{n}", "note": TRICKY if n % 2 else None}


def _interleaved() -> tuple[Spool, list[tuple[tuple[int, ...], int]]]:
    """Two runs whose buckets interleave: leaves (odd buckets) and dense ranges (even ones),
    each run in path order, found run after run, as a bisection finds them."""
    spool = Spool()
    expected: list[tuple[tuple[int, ...], int]] = []
    for parity in (1, 0):
        for chunk in range(3):
            for bucket in range(chunk * 4, chunk * 4 + 4):
                if bucket % 2 != parity:
                    continue
                path = (bucket, 1) if parity else (bucket,)
                for n in reversed(range(bucket % 3 + 1)):  # found out of order in a bucket
                    spool.adder("lost")((path, n, _row(path, n)))
                    expected.append((path, n))
            spool.flush()
    expected.sort()
    return spool, expected


def test_rows_come_out_in_path_order_across_interleaved_chunks() -> None:
    spool, expected = _interleaved()
    rows = spool.rows("lost")
    want = [_row(path, n) for path, n in expected]
    assert len(rows) == len(want) == spool.count("lost")
    assert list(rows) == want
    assert rows == want
    assert rows[:3] == want[:3]
    assert rows[5] == want[5]
    assert rows[-1] == want[-1]
    assert rows[1::2] == want[1::2]
    with pytest.raises(IndexError):
        rows[len(want)]
    assert [r for chunk in rows.chunks() for r in chunk] == want
    assert len(spool.rows("new")) == 0
    assert list(spool.rows("changed")) == []


def _table(counts: DiffCounts, **rows: Any) -> RowDiff:
    """public.t (id, note) keyed by id, holding ``rows`` (lists, or rows on disk)."""
    table = RowDiff(
        table="public.t",
        schema_name="public",
        table_name="t",
        keyed=True,
        key=["id"],
        columns=[
            DiffColumn(name="id", type="text", key=True),
            DiffColumn(name="note", type="text"),
        ],
        where=None,
        rows_restored=100,
        rows_production=90,
        counts=counts,
        lost=[],
        new=[],
        changed=[],
    )
    return table.model_copy(update=rows)


def _document(table: RowDiff) -> DiffDocument:
    server = ServerIdentity(
        label="x",
        database="shop",
        system_identifier=1,
        postmaster_start_time=datetime(2026, 12, 1, tzinfo=UTC),
        port=1,
        data_directory=None,
    )
    return DiffDocument(
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        mode="production",
        restored=server,
        production=server,
        tables=[table],
    )


def test_the_file_from_spooled_rows_is_the_file_from_rows_in_memory(tmp_path: Path) -> None:
    spool, expected = _interleaved()
    changed = ChangedRow(restored=_row((1,), 0), production=_row((1,), 1), columns=["id"])
    spool.adder("changed")(((1,), 0, changed))
    spool.flush()
    in_memory = _table(
        DiffCounts(lost=len(expected), changed=1),
        lost=[_row(path, n) for path, n in expected],
        changed=[changed],
    )
    spooled = in_memory.model_copy(
        update={kind: spool.rows(kind) for kind in ("lost", "new", "changed")}
    )
    write_diff(_document(in_memory), tmp_path / "memory.json")
    write_diff(_document(spooled), tmp_path / "spool.json")
    texts = [json.loads((tmp_path / name).read_text()) for name in ("spool.json", "memory.json")]
    for text in texts:  # rows per line: as each was written
        text["tables"][0].pop("lines")
    assert texts[0] == texts[1]
    assert load_diff(tmp_path / "spool.json") == _document(in_memory)
    # rows on disk never serialize as an empty list by mistake: pydantic refuses them
    with pytest.raises(PydanticSerializationError):
        _document(spooled).model_dump_json()


def test_a_temporary_directory_that_cannot_hold_the_rows_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    spool = Spool()
    spool.adder("lost")(((0,), 0, _row((0,), 0)))
    with pytest.raises(InfrastructureError, match="set TMPDIR"):
        spool.flush()


def _written(tmp_path: Path, rows: int = 25) -> tuple[Path, DiffDocument]:
    spool = Spool()
    for n in range(rows):
        spool.adder("lost")(((n // 10,), n, _row((n // 10,), n)))
        if n % 10 == 9:
            spool.flush()
    spool.flush()
    table = _table(DiffCounts(lost=rows), lost=spool.rows("lost"))
    document = _document(table)
    path = tmp_path / "d.json"
    write_diff(document, path)
    return path, document


def test_a_diff_file_is_read_back_onto_disk_a_line_at_a_time(tmp_path: Path) -> None:
    path, document = _written(tmp_path)
    lines = path.read_text().split("\n")
    assert sum(1 for line in lines if line.startswith("{")) == 1 + 3  # the document, 3 chunks
    loaded = load_diff(path)
    assert isinstance(loaded.tables[0].lost, SpooledRows)
    assert loaded == document
    # the layout of an older writer (rows inline) or of jq is parsed whole, still exact
    inline = json.dumps(json.loads(path.read_text()), indent=1)
    (tmp_path / "jq.json").write_text(inline)
    assert load_diff(tmp_path / "jq.json") == document
    assert isinstance(load_diff(tmp_path / "jq.json").tables[0].lost, list)


def test_a_diff_file_missing_rows_or_with_a_bad_row_is_refused(tmp_path: Path) -> None:
    """A line is checked when first read (reapply reads every row before writing one)."""
    path, _ = _written(tmp_path)
    text = path.read_text()
    lines = [line + "\n" for line in text.split("\n")[:-1]]  # not splitlines: U+2028
    chunk = next(n for n, line in enumerate(lines) if line.startswith('{"id"'))

    def edited(name: str, *replaced: str) -> Path:
        (tmp_path / name).write_text("".join([*lines[:chunk], *replaced, *lines[chunk + 1 :]]))
        return tmp_path / name

    # one row deleted from a line by hand: the line says otherwise
    fewer = edited("fewer.json", lines[chunk].replace(lines[chunk].split("},", 1)[0] + "},", ""))
    with pytest.raises(ConfigError, match=r"a line of 9 lost row\(s\) said to hold 10"):
        list(load_diff(fewer).tables[0].lost)
    # a whole line gone: still valid JSON, refused as it is read
    with pytest.raises(ConfigError, match=r"2 line\(s\) of lost rows, 3 said"):
        load_diff(edited("line.json"))
    # a value that is not text
    typed = edited("typed.json", lines[chunk].replace('"id":"', '"id":7,"x":"', 1))
    with pytest.raises(ConfigError, match="not a restoredrill diff file"):
        list(load_diff(typed).tables[0].lost)
    # the lines' counts changed to match: the table's counts still say 25
    relabeled = (
        (tmp_path / "fewer.json")
        .read_text()
        .replace('"lines": [\n        [\n          10,', '"lines": [\n        [\n          9,')
    )
    assert relabeled != (tmp_path / "fewer.json").read_text()
    (tmp_path / "relabeled.json").write_text(relabeled)
    with pytest.raises(ConfigError, match=r"24 lost row\(s\) listed, 25 counted"):
        load_diff(tmp_path / "relabeled.json")
    # a line said to hold no rows or fewer than none: refused on reading (a count that does
    # not add up line by line could leave a line unread)
    for said in ("0", "-1"):
        zero = text.replace(
            '"lines": [\n        [\n          10,', f'"lines": [\n        [\n          {said},'
        )
        assert zero != text
        (tmp_path / "zero.json").write_text(zero)
        with pytest.raises(ConfigError, match="not a restoredrill diff file"):
            load_diff(tmp_path / "zero.json")
    # cut in the middle of a line
    (tmp_path / "cut.json").write_text(text[: text.index(lines[chunk]) + 40])
    with pytest.raises(ConfigError, match="not a restoredrill diff file"):
        load_diff(tmp_path / "cut.json")


def test_the_digest_of_a_document_is_the_digest_of_its_file(tmp_path: Path) -> None:
    path, document = _written(tmp_path)
    assert document_digest(document) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_changed_row_of_a_diff_file_is_checked_as_strictly_as_its_model(tmp_path: Path) -> None:
    """Changed rows are checked as plain data (not models: 2x faster), no less strictly."""
    changed = ChangedRow(restored=_row((1,), 0), production=_row((1,), 1), columns=["note"])
    table = _table(DiffCounts(changed=1), changed=[changed])
    path = tmp_path / "d.json"
    write_diff(_document(table), path)
    assert list(load_diff(path).tables[0].changed) == [changed]
    text = path.read_text()
    for name, bad in (
        ("extra.json", text.replace('"columns":["note"]', '"columns":["note"],"why":"x"')),
        ("typed.json", text.replace('"columns":["note"]', '"columns":[7]')),
        ("missing.json", text.replace(',"columns":["note"]', "")),
    ):
        assert bad != text
        (tmp_path / name).write_text(bad)
        with pytest.raises(ConfigError, match="a line of changed rows"):
            list(load_diff(tmp_path / name).tables[0].changed)
