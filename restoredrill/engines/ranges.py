"""Key ranges of diff bisection, engine-neutral: every engine's range SQL takes these."""

from __future__ import annotations

from dataclasses import dataclass

KeyText = tuple[str, ...]  # a key's column values, as their text forms


@dataclass(frozen=True)
class KeyRange:
    """Half-open key range [lo, hi); None = unbounded. Bounds are key values' text forms."""

    lo: KeyText | None
    hi: KeyText | None
