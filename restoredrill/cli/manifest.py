"""`restoredrill manifest`: counts and checksums of production in one snapshot, to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.console import out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import OUTPUT, JsonOpt, TablesOpt
from restoredrill.drill.manifest import manifest_to_file
from restoredrill.drill.verify import split_tables
from restoredrill.report.terminal_verify import render_manifest


def manifest_command(
    production_dsn: Annotated[
        str, typer.Argument(metavar="PRODUCTION_DSN", help="Opened read-only.")
    ],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FILE", help="Manifest file to write (JSON).", rich_help_panel=OUTPUT
        ),
    ],
    restore_point: Annotated[
        str | None,
        typer.Option(
            "--restore-point",
            metavar="NAME",
            help="Create this named restore point right after the snapshot.",
        ),
    ] = None,
    tables: TablesOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out.", rich_help_panel=OUTPUT)
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Fingerprint every table of production in one snapshot and save it.

    `verify` compares a restore against the file; --restore-point creates one right after."""
    manifest = manifest_to_file(
        production_dsn,
        out_file,
        restore_point=restore_point,
        tables=split_tables(tables),
        force=force,
    )
    if json_output:
        emit_json(manifest)
    else:
        render_manifest(manifest, out_file, out)
