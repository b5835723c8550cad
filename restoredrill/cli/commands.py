"""Registers every command module on the app (the order here is the order in --help)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from restoredrill.cli import (
        demo,
        diff,
        history,
        manifest,
        reapply,
        recover,
        restore,
        sandbox,
        verify,
    )

    app.command("demo")(demo.demo_command)
    app.command("plan")(restore.plan_command)
    app.command("restore")(restore.restore_command)
    app.command("verify")(verify.verify_command)
    app.command("manifest")(manifest.manifest_command)
    app.command("diff")(diff.diff_command)
    app.command("reapply")(reapply.reapply_command)
    app.command("recover")(recover.recover_command)
    app.command("history")(history.history_command)
    app.add_typer(sandbox.app, name="sandbox")
