"""Self-contained HTML: the SLA report with its evidence pack (the trend plot embedded as a
PNG data URI when given), and a single drill's page. Every value is escaped."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from restoredrill.drill.report import Evidence, SlaReport
from restoredrill.drill.result import DrillResult
from restoredrill.durations import format_duration as fd

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left;font-size:.92em}th{background:#f3f3f3}.PASS{color:#080}.FAIL{color:#b00}
.ERROR{color:#a0a}.breached{color:#b00;font-weight:bold}section.evidence{border-top:1px solid #ddd}
code{background:#f6f6f6;padding:0 .2em}
"""


def _e(value: object) -> str:
    return escape(str(value if value is not None else "-"))


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(value: str) -> str:
    return f'<span class="{_e(value)}">{_e(value)}</span>'


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}'
        f"</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def report_html(report: SlaReport, plot_png: bytes | None = None) -> str:
    parts = [f"<h1>Restore drill report</h1><p>Generated {_e(report.generated_at.isoformat())}"]
    if report.since:
        parts.append(f", drills since {_e(report.since.isoformat())}")
    parts.append(f". Sources: {_e(', '.join(report.sources))}.</p>")
    parts.append("<h2>Per database</h2>")
    parts.append(
        _table(
            [
                "database",
                "drills",
                "pass rate",
                "restore p50",
                "restore p95",
                "restore max",
                "RTO objective",
                "RPO last / max",
                "RPO objective",
                "SLA breaches",
                "last success",
            ],
            [
                [
                    _e(s.database),
                    _e(s.drills),
                    _e("-" if s.pass_rate is None else f"{s.pass_rate * 100:.0f}%"),
                    _e(fd(s.restore_p50_seconds)),
                    _e(fd(s.restore_p95_seconds)),
                    _e(fd(s.restore_max_seconds)),
                    _e(fd(s.rto_objective_seconds)),
                    _e(f"{fd(s.rpo_last_seconds)} / {fd(s.rpo_max_seconds)}"),
                    _e(fd(s.rpo_objective_seconds)),
                    _e(s.rto_breaches + s.rpo_breaches),
                    _e(s.last_success_at.isoformat() if s.last_success_at else "never"),
                ]
                for s in report.databases
            ],
        )
    )
    if plot_png is not None:
        data = base64.b64encode(plot_png).decode()
        parts.append(
            f'<h2>Restore time per drill</h2><img alt="restore time trend" '
            f'src="data:image/png;base64,{data}">'
        )
    parts.append("<h2>SLA breaches</h2>")
    parts.append(
        _table(
            ["when", "database", "playbook", "objective", "measured", "objective value"],
            [
                [
                    _e(b.when.isoformat()),
                    _e(b.database),
                    _e(b.playbook),
                    f'<span class="breached">{_e(b.objective.upper())}</span>',
                    _e(fd(b.measured_seconds)),
                    _e(fd(b.objective_seconds)),
                ]
                for b in report.breaches
            ],
        )
        if report.breaches
        else "<p>None.</p>"
    )
    parts.append("<h2>Correctness failures</h2>")
    parts.append(
        _table(
            ["when", "database", "playbook", "verdict", "reasons"],
            [
                [
                    _e(f.when.isoformat()),
                    _e(f.database),
                    _e(f.playbook),
                    _verdict(f.verdict),
                    _e("; ".join(f.reasons)),
                ]
                for f in report.failures
            ],
        )
        if report.failures
        else "<p>None.</p>"
    )
    parts.append("<h2>Evidence</h2>")
    parts += [evidence_html(item) for item in report.evidence]
    return _page("Restore drill report", "".join(parts))


def evidence_html(item: Evidence) -> str:
    ident = f"#{item.ledger_id}" if item.ledger_id is not None else (item.run_id or "")[:8]
    backup: dict[str, Any] = item.backup or {}
    recovered: dict[str, Any] = item.recovered_to or {}
    facts = [
        ("playbook", item.playbook),
        ("run id", item.run_id),
        ("recorded in", item.origin),
        ("source", item.source),
        ("base backup", backup.get("path")),
        ("backup label", backup.get("label")),
        ("backup ends", f"{backup.get('end_lsn', '-')} at {backup.get('stop_time', '-')}"),
        ("WAL", f"{(item.wal or {}).get('first', '-')} … {(item.wal or {}).get('last', '-')}"),
        ("target", item.target),
        ("recovered to", f"{recovered.get('lsn', '-')} / {recovered.get('last_transaction', '-')}"),
        ("restore time", fd(item.rto_seconds)),
        ("RPO", fd(item.rpo_seconds)),
        ("SLA", item.sla),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    out = [
        f'<section class="evidence"><h3>{_e(item.database)} — drill {_e(ident)} '
        f"({_e(item.when.isoformat())}): {_verdict(item.verdict)}</h3><table>{rows}</table>"
    ]
    if item.objectives:
        out.append(
            _table(
                ["objective", "value", "measured", "status", "what"],
                [
                    [
                        _e(str(o.get("name")).upper()),
                        _e(fd(o.get("objective_seconds"))),
                        _e(fd(o.get("measured_seconds"))),
                        f'<span class="{_e(o.get("status"))}">{_e(o.get("status"))}</span>',
                        _e(o.get("measured")),
                    ]
                    for o in item.objectives
                ],
            )
        )
    if item.phases:
        out.append(
            _table(["phase", "time"], [[_e(p.name), _e(fd(p.seconds))] for p in item.phases])
        )
    if item.checks:
        out.append(
            _table(
                ["check", "status", "detail"],
                [
                    [_e(c.get("check")), _verdict(str(c.get("status"))), _e(c.get("detail"))]
                    for c in item.checks
                ],
            )
        )
    if item.differences:
        out.append("<p>What differed:</p>")
        out.append(
            _table(
                ["table", "status", "restored", "reference", "detail"],
                [
                    [
                        _e(d.get("table")),
                        _e(d.get("status")),
                        _e(d.get("rows_restored", d.get("lost"))),
                        _e(d.get("rows_reference", d.get("changed"))),
                        _e(
                            ("within tolerance; " if d.get("tolerated") else "")
                            + str(d.get("detail") or "")
                        ),
                    ]
                    for d in item.differences
                ],
            )
        )
    if item.gameday:
        g = item.gameday
        out.append(
            f"<p>Game day: <code>{_e(g.get('sql'))}</code> — {_e(g.get('rows_affected'))} rows; "
            f"{_e(g.get('rows_recovered'))} recovered after {_e(fd(g.get('recovered_seconds')))}, "
            f"verified after {_e(fd(g.get('verified_seconds')))}: "
            f"{_verdict(str(g.get('verdict')))}</p>"
        )
    if item.failures or item.error:
        items = "".join(
            f"<li>{_e(f)}</li>" for f in [*item.failures, *([item.error] if item.error else [])]
        )
        out.append(f"<ul>{items}</ul>")
    out.append("</section>")
    return "".join(out)


def drill_html(result: DrillResult) -> str:
    from restoredrill.report.markdown import drill_markdown

    lines = "".join(
        f"<li>{_e(line[2:])}</li>"
        for line in drill_markdown(result).splitlines()
        if line.startswith("- ")
    )
    title = f"Drill {result.playbook}: {result.verdict} (SLA {result.sla})"
    return _page(title, f"<h1>{_e(title)}</h1><ul>{lines}</ul>")
