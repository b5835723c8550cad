"""Trend plot: restore time per drill, per database, against its RTO objective (matplotlib,
Agg backend: no display needed). The PNG carries the number of points in its metadata
(``restoredrill:points``) so a test or a pipeline can check it without looking."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restoredrill.errors import ToolMissing
from restoredrill.report.sla import SlaReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

POINTS_KEY = "restoredrill:points"


def trend_figure(report: SlaReport) -> Figure:
    """One small panel per database, each with its own scale: restore time per drill in time
    order, failed drills as red crosses, the RTO objective as a shaded band at the top (or a
    note of how far above the restores it lies, so seconds-long restores under a 20-minute
    objective still read). Titles carry the database and its pass count."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
        from matplotlib.figure import Figure
    except ImportError:
        raise ToolMissing("plots need matplotlib: pip install 'restoredrill[report]'") from None
    shown = [s for s in report.databases if s.trend]
    columns = 1 if len(shown) <= 2 else 2
    rows = max(1, -(-len(shown) // columns))
    figure = Figure(figsize=(5.2 * columns, 2.4 * rows + 0.6), dpi=100)
    figure.suptitle("Restore time per drill, per database (own scale each)", fontsize="medium")
    if not shown:
        axes = figure.add_subplot(1, 1, 1)
        axes.text(0.5, 0.5, "no drills in the report window", ha="center", va="center")
        axes.set_axis_off()
        return figure
    for index, summary in enumerate(shown, start=1):
        axes = figure.add_subplot(rows, columns, index)
        xs = [_num(date2num, p.when) for p in summary.trend]
        ys = [p.rto_seconds for p in summary.trend]
        axes.plot(
            xs,
            ys,
            marker="o",
            markersize=4,
            color="tab:blue",
            linewidth=1.2,
            label=summary.database,
        )
        if len(set(xs)) == 1:  # one drill: give the date axis a day either side
            axes.set_xlim(xs[0] - 1, xs[0] + 1)
        bad = [(x, y) for x, y, p in zip(xs, ys, summary.trend, strict=True) if p.verdict != "PASS"]
        if bad:
            axes.scatter(
                [b[0] for b in bad], [b[1] for b in bad], marker="x", s=60, color="red", zorder=3
            )
        top = max(ys) * 1.25 or 1.0
        objective = summary.rto_objective_seconds
        if objective is not None and objective <= top * 4:
            top = max(top, objective * 1.1)
            axes.axhspan(objective, top, color="tab:red", alpha=0.12, lw=0)
            axes.axhline(objective, color="tab:red", linestyle="--", linewidth=1)
        elif objective is not None:  # far above: a note, not a band that flattens the line
            axes.text(
                0.99,
                0.95,
                f"RTO objective {_human(objective)} (off scale)",
                transform=axes.transAxes,
                ha="right",
                va="top",
                fontsize="x-small",
                color="tab:red",
            )
        axes.set_ylim(0, top)
        # the report's pass count: verified and within every objective
        axes.set_title(
            f"{summary.database} — {summary.passed}/{summary.drills} passed", fontsize="small"
        )
        axes.set_ylabel("seconds", fontsize="x-small")
        locator = AutoDateLocator(maxticks=5)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        axes.tick_params(labelsize="x-small")
        axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def _human(seconds: float) -> str:
    from restoredrill.durations import format_duration

    return format_duration(seconds)


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
    from restoredrill.report.atomic_file import write_atomic

    write_atomic(Path(path), png_bytes(report))
    return point_count(report)


def _num(date2num: Any, when: datetime) -> float:
    """matplotlib's date number of ``when`` (date2num is untyped)."""
    return float(date2num(when))
