"""Registers every command module on the app (the order here is the order in --help)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from restoredrill.cli import (
        check,
        demo,
        diff,
        drill,
        fleet,
        history,
        incident,
        manifest,
        reapply,
        recover,
        report,
        restore,
        sandbox,
        verify,
        walfetch,
    )

    app.command("demo")(demo.demo_command)
    app.command("plan")(restore.plan_command)
    app.command("restore")(restore.restore_command)
    app.command("verify")(verify.verify_command)
    app.command("manifest")(manifest.manifest_command)
    app.command("diff")(diff.diff_command)
    app.command("reapply")(reapply.reapply_command)
    app.command("recover")(recover.recover_command)
    app.add_typer(incident.app, name="incident")
    app.command("history")(history.history_command)
    app.add_typer(sandbox.app, name="sandbox")
    app.command("wal-fetch", hidden=True)(walfetch.wal_fetch_command)
    app.command("drill")(drill.drill_command)
    app.command("check")(check.check_command)
    app.command("report")(report.report_command)
    app.add_typer(fleet.app, name="fleet")
