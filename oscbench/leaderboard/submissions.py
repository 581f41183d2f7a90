"""``oscbench submit``: gather one learner's records for one task and preset into a leaderboard entry.

The entry is written to ``<root>/submissions/<task>/<preset>/<slug>.json`` (see
:mod:`oscbench.leaderboard.entries`), to be committed the way benchmark repositories take submissions
by pull request. Nothing is written unless every check passes (:mod:`oscbench.leaderboard.validation`).
An entry keeps its date and is never silently replaced: a second submission under the same name is
refused unless ``supersede``; the old entry then stays, renamed ``<slug>.superseded-<k>.json`` and
marked with the date and its replacement.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oscbench._atomic import write_text_atomic
from oscbench.errors import DataError, OscbenchError
from oscbench.leaderboard import aggregate as agg
from oscbench.leaderboard import entries as E
from oscbench.leaderboard.validation import (ValidationFailed, check_entry, check_metadata, check_records,
                                             common_task, games_of, sort_records)

DEFAULT_ROOT = Path("leaderboard")


def today_utc() -> str:
    """Today's date in UTC, YYYY-MM-DD."""
    return _dt.datetime.now(_dt.timezone.utc).date().isoformat()


@dataclass
class SubmitResult:
    """What :func:`submit` wrote: the new entry's path, and the superseded entry's new path (if any)."""

    path: Path
    superseded: Path | None
    entry: dict[str, Any]


def load_record_files(paths: Iterable[str | Path]) -> tuple[list[Any], list[str], list[str]]:
    """(records, labels, problems) from record files and directories; unreadable files become problems."""
    from oscbench.benchmark.records import iter_record_paths, read_record

    records, labels, problems = [], [], []
    for p in iter_record_paths(paths):
        try:
            records.append(read_record(p))
            labels.append(str(p))
        except DataError as err:
            problems.append(str(err))
    return records, labels, problems


def build_entry(records: Sequence[dict[str, Any]], *, name: str, authors: Sequence[str] = (), url: str | None = None,
                description: str | None = None, command: str | None = None, submitted: str | None = None) -> dict[str, Any]:
    """The entry for already-validated ``records`` (aggregate computed here)."""
    recs = sort_records(records)
    return {
        "entry_version": E.ENTRY_VERSION, "name": name, "slug": E.slugify(name), "authors": list(authors),
        "url": url, "description": description, "submitted": submitted or today_utc(), "superseded": None,
        "command": command, "task": common_task(recs), "learner": recs[0]["learner"], "games": games_of(recs),
        "aggregate": agg.aggregate(recs), "records": recs,
    }


def submit(record_paths: Sequence[str | Path], *, name: str, authors: Sequence[str] = (), url: str | None = None,
           description: str | None = None, command: str | None = None, supersede: bool = False,
           root: str | Path = DEFAULT_ROOT, today: str | None = None, check_data: bool = True) -> SubmitResult:
    """Validate the records and write the entry; raise :class:`ValidationFailed` (one line per problem).

    Args:
        record_paths: record files, or directories of ``*.json`` records.
        name: display name (any text; escaped wherever shown). Its :func:`~entries.slugify` form names the file.
        authors, url, description: shown with the entry; ``url`` must be http(s).
        command: the command that produced the records (shown and kept for reproduction).
        supersede: replace an active entry of the same name, keeping it as superseded.
        root: the leaderboard directory (``leaderboard/`` of the repository).
        today: the date to record (YYYY-MM-DD; default: today in UTC).
        check_data: verify dataset digests (recomputed stream digest or the registry's).
    """
    name = name.strip() if isinstance(name, str) else name
    authors = [a.strip() for a in authors]
    url = url or None
    description = description.strip() if description else None
    problems = check_metadata(name, authors, url, description)
    records, labels, read_problems = load_record_files(record_paths)
    problems += read_problems
    if not record_paths:
        problems.append("no records given; pass the result record files (or directories) of one learner")
    elif not records and not read_problems:
        problems.append(f"no *.json records found in {', '.join(map(str, record_paths))}")
    if records and not read_problems:
        problems += check_records(records, labels=labels, check_data=check_data)
    if problems:
        raise ValidationFailed(problems, context="submission refused")

    entry = build_entry(records, name=name, authors=authors, url=url, description=description, command=command,
                        submitted=today or today_utc())
    folder = E.entry_dir(Path(root), entry["task"]["id"], entry["task"]["preset"])
    target = folder / f"{entry['slug']}.json"
    moved: Path | None = None
    if target.exists():
        old = E.read_entry(target)
        if not supersede:
            raise OscbenchError(f"an entry named {old.get('name')!r} already exists at {target} (submitted "
                                f"{old.get('submitted')}); pass --supersede to replace it (the old entry stays, "
                                "marked superseded) or choose another --name.")
        k = 1
        while (folder / E.superseded_name(entry["slug"], k)).exists():
            k += 1
        old["superseded"] = {"date": entry["submitted"], "by": target.name}
        moved = folder / E.superseded_name(entry["slug"], k)
        write_text_atomic(moved, E.dumps(old), overwrite=False)
    write_text_atomic(target, E.dumps(entry), overwrite=True)
    return SubmitResult(target, moved, entry)


@dataclass
class EntryReport:
    """:func:`validate_all` outcome for one entry file."""

    path: Path
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_all(root: str | Path = DEFAULT_ROOT, *, check_data: bool = True) -> list[EntryReport]:
    """Re-check every committed entry under ``root``; also that each name has at most one active entry."""
    reports = []
    active: dict[tuple[str, str, str], Path] = {}
    for path in E.entry_paths(Path(root)):
        try:
            entry = E.read_entry(path)
        except DataError as err:
            reports.append(EntryReport(path, [str(err)]))
            continue
        problems = check_entry(entry, path, check_data=check_data)
        reports.append(EntryReport(path, problems))
        if isinstance(entry, dict) and not entry.get("superseded") and isinstance(entry.get("slug"), str):
            key = (path.parts[-3], path.parts[-2], entry["slug"])
            if key in active:
                problems.append(f"a second active entry for {entry['slug']!r} (also {active[key].name})")
            active[key] = path
    return reports
