"""Loading playbooks: read the YAML keeping line numbers, expand the environment, resolve
relative paths against the playbook's directory, validate. Every mistake is reported as
``file:line: where: what`` and is a ConfigError (exit 2)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from restoredrill.errors import ConfigError
from restoredrill.playbook.expand import Located, plain
from restoredrill.playbook.messages import describe_error, line_of, where
from restoredrill.playbook.models import Playbook

MAX_ERRORS = 10


def load_playbook(path: Path | str, env: Mapping[str, str] | None = None) -> Playbook:
    """Read, expand and validate one playbook; any problem → ConfigError naming file:line."""
    path = Path(path)
    environment = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read playbook {path}: {exc}") from exc
    try:
        root = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else "?"
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ConfigError(f"{path}:{line}: {problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(root, CommentedMap):
        raise ConfigError(f"{path}:1: a playbook is a mapping of keys (name, source, target, ...)")
    try:
        data = plain(root, environment, root.lc.line + 1)
    except Located as exc:
        raise ConfigError(f"{path}:{exc.line or '?'}: {exc.message}") from None
    try:
        return Playbook.model_validate(data, context={"base": path.resolve().parent})
    except ValidationError as exc:
        lines = []
        for error in exc.errors()[:MAX_ERRORS]:
            loc = tuple(error["loc"])
            line = line_of(root, loc)
            lines.append(f"{path}:{line or '?'}: {where(loc, data)}: {describe_error(error)}")
        more = len(exc.errors()) - MAX_ERRORS
        if more > 0:
            lines.append(f"... and {more} more")
        raise ConfigError("\n".join(lines)) from None


PROBLEMS_HEADER = "invalid playbook:"


def load_playbooks(paths: list[Path], env: Mapping[str, str] | None = None) -> list[Playbook]:
    """Every playbook, or one ConfigError listing the problems of all that are invalid."""
    loaded: list[Playbook] = []
    problems: list[str] = []
    for path in paths:
        try:
            loaded.append(load_playbook(path, env))
        except ConfigError as exc:
            problems.append(str(exc))
    if len(problems) == 1 and "\n" not in problems[0]:
        raise ConfigError(problems[0])  # one problem, one line
    if problems:
        raise ConfigError(PROBLEMS_HEADER + "\n" + "\n".join(problems))
    return loaded
