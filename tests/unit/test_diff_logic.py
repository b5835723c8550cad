"""Pure logic of diff and reapply: the identity rule, archive names, paths, CSV, options."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.drill.diff import load_diff, split_list, write_diff
from restoredrill.drill.reapply import (
    checkpoint_path,
    default_sql_path,
    identity_problem,
    same_instance,
)
from restoredrill.engines.postgres.catalog import TableName
from restoredrill.engines.postgres.reapply_sql import archive_table_name
from restoredrill.errors import ConfigError
from restoredrill.models import (
    ChangedRow,
    DiffColumn,
    DiffCounts,
    DiffDocument,
    RowDiff,
    RowDiffSummary,
    ServerIdentity,
)
from restoredrill.report.terminal_diff import write_csv

STARTED = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def _server(
    port: int = 5432,
    database: str = "shop",
    started: datetime = STARTED,
    sysid: int | None = 7000,
    datadir: str | None = "/var/lib/postgresql/15/main",
) -> ServerIdentity:
    return ServerIdentity(
        label=f"host=db port={port} dbname={database}",
        database=database,
        system_identifier=sysid,
        postmaster_start_time=started,
        port=port,
        data_directory=datadir,
    )


PRODUCTION = _server()
# A restored copy: the same system identifier (physical copy), another instance.
SANDBOX = _server(port=40001, started=STARTED + timedelta(days=3), datadir="/tmp/sb/data")


def _document(incident: ServerIdentity | None = None) -> DiffDocument:
    return DiffDocument(
        created_at=STARTED,
        mode="incident" if incident else "production",
        restored=SANDBOX,
        production=PRODUCTION,
        incident=incident,
        tables=[],
    )


def test_same_instance() -> None:
    assert same_instance(PRODUCTION, PRODUCTION)
    assert not same_instance(PRODUCTION, SANDBOX)
    # same sysid, port and data directory (a container restored elsewhere): start time differs
    lookalike = _server(started=STARTED + timedelta(hours=1))
    assert not same_instance(PRODUCTION, lookalike)
    # data directory unreadable (not superuser) on one side: start time and port decide
    assert same_instance(PRODUCTION, _server(datadir=None))
    assert not same_instance(PRODUCTION, _server(datadir="/elsewhere"))
    # an unknown start time proves nothing
    unknown = PRODUCTION.model_copy(update={"postmaster_start_time": None})
    assert not same_instance(unknown, unknown)


def test_identity_problem() -> None:
    assert identity_problem(_document(), PRODUCTION) is None
    assert identity_problem(_document(), _server(datadir=None)) is None
    problem = identity_problem(_document(), SANDBOX)
    assert problem is not None and "restored database" in problem
    after = _server(port=40002, started=STARTED + timedelta(days=3, seconds=1), datadir="/tmp/a")
    problem = identity_problem(_document(incident=after), after)
    assert problem is not None and "after-incident" in problem
    problem = identity_problem(_document(), _server(sysid=1))
    assert problem is not None and "another cluster" in problem
    problem = identity_problem(_document(), _server(started=STARTED + timedelta(minutes=5)))
    assert problem is not None and "restarted since" in problem
    problem = identity_problem(_document(), _server(database="other"))
    assert problem is not None and "'other'" in problem
    # restored and production databases on one server (tests, or a copy on the same host)
    same_server = _document().model_copy(update={"restored": _server(database="copy")})
    assert identity_problem(same_server, PRODUCTION) is None
    assert "restored database" in (identity_problem(same_server, _server(database="copy")) or "")


def test_archive_table_names() -> None:
    stamp = "20261121T031400Z"
    assert archive_table_name(TableName("public", "users"), stamp) == TableName(
        "restoredrill_archive", f"users_{stamp}"
    )
    hostile = archive_table_name(TableName("My Schema", 'we"ird Table'), stamp)
    assert hostile.name == f'My Schema.we"ird Table_{stamp}'
    long = archive_table_name(TableName("public", "é" * 60), stamp)
    assert len(long.name.encode()) <= 63 and long.name.endswith(stamp)


def test_paths_and_lists() -> None:
    assert default_sql_path(Path("/x/incident.json")) == Path("/x/incident.reapply.sql")
    assert default_sql_path(Path("/x/diff")) == Path("/x/diff.reapply.sql")
    assert checkpoint_path(Path("/x/d.json")) == Path("/x/d.json.checkpoint.json")
    assert split_list(["a,b", " c "]) == ["a", "b", "c"]
    assert split_list(None) is None and split_list([" , "]) is None


def _row_diff() -> RowDiff:
    return RowDiff(
        table="public.t",
        schema_name="public",
        table_name="t",
        keyed=True,
        key=["id"],
        columns=[
            DiffColumn(name="id", type="integer", key=True),
            DiffColumn(name="v", type="text"),
        ],
        where=None,
        rows_restored=2,
        rows_production=2,
        counts=DiffCounts(lost=1, new=1, changed=1),
        lost=[{"id": "1", "v": None}],
        new=[{"id": "3", "v": "a,b"}],
        changed=[
            ChangedRow(
                restored={"id": "2", "v": "x"}, production={"id": "2", "v": ""}, columns=["v"]
            )
        ],
    )


def test_csv_and_summary() -> None:
    document = _document().model_copy(update={"tables": [_row_diff()]})
    stream = io.StringIO()
    write_csv(document, stream)
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows == [
        ["table", "class", "id", "v", "changed_columns"],
        ["public.t", "lost", "1", "", ""],
        ["public.t", "new", "3", "a,b", ""],
        ["public.t", "changed-restored", "2", "x", "v"],
        ["public.t", "changed-production", "2", "", "v"],
    ]
    summary = RowDiffSummary.of(_row_diff(), sample=0)
    assert summary.counts.total == 3 and summary.lost_sample == []
    assert document.counts == DiffCounts(lost=1, new=1, changed=1)


def test_diff_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    document = _document().model_copy(update={"tables": [_row_diff()]})
    path = tmp_path / "d.json"
    write_diff(document, path)
    assert load_diff(path) == document
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(ConfigError, match="not a restoredrill diff file"):
        load_diff(tmp_path / "bad.json")
    (tmp_path / "cut.json").write_text(path.read_text()[:100])  # a file cut short
    with pytest.raises(ConfigError, match=r"not a restoredrill diff file \(not JSON"):
        load_diff(tmp_path / "cut.json")
    (tmp_path / "latin.json").write_bytes(b'{"format": "\xe9"}')
    with pytest.raises(ConfigError, match="not a restoredrill diff file"):
        load_diff(tmp_path / "latin.json")
    with pytest.raises(ConfigError, match="cannot read"):
        load_diff(tmp_path / "missing.json")
