"""The public Python API: every exported name resolves to the library's own object, the
package stays cheap to import (names load on first use), and it ships py.typed."""

from __future__ import annotations

import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import restoredrill

REPO = Path(__file__).resolve().parents[2]
USE_CASES = ("plan", "restore", "restored", "verify", "diff", "reapply", "recover", "run_playbook")


def test_every_exported_name_resolves() -> None:
    for name in restoredrill.__all__:
        assert getattr(restoredrill, name) is not None, name
    assert set(USE_CASES) <= set(restoredrill.__all__)
    assert set(USE_CASES) <= set(dir(restoredrill))


def test_use_cases_are_the_drill_functions() -> None:
    from restoredrill.drill import diff, reapply, recover, restore, verify

    assert restoredrill.verify is verify.verify
    assert restoredrill.diff is diff.diff
    assert restoredrill.reapply is reapply.reapply
    assert restoredrill.recover is recover.recover
    assert restoredrill.restore is restore.restore
    assert restoredrill.restored is restore.restored


def test_use_cases_are_fully_annotated() -> None:
    for name in USE_CASES:
        signature = inspect.signature(getattr(restoredrill, name))
        assert signature.return_annotation is not inspect.Signature.empty, name
        for parameter in signature.parameters.values():
            assert parameter.annotation is not inspect.Parameter.empty, (name, parameter.name)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = restoredrill.nope  # type: ignore[attr-defined]


def test_import_is_cheap() -> None:
    probe = (
        "import sys, restoredrill; "
        "heavy = [m for m in ('restoredrill.drill', 'pydantic', 'psycopg', 'rich') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_ships_py_typed() -> None:
    assert (REPO / "restoredrill" / "py.typed").is_file()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["restoredrill"]


def test_invalid_playbook_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsource: {kind: file}\n")
    with pytest.raises(restoredrill.ConfigError, match=r"bad.yaml:2"):
        restoredrill.run_playbook(path)


TYPED_USE = """\
import restoredrill
from restoredrill import RestoreRequest


def rto(request: RestoreRequest) -> float:
    return restoredrill.restore(request).rto_seconds


def misuse(dsn: str) -> int:
    return restoredrill.verify(dsn, "manifest.json")
"""


@pytest.mark.slow
def test_type_checkers_see_the_real_signatures(tmp_path: Path) -> None:
    """Through the lazy __getattr__, mypy still types every use case by its definition."""
    snippet = tmp_path / "use_api.py"
    snippet.write_text(TYPED_USE)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null",
         str(snippet)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout
    assert "use_api.py:10:" in errors[0] and '"VerifyReport"' in errors[0], errors
