"""Gathering the drills an SLA report covers: ledger entries and the result files fleet jobs
leave in a directory (``--from DIR``), each as one item per database, with its kind and
whether ``restoredrill demo`` recorded it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from restoredrill.drill.drill_kind import kind_of_details
from restoredrill.drill.result import VERDICT_RANK, DrillResult, evidence
from restoredrill.errors import ConfigError
from restoredrill.ledger import Ledger
from restoredrill.models import PhaseTiming
from restoredrill.report.sla_models import Breach, Evidence


@dataclass
class Item:
    database: str
    when: datetime
    verdict: str
    source: str
    target: str
    rto: float | None
    rpo: float | None
    phases: list[PhaseTiming]
    details: dict[str, Any]
    ledger_id: int | None
    origin: str
    key: tuple[str, str] | None = field(default=None)

    @property
    def kind(self) -> str:
        return kind_of_details(self.target, self.details)

    @property
    def demo(self) -> bool:
        """Recorded by ``restoredrill demo`` (demo/story.py marks its entries)."""
        return bool(self.details.get("demo"))


def items_from_ledger(
    ledger_path: Path | None, since: datetime | None, databases: Sequence[str] | None
) -> list[Item]:
    with Ledger(ledger_path) as ledger:
        records = ledger.records(since=since, database=databases, kind="drill")
    items = []
    for record in records:
        when = (
            record.started_at if record.started_at.tzinfo else record.started_at.replace(tzinfo=UTC)
        )
        run_id = record.details.get("run_id")
        items.append(
            Item(
                database=record.database,
                when=when,
                verdict=record.verdict,
                source=record.source,
                target=record.target,
                rto=record.rto_seconds,
                rpo=record.rpo_seconds,
                phases=record.phases,
                details=record.details,
                ledger_id=record.id,
                origin="ledger",
                key=(run_id, record.database) if run_id else None,
            )
        )
    return items


def load_results(directory: Path) -> list[tuple[Path, DrillResult]]:
    if not Path(directory).is_dir():
        raise ConfigError(f"--from {directory}: no such directory")
    found = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("format") != "restoredrill-drill/1":
            continue
        try:
            found.append((path, DrillResult.model_validate(data)))
        except ValidationError as exc:
            raise ConfigError(
                f"{path}: not a valid drill result ({exc.errors()[0]['msg']})"
            ) from exc
    return found


def items_from_results(
    directory: Path, since: datetime | None, databases: Sequence[str] | None
) -> list[Item]:
    items = []
    for path, result in load_results(directory):
        if since is not None and result.started_at < since:
            continue
        for outcome in result.databases:
            if databases and outcome.label not in databases:
                continue
            phases = list(result.restore.phases) if result.restore is not None else []
            details = evidence(result, outcome)
            verdict = max(outcome.verdict, result.verdict, key=lambda v: VERDICT_RANK[v])
            items.append(
                Item(
                    database=outcome.label,
                    when=result.started_at,
                    verdict=verdict,
                    source=result.source,
                    target=result.target or "-",
                    rto=result.rto_seconds,
                    rpo=result.rpo_seconds,
                    phases=phases,
                    details=details,
                    ledger_id=None,
                    origin=str(path),
                    key=(result.run_id, outcome.label),
                )
            )
    return items


def breaches_of(item: Item) -> list[Breach]:
    found = []
    for objective in item.details.get("objectives") or []:
        if objective.get("status") != "breached":
            continue
        found.append(
            Breach(
                database=item.database,
                when=item.when,
                playbook=item.details.get("playbook"),
                run_id=item.details.get("run_id"),
                ledger_id=item.ledger_id,
                objective=objective["name"],
                measured_seconds=objective.get("measured_seconds"),
                objective_seconds=objective["objective_seconds"],
                kind=item.kind,
            )
        )
    return found


def evidence_of(item: Item) -> Evidence:
    d = item.details
    return Evidence(
        database=item.database,
        when=item.when,
        ledger_id=item.ledger_id,
        run_id=d.get("run_id"),
        playbook=d.get("playbook"),
        origin=item.origin,
        verdict=item.verdict,
        sla=d.get("sla"),
        source=item.source,
        target=item.target,
        backup=d.get("backup"),
        wal=d.get("wal"),
        recovered_to=d.get("recovered_to"),
        rto_seconds=item.rto,
        rpo_seconds=item.rpo,
        phases=item.phases,
        objectives=d.get("objectives") or [],
        checks=d.get("checks") or [],
        differences=d.get("differences") or [],
        gameday=d.get("gameday"),
        failures=d.get("failures") or [],
        error=d.get("error"),
        kind=item.kind,
        demo=item.demo,
    )
