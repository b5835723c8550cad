"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        envvar="RESTOREDRILL_LEDGER",
        help="SQLite drill history file (default: in the user's data directory).",
    ),
]
PgBinOpt = Annotated[
    str | None,
    typer.Option(
        "--pg-bin",
        envvar="RESTOREDRILL_PG_BIN",
        help="Directory with the PostgreSQL server binaries.",
    ),
]
OsUserOpt = Annotated[
    str,
    typer.Option(
        "--os-user",
        envvar="RESTOREDRILL_OS_USER",
        help="OS user the servers run as when restoredrill runs as root.",
    ),
]

# Logs and progress go to stderr; stdout carries only results (and --json documents).
err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


def interactive(json_output: bool) -> bool:
    """Show progress only on a terminal and never with --json."""
    return not json_output and sys.stderr.isatty()


def emit_json(model: BaseModel) -> None:
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")
