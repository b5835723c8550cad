"""Validate JUnit XML against the JUnit 4 schema Jenkins and GitLab read (tests/data)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema

SCHEMA = Path(__file__).parent / "data" / "junit-4.xsd"


@cache
def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def assert_junit4(path: Path) -> None:
    """The file starts with an XML declaration, validates, and every suite says when and
    where it ran."""
    data = path.read_bytes()
    assert data.startswith(b"<?xml"), "no XML declaration"
    _schema().validate(str(path))
    root = _schema().to_dict(str(path))
    for suite in root.get("testsuite", []):
        assert suite.get("@timestamp") and suite.get("@hostname"), suite.get("@name")
