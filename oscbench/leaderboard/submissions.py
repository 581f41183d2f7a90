"""``oscbench submit``: gather one learner's records for one task and preset into a leaderboard entry.

The entry is written to ``<root>/submissions/<task>/<preset>/<slug>.json`` (see
:mod:`oscbench.leaderboard.entries`), to be committed the way benchmark repositories take submissions
by pull request. Nothing is written unless every check passes (:mod:`oscbench.leaderboard.validation`).
An entry keeps its date and is never silently replaced: a second submission under the same name is
refused unless ``supersede``; the old entry then stays, renamed ``<slug>.superseded-<k>.json`` and
marked with the date and its replacement.

Results must be one's own (:mod:`oscbench.leaderboard.ownership`): records repeating the results of an
entry of another name are refused, naming it; records claiming the reference learners' code must
reproduce their first curve bins (:func:`oscbench.leaderboard.verify.prefix_problems`); a reference
entry can only be superseded by the same reference learner run by the current reference code.

With ``code`` (``--code PATH``: the learner's ``.py`` file or package directory) the sources are
stored beside the entry as a deterministic archive (:mod:`oscbench.leaderboard.code`) and every
record's ``learner.source_sha256`` must be their digest; the entry can then be verified by re-running
it (``oscbench leaderboard verify``). Without code the entry is accepted, unverified.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oscbench._atomic import write_bytes_atomic, write_text_atomic
from oscbench.errors import DataError, OscbenchError
from oscbench.leaderboard import aggregate as agg
from oscbench.leaderboard import entries as E
from oscbench.leaderboard.code import CodeArchive, archive_name, build_archive, check_requirements
from oscbench.leaderboard.ownership import copied_from, reference_claim, reference_code, reference_kind
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
                description: str | None = None, command: str | None = None, submitted: str | None = None,
                code: dict[str, Any] | None = None) -> dict[str, Any]:
    """The entry for already-validated ``records`` (aggregate computed here); ``code``: its code field."""
    recs = sort_records(records)
    return {
        "entry_version": E.ENTRY_VERSION, "name": name, "slug": E.slugify(name), "authors": list(authors),
        "url": url, "description": description, "submitted": submitted or today_utc(), "superseded": None,
        "command": command, "task": common_task(recs), "learner": recs[0]["learner"], "games": games_of(recs),
        "aggregate": agg.aggregate(recs), "records": recs, "code": code,
    }


def submit(record_paths: Sequence[str | Path], *, name: str, authors: Sequence[str] = (), url: str | None = None,
           description: str | None = None, command: str | None = None, supersede: bool = False,
           root: str | Path = DEFAULT_ROOT, today: str | None = None, check_data: bool = True,
           code: str | Path | None = None, requires: Sequence[str] = ()) -> SubmitResult:
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
        code: the learner's source (a ``.py`` file or a package directory) to store with the entry.
        requires: Python dependencies of the code (PEP 508 strings, e.g. ``torch>=2.2``).
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
    requires = [r.strip() for r in requires]
    problems += check_requirements(requires)
    if records and not read_problems:
        problems += check_records(records, labels=labels, check_data=check_data)
    archive: CodeArchive | None = None
    if code is not None and not problems:
        archive = build_archive(code)
        problems += _code_problems(records, archive, code)
    if problems:
        raise ValidationFailed(problems, context="submission refused")

    entry = build_entry(records, name=name, authors=authors, url=url, description=description, command=command,
                        submitted=today or today_utc())
    folder = E.entry_dir(Path(root), entry["task"]["id"], entry["task"]["preset"])
    target = folder / f"{entry['slug']}.json"
    old = E.read_entry(target) if target.exists() else None
    if old is not None and not supersede:
        raise OscbenchError(f"an entry named {old.get('name')!r} already exists at {target} (submitted "
                            f"{old.get('submitted')}); pass --supersede to replace it (the old entry stays, "
                            "marked superseded) or choose another --name.")
    problems = _ownership_problems(entry, old, target, Path(root))
    if problems:
        raise ValidationFailed(problems, context="submission refused")
    if archive is not None:
        entry["code"] = archive.field(archive_name(target.name), requires)
    moved: Path | None = None
    if old is not None:
        k = 1
        while (folder / E.superseded_name(entry["slug"], k)).exists():
            k += 1
        old["superseded"] = {"date": entry["submitted"], "by": target.name}
        moved = folder / E.superseded_name(entry["slug"], k)
        old.pop("verification", None)
        if isinstance(old.get("code"), dict):  # the old code moves with its entry
            old_archive = folder / old["code"]["archive"]
            old["code"]["archive"] = archive_name(moved.name)
            if old_archive.exists():
                write_bytes_atomic(folder / old["code"]["archive"], old_archive.read_bytes(), overwrite=False)
        write_text_atomic(moved, E.dumps(old), overwrite=False)
    if archive is not None:
        write_bytes_atomic(folder / entry["code"]["archive"], archive.data, overwrite=True)
    elif old is not None and isinstance(old.get("code"), dict):
        (folder / archive_name(target.name)).unlink(missing_ok=True)   # the new entry has no code
    write_text_atomic(target, E.dumps(entry), overwrite=True)
    return SubmitResult(target, moved, entry)


def _code_problems(records: Sequence[dict[str, Any]], archive: CodeArchive, code: str | Path) -> list[str]:
    """The records must have been produced by the code given with ``--code``."""
    from oscbench.leaderboard.verify import code_spec

    digests = sorted({str(r["learner"]["source_sha256"]) for r in records})
    if digests != [archive.source_sha256]:
        return [f"the records were produced by code with source digest {digests[0][:12]}…, but --code {code} has "
                f"digest {archive.source_sha256[:12]}…; pass the code the records were produced with (or rerun "
                "`oscbench evaluate` with it)"]
    if reference_code(records[0]["learner"]) is not None:
        return []   # the reference baselines run by name from this installation (their digest was checked)
    try:
        code_spec(archive.field(""), records[0]["learner"]["spec"], Path("."))
    except OscbenchError as err:
        return [str(err).rstrip(".")]
    return []


def _ownership_problems(entry: dict[str, Any], old: dict[str, Any] | None, target: Path, root: Path) -> list[str]:
    """Copied results, reference claims that do not reproduce, and reference entries superseded by other code."""
    from oscbench.leaderboard.verify import prefix_problems

    records = entry["records"]
    problems = copied_from(records, E.iter_entries(root), same=(entry["task"]["id"], entry["task"]["preset"], entry["slug"]))
    claim = reference_claim(entry["learner"], entry["task"]["id"], records[0]["steps"])
    if old is not None:
        old["verification"] = E.verification_status(target)
        was = reference_kind(old)
        if was is not None and claim != was:
            problems.append(f"{target.name} is the reference entry of {was}; superseding it with other code or "
                            "settings is refused (reference entries are regenerated by the maintainers with "
                            "tools/regenerate_references.py); choose another --name")
    runs_reference_code = reference_code(entry["learner"])
    if runs_reference_code is not None and not problems:  # a digest is a claim: the records must reproduce
        problems += prefix_problems(runs_reference_code, records)
    return problems


@dataclass
class EntryReport:
    """:func:`validate_all` outcome for one entry file."""

    path: Path
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _submitted_order(path: Path) -> tuple[str, str]:
    try:
        return str(E.read_entry(path).get("submitted")), str(path)
    except DataError:
        return "", str(path)


def validate_all(root: str | Path = DEFAULT_ROOT, *, check_data: bool = True) -> list[EntryReport]:
    """Re-check every committed entry under ``root``; also that each name has at most one active entry,
    that no entry file carries a verification status, and that no active entry repeats the results of an
    earlier one (the earlier is named)."""
    reports = []
    active: dict[tuple[str, str, str], Path] = {}
    seen: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(E.entry_paths(Path(root)), key=_submitted_order):
        try:
            entry = E.read_entry(path)
        except DataError as err:
            reports.append(EntryReport(path, [str(err)]))
            continue
        problems = check_entry(entry, path, check_data=check_data)
        if "verification" in entry:
            problems.append("the entry file carries a verification status; only `oscbench leaderboard verify` sets "
                            f"it (in {E.VERIFICATION_DIR}/): remove the field")
        if not problems and not entry.get("superseded"):
            problems += copied_from(entry["records"], seen, same=None)
            seen.append((path, entry))
        reports.append(EntryReport(path, problems))
        if isinstance(entry, dict) and not entry.get("superseded") and isinstance(entry.get("slug"), str):
            key = (path.parts[-3], path.parts[-2], entry["slug"])
            if key in active:
                problems.append(f"a second active entry for {entry['slug']!r} (also {active[key].name})")
            active[key] = path
    return sorted(reports, key=lambda r: str(r.path))
