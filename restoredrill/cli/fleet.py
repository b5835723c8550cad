"""`restoredrill fleet render`: a Kubernetes Indexed Job running one playbook per index (a
CronJob with --schedule)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.lazy import QuietCommand, sub_app
from restoredrill.fleet import FleetJobRequest, Resources, render_yaml

app = sub_app("Run drills beyond one machine.")


@app.command("render", cls=QuietCommand)
def render_command(
    playbooks: Annotated[
        list[Path], typer.Argument(metavar="PLAYBOOK...", help="Drill playbooks (YAML).")
    ],
    image: Annotated[
        str, typer.Option("--image", metavar="IMAGE", help="Container image with restoredrill.")
    ],
    results_dir: Annotated[
        str,
        typer.Option(
            "--results-dir", metavar="DIR", help="Shared results directory inside the pods."
        ),
    ] = "/results",
    name: Annotated[
        str, typer.Option("--name", metavar="NAME", help="Job name.")
    ] = "restoredrill-fleet",
    namespace: Annotated[
        str | None, typer.Option("--namespace", metavar="NAME", help="Kubernetes namespace.")
    ] = None,
    parallelism: Annotated[
        int | None, typer.Option("--parallelism", min=1, help="Pods at once (default: all).")
    ] = None,
    results_claim: Annotated[
        str,
        typer.Option(
            "--results-claim", metavar="NAME", help="PersistentVolumeClaim for the results."
        ),
    ] = "restoredrill-results",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret", metavar="NAME", help="Secret whose keys become environment variables."
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option("--schedule", metavar="CRON", help="Render a CronJob, e.g. '0 3 * * 1'."),
    ] = None,
    retries_per_index: Annotated[
        int, typer.Option("--retries-per-index", min=0, help="Retries of infrastructure errors.")
    ] = 1,
    cpu_request: Annotated[
        str, typer.Option("--cpu-request", metavar="CPU", help="CPU each pod requests.")
    ] = Resources.cpu_request,
    memory_request: Annotated[
        str, typer.Option("--memory-request", metavar="BYTES", help="Memory each pod requests.")
    ] = Resources.memory_request,
    cpu_limit: Annotated[
        str, typer.Option("--cpu-limit", metavar="CPU", help="CPU limit of each pod.")
    ] = Resources.cpu_limit,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", metavar="BYTES", help="Memory limit of each pod.")
    ] = Resources.memory_limit,
    ttl: Annotated[
        int,
        typer.Option(
            "--ttl", min=0, help="Seconds a finished Job is kept (ttlSecondsAfterFinished)."
        ),
    ] = 7 * 24 * 3600,
    run_as_user: Annotated[
        int, typer.Option("--run-as-user", min=1, help="Non-root uid the pods run as.")
    ] = 10001,
) -> None:
    """Print the ConfigMap + Indexed Job (or CronJob) YAML (kubectl apply -f -)."""
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
            schedule=schedule,
            retries_per_index=retries_per_index,
            ttl_seconds_after_finished=ttl,
            resources=Resources(cpu_request, memory_request, cpu_limit, memory_limit),
            run_as_user=run_as_user,
        )
    )
    sys.stdout.write(text)
