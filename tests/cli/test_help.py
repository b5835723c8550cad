"""The CLI reads like a manual: every --help fits 80 columns, flags show no type, restore's
options sit in panels a screen long, and `restoredrill --help` imports no command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from restoredrill.cli.app import main
from restoredrill.cli.commands import COMMANDS
from restoredrill.cli.lazy import load, reflow

RESTORE_PANELS = (
    "Source",
    "Target",
    "PostgreSQL",
    "MariaDB / MySQL",
    "Sandbox",
    "RDS",
    "AWS",
    "Output",
)
SCREEN = 24  # lines of a terminal a panel must fit in


def every_command() -> list[list[str]]:
    found: list[list[str]] = [[]]
    for name, spec in COMMANDS.items():
        found.append([name])
        subcommands: dict[str, Any] = getattr(load(name, spec), "commands", None) or {}
        found += [[name, sub] for sub in subcommands]
    return found


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)


@pytest.mark.parametrize("argv", every_command(), ids=lambda argv: " ".join(argv) or "root")
def test_help_fits_80_columns_and_flags_show_no_type(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(argv, capsys)
    assert "Usage:" in text
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    assert "<bool>" not in text and "<str>" not in text.split("─ Options")[0]  # arguments
    assert "…" not in text  # no option name or value cut short


def test_restore_options_sit_in_panels_a_screen_long(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(["restore"], capsys)
    panels: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        title = re.match(r"╭─ (.+?) ─", line)
        if title:
            current = title.group(1)
            panels[current] = 0
        elif line.startswith("╰"):
            current = None
        elif current is not None:
            panels[current] += 1
    assert set(RESTORE_PANELS) <= set(panels), panels
    assert list(panels)[1:] == list(RESTORE_PANELS)  # after Options (--help alone)
    assert panels["Options"] == 1
    tall = {name: lines for name, lines in panels.items() if lines + 2 > SCREEN}
    assert not tall, tall


def test_help_is_prose_not_hard_wrapped() -> None:
    assert reflow("One line\n    that goes on.\n\nA second\n    paragraph.") == (
        "One line that goes on.\n\nA second paragraph."
    )


def test_summaries_in_the_table_are_the_commands_first_lines() -> None:
    for name, spec in COMMANDS.items():
        command = load(name, spec)
        first = (reflow(command.help) or "").split("\n\n")[0]
        assert first == spec.summary, name


def test_choices_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(["restore"], capsys)
    for choices in ("<postgres|mariadb|mysql>", "<local|docker|rds>", "<stage|stream>"):
        assert choices in text
    assert "<lost|changed|all>" in help_of(["reapply"], capsys)
    assert "md, html, json, junit or prometheus" in help_of(["report"], capsys)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code in (0, None)
    assert re.fullmatch(r"restoredrill \S+\n", capsys.readouterr().out)


def test_unknown_command_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["resotre"])
    assert exit_info.value.code == 2
    assert "Did you mean 'restore'" in capsys.readouterr().err


HEAVY = ("psycopg", "pymysql", "boto3", "botocore", "matplotlib", "pydantic", "docker")


def imported_by(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys\n"
        "from restoredrill.cli.app import main\n"
        f"try:\n    main({argv!r})\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.split())


def test_root_help_imports_no_command_and_nothing_heavy() -> None:
    modules = imported_by(["--help"])
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    commands = {f"restoredrill.cli.{spec.module}" for spec in COMMANDS.values()}
    assert not modules & commands
    assert "restoredrill.models" not in modules


def test_a_command_imports_no_other_command() -> None:
    modules = imported_by(["history", "--help"])
    others = {f"restoredrill.cli.{s.module}" for n, s in COMMANDS.items() if n != "history"}
    assert "restoredrill.cli.history" in modules
    assert not modules & others


def test_shell_completion_completes_commands_options_and_choices() -> None:
    script = Path(sys.executable).parent / "restoredrill"

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_RESTOREDRILL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        }
        done = subprocess.run([script], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("restoredrill res") == ["restore"]
    assert complete("restoredrill restore --wal-d") == ["--wal-delivery"]
    assert complete("restoredrill restore --engine ") == ["postgres", "mariadb", "mysql"]


@pytest.mark.parametrize("spelling", ["--pgbackrest-config", "--pgbackrest-conf"])
def test_the_old_spelling_still_works(
    spelling: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "pgbackrest.conf"
    config.write_text("[global]\nrepo1-path=/nowhere\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["check", spelling, str(config), "--json"])
    assert exit_info.value.code == 1  # no stanza: a rule fails, the file was read
    assert '"subject": "' + str(config) in capsys.readouterr().out


def test_docs_cli_md_is_the_help_as_printed() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "scripts" / "cli_docs.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    written = (root / "docs" / "cli.md").read_text()
    assert done.stdout == written, "run: .venv/bin/python scripts/cli_docs.py > docs/cli.md"
