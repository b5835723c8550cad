"""Prometheus textfile (node_exporter's textfile collector): per database the restore time
quantiles, objectives, pass rate, breaches and — for dead-man alerts — the time of the last
successful drill. Written atomically (prometheus-client writes a temporary file and renames)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from restoredrill.drill.report import SlaReport
from restoredrill.errors import ConfigError


def registry_for(report: SlaReport) -> CollectorRegistry:
    registry = CollectorRegistry()
    labels = ["database"]

    def gauge(name: str, text: str, extra: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, text, [*labels, *extra], registry=registry)

    drills = gauge("restoredrill_drills", "Drills in the report window")
    passed = gauge("restoredrill_drills_passed", "Drills that passed in the report window")
    rate = gauge("restoredrill_drill_pass_ratio", "Passed drills / drills in the window")
    restore = gauge(
        "restoredrill_restore_seconds", "Restore time (RTO measure) over the window", ("quantile",)
    )
    rto = gauge("restoredrill_rto_objective_seconds", "RTO objective")
    rpo = gauge("restoredrill_rpo_objective_seconds", "RPO objective")
    rpo_last = gauge("restoredrill_rpo_seconds", "Data-loss window measured by the last drill")
    breaches = gauge("restoredrill_sla_breaches", "SLA breaches in the window", ("objective",))
    last_success = gauge(
        "restoredrill_last_success_timestamp_seconds",
        "Unix time of the last drill that passed (alert when it grows old: dead man's switch)",
    )
    last_drill = gauge("restoredrill_last_drill_timestamp_seconds", "Unix time of the last drill")
    for s in report.databases:
        db = s.database
        drills.labels(db).set(s.drills)
        passed.labels(db).set(s.passed)
        if s.pass_rate is not None:
            rate.labels(db).set(s.pass_rate)
        for quantile, value in (
            ("0.5", s.restore_p50_seconds),
            ("0.95", s.restore_p95_seconds),
            ("1", s.restore_max_seconds),
        ):
            if value is not None:
                restore.labels(db, quantile).set(value)
        if s.rto_objective_seconds is not None:
            rto.labels(db).set(s.rto_objective_seconds)
        if s.rpo_objective_seconds is not None:
            rpo.labels(db).set(s.rpo_objective_seconds)
        if s.rpo_last_seconds is not None:
            rpo_last.labels(db).set(s.rpo_last_seconds)
        breaches.labels(db, "rto").set(s.rto_breaches)
        breaches.labels(db, "rpo").set(s.rpo_breaches)
        # 0 when no drill ever passed: an alert on "time() - x > 90d" fires at once.
        last_success.labels(db).set(s.last_success_at.timestamp() if s.last_success_at else 0)
        if s.last_drill_at is not None:
            last_drill.labels(db).set(s.last_drill_at.timestamp())
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
