"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.align import AlignMethod
from rich.cells import cell_len
from rich.console import Console, ConsoleDimensions
from rich.rule import Rule
from rich.style import Style
from rich.text import Text, TextType


@dataclass
class Invocation:
    """What the running command was asked for that the error mapping in app.py needs: with
    --json an error is also printed as a JSON document on stdout."""

    json: bool = False


invocation = Invocation()


def _record_json(value: bool) -> bool:
    if value:
        invocation.json = True
    return value


JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout.", callback=_record_json),
]
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

PIPED_WIDTH = 1000
RULE_WIDTH = 80


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

    def rule(
        self,
        title: TextType = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        """Section rules: the console's width on a terminal; piped, a line as long as the
        title needs (at least 80), not PIPED_WIDTH."""
        line = Rule(title, characters=characters, style=style, align=align)
        if self.width < PIPED_WIDTH:
            self.print(line)
        else:
            text = title if isinstance(title, str) else title.plain
            self.print(line, width=max(RULE_WIDTH, cell_len(Text.from_markup(text).plain) + 8))


# Logs and progress go to stderr; stdout carries only results (and --json documents).
err = Console(stderr=True, highlight=False)
out = StdoutConsole(highlight=False, soft_wrap=True)


def interactive(json_output: bool) -> bool:
    """Show progress only on a terminal and never with --json."""
    return not json_output and sys.stderr.isatty()


# Documents whose model has no ``format`` field of its own: named here, version 1.
_FORMATS = {
    "RestoreResult": "restoredrill-restore/1",
    "RestorePlan": "restoredrill-plan/1",
    "VerifyReport": "restoredrill-verify/1",
    "CheckReport": "restoredrill-check/1",
    "ReapplyReport": "restoredrill-reapply/1",
    "RecoverResult": "restoredrill-recover/1",
    "DemoResult": "restoredrill-demo/1",
    "DemoEnvironment": "restoredrill-demo-environment/1",
    "MysqlDemoEnvironment": "restoredrill-demo-environment/1",
}


def document_format(model: BaseModel) -> str:
    own = getattr(model, "format", None)
    if isinstance(own, str):
        return own
    name = type(model).__name__
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    return _FORMATS.get(name, f"restoredrill-{kebab}/1")


def write_document(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def emit_json(model: BaseModel) -> None:
    """One document on stdout; its first key names its format and version."""
    data = model.model_dump(mode="json")
    write_document({"format": document_format(model), **data})


def emit_list(format_name: str, key: str, models: list[Any]) -> None:
    """A list as a document: ``{"format": ..., key: [...]}``, never a bare array."""
    write_document({"format": format_name, key: [m.model_dump(mode="json") for m in models]})
