"""Every document restoredrill writes, restoredrill reads back: models are filled with every
optional part present (built from their annotations, so a field added later is covered),
dumped to JSON as the CLI writes them, and validated again."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import pytest
from pydantic import AwareDatetime, BaseModel

from restoredrill.checks.registry import CheckReport
from restoredrill.drill.result import DrillResult, FleetResult
from restoredrill.models import DiffDocument, Manifest, RestorePlan, RestoreResult, VerifyReport

M = TypeVar("M", bound=BaseModel)
WHEN = datetime(2026, 11, 21, 3, 14, tzinfo=UTC)


def _value(annotation: Any, name: str) -> Any:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return _value(args[0], name)
    if origin in (Union, types.UnionType):  # Optional: the present variant
        present = [a for a in args if a is not type(None)]
        return _value(present[0], name)
    if origin is Literal:
        return args[-1]  # not the default one: the value must survive the round trip
    if origin is list:
        return [_value(args[0], name)]
    if origin is tuple:
        return tuple(_value(a, name) for a in args)
    if origin is dict:
        return {"public.t": _value(args[1], name)}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return filled(annotation)
        if issubclass(annotation, Enum):
            return list(annotation)[-1]
        if annotation is bool:
            return True
        if annotation is int:
            return 7
        if annotation is float:
            return 1.5
        if annotation is str:
            return "0/3000028" if "lsn" in name else f"{name}-value"
        if annotation is datetime or annotation is AwareDatetime:
            return WHEN
    if annotation is Any or annotation is object:
        return {"k": "v"}
    raise AssertionError(f"no sample value for {name}: {annotation!r}")


def filled(model: type[M]) -> M:
    """An instance with every field set (optional ones included)."""
    hints = typing.get_type_hints(model, include_extras=True)
    values = {name: _value(hints[name], name) for name in model.model_fields}
    return model.model_validate(values)


@pytest.mark.parametrize(
    "model",
    [DrillResult, FleetResult, CheckReport, RestoreResult, VerifyReport, DiffDocument, Manifest],
)
def test_written_documents_read_back(model: type[BaseModel]) -> None:
    document = filled(model)
    text = document.model_dump_json(indent=2)
    again = model.model_validate_json(text)
    assert again.model_dump(mode="json") == document.model_dump(mode="json")


def test_drill_result_every_optional_part_present() -> None:
    result = filled(DrillResult)
    data = result.model_dump(mode="json")
    for part in ("restore", "checks", "gameday", "recover", "description", "error"):
        assert data[part] is not None, part
    assert data["checks"]["status"]  # the computed field is written...
    assert DrillResult.model_validate(data) == result  # ...and accepted back


@pytest.mark.parametrize("model", [RestoreResult, RestorePlan, VerifyReport, CheckReport])
def test_cli_documents_read_back(model: type[BaseModel]) -> None:
    """What `--json` prints (the format name first) validates as its model again."""
    from restoredrill.cli.documents import document_format

    document = filled(model)
    printed = {"format": document_format(document), **document.model_dump(mode="json")}
    assert printed["format"].startswith("restoredrill-") and printed["format"].endswith("/1")
    assert model.model_validate(printed) == document
