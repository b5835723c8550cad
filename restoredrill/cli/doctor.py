"""`restoredrill doctor`: what this machine has for drills, one line per finding."""

from __future__ import annotations

from restoredrill.cli.options import JsonOpt, LedgerOpt


def doctor_command(ledger: LedgerOpt = None, json_output: JsonOpt = False) -> None:
    """Check what this machine has for drills, one line per finding.

    Server binaries and versions, pg_waldump and pg_verifybackup, MariaDB tools, pgBackRest,
    lz4 and zstd, OS users, Docker, the sandbox directory and its free space, the ledger.
    Exit 3 when something every PostgreSQL drill needs is missing."""
    from restoredrill.cli.console import out
    from restoredrill.cli.documents import emit_json
    from restoredrill.doctor import diagnose
    from restoredrill.errors import ToolMissing

    report = diagnose(ledger)
    if json_output:
        emit_json(report)
    else:
        colours = {"ok": "green", "note": "yellow", "problem": "red"}
        for finding in report.findings:
            mark = f"[{colours[finding.status]}]{finding.status:>7}[/]"
            out.print(f"{mark}  {finding.subject}: ", end="")
            out.print(finding.detail, markup=False, highlight=False)
    if not report.ok:
        problems = [f.subject for f in report.findings if f.status == "problem"]
        raise ToolMissing(f"doctor found problems: {', '.join(problems)}")
