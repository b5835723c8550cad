"""Game day: inject a classic incident into a disposable copy — a restored sandbox, never
production — and time the whole recovery, from the incident to recovered, verified rows.

The copy ("victim") is the drill's own restore. After the incident a second restore of the
same backups to the same target is the recovery copy; then

- a bad DELETE or an UPDATE without WHERE: keyed diff (recovery copy vs victim), reapply
  executed into the victim (guarded, batched; it is a throwaway), verify;
- DROP TABLE: the table is reloaded from the recovery copy (pg_dump | psql), verify.

What is engine-specific (the incident's SQL, the reload) is the engine's GameDayEngine,
found through sandboxes/registry.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from restoredrill.drill.diff import diff_tables, make_document, write_diff
from restoredrill.drill.reapply import ReapplyOptions, reapply_document
from restoredrill.drill.restore import Restored, RestoreRequest, restored
from restoredrill.drill.result import GameDayOutcome
from restoredrill.drill.verify import verify
from restoredrill.engines.base import engine_for_dsn
from restoredrill.engines.names import TableName
from restoredrill.errors import ConfigError
from restoredrill.models import VerifyStatus
from restoredrill.playbook import GameDaySpec
from restoredrill.sandboxes.registry import gameday_engine
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress


class GameDayEngine(Protocol):
    """An engine's part of a game day."""

    def user_tables(self, dsn: str) -> list[TableName]: ...
    def resolve_table(self, spec: str, known: set[str]) -> str: ...
    def inject(self, dsn: str, spec: GameDaySpec, table: TableName) -> tuple[str, int | None]: ...
    def reload_table(
        self, copy_dsn: str, victim_dsn: str, table: TableName, request: RestoreRequest
    ) -> int: ...


def run_gameday(
    spec: GameDaySpec,
    victim: Restored,
    request: RestoreRequest,
    dbname: str,
    progress: ProgressListener | None = None,
) -> GameDayOutcome:
    listener = progress or SilentProgress()
    victim_dsn = victim.dsn(dbname)
    kit = gameday_engine(engine_for_dsn(victim_dsn).name)
    known = {t.display: t for t in kit.user_tables(victim_dsn)}
    table = known[kit.resolve_table(spec.table, set(known))]
    selected: Sequence[str]
    if spec.tables is not None:
        selected = [kit.resolve_table(t, set(known)) for t in spec.tables]
    else:
        selected = sorted(known)
    clock = PhaseClock(listener)
    listener.note(f"[red]game day incident[/red] in the restored copy: {spec.incident}")
    started = time.monotonic()
    with clock.phase("incident") as record:
        text, affected = kit.inject(victim_dsn, spec, table)
        record.detail = text
    if spec.incident != "drop-table" and not affected:
        raise ConfigError(f"game day: the incident touched no rows of {table.display}")
    # the same restore again, as a fresh local copy
    copy_request = dataclasses.replace(request, keep=False, dbname=dbname, source=None)
    with contextlib.ExitStack() as stack:
        with clock.phase("restore recovery copy"):
            copy = stack.enter_context(restored(copy_request, listener))
        copy_dsn = copy.dsn(dbname)
        recovered_rows = 0
        if spec.incident == "drop-table":
            with clock.phase("reload table") as record:
                recovered_rows = kit.reload_table(copy_dsn, victim_dsn, table, request)
                record.detail = f"{recovered_rows} rows"
            recovery = "reload-table"
        else:
            with clock.phase("diff") as record:
                copy_id, victim_id, diffs = diff_tables(copy_dsn, victim_dsn, selected)
                document = make_document("production", copy_id, victim_id, diffs, None)
                record.detail = f"{document.counts.lost} lost, {document.counts.changed} changed"
            with (
                tempfile.TemporaryDirectory(prefix="restoredrill-gameday-") as tmp,
                clock.phase("reapply") as record,
            ):
                diff_file = Path(tmp) / "gameday.diff.json"
                write_diff(document, diff_file)
                report = reapply_document(
                    document,
                    diff_file,
                    victim_dsn,
                    ReapplyOptions(execute=True, max_rows=spec.max_rows),
                )
                recovered_rows = report.inserted + report.updated
                record.detail = f"{report.inserted} inserted, {report.updated} updated"
            recovery = "reapply"
        recovered_seconds = time.monotonic() - started
        with clock.phase("verify") as record:
            checked = verify(victim_dsn, copy_dsn, tables=selected)
            record.detail = str(checked.status)
        verified_seconds = time.monotonic() - started
    return GameDayOutcome(
        incident=spec.incident,
        database=dbname,
        table=table.display,
        sql=text,
        rows_affected=affected,
        recovery=recovery,  # type: ignore[arg-type]
        rows_recovered=recovered_rows,
        recovered_seconds=recovered_seconds,
        verified_seconds=verified_seconds,
        verify=checked,
        phases=list(clock.phases),
        verdict="PASS" if checked.status == VerifyStatus.PASS else "FAIL",
    )
