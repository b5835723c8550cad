"""JSON documents on stdout: one per command, its first key naming its format and version."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass
class Invocation:
    """What the running command was asked for that the error mapping in app.py needs: with
    --json an error is also printed as a JSON document on stdout."""

    json: bool = False


invocation = Invocation()

# Documents whose model has no ``format`` field of its own: named here, version 1.
_FORMATS = {
    "RestoreResult": "restoredrill-restore/1",
    "RestorePlan": "restoredrill-plan/1",
    "VerifyReport": "restoredrill-verify/1",
    "CheckReport": "restoredrill-check/1",
    "ReapplyReport": "restoredrill-reapply/1",
    "RecoverResult": "restoredrill-recover/1",
    "DemoResult": "restoredrill-demo/1",
    "DemoEnvironment": "restoredrill-demo-environment/1",
    "MysqlDemoEnvironment": "restoredrill-demo-environment/1",
}


def document_format(model: BaseModel) -> str:
    own = getattr(model, "format", None)
    if isinstance(own, str):
        return own
    name = type(model).__name__
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    return _FORMATS.get(name, f"restoredrill-{kebab}/1")


def write_document(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def emit_json(model: BaseModel) -> None:
    """One document on stdout; its first key names its format and version."""
    data = model.model_dump(mode="json")
    write_document({"format": document_format(model), **data})


def emit_list(format_name: str, key: str, models: list[Any]) -> None:
    """A list as a document: ``{"format": ..., key: [...]}``, never a bare array."""
    write_document({"format": format_name, key: [m.model_dump(mode="json") for m in models]})
