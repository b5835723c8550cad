"""Prometheus textfile (node_exporter's textfile collector): per database the restore time
over the report window, objectives, pass rate, breaches, the last drill's own figures and —
for dead-man alerts — the time of the last successful drill. Written atomically
(prometheus-client writes a temporary file and renames).

Conventions: no ``quantile`` label (Prometheus reserves it for summaries), so restore time is
one gauge per statistic; every count that depends on the report window carries that window
as a ``window`` label ("all" without --since); and the report always writes its own
timestamp and database count, so a report over zero drills is still a scrape with series.
Every per-database series has a ``restoredrill_kind_*`` twin labelled with the kind of drill."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from restoredrill.errors import ConfigError
from restoredrill.report.sla import Evidence, SlaReport


def _window(report: SlaReport) -> str:
    return f"since {report.since.isoformat()}" if report.since is not None else "all"


def _last(report: SlaReport, database: str, kind: str | None = None) -> Evidence | None:
    drills = [
        e for e in report.evidence if e.database == database and (kind is None or e.kind == kind)
    ]
    return max(drills, key=lambda e: e.when) if drills else None


def _per_kind(report: SlaReport, registry: CollectorRegistry) -> None:
    """The same figures per database AND kind of drill: a quarterly restore, a CI check of
    ``latest`` and an incident recovery have different RTOs, so an alert is per kind."""
    windowed = ("database", "kind", "window")
    latest = ("database", "kind")

    def gauge(name: str, text: str, labels: tuple[str, ...]) -> Gauge:
        return Gauge(name, text, list(labels), registry=registry)

    drills = gauge("restoredrill_kind_drills", "Drills of this kind in the window", windowed)
    passed = gauge(
        "restoredrill_kind_drills_passed", "Drills of this kind that passed in the window", windowed
    )
    p95 = gauge("restoredrill_kind_restore_p95_seconds", "95th pct. restore time", windowed)
    rto = gauge("restoredrill_kind_rto_objective_seconds", "RTO objective of this kind", latest)
    last_rto = gauge("restoredrill_kind_last_drill_rto_seconds", "Last drill's RTO", latest)
    last_rpo = gauge("restoredrill_kind_last_drill_rpo_seconds", "Last drill's RPO", latest)
    last_passed = gauge(
        "restoredrill_kind_last_drill_passed", "1 when the last drill passed, else 0", latest
    )
    last_success = gauge(
        "restoredrill_kind_last_success_timestamp_seconds",
        "Unix time of the last drill of this kind that passed (0: never)",
        latest,
    )
    window = _window(report)
    for s in report.databases:
        for k in s.kinds:
            drills.labels(s.database, k.kind, window).set(k.drills)
            passed.labels(s.database, k.kind, window).set(k.passed)
            if k.restore_p95_seconds is not None:
                p95.labels(s.database, k.kind, window).set(k.restore_p95_seconds)
            if k.rto_objective_seconds is not None:
                rto.labels(s.database, k.kind).set(k.rto_objective_seconds)
            at = k.last_success_at.timestamp() if k.last_success_at else 0
            last_success.labels(s.database, k.kind).set(at)
            newest = _last(report, s.database, k.kind)
            if newest is None:
                continue
            last_passed.labels(s.database, k.kind).set(1 if newest.verdict == "PASS" else 0)
            if newest.rto_seconds is not None:
                last_rto.labels(s.database, k.kind).set(newest.rto_seconds)
            if newest.rpo_seconds is not None:
                last_rpo.labels(s.database, k.kind).set(newest.rpo_seconds)


def registry_for(report: SlaReport) -> CollectorRegistry:
    registry = CollectorRegistry()

    def gauge(name: str, text: str, labels: tuple[str, ...] = ("database",)) -> Gauge:
        return Gauge(name, text, list(labels), registry=registry)

    windowed = ("database", "window")
    Gauge(
        "restoredrill_report_timestamp_seconds", "Unix time this report was made", registry=registry
    ).set(report.generated_at.timestamp())
    Gauge(
        "restoredrill_report_databases", "Databases with drills in the report", registry=registry
    ).set(len(report.databases))
    drills = gauge("restoredrill_drills", "Drills in the report window", windowed)
    passed = gauge(
        "restoredrill_drills_passed",
        "Drills that passed (verified, every objective met) in the window",
        windowed,
    )
    rate = gauge("restoredrill_drill_pass_ratio", "Passed drills / drills in the window", windowed)
    stats = {
        "p50": gauge("restoredrill_restore_p50_seconds", "Median restore time (RTO)", windowed),
        "p95": gauge("restoredrill_restore_p95_seconds", "95th pct. restore time (RTO)", windowed),
        "max": gauge("restoredrill_restore_max_seconds", "Longest restore time (RTO)", windowed),
    }
    breaches = gauge(
        "restoredrill_sla_breaches", "SLA breaches in the window", (*windowed, "objective")
    )
    rto = gauge("restoredrill_rto_objective_seconds", "RTO objective")
    rpo = gauge("restoredrill_rpo_objective_seconds", "RPO objective")
    rpo_last = gauge("restoredrill_rpo_seconds", "Data-loss window measured by the last drill")
    last_rto = gauge("restoredrill_last_drill_rto_seconds", "Restore time of the last drill")
    last_passed = gauge(
        "restoredrill_last_drill_passed", "1 when the last drill passed, else 0 (FAIL, ERROR…)"
    )
    last_success = gauge(
        "restoredrill_last_success_timestamp_seconds",
        "Unix time of the last drill that passed within its objectives (dead man's switch)",
    )
    last_drill = gauge("restoredrill_last_drill_timestamp_seconds", "Unix time of the last drill")
    window = _window(report)
    for s in report.databases:
        db = s.database
        drills.labels(db, window).set(s.drills)
        passed.labels(db, window).set(s.passed)
        if s.pass_rate is not None:
            rate.labels(db, window).set(s.pass_rate)
        for stat, value in (
            ("p50", s.restore_p50_seconds),
            ("p95", s.restore_p95_seconds),
            ("max", s.restore_max_seconds),
        ):
            if value is not None:
                stats[stat].labels(db, window).set(value)
        if s.rto_objective_seconds is not None:
            rto.labels(db).set(s.rto_objective_seconds)
        if s.rpo_objective_seconds is not None:
            rpo.labels(db).set(s.rpo_objective_seconds)
        if s.rpo_last_seconds is not None:
            rpo_last.labels(db).set(s.rpo_last_seconds)
        breaches.labels(db, window, "rto").set(s.rto_breaches)
        breaches.labels(db, window, "rpo").set(s.rpo_breaches)
        # 0 when no drill ever passed: an alert on "time() - x > 90d" fires at once.
        last_success.labels(db).set(s.last_success_at.timestamp() if s.last_success_at else 0)
        if s.last_drill_at is not None:
            last_drill.labels(db).set(s.last_drill_at.timestamp())
        newest = _last(report, db)
        if newest is not None:
            last_passed.labels(db).set(1 if newest.verdict == "PASS" else 0)
            if newest.rto_seconds is not None:
                last_rto.labels(db).set(newest.rto_seconds)
    _per_kind(report, registry)
    return registry


def render(report: SlaReport) -> str:
    return generate_latest(registry_for(report)).decode()


def write_textfile(report: SlaReport, path: Path) -> None:
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: directory {path.parent} does not exist")
    try:
        write_to_textfile(str(path), registry_for(report))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc
