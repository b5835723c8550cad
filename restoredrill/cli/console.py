"""The two consoles: results on stdout, logs and progress on stderr."""

from __future__ import annotations

import sys

from rich.align import AlignMethod
from rich.cells import cell_len
from rich.console import Console, ConsoleDimensions
from rich.rule import Rule
from rich.style import Style
from rich.text import Text, TextType

PIPED_WIDTH = 1000
RULE_WIDTH = 80


class StdoutConsole(Console):
    """Rich console for results: the terminal's width on a terminal; when stdout is piped or
    redirected, wide enough that no value is cut or folded (rich would otherwise take the
    width of whichever of stdin/stderr is a terminal, or 80). COLUMNS still wins."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = Console.size.fget(self)  # type: ignore[attr-defined]
        assert isinstance(measured, ConsoleDimensions)
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPED_WIDTH, measured.height)
        return measured

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def rule(
        self,
        title: TextType = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        """Section rules: the console's width on a terminal; piped, a line as long as the
        title needs (at least 80), not PIPED_WIDTH."""
        line = Rule(title, characters=characters, style=style, align=align)
        if self.width < PIPED_WIDTH:
            self.print(line)
        else:
            text = title if isinstance(title, str) else title.plain
            self.print(line, width=max(RULE_WIDTH, cell_len(Text.from_markup(text).plain) + 8))


# Logs and progress go to stderr; stdout carries only results (and --json documents).
err = Console(stderr=True, highlight=False)
out = StdoutConsole(highlight=False, soft_wrap=True)


def interactive(json_output: bool) -> bool:
    """Show progress only on a terminal and never with --json."""
    return not json_output and sys.stderr.isatty()
