"""Self-contained HTML: the SLA report with its evidence pack (the trend plot embedded as a
PNG data URI when given), and a single drill's page. Every value is escaped."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from restoredrill.drill.result import DrillResult
from restoredrill.durations import format_duration as fd
from restoredrill.report.sla import Evidence, SlaReport
from restoredrill.report.sla_rows import DEMO_NOTE, database_rows, demo_rows, kind_rows, when

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left;font-size:.92em}th{background:#f3f3f3}.PASS{color:#080}.FAIL{color:#b00}
.ERROR{color:#a0a}.breached{color:#b00;font-weight:bold}section.evidence{border-top:1px solid #ddd}
code{background:#f6f6f6;padding:0 .2em}.headline{font-size:1.3em;font-weight:bold}
.headline.bad{color:#b00}.headline.good{color:#080}td{white-space:nowrap}
td:last-child{white-space:normal;min-width:8em}img{max-width:100%}
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


def _plain(header: list[str], rows: list[list[str]]) -> str:
    return _table(header, [[_e(c) for c in row] for row in rows])


def report_html(report: SlaReport, plot_png: bytes | None = None) -> str:
    headline_class = "bad" if report.breaches or report.failures else "good"
    parts = [
        f'<h1>Restore drill report</h1><p class="headline {headline_class}">'
        f"{_e(report.headline)}</p><p>Generated {_e(when(report.generated_at))}"
    ]
    if report.since:
        parts.append(f", drills since {_e(when(report.since))}")
    parts.append(
        f". Sources: {_e(', '.join(report.sources))}. A drill passes when it verified and "
        "met every objective.</p>"
    )
    parts.append("<h2>Per database</h2>")
    parts.append(_plain(*database_rows(report)))
    parts.append("<h2>Restore time per kind of drill</h2>")
    parts.append(_plain(*kind_rows(report)))
    if report.demo:
        note = "".join(
            f"<code>{part}</code>" if n % 2 else part
            for n, part in enumerate(_e(DEMO_NOTE).split("`"))
        )
        parts.append(f"<h2>Demo runs</h2><p>{note}</p>")
        parts.append(_plain(*demo_rows(report)))
    if plot_png is not None:
        data = base64.b64encode(plot_png).decode()
        parts.append(
            f'<h2>Restore time per drill</h2><img alt="restore time trend" '
            f'src="data:image/png;base64,{data}">'
        )
    parts.append("<h2>SLA breaches</h2>")
    parts.append(
        _table(
            ["when", "database", "kind", "playbook", "objective", "measured", "objective value"],
            [
                [
                    _e(when(b.when)),
                    _e(b.database),
                    _e(b.kind),
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
            ["when", "database", "kind", "playbook", "verdict", "reasons"],
            [
                [
                    _e(when(f.when)),
                    _e(f.database),
                    _e(f.kind),
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
        f'<section class="evidence"><h3>{_e(item.database)} — {_e(item.kind or "")} drill '
        f"{_e(ident)} ({_e(when(item.when))}): {_verdict(item.verdict)}{_over(item)}</h3>"
        f"<table>{rows}</table>"
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


def _over(item: Evidence) -> str:
    breached = [
        str(o.get("name")).upper() for o in item.objectives if o.get("status") == "breached"
    ]
    return f' <span class="breached">{_e(", ".join(breached))} breached</span>' if breached else ""


def drill_html(result: DrillResult) -> str:
    from restoredrill.report.markdown import drill_markdown

    lines = "".join(
        f"<li>{_e(line[2:])}</li>"
        for line in drill_markdown(result).splitlines()
        if line.startswith("- ")
    )
    title = f"Drill {result.playbook}: {result.verdict} (SLA {result.sla})"
    return _page(title, f"<h1>{_e(title)}</h1><ul>{lines}</ul>")
