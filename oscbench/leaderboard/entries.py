"""Leaderboard entries: one learner's result records for one task and preset, as one JSON file.

An entry lives at ``<root>/submissions/<task id>/<preset>/<slug>.json`` (``root`` is the repository's
``leaderboard/`` directory) and holds::

    entry_version   1 (ENTRY_VERSION)
    name, slug      the submission's display name and its file-name form (slugify(name))
    authors         list of strings; url: an http(s) URL or null; description: string or null
    submitted       YYYY-MM-DD, the day the entry was first written; never changes
    superseded      null, or {"date": YYYY-MM-DD, "by": "<file name of the replacing entry>"}
    command         the command that produced the records, or null
    task            the records' common task block (without ``game``)
    learner         the records' common learner block
    games           null (trace patterning), or the sorted Atari games the records cover
    aggregate       figures recomputed from ``records`` (see :mod:`oscbench.leaderboard.aggregate`)
    records         every result record (``oscbench.benchmark.records``), sorted by (game, seed)

A superseded entry keeps its content and date and moves to ``<slug>.superseded-<k>.json``.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from oscbench.errors import DataError

ENTRY_VERSION = 1
SUBMISSIONS_DIR = "submissions"
_SUPERSEDED = re.compile(r"^(?P<slug>[a-z0-9][a-z0-9-]*)\.superseded-(?P<k>[1-9][0-9]*)\.json$")
_ACTIVE = re.compile(r"^(?P<slug>[a-z0-9][a-z0-9-]*)\.json$")


def slugify(name: str) -> str:
    """File-name form of a submission name: lower-case ASCII letters, digits and single dashes.

    >>> slugify("<script>alert(1)</script>")
    'script-alert-1-script'
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80].strip("-")


def entry_dir(root: Path, task_id: str, preset: str) -> Path:
    """``<root>/submissions/<task id>/<preset>``."""
    return Path(root) / SUBMISSIONS_DIR / task_id / preset


def superseded_name(slug: str, k: int) -> str:
    return f"{slug}.superseded-{k}.json"


def parse_file_name(name: str) -> tuple[str, int | None] | None:
    """``(slug, None)`` for an active entry file, ``(slug, k)`` for a superseded one, else None."""
    m = _SUPERSEDED.match(name)
    if m:
        return m["slug"], int(m["k"])
    m = _ACTIVE.match(name)
    return (m["slug"], None) if m else None


def dumps(entry: Mapping[str, Any]) -> str:
    """Canonical JSON text of an entry (sorted keys, 1-space indent, no NaN)."""
    return json.dumps(entry, indent=1, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


MAX_ENTRY_BYTES = 64 << 20   # 795 records (53 games x 15 seeds); a 50M-step record holds ~2,500 numbers (~60 kB)


def read_entry(path: Path) -> dict[str, Any]:
    """Load an entry file; DataError (one line) when it is unreadable or not a JSON object."""
    from oscbench import _safe_json

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"no leaderboard entry at {path}.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read leaderboard entry {path} ({err}).") from None
    # records nest 8 levels below an entry's records list; NaN tokens, huge or deep files are refused
    data = _safe_json.loads(text, path, max_bytes=MAX_ENTRY_BYTES, max_depth=12)
    if not isinstance(data, dict):
        raise DataError(f"{path} holds a JSON {type(data).__name__}, not a leaderboard entry object.")
    return data


def entry_paths(root: Path) -> list[Path]:
    """Every entry file under ``<root>/submissions`` (sorted; hidden and partial files ignored)."""
    base = Path(root) / SUBMISSIONS_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob("*/*/*.json") if not p.name.startswith("."))


def iter_entries(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(path, entry)`` for every entry file under ``root``."""
    for p in entry_paths(root):
        yield p, read_entry(p)


def is_active(entry: Mapping[str, Any]) -> bool:
    return not entry.get("superseded")


def display_game(record: Mapping[str, Any]) -> str | None:
    return record.get("task", {}).get("game")
