"""The root command group: loads a command's module only when that command runs.

`restoredrill --help` lists the commands from the table in commands.py without importing
them, so the help (and a usage error) costs the start of Typer, not of every library the
commands use. Flags show no ``<bool>`` type in any help.

Click's context, formatter and commands are typed ``Any`` here: newer Typer releases ship
their own copy of Click, so no one import names them across the versions we accept."""

from __future__ import annotations

import importlib
import inspect
from difflib import get_close_matches
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from restoredrill.cli.commands import COMMANDS, CommandSpec


def reflow(text: str | None) -> str | None:
    """Help written as prose: docstring paragraphs are wrapped in the source, so their line
    breaks go (Typer keeps them after the first paragraph, breaking sentences at 80 columns)."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def _no_type(ctx: Any) -> None:
    return None


def _tidy(command: Any, ctx: Any) -> None:
    command.help = reflow(command.help)
    # A flag takes no value: the type column stays empty instead of showing <bool>; an
    # argument's name already says what it takes (RESTORED_DSN), so no <str> beside it.
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar is not None:
            param.display_type_rich = _no_type


class QuietCommand(TyperCommand):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _tidy(self, ctx)
        super().format_help(ctx, formatter)


class QuietGroup(TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _tidy(self, ctx)
        super().format_help(ctx, formatter)


def sub_app(help_text: str) -> typer.Typer:
    """A command with subcommands (sandbox, incident, fleet)."""
    return typer.Typer(help=help_text, no_args_is_help=True, cls=QuietGroup)


def load(name: str, spec: CommandSpec) -> Any:
    """The Click command for ``name``, built from its module's function or Typer."""
    module = importlib.import_module(f"restoredrill.cli.{spec.module}")
    target = getattr(module, spec.attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        group.rich_help_panel = spec.panel
        for command in group.commands.values():  # as listed in the group's help
            command.help = reflow(command.help)
        return group
    single = typer.Typer(add_completion=False)
    single.command(name, cls=QuietCommand, hidden=spec.hidden, rich_help_panel=spec.panel)(target)
    return typer.main.get_command(single)


class LazyGroup(QuietGroup):
    """Commands come from COMMANDS; listing them (help, completion of a command name)
    uses the table's summaries, running one imports just its module."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        if self._listing:
            return TyperCommand(
                cmd_name, help=spec.summary, hidden=spec.hidden, rich_help_panel=spec.panel
            )
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load(cmd_name, spec)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # Click's UsageError (Typer's own suggests from loaded ones)
            message = getattr(exc, "message", "")
            if isinstance(message, str) and message.startswith("No such command") and args:
                shown = [name for name, spec in COMMANDS.items() if not spec.hidden]
                matches = get_close_matches(args[0], shown)
                if matches and "Did you mean" not in message:
                    suggestion = ", ".join(repr(m) for m in matches)
                    exc.message = f"{message.rstrip('.')}. Did you mean {suggestion}?"  # type: ignore[attr-defined]
            raise
