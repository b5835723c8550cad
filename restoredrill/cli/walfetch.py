"""`restoredrill wal-fetch` (hidden): the restore_command of a sandbox in streaming mode."""

from __future__ import annotations

from typing import Annotated

import typer


def wal_fetch_command(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="WAL file name PostgreSQL asks for (%f).")
    ],
    dest: Annotated[str, typer.Argument(metavar="DEST", help="Where to put it (%p).")],
    config: Annotated[
        str, typer.Option("--config", metavar="FILE", help="The sandbox's wal-fetch.json.")
    ],
) -> None:
    """Fetch one WAL file (and prefetch the next ones) for PostgreSQL's restore_command."""
    from restoredrill.engines.postgres.wal_fetch import main

    raise typer.Exit(main(["--config", config, name, dest]))
