"""`restoredrill sandbox list|gc`: find and remove leftovers of killed runs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from restoredrill.cli.common import JsonOpt, out
from restoredrill.report.terminal import render_sandboxes
from restoredrill.sandboxes.labels import collect_garbage, list_sandboxes

app = typer.Typer(help="Throwaway instances: list them, remove leftovers.", no_args_is_help=True)


@app.command("list")
def list_command(json_output: JsonOpt = False) -> None:
    """Local sandboxes on this machine, with whether their owner still runs."""
    states = list_sandboxes()
    if json_output:
        sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in states], indent=2) + "\n")
    else:
        render_sandboxes(out, states, "Sandboxes")


@app.command("gc")
def gc_command(
    include_kept: Annotated[
        bool, typer.Option("--all", help="Also remove sandboxes kept with --keep.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Stop and delete sandboxes whose restoredrill process is gone."""
    from restoredrill.sandboxes.docker import collect_containers

    for container in collect_containers(include_kept):  # containers first: they hold the dirs
        typer.echo(f"removed container {container['container']}", err=True)
    removed = collect_garbage(include_kept=include_kept)
    if json_output:
        sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in removed], indent=2) + "\n")
    else:
        render_sandboxes(out, removed, "Removed")
