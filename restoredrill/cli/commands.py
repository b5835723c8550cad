"""The commands, in the order of `restoredrill --help`, and where each one lives.

Only the module of the command being run is imported (`restoredrill restore ...` never
imports the MariaDB, fleet or report code, and `restoredrill --help` imports none): importing
every module costs about a second before anything starts, and that second is part of the
restore time a user measures. The summary is the first line of the command's own help
(tests/cli/test_help.py keeps the two equal)."""

from __future__ import annotations

from typing import NamedTuple

DRILL = "Drill"
INCIDENT = "Incident"
RECORDS = "Records"
MACHINE = "Machine"


class CommandSpec(NamedTuple):
    module: str  # under restoredrill.cli
    attribute: str  # a command function, or a Typer holding subcommands
    panel: str
    summary: str
    hidden: bool = False


COMMANDS: dict[str, CommandSpec] = {
    "demo": CommandSpec(
        "demo", "demo_command", DRILL,
        "Build a demo production, replay a classic bad DELETE, and drill the recovery.",
    ),
    "plan": CommandSpec(
        "plan", "plan_command", DRILL,
        "Dry run: choose the backup and log range, run the preflight checks.",
    ),
    "restore": CommandSpec(
        "restore", "restore_command", DRILL,
        "Restore to a point in time in a throwaway sandbox, timing every phase.",
    ),
    "verify": CommandSpec(
        "verify", "verify_command", DRILL,
        "Verify a restore against production (read-only) or a manifest.",
    ),
    "manifest": CommandSpec(
        "manifest", "manifest_command", DRILL,
        "Fingerprint every table of production in one snapshot and save it.",
    ),
    "drill": CommandSpec(
        "drill", "drill_command", DRILL,
        "Run drill playbooks: restore, verify, game day, objectives; recorded in the ledger.",
    ),
    "check": CommandSpec(
        "check", "check_command", DRILL,
        "Validate backup configuration for CI; exit 1 when a rule fails.",
    ),
    "incident": CommandSpec("incident", "app", INCIDENT, "Find the incident in the archive."),
    "diff": CommandSpec(
        "diff", "diff_command", INCIDENT,
        "Keyed diff of one table between a restore and production.",
    ),
    "reapply": CommandSpec(
        "reapply", "reapply_command", INCIDENT,
        "Put rows from a diff back into production (dry run unless --execute).",
    ),
    "recover": CommandSpec(
        "recover", "recover_command", INCIDENT,
        "Recover what an incident destroyed: restore before and after it, diff, reapply.",
    ),
    "history": CommandSpec(
        "history", "history_command", RECORDS,
        "List recorded restores, verifies and drills, newest first.",
    ),
    "report": CommandSpec(
        "report", "report_command", RECORDS,
        "SLA report from the drill ledger (md, html, json, junit, prometheus, PNG plot).",
    ),
    "sandbox": CommandSpec(
        "sandbox", "app", MACHINE, "Throwaway instances: list them, remove leftovers."
    ),
    "doctor": CommandSpec(
        "doctor", "doctor_command", MACHINE,
        "Check what this machine has for drills, one line per finding.",
    ),
    "fleet": CommandSpec("fleet", "app", MACHINE, "Run drills beyond one machine."),
    "wal-fetch": CommandSpec(
        "walfetch", "wal_fetch_command", MACHINE,
        "Fetch one WAL file (and prefetch the next ones) for PostgreSQL's restore_command.",
        hidden=True,
    ),
}  # fmt: skip
