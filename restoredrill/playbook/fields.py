"""Playbook field types: durations, time specs, paths relative to the playbook's directory,
and the strict base every section derives from."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from restoredrill.durations import is_relative_time, parse_duration, resolve_relative
from restoredrill.errors import RestoreDrillError
from restoredrill.targets import parse_time


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float):
        return parse_duration(value)
    raise ValueError("expected a duration such as 90s, 15m, 1h30m or a number of seconds")


def _time_spec(value: str) -> str:
    if is_relative_time(value):
        return value
    try:
        parse_time(value, option="time")
    except RestoreDrillError as exc:
        raise ValueError(f"{exc} — or a relative time such as '15 minutes ago'") from None
    return value


def _relative_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


def _location(value: str, info: ValidationInfo) -> str:
    """An s3:// URL as it is; a path relative to the playbook otherwise."""
    if value.startswith("s3://"):
        return value
    return str(_relative_path(Path(value), info))


Duration = Annotated[float, BeforeValidator(_duration)]
TimeSpec = Annotated[str, AfterValidator(_time_spec)]
FilePath = Annotated[Path, AfterValidator(_relative_path)]
Location = Annotated[str, AfterValidator(_location)]


def resolve_time(spec: str, now: datetime) -> datetime:
    """A validated TimeSpec as an aware datetime (relative ones against ``now``)."""
    if is_relative_time(spec):
        return resolve_relative(spec, now)
    return parse_time(spec, option="time")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
