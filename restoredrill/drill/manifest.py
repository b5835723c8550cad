"""Manifests: counts and checksums of every table of production in one snapshot, optionally
tied to a named restore point, saved to a file that ``verify`` can compare a restore against."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from restoredrill import dsn as dsnlib
from restoredrill.drill.fanout import FanOut
from restoredrill.drill.private_file import check_writable, write_private
from restoredrill.drill.table_pieces import Assembly, Piece, split
from restoredrill.engines.base import Positions, Session, engine_for_dsn
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.models import Manifest, TableFingerprint
from restoredrill.sandboxes.registry import local_restore

MAX_RESTORE_POINT_NAME = 63  # MAXFNAMELEN - 1 in the server


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def create_manifest(
    dsn: str, restore_point: str | None = None, tables: Sequence[str] | None = None
) -> Manifest:
    """Fingerprint every user table (or ``tables``) in one REPEATABLE READ, READ ONLY
    snapshot; with ``restore_point``, create that named restore point right after."""
    if restore_point is not None and not 0 < len(restore_point) <= MAX_RESTORE_POINT_NAME:
        raise ConfigError(f"restore point names are 1 to {MAX_RESTORE_POINT_NAME} characters")
    engine = engine_for_dsn(dsn)
    refusal = local_restore(engine.name).no_restore_points
    if restore_point is not None and refusal is not None:
        raise ConfigError(refusal)
    conn = engine.connect(dsn, read_only=True)
    try:
        engine.pin_session(conn)
        known = {t.display: t for t in engine.list_tables(conn)}
        if tables is None:
            selected = list(known.values())
        else:
            selected = [known[engine.resolve_table(spec, set(known))] for spec in tables]
        found: dict[str, TableFingerprint] = {}
        lock = threading.Lock()

        def done(table: str, outcome: TableFingerprint | str) -> None:
            assert isinstance(outcome, TableFingerprint)  # a piece's error was raised
            with lock:
                found[table] = outcome

        assembly = Assembly[str](engine, done)

        def one(connection: Any, piece: Piece[str]) -> None:
            assembly.add(piece, engine.fingerprint(connection, piece.table, piece.where))

        with engine.snapshot(conn):
            # The first statement takes the snapshot; its position is read in the same one.
            snapshot_lsn, snapshot_position = engine.snapshot_position(conn)
            # More connections share this very snapshot: several tables (and pieces of big
            # ones) at once.
            fan = FanOut[Piece[str]](engine, lambda: _open(engine, dsn))
            tasks = [(table.display, table, None) for table in selected]
            fan.run(conn, split(engine, conn, tasks, fan.width), one)
        fingerprints = {table.display: found[table.display] for table in selected}
        point_lsn = None
        if restore_point is not None:
            point_lsn = _create_restore_point(engine, conn, restore_point)
    except engine.errors as exc:
        raise DatabaseUnavailable(
            f"cannot build a manifest of {dsnlib.redact(dsn)}: {_one_line(exc)}"
        ) from exc
    finally:
        engine.close(conn)
    return Manifest(
        database=dsnlib.describe(dsn),
        engine=engine.name,
        created_at=datetime.now(UTC),
        snapshot_lsn=snapshot_lsn,
        snapshot_position=snapshot_position,
        restore_point=restore_point,
        restore_point_lsn=point_lsn,
        checksum_algorithm=engine.checksum_algorithm,
        tables=fingerprints,
    )


def _open(engine: Session, dsn: str) -> Any:
    conn = engine.connect(dsn, read_only=True)
    try:
        engine.pin_session(conn)
    except BaseException:
        engine.close(conn)
        raise
    return conn


def _create_restore_point(engine: Positions, conn: Any, name: str) -> int:
    try:
        return engine.create_restore_point(conn, name)
    except engine.restore_point_errors() as exc:
        raise ConfigError(f"cannot create restore point {name!r}: {_one_line(exc)}") from exc


def write_manifest(manifest: Manifest, path: Path, force: bool = False) -> None:
    """Write atomically and 0600 (it holds production's row counts and checksums); an
    existing file is kept unless ``force``."""
    path = Path(path)
    check_writable(path, force)
    write_private(path, manifest.model_dump_json(indent=2) + "\n", force)


def load_manifest(path: Path | str) -> Manifest:
    """Read a manifest file; anything else (garbage, another format) → one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not a restoredrill manifest (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != Manifest.model_fields["format"].default:
        raise ConfigError(
            f"{path} is not a restoredrill manifest (expected format "
            f"{Manifest.model_fields['format'].default!r})"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ConfigError(
            f"{path} is not a valid restoredrill manifest: {where}: {first['msg']}"
        ) from None


def manifest_to_file(
    dsn: str,
    out: Path,
    restore_point: str | None = None,
    tables: Sequence[str] | None = None,
    force: bool = False,
) -> Manifest:
    """What ``restoredrill manifest`` does: check ``out`` first (so nothing is created on
    production for a file that cannot be written), build the manifest, write it."""
    check_writable(Path(out), force)
    manifest = create_manifest(dsn, restore_point=restore_point, tables=tables)
    write_manifest(manifest, Path(out), force=force)
    return manifest
