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
    code            null (no code stored: the entry stays unverified), or the learner's stored code
                    ``<stem>.code.tar.gz`` beside the entry (see :mod:`oscbench.leaderboard.code`)

A superseded entry keeps its content and date and moves to ``<slug>.superseded-<k>.json`` (its code
archive to ``<slug>.superseded-<k>.code.tar.gz``).

Verification status is never part of the submitted file. ``oscbench leaderboard verify`` writes it to
``<root>/verification/<task id>/<preset>/<entry file name>``, bound to the entry file's sha256 (see
:mod:`oscbench.leaderboard.verify`); :func:`iter_entries` attaches it to each entry it loads as
``entry["verification"] = {"status": "verified" | "unverified" | "failed", "date", "checks", "machine"}``
-- ``unverified`` when no verification of the entry's current bytes exists.
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
VERIFICATION_DIR = "verification"
VERIFICATION_STATUSES = ("verified", "unverified", "failed")
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
    """``(path, entry)`` for every entry file under ``root``, with its ``verification`` attached."""
    for p in entry_paths(root):
        entry = read_entry(p)
        entry["verification"] = verification_status(p)
        yield p, entry


def file_sha256(path: Path) -> str:
    from oscbench._hashing import sha256_file

    return sha256_file(path)


def verification_path(entry_path: Path) -> Path:
    """``<root>/verification/<task>/<preset>/<entry file name>`` for ``<root>/submissions/<task>/<preset>/<file>``."""
    p = Path(entry_path)
    return p.parents[3] / VERIFICATION_DIR / p.parts[-3] / p.parts[-2] / p.name


def unverified(reason: str) -> dict[str, Any]:
    return {"status": "unverified", "date": None, "checks": [], "machine": None, "reason": reason}


def verification_status(entry_path: Path) -> dict[str, Any]:
    """The entry's verification (see module docs); ``unverified`` when none applies to its current bytes."""
    vpath = verification_path(entry_path)
    try:
        data = json.loads(vpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return unverified("not verified yet")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return unverified(f"the verification file {vpath.name} is unreadable")
    if not isinstance(data, dict) or data.get("status") not in ("verified", "failed"):
        return unverified(f"the verification file {vpath.name} is malformed")
    if data.get("entry_sha256") != file_sha256(entry_path):
        return unverified("the entry changed since it was verified")
    return {"status": data["status"], "date": data.get("date"), "checks": data.get("checks", []),
            "machine": data.get("machine"), "rerun": data.get("rerun")}


def is_active(entry: Mapping[str, Any]) -> bool:
    return not entry.get("superseded")


def display_game(record: Mapping[str, Any]) -> str | None:
    return record.get("task", {}).get("game")
