"""The checkpoint of an executing reapply (rewritten after every committed batch, 0600: it
names production and holds keys of its rows) and the command that resumes from it."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from restoredrill.drill.private_file import write_private
from restoredrill.drill.reapply_work import DEFAULT_MAX_ROWS, ReapplyOptions
from restoredrill.errors import ReapplyRefused
from restoredrill.models import Frozen, ReapplyConflict, ReapplyOnly, ServerIdentity


class Checkpoint(Frozen):
    """Progress of an executing reapply, rewritten after every committed batch."""

    format: Literal["restoredrill-reapply-checkpoint/1"] = "restoredrill-reapply-checkpoint/1"
    diff_sha256: str
    target: ServerIdentity
    only: ReapplyOnly
    where: str | None
    stamp: str
    archive_tables: dict[str, str]  # table display -> archive table name
    positions: dict[str, int]  # table display -> rows of its work list already applied
    last_keys: dict[str, dict[str, str | None]]  # table display -> last applied key
    totals: dict[str, dict[str, int]]  # table display -> outcome -> count
    batches: int
    conflicts: list[ReapplyConflict] = Field(default_factory=list)  # the first ones


def checkpoint_path(diff_file: Path) -> Path:
    return diff_file.with_name(diff_file.name + ".checkpoint.json")


def default_sql_path(diff_file: Path) -> Path:
    stem = diff_file.name[: -len(".json")] if diff_file.name.endswith(".json") else diff_file.name
    return diff_file.with_name(stem + ".reapply.sql")


def read_checkpoint(path: Path) -> Checkpoint | None:
    if not path.is_file():
        return None
    try:
        return Checkpoint.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ReapplyRefused(f"the checkpoint {path} is unreadable; remove it ({exc})") from exc


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Atomic (a crash leaves the previous checkpoint whole) and 0600."""
    write_private(path, checkpoint.model_dump_json(indent=2) + "\n", True, "the checkpoint")


def resume_command(diff_file: Path, target_label: str, opts: ReapplyOptions) -> str:
    """The command that resumes: the checkpoint requires the same --only/--where. The target
    is the redacted DSN (a password is never printed; give it as before)."""
    args = ["restoredrill", "reapply", str(diff_file), "--to", target_label, "--execute"]
    if opts.only != "all":
        args += ["--only", opts.only]
    if opts.where is not None:
        args += ["--where", opts.where]
    if opts.sql_out is not None:
        args += ["--sql-out", str(opts.sql_out), "--force"]
    if opts.max_rows != DEFAULT_MAX_ROWS:
        args += ["--max-rows", str(opts.max_rows)]
    return shlex.join(args)


__all__ = [
    "Checkpoint",
    "checkpoint_path",
    "default_sql_path",
    "read_checkpoint",
    "resume_command",
    "write_checkpoint",
]
