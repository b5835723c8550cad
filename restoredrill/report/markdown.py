"""Markdown: the SLA report with its evidence pack, and a single drill's summary."""

from __future__ import annotations

from typing import Any

from restoredrill.drill.result import DrillResult
from restoredrill.durations import format_duration as fd
from restoredrill.report.sla import Evidence, SlaReport
from restoredrill.report.sla_rows import DEMO_NOTE, database_rows, demo_rows, kind_rows, when


def _cell(value: object) -> str:
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def report_markdown(report: SlaReport) -> str:
    out = [
        "# Restore drill report",
        "",
        f"**{report.headline}**",
        "",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M %Z}"
        + (f", drills since {report.since:%Y-%m-%d %H:%M %Z}" if report.since else "")
        + f". Sources: {', '.join(report.sources)}. A drill passes when it verified and met "
        "every objective.",
        "",
        "## Per database",
        "",
    ]
    out += _table(*database_rows(report))
    out += ["", "## Restore time per kind of drill", ""]
    out += _table(*kind_rows(report))
    if report.demo:
        out += ["", "## Demo runs", "", DEMO_NOTE, ""]
        out += _table(*demo_rows(report))
    out += ["", "## SLA breaches", ""]
    if report.breaches:
        out += _table(
            ["when", "database", "kind", "playbook", "objective", "measured", "objective value"],
            [
                [
                    when(b.when),
                    b.database,
                    b.kind,
                    b.playbook,
                    b.objective.upper(),
                    fd(b.measured_seconds),
                    fd(b.objective_seconds),
                ]
                for b in report.breaches
            ],
        )
    else:
        out.append("None.")
    out += ["", "## Correctness failures", ""]
    if report.failures:
        out += _table(
            ["when", "database", "kind", "playbook", "verdict", "reasons"],
            [
                [
                    when(f.when),
                    f.database,
                    f.kind,
                    f.playbook,
                    f.verdict,
                    "; ".join(f.reasons),
                ]
                for f in report.failures
            ],
        )
    else:
        out.append("None.")
    out += ["", "## Evidence", ""]
    for item in report.evidence:
        out += evidence_markdown(item)
    return "\n".join(out) + "\n"


def evidence_markdown(item: Evidence) -> list[str]:
    ident = f"#{item.ledger_id}" if item.ledger_id is not None else (item.run_id or "")[:8]
    backup = item.backup or {}
    out = [
        f"### {item.database} — {item.kind or ''} drill {ident} ({when(item.when)}): {item.verdict}"
        + "".join(
            f", {str(o.get('name')).upper()} breached"
            for o in item.objectives
            if o.get("status") == "breached"
        ),
        "",
        f"- playbook: {item.playbook or '-'}; run id {item.run_id or '-'}; from {item.origin}",
        f"- source: {item.source}",
        f"- backup: {backup.get('path', '-')} (label {backup.get('label', '-')}, ends "
        f"{backup.get('end_lsn', '-')} at {backup.get('stop_time', '-')})",
        f"- target: {item.target}; recovered to "
        f"{(item.recovered_to or {}).get('lsn', '-')} / last transaction "
        f"{(item.recovered_to or {}).get('last_transaction', '-')}",
        f"- restore time (RTO measure): {fd(item.rto_seconds)}; RPO: {fd(item.rpo_seconds)}; "
        f"SLA {item.sla or '-'}",
    ]
    for objective in item.objectives:
        out.append(
            f"- objective {str(objective.get('name')).upper()}: "
            f"{fd(objective.get('objective_seconds'))}, measured "
            f"{fd(objective.get('measured_seconds'))} — {objective.get('status')}"
        )
    if item.phases:
        out.append("- phases: " + ", ".join(f"{p.name} {fd(p.seconds)}" for p in item.phases))
    if item.checks:
        out += ["", "Checks:", ""]
        out += _table(
            ["check", "status", "detail"],
            [[c.get("check"), c.get("status"), c.get("detail")] for c in item.checks],
        )
    if item.differences:
        out += ["", "What differed:", ""]
        out += _table(
            ["table", "status", "detail"],
            [[d.get("table"), d.get("status"), _difference(d)] for d in item.differences],
        )
    if item.gameday:
        g = item.gameday
        out.append(
            f"- game day: `{g.get('sql')}` ({g.get('rows_affected')} rows), "
            f"{g.get('rows_recovered')} recovered in {fd(g.get('recovered_seconds'))}, "
            f"verified after {fd(g.get('verified_seconds'))}: {g.get('verdict')}"
        )
    for failure in item.failures:
        out.append(f"- failure: {failure}")
    if item.error:
        out.append(f"- error: {item.error}")
    out.append("")
    return out


def _difference(d: dict[str, Any]) -> str:
    if "lost" in d:
        return f"{d['lost']} lost, {d['new']} new, {d['changed']} changed"
    text = f"{d.get('rows_restored')} restored vs {d.get('rows_reference')} reference"
    if d.get("tolerated"):
        text += " (within tolerance)"
    if d.get("detail"):
        text += f": {d['detail']}"
    return text


def drill_markdown(result: DrillResult) -> str:
    out = [
        f"# Drill {result.playbook}: {result.verdict} (SLA {result.sla})",
        "",
        f"- run {result.run_id}, {result.started_at:%Y-%m-%d %H:%M:%S %Z}, {fd(result.seconds)}",
        f"- source: {result.source}; target: {result.target or '-'}",
    ]
    if result.restore is not None:
        backup = result.restore.plan.base_backup
        out.append(f"- base backup: {backup.path if backup else '-'}")
        out.append(f"- restore (provision → ready): {fd(result.restore.rto_seconds)}")
    for outcome in result.databases:
        status = outcome.verify.status if outcome.verify else "not verified"
        out.append(f"- {outcome.label}: {outcome.verdict} (verify {status})")
    for objective in result.objectives:
        out.append(
            f"- {objective.name.upper()}: {fd(objective.measured_seconds)} / objective "
            f"{fd(objective.objective_seconds)} — {objective.status}"
        )
    if result.gameday is not None:
        g = result.gameday
        out.append(f"- game day `{g.sql}`: verified after {fd(g.verified_seconds)} ({g.verdict})")
    out += [f"- SLA breach: {b}" for b in result.breaches]
    out += [f"- failure: {f}" for f in result.failures]
    if result.error and result.error not in result.failures:
        out.append(f"- error: {result.error}")
    return "\n".join(out) + "\n"
