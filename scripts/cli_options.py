"""Print every option of every restoredrill command, one line each, to audit the spelling.

    .venv/bin/python scripts/cli_options.py            # command  option  [aliases]  type  panel
    .venv/bin/python scripts/cli_options.py --by-option  # each option with the commands using it

One idea should have one spelling (and one type) on every command that takes it."""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

from restoredrill.cli.commands import COMMANDS
from restoredrill.cli.lazy import load


def commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, spec in COMMANDS.items():
        command = load(name, spec)
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found += [(f"{name} {sub}", cmd) for sub, cmd in subcommands.items()]
        else:
            found.append((name, command))
    return found


def rows() -> list[tuple[str, str, str, str, str]]:
    table = []
    for name, command in commands():
        for param in command.params:
            if param.param_type_name != "option":
                continue
            first, *aliases = param.opts
            kind = (
                "flag"
                if getattr(param, "is_flag", False)
                else str(param.metavar or param.display_type(None))
            )
            panel = getattr(param, "rich_help_panel", None) or "Options"
            table.append((name, first, ",".join(aliases), kind, panel))
    return table


def main() -> None:
    table = rows()
    if "--by-option" in sys.argv:
        users: dict[str, set[str]] = defaultdict(set)
        kinds: dict[str, set[str]] = defaultdict(set)
        for name, option, _aliases, kind, _panel in table:
            users[option].add(name)
            kinds[option].add(kind)
        for option in sorted(users):
            mixed = "  <- several types" if len(kinds[option]) > 1 else ""
            types = " | ".join(sorted(kinds[option]))
            print(f"{option:26} {types:30} {', '.join(sorted(users[option]))}{mixed}")
        return
    for name, option, aliases, kind, panel in table:
        print(f"{name:16} {option:26} {aliases:18} {kind:26} {panel}")


if __name__ == "__main__":
    main()
