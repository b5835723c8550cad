"""Game day: inject a classic incident into a disposable copy — a restored sandbox, never
production — and time the whole recovery, from the incident to recovered, verified rows.

The copy ("victim") is the drill's own restore. After the incident a second restore of the
same backups to the same target is the recovery copy; then

- a bad DELETE or an UPDATE without WHERE: keyed diff (recovery copy vs victim), reapply
  executed into the victim (guarded, batched; it is a throwaway), verify;
- DROP TABLE: the table is reloaded from the recovery copy (pg_dump | psql), verify.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from restoredrill import dsn as dsnlib
from restoredrill.drill.diff import diff_tables, make_document, write_diff
from restoredrill.drill.reapply import ReapplyOptions, reapply_document
from restoredrill.drill.restore import Restored, RestoreRequest, restored
from restoredrill.drill.result import GameDayOutcome
from restoredrill.drill.verify import verify
from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.restore_options import PostgresOptions
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools
from restoredrill.errors import ConfigError, DatabaseUnavailable, SandboxError
from restoredrill.models import VerifyStatus
from restoredrill.playbook import GameDaySpec
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress


def incident_statement(spec: GameDaySpec, table: pg.TableName) -> sql.Composed:
    """The incident as SQL, identifiers quoted by psycopg, the value a literal."""
    target = table.identifier()
    if spec.incident == "drop-table":
        return sql.SQL("DROP TABLE {}").format(target)
    assert spec.column is not None and spec.value is not None
    column = sql.Identifier(spec.column)
    if spec.incident == "update-without-where":
        return sql.SQL("UPDATE {} SET {} = {}").format(target, column, sql.Literal(spec.value))
    # What was meant: rows below the cut-off. What ran: NULLs matched too.
    return sql.SQL("DELETE FROM {} WHERE {} < {} OR {} IS NULL").format(
        target, column, sql.Literal(spec.value), column
    )


def _user_tables(dsn: str) -> list[pg.TableName]:
    with dsnlib.connect(dsn, autocommit=True) as conn:
        return pg.list_tables(conn)


def _inject(dsn: str, statement: sql.Composed) -> tuple[str, int | None]:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            text = statement.as_string(conn)
            cursor = conn.execute(statement)
            affected = cursor.rowcount if cursor.rowcount >= 0 else None
    except psycopg.errors.DependentObjectsStillExist as exc:
        raise ConfigError(
            f"game day: {str(exc).splitlines()[0]}; choose a table nothing references"
        ) from exc
    except psycopg.errors.UndefinedColumn as exc:
        raise ConfigError(f"game day: {str(exc).splitlines()[0]}") from exc
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"game day incident failed: {str(exc).splitlines()[0]}") from exc
    return text, affected


def _reload_table(
    copy: Restored, victim: Restored, dbname: str, table: pg.TableName, tools: PgTools
) -> int:
    """DROP TABLE recovery: dump the table from the recovery copy into the victim."""
    quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (table.schema, table.name))
    dump = subprocess.Popen(
        [
            tools.path("pg_dump"),
            f"--dbname={copy.dsn(dbname)}",
            f"--table={quoted}",
            "--no-owner",
            "--no-privileges",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert dump.stdout is not None
    load = subprocess.run(
        [
            tools.path("psql"),
            f"--dbname={victim.dsn(dbname)}",
            "--quiet",
            "--no-psqlrc",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
        ],
        stdin=dump.stdout,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    dump.stdout.close()
    dump_err = dump.stderr.read().decode(errors="replace") if dump.stderr else ""
    if dump.wait() != 0 or load.returncode != 0:
        reason = (dump_err or load.stderr).strip().splitlines()
        raise SandboxError(f"reloading {table.display} failed: {reason[-1] if reason else '?'}")
    with psycopg.connect(victim.dsn(dbname)) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())).fetchone()
    return int(str(row[0])) if row is not None else 0


def _pg_bin(request: RestoreRequest) -> str | None:
    """Game day runs on PostgreSQL (the playbook schema allows it with postgres only)."""
    options = request.backend
    return options.pg_bin if isinstance(options, PostgresOptions) else None


def run_gameday(
    spec: GameDaySpec,
    victim: Restored,
    request: RestoreRequest,
    dbname: str,
    progress: ProgressListener | None = None,
) -> GameDayOutcome:
    listener = progress or SilentProgress()
    victim_dsn = victim.dsn(dbname)
    known = {t.display: t for t in _user_tables(victim_dsn)}
    table = known[pg.resolve_table(spec.table, set(known))]
    selected: Sequence[str]
    if spec.tables is not None:
        selected = [pg.resolve_table(t, set(known)) for t in spec.tables]
    else:
        selected = sorted(known)
    statement = incident_statement(spec, table)
    clock = PhaseClock(listener)
    listener.note(f"[red]game day incident[/red] in the restored copy: {spec.incident}")
    started = time.monotonic()
    with clock.phase("incident") as record:
        text, affected = _inject(victim_dsn, statement)
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
                recovered_rows = _reload_table(
                    copy, victim, dbname, table, find_pg_tools(_pg_bin(request))
                )
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
