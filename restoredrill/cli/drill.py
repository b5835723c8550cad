"""`restoredrill drill PLAYBOOK...`: run drill playbooks (several side by side with
--parallel), record them in the ledger, write their outputs; exit 0 pass, 1 failed or SLA
breached, 2 invalid playbook, 3 infrastructure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restoredrill.cli.console import err, interactive, out
from restoredrill.cli.documents import emit_json
from restoredrill.cli.options import OUTPUT, JsonOpt, LedgerOpt
from restoredrill.drill.run import DrillOptions, run_drills
from restoredrill.report.terminal import RichProgress
from restoredrill.report.terminal_drill import render_fleet
from restoredrill.timing import ProgressListener

WebhookOpt = Annotated[
    str | None,
    typer.Option(
        "--webhook-url",
        metavar="URL",
        envvar="RESTOREDRILL_WEBHOOK_URL",
        show_envvar=True,
        show_default=False,
        help="Slack-compatible webhook called on a failure or an SLA breach (a secret: "
        "prefer the environment variable; never printed).",
    ),
]


def drill_command(
    playbooks: Annotated[
        list[Path], typer.Argument(metavar="PLAYBOOK...", help="Drill playbooks (YAML).")
    ],
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="Run up to N playbooks at once.")
    ] = 1,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", metavar="FILE", help="Write JUnit XML here.", rich_help_panel=OUTPUT
        ),
    ] = None,
    results_dir: Annotated[
        Path | None,
        typer.Option(
            "--results-dir",
            metavar="DIR",
            help="Also write each drill's result JSON here.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    webhook_url: WebhookOpt = None,
    allow_unverified_base: Annotated[
        bool,
        typer.Option(
            "--allow-unverified-base",
            help=(
                "Accept what cannot be checked: a base backup without backup_manifest, or"
                " binlogs written without checksums, may still PASS (the warning stays)."
            ),
        ),
    ] = False,
    ledger: LedgerOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Run drill playbooks: restore, verify, game day, objectives; recorded in the ledger."""
    progress: ProgressListener | None = RichProgress(err) if interactive(json_output) else None
    options = DrillOptions(
        ledger_path=ledger,
        results_dir=results_dir,
        junit=junit,
        webhook_url=webhook_url,
        parallel=parallel,
        allow_unverified_base=allow_unverified_base,
    )
    fleet = run_drills(playbooks, options, progress)
    if json_output:
        emit_json(fleet.drills[0] if len(fleet.drills) == 1 else fleet)
    else:
        render_fleet(out, fleet)
    if fleet.exit_code:
        raise typer.Exit(fleet.exit_code)
