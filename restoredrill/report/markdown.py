"""Markdown: the SLA report with its evidence pack, and a single drill's summary."""

from __future__ import annotations

from typing import Any

from restoredrill.drill.report import Evidence, SlaReport
from restoredrill.drill.result import DrillResult
from restoredrill.durations import format_duration as fd


def _cell(value: object) -> str:
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def report_markdown(report: SlaReport) -> str:
    out = [
        "# Restore drill report",
        "",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M:%S %Z}"
        + (f", drills since {report.since:%Y-%m-%d %H:%M %Z}" if report.since else "")
        + f". Sources: {', '.join(report.sources)}.",
        "",
        "## Per database",
        "",
    ]
    out += _table(
        [
            "database",
            "drills",
            "pass rate",
            "restore p50",
            "restore p95",
            "restore max",
            "RTO objective",
            "RPO (last / max)",
            "RPO objective",
            "SLA breaches",
            "last success",
        ],
        [
            [
                s.database,
                s.drills,
                _pct(s.pass_rate),
                fd(s.restore_p50_seconds),
                fd(s.restore_p95_seconds),
                fd(s.restore_max_seconds),
                fd(s.rto_objective_seconds),
                f"{fd(s.rpo_last_seconds)} / {fd(s.rpo_max_seconds)}",
                fd(s.rpo_objective_seconds),
                s.rto_breaches + s.rpo_breaches,
                f"{s.last_success_at:%Y-%m-%d %H:%M}" if s.last_success_at else "never",
            ]
            for s in report.databases
        ],
    )
    out += ["", "## SLA breaches", ""]
    if report.breaches:
        out += _table(
            ["when", "database", "playbook", "objective", "measured", "objective value"],
            [
                [
                    f"{b.when:%Y-%m-%d %H:%M}",
                    b.database,
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
            ["when", "database", "playbook", "verdict", "reasons"],
            [
                [
                    f"{f.when:%Y-%m-%d %H:%M}",
                    f.database,
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
        f"### {item.database} — drill {ident} ({item.when:%Y-%m-%d %H:%M:%S %Z}): {item.verdict}",
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
