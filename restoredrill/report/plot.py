"""Trend plot: restore time per drill, per database, against its RTO objective (matplotlib,
Agg backend: no display needed). The PNG carries the number of points in its metadata
(``restoredrill:points``) so a test or a pipeline can check it without looking."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restoredrill.drill.report import SlaReport
from restoredrill.errors import ToolMissing

if TYPE_CHECKING:
    from matplotlib.figure import Figure

POINTS_KEY = "restoredrill:points"


def trend_figure(report: SlaReport) -> Figure:
    """One line per database (restore seconds per drill, in time order); failed drills marked
    with a cross; the RTO objective as a dashed line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.dates import date2num
        from matplotlib.figure import Figure
    except ImportError:
        raise ToolMissing("plots need matplotlib: pip install 'restoredrill[report]'") from None
    figure = Figure(figsize=(9, 4.5), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    for summary in report.databases:
        if not summary.trend:
            continue
        xs = [_num(date2num, p.when) for p in summary.trend]
        ys = [p.rto_seconds for p in summary.trend]
        (line,) = axes.plot(xs, ys, marker="o", label=summary.database)
        bad = [
            (_num(date2num, p.when), p.rto_seconds) for p in summary.trend if p.verdict != "PASS"
        ]
        if bad:
            axes.scatter(
                [b[0] for b in bad], [b[1] for b in bad], marker="x", s=80, color="red", zorder=3
            )
        if summary.rto_objective_seconds is not None:
            axes.axhline(
                summary.rto_objective_seconds,
                linestyle="--",
                color=line.get_color(),
                alpha=0.6,
                label=f"{summary.database} RTO objective",
            )
    axes.set_title("Restore time per drill")
    axes.set_ylabel("restore time (s)")
    axes.set_xlabel("drill (UTC)")
    axes.xaxis_date()
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    if report.databases:
        axes.legend(loc="best", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def point_count(report: SlaReport) -> int:
    return sum(len(s.trend) for s in report.databases)


def png_bytes(report: SlaReport) -> bytes:
    figure = trend_figure(report)
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        metadata={POINTS_KEY: str(point_count(report)), "Software": "restoredrill"},
    )
    return buffer.getvalue()


def optional_png(report: SlaReport) -> bytes | None:
    """The PNG, or None when matplotlib is not installed."""
    try:
        return png_bytes(report)
    except ToolMissing:
        return None


def write_plot(report: SlaReport, path: Path) -> int:
    """Write the PNG atomically; returns the number of points plotted."""
    from restoredrill.drill.outputs import write_atomic

    write_atomic(Path(path), png_bytes(report))
    return point_count(report)


def _num(date2num: Any, when: datetime) -> float:
    """matplotlib's date number of ``when`` (date2num is untyped)."""
    return float(date2num(when))
