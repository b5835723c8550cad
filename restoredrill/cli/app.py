"""Entry point: builds the Typer app and maps exceptions to exit codes in exactly one place.

Nothing heavy is imported here: the commands load lazily (cli/lazy.py), so `restoredrill
--help`, `--version` and shell completion start in a fraction of a second."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import NoReturn

import typer

from restoredrill.cli.documents import invocation, write_document
from restoredrill.cli.lazy import LazyGroup
from restoredrill.errors import Interrupted, InterruptSignal, RestoreDrillError, interrupt_name

app = typer.Typer(
    name="restoredrill",
    help="Rehearse database point-in-time recovery: restore, time, verify, diff, reapply.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"restoredrill {version('restoredrill')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version, help="Print the version and exit."
    ),
) -> None:
    pass


_signals: list[str] = []  # the signals received, for the one line printed at exit


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    _signals.append(name)
    raise InterruptSignal(name)


def _fail(error: str, exit_code: int, kind: str, what: str = "error") -> None:
    """The one-line message on stderr; with --json also an error document on stdout (so a
    consumer parsing stdout reads what went wrong, not an empty stream)."""
    from restoredrill.cli.console import err

    err.print(f"restoredrill: {what}: {error}", markup=False, soft_wrap=True)
    if invocation.json:
        write_document(
            {
                "format": "restoredrill-error/1",
                "error": error,
                "exit_code": exit_code,
                "kind": kind,
            }
        )


def _parser_errors() -> tuple[type[Exception], ...]:
    """The parser's own errors: Typer's (it vendors click from 0.29 on), and click's where
    Typer still uses the click package."""
    kinds: list[type[Exception]] = [typer.exceptions.TyperException]
    try:
        import click
    except ImportError:
        return tuple(kinds)
    return (*kinds, click.ClickException)


def _parser_error(exc: Exception) -> NoReturn:
    """A usage error as our one line (exit 2), not a boxed panel; a group called without a
    command shows its help, as before."""
    code = int(getattr(exc, "exit_code", 2))
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # type: ignore[attr-defined]
        sys.exit(code)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    _fail(message, code, "UsageError", "usage")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    invocation.json = False
    # The driver logs "error ignored in rollback" when a cancelled statement's rollback meets
    # a closing connection; the one error line below already says what happened.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    logging.getLogger("psycopg").propagate = False
    # SIGINT and SIGTERM behave alike: an InterruptSignal (a KeyboardInterrupt, so drivers
    # cancel the running statement and sandboxes are torn down on the way out), then exit 130.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        # Not Typer's standalone mode: a usage error is our one line too (not a boxed panel),
        # and typer.Exit's code comes back as the return value.
        code = app(args=argv, prog_name="restoredrill", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)  # always an exit, as standalone did
    except typer.Abort:  # Ctrl-C / SIGTERM reach the parser as an Abort
        name = interrupt_name(_signals[0] if _signals else None)
        _fail(name, Interrupted.exit_code, "Interrupted")
        sys.exit(Interrupted.exit_code)
    except _parser_errors() as exc:
        _parser_error(exc)
    except RestoreDrillError as exc:
        _fail(str(exc), exc.exit_code, type(exc).__name__)
        sys.exit(exc.exit_code)
    except SystemExit as exc:
        if exc.code == Interrupted.exit_code:
            name = interrupt_name(_signals[0] if _signals else None)
            _fail(name, Interrupted.exit_code, "Interrupted")
        raise
    except Exception as exc:  # the one place an unexpected error becomes exit 4
        _fail(f"{type(exc).__name__}: {exc}", 4, "InternalError", "internal error")
        sys.exit(4)
