"""Pydantic validation errors as ``line``, ``where`` and ``what`` of the YAML the user wrote
(an unknown key lists the keys allowed there)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from restoredrill.playbook.models import Playbook


def line_of(root: Any, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at pydantic's ``loc`` (or its nearest parent).
    Components that are not in the data (union branch tags) are skipped."""
    node = root
    line: int | None = root.lc.line + 1 if isinstance(root, CommentedMap) else None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
    return line


def where(loc: tuple[int | str, ...], root: Any) -> str:
    """Dotted path of the keys that exist in the data, plus a missing or unknown last key
    (union branch tags, which are not in the data, are dropped)."""
    parts: list[str] = []
    node = root
    for n, part in enumerate(loc):
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_map or in_list:
            node = node[part]
        elif n != len(loc) - 1:
            continue
        parts.append(str(part))
    return ".".join(parts) or "(top level)"


def _allowed(loc: tuple[int | str, ...]) -> list[str]:
    """Keys allowed where an unknown key was found (walks the schema along ``loc``)."""
    model: Any = Playbook
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fields = getattr(model, "model_fields", None)
        if not fields:
            model = None
            continue
        field = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        model = _model_in(field.annotation) if field is not None else None
    fields = getattr(model, "model_fields", None) or {}
    return [f.alias or n for n, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside an annotation (``X | None``, ``list[X]``, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for candidate in getattr(annotation, "__args__", ()):
        found = _model_in(candidate)
        if found is not None:
            return found
    return None


def describe_error(error: Any) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = _allowed(loc)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {loc[-1]!r}{hint}"
    if error["type"] == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
