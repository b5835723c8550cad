"""Entry point: builds the Typer app and maps exceptions to exit codes in exactly one place."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click
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
        app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("restoredrill: interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except Interrupted as exc:
        err.print(f"restoredrill: interrupted: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("restoredrill: interrupted")
        sys.exit(130)
    except RestoreDrillError as exc:
        err.print(f"restoredrill: error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the one place an unexpected error becomes exit 4
        err.print(f"restoredrill: internal error: {type(exc).__name__}: {exc}", markup=False)
        sys.exit(4)
