"""Entry point: builds the Typer app and maps exceptions to exit codes in exactly one place."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer

from restoredrill.cli.common import err
from restoredrill.errors import Interrupted, RestoreDrillError

app = typer.Typer(
    name="restoredrill",
    help="Rehearse database point-in-time recovery: restore, time, verify, diff, reapply.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported here so each command module stays independent and `--help` stays fast.
    from restoredrill.cli import commands

    commands.register(app)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("terminated (SIGTERM)")


def main(argv: list[str] | None = None) -> None:
    _register()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # Typer's standalone mode handles usage errors (exit 2) and Ctrl-C (exit 130).
        app(args=argv)
    except RestoreDrillError as exc:
        err.print(f"restoredrill: error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the one place an unexpected error becomes exit 4
        err.print(
            f"restoredrill: internal error: {type(exc).__name__}: {exc}",
            markup=False,
            soft_wrap=True,
        )
        sys.exit(4)
