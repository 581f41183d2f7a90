""""Did you mean ...?" for a misspelt name: the closest known names by :mod:`difflib`, case-insensitive."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, choices: Iterable[str], n: int = 2, cutoff: float = 0.7) -> list[str]:
    """Up to ``n`` of ``choices`` closest to ``name`` (an exact case-insensitive match first)."""
    low: dict[str, str] = {}
    for c in choices:
        low.setdefault(c.lower(), c)
    key = name.strip().lower()
    if key in low:
        return [low[key]]
    return [low[m] for m in difflib.get_close_matches(key, list(low), n=n, cutoff=cutoff)]


def did_you_mean(found: list[str], otherwise: str) -> str:
    """``did you mean 'x'?`` (or ``'x' or 'y'``) for suggestions ``found``; ``otherwise`` when there are none."""
    if not found:
        return otherwise
    return "did you mean " + " or ".join(repr(f) for f in found) + "?"
