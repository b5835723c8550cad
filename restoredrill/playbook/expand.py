"""Environment expansion while turning ruamel.yaml round-trip nodes into plain values:
``${VAR}`` / ``${VAR:-default}``, ``$$`` a literal ``$``; an unset variable names its line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from restoredrill.errors import ConfigError

_VAR = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


class Located(ConfigError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def expand_env(text: str, env: Mapping[str, str], line: int | None = None) -> str:
    """``${VAR}`` / ``${VAR:-default}`` from ``env``; ``$$`` is a literal ``$``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name, default = match.group(2), match.group(3)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise Located(line, f"environment variable {name} is not set")
            return default
        return value

    return _VAR.sub(substitute, text)


def plain(node: Any, env: Mapping[str, str], line: int | None) -> Any:
    """ruamel round-trip nodes → plain Python values, expanding variables in strings."""
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            value_line = node.lc.value(key)[0] + 1 if key in node.lc.data else line
            result[str(key) if isinstance(key, str) else key] = plain(value, env, value_line)
        return result
    if isinstance(node, CommentedSeq):
        return [
            plain(item, env, node.lc.item(i)[0] + 1 if i in node.lc.data else line)
            for i, item in enumerate(node)
        ]
    if isinstance(node, datetime | date):
        return node.isoformat()
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return expand_env(str(node), env, line)
    return node
