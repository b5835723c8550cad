"""Reading postgresql.conf (and pgbackrest.conf) offline, without a server."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from restoredrill.errors import ConfigError

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*(.*?)\s*$")


def _value(raw: str) -> str:
    """A setting's value: quoted ('...' with '' or \\' escapes) or bare up to a comment."""
    raw = raw.strip()
    if raw.startswith("'"):
        out = []
        i = 1
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                out.append(raw[i + 1])
                i += 2
                continue
            if ch == "'":
                if i + 1 < len(raw) and raw[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(ch)
            i += 1
        return "".join(out)
    return raw.split("#", 1)[0].strip()


def parse_postgresql_conf(path: Path) -> dict[str, str]:
    """Settings as the server would read them: the last occurrence wins; include files are
    followed (relative to the including file); keys are lower case."""
    return _parse(Path(path), depth=0)


def _parse(path: Path, depth: int) -> dict[str, str]:
    if depth > 10:
        raise ConfigError(f"{path}: include nesting too deep")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    settings: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        key, value = match.group(1).lower(), _value(match.group(2))
        if key in ("include", "include_if_exists"):
            target = path.parent / value
            if target.is_file() or key == "include":
                settings.update(_parse(target, depth + 1))
            continue
        if key == "include_dir":
            directory = path.parent / value
            for conf in sorted(directory.glob("*.conf")) if directory.is_dir() else []:
                settings.update(_parse(conf, depth + 1))
            continue
        settings[key] = value
    return settings


def parse_pgbackrest_conf(path: Path) -> dict[str, dict[str, str]]:
    """Sections (``global``, ``global:archive-push``, one per stanza) → option → value."""
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, allow_no_value=True, delimiters=("=",)
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except configparser.Error as exc:
        raise ConfigError(f"{path}: not a pgbackrest.conf: {exc}".splitlines()[0]) from exc
    return {
        section: {k: (v or "").strip() for k, v in parser.items(section)}
        for section in parser.sections()
    }
