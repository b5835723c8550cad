"""Pure verify logic: statuses, "production moved on", parsing user input, manifest files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.drill.manifest import load_manifest, write_manifest
from restoredrill.drill.verify_input import parse_as_of, parse_as_of_columns, split_tables
from restoredrill.drill.verify_verdict import (
    MovedOn,
    classify,
    overall_status,
    production_moved_on,
)
from restoredrill.engines.mysql.engine import MySQLEngine
from restoredrill.engines.postgres.engine import PostgresEngine
from restoredrill.engines.postgres.fingerprint import format_checksum
from restoredrill.errors import ConfigError, InvalidTarget
from restoredrill.models import Manifest, TableCheck, TableFingerprint, VerifyStatus

A = TableFingerprint(rows=3, checksum="a" * 32)
B = TableFingerprint(rows=3, checksum="b" * 32)
C = TableFingerprint(rows=4, checksum="c" * 32)
MOVED = MovedOn(True, "production is at 0/5000000, past the restored point 0/4000000")
STILL = MovedOn(False, "production has not moved past the restored point")


def test_equal_is_pass_everywhere() -> None:
    for kind in ("live", "manifest"):
        check = classify("public.t", A, A, kind, None, MOVED)  # type: ignore[arg-type]
        assert check.status == VerifyStatus.PASS and check.detail is None


def test_difference_against_a_manifest_is_fail() -> None:
    check = classify("public.t", A, C, "manifest", None, None)
    assert check.status == VerifyStatus.FAIL
    assert check.detail == "row counts differ (3 restored, 4 reference)"


def test_difference_against_live_production() -> None:
    moved = classify("public.t", A, B, "live", None, MOVED)
    assert moved.status == VerifyStatus.INCONCLUSIVE
    assert moved.detail is not None
    assert moved.detail.startswith("same row count, checksums differ")
    assert "past the restored point" in moved.detail and "--as-of-column" in moved.detail
    still = classify("public.t", A, B, "live", None, STILL)
    assert still.status == VerifyStatus.FAIL
    unknown = classify("public.t", A, B, "live", None, None)
    assert unknown.status == VerifyStatus.INCONCLUSIVE


def test_as_of_predicate_turns_a_difference_into_fail() -> None:
    check = classify("public.t", A, B, "live", "\"at\" <= '2024-01-01'", MOVED)
    assert check.status == VerifyStatus.FAIL
    assert check.predicate == "\"at\" <= '2024-01-01'"


def test_errors_and_missing_tables() -> None:
    assert classify("t", None, A, "live", None, STILL).detail == "missing in the restored database"
    assert classify("t", A, None, "live", None, STILL).detail == "missing in the reference"
    assert classify("t", A, None, "manifest", None, None).detail == "missing in the manifest"
    # a table on one side only is a data difference (exit 1), not an infrastructure error
    for restored, reference in ((None, A), (A, None), (None, "boom"), ("boom", None)):
        assert classify("t", restored, reference, "live", None, MOVED).status == VerifyStatus.FAIL
    error = classify("t", "permission denied for table t", A, "live", None, STILL)
    assert error.status == VerifyStatus.ERROR
    assert error.detail == "restored: permission denied for table t"
    assert error.restored is None and error.reference == A
    assert classify("t", A, "boom", "live", None, MOVED).detail == "reference: boom"


def _check(status: VerifyStatus) -> TableCheck:
    return TableCheck(table="t", status=status, restored=None, reference=None)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], VerifyStatus.PASS),
        ([VerifyStatus.PASS, VerifyStatus.PASS], VerifyStatus.PASS),
        ([VerifyStatus.PASS, VerifyStatus.INCONCLUSIVE], VerifyStatus.INCONCLUSIVE),
        ([VerifyStatus.INCONCLUSIVE, VerifyStatus.FAIL], VerifyStatus.FAIL),
        ([VerifyStatus.FAIL, VerifyStatus.ERROR, VerifyStatus.PASS], VerifyStatus.ERROR),
    ],
)
def test_overall_status(statuses: list[VerifyStatus], expected: VerifyStatus) -> None:
    assert overall_status([_check(s) for s in statuses]) == expected


def test_production_moved_on() -> None:
    assert production_moved_on(None, 1, 10, 5).moved
    assert production_moved_on(1, None, 10, 5).moved
    other = production_moved_on(1, 2, 10, 5)
    assert other.moved and "system identifiers differ" in other.reason
    assert production_moved_on(1, 1, None, 5).moved
    assert production_moved_on(1, 1, 10, None).moved
    past = production_moved_on(1, 1, 0x4000000, 0x4000028)
    assert past.moved and "0/4000028" in past.reason and "0/4000000" in past.reason
    assert not production_moved_on(1, 1, 0x4000000, 0x4000000).moved
    assert not production_moved_on(1, 1, 0x4000028, 0x4000000).moved


def test_parse_as_of() -> None:
    assert parse_as_of("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_as_of("2024-05-01 12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_as_of(" 2024-05-01T10:00+05:30").utcoffset() == timedelta(hours=5, minutes=30)
    with pytest.raises(InvalidTarget, match="no timezone"):
        parse_as_of("2024-05-01T10:00:00")
    with pytest.raises(InvalidTarget, match="not an ISO 8601 time"):
        parse_as_of("yesterday")


def test_parse_as_of_columns_and_tables() -> None:
    assert parse_as_of_columns(None) == {}
    assert parse_as_of_columns(["orders=updated_at", "s.t = at"]) == {
        "orders": "updated_at",
        "s.t": "at",
    }
    assert parse_as_of_columns(["we=ird=col"]) == {"we=ird": "col"}
    for bad in ("orders", "=col", "orders=", " = "):
        with pytest.raises(ConfigError, match="TABLE=COLUMN"):
            parse_as_of_columns([bad])
    assert split_tables(None) is None
    assert split_tables([]) is None
    assert split_tables(["a,b", " c ", "s.t,"]) == ["a", "b", "c", "s.t"]
    assert split_tables([","]) is None


def test_checksum_format() -> None:
    assert format_checksum(0) == "0" * 16
    assert format_checksum(-1) == "f" * 16
    # sums beyond 64 bits fold (the server sums exactly); the result stays 16 hex digits
    assert format_checksum(2**70 + 5) == "0" * 15 + "5"
    assert format_checksum(-(2**80) + 1) == "0" * 15 + "1"


def _manifest() -> Manifest:
    return Manifest(
        database="db:5432/app",
        engine="postgres",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        snapshot_lsn="0/16B3748",  # type: ignore[arg-type]
        restore_point="rp",
        restore_point_lsn=0x16B3800,
        tables={'My Schema.we"ird Table': A, "public.t": C},
    )


def test_manifest_file_round_trip_and_overwrite(tmp_path: Path) -> None:
    manifest = _manifest()
    path = tmp_path / "m.json"
    write_manifest(manifest, path)
    loaded = load_manifest(path)
    assert loaded == manifest
    assert loaded.snapshot_lsn == 0x16B3748
    assert '"snapshot_lsn": "0/16B3748"' in path.read_text()
    with pytest.raises(ConfigError, match="already exists"):
        write_manifest(manifest, path)
    write_manifest(manifest.model_copy(update={"restore_point": "other"}), path, force=True)
    assert load_manifest(path).restore_point == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_manifest_records_its_checksum_algorithm(tmp_path: Path) -> None:
    """Files written before the field existed read as the md5 algorithm, which neither engine
    computes any more: verify refuses them instead of comparing unlike checksums."""
    path = tmp_path / "old.json"
    document = json.loads(_manifest().model_dump_json())
    del document["checksum_algorithm"]
    path.write_text(json.dumps(document))
    assert load_manifest(path).checksum_algorithm == "md5-halves-sum/1"
    assert PostgresEngine.checksum_algorithm == "pg-rowhash64-sum/1"
    assert MySQLEngine.checksum_algorithm == "my-crc32-reverse-sum/2"
    new = _manifest().model_copy(update={"checksum_algorithm": "pg-rowhash64-sum/1"})
    write_manifest(new, tmp_path / "new.json")
    assert load_manifest(tmp_path / "new.json").checksum_algorithm == "pg-rowhash64-sum/1"
