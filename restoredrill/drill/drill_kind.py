"""The kind of a drill, for grouping restore times by what was rehearsed: each kind has its
own recovery time objective (restoring to a point in time is not checking that ``latest``
restores, and neither is an incident recovery or a game day)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

POINT_IN_TIME = "point in time"
LATEST = "latest"
GAME_DAY = "game day"
INCIDENT = "incident recovery"
CHECKS = "checks only"
KINDS = (POINT_IN_TIME, LATEST, GAME_DAY, INCIDENT, CHECKS)


def kind_of(
    target: str | None, *, gameday: bool = False, recover: bool = False, playbook: str | None = None
) -> str:
    """From what the playbook asked for: a game day or a recover section decide; otherwise
    the recovery target (``latest`` or a time/xid/name/LSN/position/GTID); a drill without a
    target is one of checks only, unless its playbook's name says incident recovery."""
    if gameday:
        return GAME_DAY
    if recover:
        return INCIDENT
    text = (target or "").strip()
    if text == "latest":
        return LATEST
    if text and text != "-":
        return POINT_IN_TIME
    name = (playbook or "").lower()
    if "incident" in name or "recover" in name:
        return INCIDENT
    return CHECKS


def kind_of_details(target: str | None, details: Mapping[str, Any]) -> str:
    """The kind of a recorded drill: as recorded (``details["kind"]``), or derived from the
    ledger entry of a drill recorded before kinds were (an incident recovery shows as its
    ``incident diff`` differences)."""
    recorded = details.get("kind")
    if isinstance(recorded, str) and recorded:
        return recorded
    recover = any(
        isinstance(d, Mapping) and d.get("status") == "incident diff"
        for d in details.get("differences") or []
    )
    return kind_of(
        details.get("target") or target,
        gameday=bool(details.get("gameday")),
        recover=recover,
        playbook=details.get("playbook"),
    )
