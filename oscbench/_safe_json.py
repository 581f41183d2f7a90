"""Reading untrusted JSON (result records, leaderboard entries) within limits, with one-line errors.

Before ``json.loads`` runs, the text's size and bracket nesting depth are checked (so a 200,000-deep
document cannot raise RecursionError and a huge one cannot exhaust memory); the parser refuses the
non-standard tokens ``NaN``, ``Infinity`` and ``-Infinity``; afterwards every value is walked
(iteratively) to refuse non-finite numbers, over-long strings and over-long arrays or objects.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from oscbench.errors import DataError

MAX_DEPTH = 32
MAX_STRING = 10_000
MAX_ITEMS = 100_000
_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)   # an escape, a quote or a bracket


def nesting_depth(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of ``[``/``{`` in JSON ``text`` (brackets inside strings do not count); one
    linear pass, which ends early once the depth exceeds ``stop_above``."""
    in_string, depth, deepest = False, 0, 0
    for m in _TOKENS.finditer(text):
        t = m.group()
        if t == '"':
            in_string = not in_string
        elif in_string or t[0] == "\\":
            continue
        elif t in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and depth > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"the non-standard token {token}")


def check_values(obj: Any, where: object, *, max_string: int = MAX_STRING, max_items: int = MAX_ITEMS,
                 max_depth: int = MAX_DEPTH) -> None:
    """Refuse non-finite numbers, strings longer than ``max_string``, containers longer than ``max_items``
    and nesting deeper than ``max_depth`` anywhere in ``obj`` (parsed JSON or a dict built in Python)."""
    stack: list[tuple[Any, str, int]] = [(obj, "", 0)]
    while stack:
        v, path, depth = stack.pop()
        at = path or "(top level)"
        if depth > max_depth:
            raise DataError(f"{where}: {at} is nested more than {max_depth} levels deep; not a valid file.")
        if isinstance(v, float) and not math.isfinite(v):
            raise DataError(f"{where}: {at} is {v}; NaN and infinite numbers are not allowed, rerun the evaluation.")
        if isinstance(v, str) and len(v) > max_string:
            raise DataError(f"{where}: {at} is a string of {len(v):,} characters (at most {max_string:,}); "
                            "shorten it.")
        if isinstance(v, (list, dict)) and len(v) > max_items:
            raise DataError(f"{where}: {at} holds {len(v):,} items (at most {max_items:,}); not a valid file.")
        if isinstance(v, dict):
            for k, x in v.items():
                if len(str(k)) > max_string:
                    raise DataError(f"{where}: {at} has a key of {len(str(k)):,} characters; not a valid file.")
                stack.append((x, f"{path}/{k}" if path else str(k), depth + 1))
        elif isinstance(v, list):
            stack.extend((x, f"{path}/{i}", depth + 1) for i, x in enumerate(v))


def loads(text: str, where: object, *, max_bytes: int, max_depth: int = MAX_DEPTH, **limits: int) -> Any:
    """Parse untrusted JSON ``text`` (from ``where``) within the limits; DataError (one line) otherwise."""
    if len(text) > max_bytes:
        raise DataError(f"{where} is {len(text):,} characters long, more than the {max_bytes:,} allowed; "
                        "it is not a valid file.")
    if nesting_depth(text, stop_above=max_depth) > max_depth:
        raise DataError(f"{where} is nested more than {max_depth} levels deep; it is not a valid file.")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise DataError(f"{where} is not valid JSON ({err.msg} at line {err.lineno}).") from None
    except ValueError as err:   # NaN/Infinity tokens, integers of more than 4,300 digits
        what = "a number of more than 4,300 digits" if "digits" in str(err) else str(err)
        raise DataError(f"{where} holds {what}; NaN, infinite and huge numbers are not allowed in JSON records.") from None
    check_values(data, where, max_depth=max_depth, **limits)
    return data
