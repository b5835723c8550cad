"""Choosing a layout that reads at the console's width: a table when its natural width fits,
otherwise the renderer's stacked or list form, so identifiers and values are never cut or
folded mid-word at 80 columns. Piped output is rendered wide (cli/console.StdoutConsole)."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.measure import Measurement

UNLIMITED = 1_000_000


def natural_width(console: Console, renderable: RenderableType) -> int:
    """Width the renderable takes with no wrapping at all."""
    options = console.options.update(max_width=UNLIMITED)
    return Measurement.get(console, options, renderable).maximum


def fits(console: Console, renderable: RenderableType) -> bool:
    return natural_width(console, renderable) <= console.width
