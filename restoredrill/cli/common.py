"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console, ConsoleDimensions

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
    typer.Option("--pg-bin", help="Directory with the PostgreSQL server binaries."),
]
OsUserOpt = Annotated[
    str,
    typer.Option("--os-user", help="OS user the servers run as when restoredrill runs as root."),
]

PIPED_WIDTH = 1000


class StdoutConsole(Console):
    """Rich console for results: the terminal's width on a terminal; when stdout is piped or
    redirected, wide enough that no value is cut or folded (rich would otherwise take the
    width of whichever of stdin/stderr is a terminal, or 80). COLUMNS still wins."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = Console.size.fget(self)  # type: ignore[attr-defined]
        assert isinstance(measured, ConsoleDimensions)
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPED_WIDTH, measured.height)
        return measured

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


# Logs and progress go to stderr; stdout carries only results (and --json documents).
err = Console(stderr=True, highlight=False)
out = StdoutConsole(highlight=False, soft_wrap=True)


def interactive(json_output: bool) -> bool:
    """Show progress only on a terminal and never with --json."""
    return not json_output and sys.stderr.isatty()


def emit_json(model: BaseModel) -> None:
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")
