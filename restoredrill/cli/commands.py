"""Registers the command modules on the app (the order here is the order in --help).

Only the module of the command being run is imported when the command line names one
(`restoredrill restore ...` never imports the MariaDB, fleet or report code): importing
every module costs about a second before anything starts, and that second is part of the
restore time a user measures. `restoredrill --help` (or an unknown command) imports all."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

# command name → (module, attribute, kind): "command" functions or sub-"app" Typers
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("demo", "demo_command", "command"),
    "plan": ("restore", "plan_command", "command"),
    "restore": ("restore", "restore_command", "command"),
    "verify": ("verify", "verify_command", "command"),
    "manifest": ("manifest", "manifest_command", "command"),
    "diff": ("diff", "diff_command", "command"),
    "reapply": ("reapply", "reapply_command", "command"),
    "recover": ("recover", "recover_command", "command"),
    "incident": ("incident", "app", "app"),
    "history": ("history", "history_command", "command"),
    "sandbox": ("sandbox", "app", "app"),
    "wal-fetch": ("walfetch", "wal_fetch_command", "hidden"),
    "drill": ("drill", "drill_command", "command"),
    "check": ("check", "check_command", "command"),
    "report": ("report", "report_command", "command"),
    "fleet": ("fleet", "app", "app"),
    "doctor": ("doctor", "doctor_command", "command"),
}


def invoked(argv: Sequence[str]) -> str | None:
    """The command the command line names (its first word), if it is one of ours."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def register(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    only = invoked(argv) if argv is not None else None
    for name, (module_name, attribute, kind) in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"restoredrill.cli.{module_name}")
        target = getattr(module, attribute)
        if kind == "app":
            app.add_typer(target, name=name)
        else:
            app.command(name, hidden=kind == "hidden")(target)
