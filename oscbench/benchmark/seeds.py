"""Which seeds a command runs: one meaning for every command and the Python API.

* ``seeds`` names seeds: ``"0-4"`` (an inclusive range), ``"0,3,7"`` (a list), ``"5"`` (seed 5 alone),
  mixes such as ``"0-2,9"``; from Python also a list, tuple or range of integers.
* ``n_seeds`` is a count: ``n_seeds=3`` runs seeds 0, 1, 2.

A bare integer ``seeds=3`` is refused in Python rather than guessed at (it once meant a count there), and
so is giving both. :func:`resolve_seeds` is the single place where these rules live; the CLI's
``--seeds``/``--n-seeds`` and the API's ``seeds=``/``n_seeds=`` all go through it.
"""
from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral

from oscbench.errors import ConfigError

SEEDS_HELP = "Seeds to run: 0-4, 0,3,7 or 5 (= seed 5 alone)."
N_SEEDS_HELP = "Number of seeds: N runs seeds 0..N-1."


def parse_seeds(text: str, *, option: str = "--seeds") -> list[int]:
    """``"0-4"`` → [0..4], ``"0,3,7"`` → [0, 3, 7], ``"5"`` → [5], ``"0-2,9"`` → [0, 1, 2, 9]."""
    out: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            a, sep, b = part.partition("-")
            lo, hi = int(a), (int(b) if sep else int(a))
            if hi < lo:
                raise ValueError(part)
            out.extend(range(lo, hi + 1))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a list of seeds; write e.g. 0-4, 0,3,7 or 5.") from None
    return _checked(out, option, text)


def _checked(seeds: list[int], option: str, given: object) -> list[int]:
    if not seeds:
        raise ConfigError(f"{option} {given!r} names no seed; write e.g. 0-4, 0,3,7 or 5.")
    if any(s < 0 for s in seeds):
        raise ConfigError(f"{option} {given!r}: seeds must be >= 0.")
    dup = sorted({s for s in seeds if seeds.count(s) > 1})
    if dup:
        raise ConfigError(f"{option} {given!r} repeats seed(s) {', '.join(map(str, dup))}; name each seed once.")
    return seeds


def _is_int(v: object) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def resolve_seeds(seeds: str | Iterable[int] | None = None, n_seeds: int | None = None, *,
                  default: int, seeds_name: str = "seeds", n_seeds_name: str = "n_seeds") -> list[int]:
    """The seeds to run from ``seeds`` (seeds) or ``n_seeds`` (a count), else seeds 0..``default``−1.

    ``seeds_name``/``n_seeds_name`` are how the caller spells the two (``--seeds`` on the command line),
    so a refusal names what the user typed.
    """
    if seeds is not None and n_seeds is not None:
        raise ConfigError(f"give either {seeds_name} (which seeds) or {n_seeds_name} (how many), not both.")
    if n_seeds is not None:
        if not _is_int(n_seeds) or int(n_seeds) <= 0:
            raise ConfigError(f"{n_seeds_name} {n_seeds!r} must be a positive number of seeds.")
        return list(range(int(n_seeds)))
    if seeds is None:
        return list(range(default))
    if isinstance(seeds, Integral) and not isinstance(seeds, bool):
        n = int(seeds)
        raise ConfigError(f"{seeds_name}={n} is ambiguous: write {seeds_name}=[{n}] for seed {n} alone, "
                          f"or {n_seeds_name}={n} for seeds 0-{n - 1}.")
    if isinstance(seeds, str):
        return parse_seeds(seeds, option=seeds_name)
    try:
        out = list(seeds)
    except TypeError:
        raise ConfigError(f"{seeds_name}={seeds!r} is not a list of seeds; give e.g. [0, 1, 2] or '0-2'.") from None
    if not all(_is_int(s) for s in out):
        raise ConfigError(f"{seeds_name}={seeds!r} holds something other than integers; give e.g. [0, 1, 2].")
    return _checked([int(s) for s in out], seeds_name, out)
