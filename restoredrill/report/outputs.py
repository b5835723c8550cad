"""Files a drill leaves behind: the outputs its playbook names and the fleet results file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from restoredrill.drill.result import DrillResult
from restoredrill.playbook import Playbook
from restoredrill.report.atomic_file import write_atomic

if TYPE_CHECKING:
    from restoredrill.drill.run_state import DrillOptions


def results_file_name(result: DrillResult) -> str:
    stamp = result.started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{result.playbook}-{stamp}-{result.run_id[:8]}.json"


def write_drill_outputs(result: DrillResult, playbook: Playbook, opts: DrillOptions) -> list[str]:
    outputs = playbook.outputs
    written: list[Path] = []
    if outputs.json_file is not None:
        write_atomic(outputs.json_file, result.model_dump_json(indent=2) + "\n")
        written.append(outputs.json_file)
    if outputs.junit is not None:
        from restoredrill.report.junit import drills_junit, write_xml

        write_xml(drills_junit([result]), outputs.junit)
        written.append(outputs.junit)
    if outputs.markdown is not None:
        from restoredrill.report.markdown import drill_markdown

        write_atomic(outputs.markdown, drill_markdown(result))
        written.append(outputs.markdown)
    if outputs.html is not None:
        from restoredrill.report.html import drill_html

        write_atomic(outputs.html, drill_html(result))
        written.append(outputs.html)
    if outputs.prometheus is not None:
        from restoredrill.report.prometheus import write_textfile
        from restoredrill.report.sla import ReportRequest, build_report

        labels = [d.label for d in result.databases]
        report = build_report(ReportRequest(ledger_path=opts.ledger_path, databases=labels))
        write_textfile(report, outputs.prometheus)
        written.append(outputs.prometheus)
    for directory in {d for d in (outputs.results_dir, opts.results_dir) if d is not None}:
        target = Path(directory) / results_file_name(result)
        write_atomic(target, result.model_dump_json(indent=2) + "\n")
        written.append(target)
    return [str(p) for p in written]
