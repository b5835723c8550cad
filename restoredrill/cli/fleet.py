"""`restoredrill fleet render`: a Kubernetes Indexed Job running one playbook per index."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from restoredrill.drill.fleet import FleetJobRequest, render_yaml

app = typer.Typer(help="Run drills beyond one machine.", no_args_is_help=True)


@app.command("render")
def render_command(
    playbooks: Annotated[list[Path], typer.Argument(metavar="PLAYBOOK...")],
    image: Annotated[str, typer.Option("--image", help="Container image with restoredrill.")],
    results_dir: Annotated[
        str, typer.Option("--results-dir", help="Shared results directory inside the pods.")
    ] = "/results",
    name: Annotated[str, typer.Option("--name", help="Job name.")] = "restoredrill-fleet",
    namespace: Annotated[str | None, typer.Option("--namespace")] = None,
    parallelism: Annotated[
        int | None, typer.Option("--parallelism", min=1, help="Pods at once (default: all).")
    ] = None,
    results_claim: Annotated[
        str, typer.Option("--results-claim", help="PersistentVolumeClaim for the results.")
    ] = "restoredrill-results",
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Secret whose keys become environment variables."),
    ] = None,
) -> None:
    """Print the ConfigMap + Indexed Job YAML (kubectl apply -f -)."""
    text = render_yaml(
        FleetJobRequest(
            playbooks=playbooks,
            image=image,
            results_dir=results_dir,
            name=name,
            namespace=namespace,
            parallelism=parallelism,
            results_claim=results_claim,
            secret=secret,
        )
    )
    sys.stdout.write(text)
