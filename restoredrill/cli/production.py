"""How long a read on production may wait or run before the command gives up (exit 3)."""

from __future__ import annotations

from typing import Annotated

import typer

from restoredrill.cli.options import PRODUCTION

LockTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--lock-timeout",
        metavar="DURATION",
        help="Give up (exit 3) when production makes a read wait this long for a lock.",
        rich_help_panel=PRODUCTION,
    ),
]
StatementTimeoutOpt = Annotated[
    str,
    typer.Option(
        "--statement-timeout",
        metavar="DURATION",
        help="Give up (exit 3) when one statement on production runs this long.",
        rich_help_panel=PRODUCTION,
    ),
]
