"""The reviewable SQL script of a reapply: the statements execution runs, batch by batch,
idempotent (psql can run it twice). Written 0600: it holds production rows.

By set (reapply_set): each batch's rows are COPY data inline after ``COPY ... FROM STDIN;``
(psql reads them from the script up to ``\\.``), then the guarded statements; by hand every
group of SET columns gets its UPDATE (execution leaves out a group with no row to revert),
and the lost rows the INSERT skips are not read. Execution encodes each batch once, here:
the script's data is the data streamed to production. (Execution tries the INSERT without
ON CONFLICT first, under a savepoint, and runs the script's form only if a key is taken.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from restoredrill.drill.private_file import check_writable, private_writer
from restoredrill.drill.reapply_execute import batches
from restoredrill.drill.reapply_items import Item
from restoredrill.drill.reapply_set import Encoded, batch_statements, encode, last_values
from restoredrill.drill.reapply_work import (
    ReapplyOptions,
    TableWork,
    batch_settings,
    build_batch,
    key_of,
)
from restoredrill.engines.base import Engine
from restoredrill.engines.staging import Stager
from restoredrill.models import DiffDocument, ServerIdentity


def write_script(
    engine: Engine,
    conn: Any,
    document: DiffDocument,
    diff_file: Path,
    path: Path,
    works: list[TableWork],
    opts: ReapplyOptions,
    target: ServerIdentity,
    selected: int,
) -> None:
    def text(statement: Any) -> str:
        return engine.render(conn, statement)

    guard_of = "post-incident" if document.mode == "incident" else "production"
    stager = engine.staging(conn)
    how = (
        [
            "-- Each batch: its rows are loaded (data inline) into a session-local staging table,",
            "-- production's rows with those keys are locked, then written by set:",
        ]
        if stager is not None
        else []
    )
    lines = [
        f"-- restoredrill reapply of {diff_file}",
        f"-- made {datetime.now(UTC).isoformat()} for {target.label} (database {target.database})",
        f"-- diff mode: {document.mode}; rows selected: {selected} (--only {opts.only}"
        + (f", --where {opts.where}" if opts.where else "")
        + ")",
        *how,
        "-- Lost rows: inserted only where no row holds their key (a taken key is skipped).",
        f"-- Changed rows: UPDATE only while every compared column still holds its {guard_of}",
        "-- value (text form under the settings below); the current version is archived first.",
        "-- Idempotent: running it again changes nothing. Rows only in production are untouched.",
        "",
    ]
    for work in works:
        lines += [f"-- {work.diff.table}: {note}" for note in work.triggers.notes]
    lines += [text(s) + ";" for s in engine.session_settings()]
    lines.append("")
    for work in works:
        if work.archive is not None:
            lines.append(f"-- {work.diff.table}: archive of the rows reverted")
            lines += [text(s) + ";" for s in engine.create_archive(work.table, work.archive)]
            lines.append("")
    # 0600: it holds production rows. The default path (next to the diff) is reapply's own
    # and is rewritten by every run; an explicit --sql-out only with --force.
    check_writable(path, True, "the SQL script", make_dir=True)
    with private_writer(path, opts.force or opts.sql_out is None, "the SQL script") as out:
        out.write("\n".join(lines) + "\n")
        for work in works:
            count = len(work.items)
            for n, (begin, batch) in enumerate(batches(work.items, opts.batch_size), start=1):
                out.write(
                    f"-- {work.diff.table}: batch {n} (rows {begin + 1}-{begin + len(batch)} "
                    f"of {count})\nBEGIN;\n"
                )
                if stager is not None:
                    written, encoded = _set_batch(engine, stager, conn, work, batch, opts)
                    out.write(written)
                    if opts.execute:
                        spec, groups, sigs, data = encoded
                        last = key_of(work, last_values(batch))  # for the checkpoint
                        work.payloads.put(begin, ((spec, groups, sigs), last), data)
                else:
                    for statement in build_batch(engine, work, batch, opts, True).all():
                        out.write(text(statement) + ";\n")
                if work.triggers.skip:  # the foreign-key triggers are off too: check by hand
                    keys = [i.values for i in batch]
                    for check in engine.parent_checks(conn, work.table, work.key, keys):
                        out.write(text(check) + ";\n")
                out.write("COMMIT;\n\n")


def _set_batch(
    engine: Engine,
    stager: Stager,
    conn: Any,
    work: TableWork,
    batch: Sequence[Item],
    opts: ReapplyOptions,
) -> tuple[str, Encoded]:
    """A set-based batch as execution runs it (every group of SET columns is written: by
    hand there is no classification first; the guard decides, as it does in execution),
    and the batch's encoded data for execution."""
    encoded = encode(stager, conn, work, batch)
    spec, groups, sigs, data = encoded
    archive, updates, insert = batch_statements(
        stager, spec, work, batch, groups, sigs, archive=True
    )
    head = "".join(engine.render(conn, s) + ";\n" for s in batch_settings(engine, work, opts))
    changed = any(s is not None for s in sigs)
    writes = [*([stager.lock(spec)] if changed else []), *([archive] if archive else [])]
    writes += updates
    writes += [insert] if insert is not None else []
    text = head + stager.script_load(conn, spec, data)
    return text + "".join(engine.render(conn, s) + ";\n" for s in writes), encoded


__all__ = ["write_script"]
