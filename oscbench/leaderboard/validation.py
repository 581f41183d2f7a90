"""Checks that a set of result records may form a leaderboard entry, and that an entry is intact.

Each function returns a list of one-line problems (empty = valid). Identical problems of several runs
are merged into one line naming the runs. :class:`ValidationFailed` carries the lines; the CLI prints
one ``error:`` line per problem.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from oscbench.errors import OscbenchError
from oscbench.leaderboard import aggregate as agg
from oscbench.leaderboard.entries import ENTRY_VERSION, parse_file_name, slugify

MAX_NAME = 100
MAX_TEXT = 2000


class ValidationFailed(OscbenchError):
    """Validation found problems; ``problems`` holds one line each (``str()`` joins them with '; ')."""

    def __init__(self, problems: Sequence[str], *, context: str = "") -> None:
        self.problems = list(problems)
        self.context = context
        head = f"{context}: " if context else ""
        super().__init__(head + f"{len(self.problems)} problem(s): " + "; ".join(self.problems))


def run_label(record: Mapping[str, Any], index: int) -> str:
    """``seed 3``, ``Pong seed 3`` or ``record 7`` (when the record has no usable seed)."""
    seed = record.get("seed") if isinstance(record, Mapping) else None
    task = record.get("task") if isinstance(record, Mapping) else None
    game = task.get("game") if isinstance(task, Mapping) else None
    if not isinstance(seed, int):
        return f"record {index}"
    return f"{game} seed {seed}" if game else f"seed {seed}"


def _merge(per_run: Mapping[str, list[str]]) -> list[str]:
    """{problem: [run labels]} -> lines ``seeds 0, 1: problem``."""
    out = []
    for msg, labels in per_run.items():
        shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
        out.append(f"{shown}: {msg}")
    return out


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _learner_label(r: Mapping[str, Any]) -> str:
    """``hybrid``, or ``name (spec)`` when the name is not the spec the user gave."""
    spec, name = r["learner"]["spec"], r["learner"]["name"]
    return name if name == spec else f"{name} ({spec})"


def _mixed(records: Sequence[Mapping[str, Any]], what: str, key, fix: str) -> list[str]:
    counts = Counter(_canon(key(r)) for r in records)
    if len(counts) <= 1:
        return []
    shown = {c: (json.loads(c) if isinstance(json.loads(c), str) else c) for c in counts}   # strings unquoted
    parts = ", ".join(f"{shown[v]} ({n} run{'s' if n > 1 else ''})" for v, n in counts.most_common(4))
    return [f"the records mix {what}: {parts}; {fix}"]


@lru_cache(maxsize=256)
def _generated_dataset(task_id: str, seed: int, steps: int) -> tuple[str, str, str]:
    """(id, sha256, params JSON) of the generated stream a run of ``task_id`` with ``seed`` reads."""
    from oscbench.benchmark import streams, tasks

    task = tasks.get_task(task_id)
    ds = streams.open_stream(task, game=None, seed=seed, n_steps=steps).dataset
    return ds["id"], ds["sha256"], _canon(ds["params"])


def registry_digest(dataset_id: str) -> str | None:
    """The dataset content digest (``DatasetFile.content_sha256``) the registry lists for a recorded
    dataset such as ``atari/Pong-v1``, or None when the registry does not list one."""
    try:
        from oscbench.datasets import registry

        entry = registry.get(dataset_id)
    except (ImportError, OscbenchError):
        return None
    digest = entry.extra.get("content_sha256")
    if digest is None and entry.kind == "atari":
        from oscbench.datasets.atari import games

        digest = games.game_facts(entry.extra["game"]).get("content_sha256")
    return digest if isinstance(digest, str) else None


def _dataset_problem(task: Any, r: Mapping[str, Any]) -> str | None:
    """Compare a record's dataset block with the stream the task defines for that run."""
    ds = r["dataset"]
    game = r["task"].get("game")
    want_id = task.dataset_id.format(game=game) if game else task.dataset_id
    if ds["id"] != want_id:
        return f"dataset {ds['id']} is not the task's stream {want_id}"
    if task.kind == "trace-patterning":
        if ds.get("sha256_kind") != "generated-stream":
            where = f" {ds['path']}" if ds.get("path") else ""
            return (f"the run read its stream from the dataset file{where}, whose digest the leaderboard cannot "
                    "recompute; evaluate on the task's own stream (`oscbench evaluate` without a dataset file) "
                    "so the record carries the generated stream's digest")
        sid, digest, params = _generated_dataset(task.id, r["seed"], r["steps"])
        if _canon(ds["params"]) != params or ds["seed"] != r["seed"]:
            return f"dataset parameters or seed differ from the task's stream for seed {r['seed']}"
        if ds["sha256"] != digest:
            return f"dataset digest {ds['sha256'][:12]}… does not match the recomputed stream digest {digest[:12]}…"
        return None
    want = registry_digest(want_id)
    if want is None:
        return "the dataset registry lists no content digest for this recorded dataset; cannot verify the data"
    if ds["sha256"] != want:
        return f"dataset digest {ds['sha256'][:12]}… does not match the registry's {want[:12]}… for {want_id}"
    return None


def check_records(records: Sequence[Any], *, labels: Sequence[str] | None = None,
                  check_data: bool = True) -> list[str]:
    """Problems that keep ``records`` (one learner, task and preset) from forming an entry.

    Checked: the record schema and its recomputations (:func:`oscbench.benchmark.records.validate_record`:
    metrics from the curve, nmse, timing, declared FLOPs within the budget); failed and unaudited runs;
    one task, preset, learner, hyper-parameter set and code digest; a known task and preset run at the
    preset's length; the preset's number of distinct seeds per game, no duplicates; with ``check_data``,
    dataset digests (recomputed generated-stream digest, or the registry's for recorded datasets).
    """
    from oscbench.benchmark import tasks
    from oscbench.benchmark.records import validate_record

    if not records:
        return ["no records given; pass the result record files (or directories) of one learner"]
    labels = list(labels) if labels is not None else [run_label(r, i) for i, r in enumerate(records)]
    per_run: dict[str, list[str]] = {}
    good: list[Mapping[str, Any]] = []
    for r, lab in zip(records, labels):
        if not isinstance(r, Mapping):
            per_run.setdefault("not a result record object", []).append(lab)
            continue
        audit: Mapping[str, Any] = r["audit"] if isinstance(r.get("audit"), Mapping) else {}
        if r.get("status") == "failed":
            f = r.get("failure") or {}
            per_run.setdefault(f"the run failed ({f.get('stage', 'run')} at step {f.get('step')}: "
                               f"{str(f.get('message', ''))[:120]}); fix the learner and rerun it", []).append(lab)
            continue
        if audit.get("causality") != "passed" or audit.get("determinism") != "passed":
            per_run.setdefault(f"the run is unaudited (causality {audit.get('causality')!r}, determinism "
                               f"{audit.get('determinism')!r}); only runs that pass both audits count", []).append(lab)
            continue
        rep = validate_record(r, stream=check_data)
        for e in rep.errors:
            per_run.setdefault(e, []).append(lab)
        if rep.ok:
            good.append(r)
    problems = _merge(per_run)
    if len(good) < len(records):
        return problems  # group checks need every record readable

    problems += _mixed(good, "tasks", lambda r: f"{r['task']['id']}", "submit one task per entry")
    problems += _mixed(good, "presets", lambda r: r["task"]["preset"], "submit one preset per entry")
    problems += _mixed(good, "learners", _learner_label, "submit one learner per entry")
    problems += _mixed(good, "hyper-parameters", lambda r: r["learner"]["hyperparameters"],
                       "submit one hyper-parameter setting per entry")
    problems += _mixed(good, "code digests (learner.source_sha256)", lambda r: r["learner"]["source_sha256"],
                       "rerun every seed with the same learner code")
    problems += _mixed(good, "declared FLOPs/step", lambda r: r["learner"]["flops_per_step"],
                       "rerun every seed with the same learner")
    if not problems:  # same task and preset: now the rest of the task block must agree too
        problems += _mixed(good, "task definitions", lambda r: {k: v for k, v in r["task"].items() if k != "game"},
                           "rerun every seed with the same oscbench task version")
    if problems:
        return problems

    ineligible = [run_label(r, i) for i, r in enumerate(good) if (r.get("audit") or {}).get("leaderboard_eligible") is False]
    if ineligible:
        return [f"{len(ineligible)} run(s) could not be checked for causality over the whole run (the learner cannot be "
                f"snapshotted: {', '.join(ineligible[:3])}); make the learner picklable (docs/isolation.md) "
                "and evaluate again"]
    t0 = good[0]["task"]
    if t0["id"] == tasks.CUSTOM_TASK_ID:
        return [f"these are records of a custom stream ({good[0]['dataset']['id']}, `evaluate --dataset FILE` without "
                "--task), which are never leaderboard-eligible; evaluate on a shipped task (`oscbench tasks list`)"]
    try:
        task = tasks.get_task(t0["id"])
    except OscbenchError:
        return [f"task {t0['id']} is not a task this oscbench knows; upgrade oscbench or use a shipped task"]
    if task.version != t0["version"]:
        return [f"the records are for {t0['id']} version {t0['version']}, this oscbench defines version {task.version}"]
    if t0["preset"] not in task.presets:
        return [f"preset {t0['preset']!r} is not a leaderboard preset of {task.id}; run one of "
                f"{', '.join(task.presets)} (without --steps)"]
    preset = task.presets[t0["preset"]]
    steps = {r["steps"] for r in good}
    if steps != {preset.steps}:
        problems.append(f"the runs have {', '.join(f'{s:,}' for s in sorted(steps))} steps but preset "
                        f"{preset.name} is {preset.steps:,} steps; run the preset without --steps")

    by_game: dict[str | None, list[int]] = {}
    for r in good:
        by_game.setdefault(r["task"].get("game"), []).append(r["seed"])
    for game, seeds in sorted(by_game.items(), key=lambda kv: kv[0] or ""):
        where = f" for {game}" if game else ""
        if task.games and game not in task.games:
            problems.append(f"game {game!r} is not part of {task.id}; leave its records out")
            continue
        if not task.games and game is not None:
            problems.append(f"{task.id} has no games but a record names game {game!r}")
            continue
        dup = sorted(s for s, n in Counter(seeds).items() if n > 1)
        if dup:
            problems.append(f"duplicate seeds{where}: {', '.join(map(str, dup))}; give each seed's record once")
        n = len(set(seeds))
        if n < preset.seeds:
            problems.append(f"{n} seed{'s' if n != 1 else ''}{where} but {task.id} preset {preset.name} needs "
                            f"{preset.seeds}; run more seeds")
    if task.games and None in by_game:
        problems.append(f"records of {task.id} must name their game")
    if check_data and not problems:
        per_run = {}
        for r in good:
            p = _dataset_problem(task, r)
            if p:
                per_run.setdefault(p, []).append(run_label(r, 0))
        problems += _merge(per_run)
    return problems


def sort_records(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(records, key=lambda r: (r["task"].get("game") or "", r["seed"]))


def common_task(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in records[0]["task"].items() if k != "game"}


def games_of(records: Sequence[Mapping[str, Any]]) -> list[str] | None:
    games = sorted({r["task"]["game"] for r in records if r["task"].get("game")})
    return games or None


def check_metadata(name: Any, authors: Any, url: Any, description: Any) -> list[str]:
    """Problems with a submission's name, authors, URL and description."""
    problems = []
    if not isinstance(name, str) or not name.strip():
        problems.append("the submission needs a --name")
    elif len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        problems.append(f"--name must be one line of at most {MAX_NAME} characters")
    elif not slugify(name):
        problems.append(f"--name {name!r} has no letters or digits to form a file name; add some")
    if not isinstance(authors, list) or not all(isinstance(a, str) and a.strip() and len(a) <= MAX_NAME
                                                   and not any(ord(c) < 32 for c in a) for a in authors):
        problems.append(f"--authors must be names of one line and at most {MAX_NAME} characters each")
    if url is not None and (not isinstance(url, str) or not re.fullmatch(r"https?://[^\s<>\"']+", url)
                            or len(url) > MAX_TEXT):
        problems.append("--url must be an http:// or https:// address without spaces or quotes")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_TEXT):
        problems.append(f"--description must be text of at most {MAX_TEXT} characters")
    return problems


def _is_date(s: Any) -> bool:
    try:
        return isinstance(s, str) and _dt.date.fromisoformat(s).isoformat() == s
    except ValueError:
        return False


ENTRY_KEYS = {"entry_version", "name", "slug", "authors", "url", "description", "submitted", "superseded",
              "command", "task", "learner", "games", "aggregate", "records", "code"}


def check_entry(entry: Any, path: Path | None = None, *, check_data: bool = True) -> list[str]:
    """Problems with a committed entry: its fields, file location, records and recomputed aggregate."""
    if not isinstance(entry, Mapping):
        return ["not a JSON object"]
    entry = {k: v for k, v in entry.items() if k != "verification"}  # attached on loading, never the file's
    if entry.get("entry_version") != ENTRY_VERSION:
        return [f"entry_version is {entry.get('entry_version')!r}; this oscbench reads version {ENTRY_VERSION}"]
    missing, extra = ENTRY_KEYS - set(entry), set(entry) - ENTRY_KEYS
    if missing or extra:
        return [f"fields missing: {sorted(missing)}; unknown fields: {sorted(extra)}"]
    problems = check_metadata(entry["name"], entry["authors"], entry["url"], entry["description"])
    if isinstance(entry["name"], str) and entry["slug"] != slugify(entry["name"]):
        problems.append(f"slug {entry['slug']!r} is not the name's file-name form {slugify(entry['name'])!r}")
    if not _is_date(entry["submitted"]):
        problems.append(f"submitted {entry['submitted']!r} is not a YYYY-MM-DD date")
    sup = entry["superseded"]
    if sup is not None and not (isinstance(sup, Mapping) and _is_date(sup.get("date"))
                                and isinstance(sup.get("by"), str) and set(sup) == {"date", "by"}):
        problems.append("superseded must be null or {date: YYYY-MM-DD, by: file name}")
    if entry["command"] is not None and not isinstance(entry["command"], str):
        problems.append("command must be a string or null")
    if path is not None:
        parsed = parse_file_name(Path(path).name)
        if parsed is None or parsed[0] != entry["slug"]:
            problems.append(f"file name {Path(path).name} does not match slug {entry['slug']!r}")
        elif (parsed[1] is None) != (sup is None):
            problems.append("an entry is superseded exactly when its file is named <slug>.superseded-<k>.json")
    records = entry["records"]
    if not isinstance(records, list) or not records:
        return problems + ["records must be a non-empty list of result records"]
    rec_problems = check_records(records, check_data=check_data)
    if rec_problems:
        return problems + rec_problems
    ordered = sort_records(records)
    if ordered != records:
        problems.append("records are not sorted by (game, seed)")
    if entry["task"] != common_task(records):
        problems.append("task differs from the records' task")
    if entry["learner"] != records[0]["learner"]:
        problems.append("learner differs from the records' learner")
    if entry["games"] != games_of(records):
        problems.append("games differ from the records' games")
    if path is not None:
        parts = Path(path).parts
        if len(parts) >= 3 and (parts[-3], parts[-2]) != (entry["task"]["id"], entry["task"]["preset"]):
            problems.append(f"the file is under {parts[-3]}/{parts[-2]} but holds {entry['task']['id']}/"
                            f"{entry['task']['preset']}")
    problems += [p + " (tampered or stale aggregate; rebuild the entry with `oscbench submit`)"
                 for p in agg.compare(entry["aggregate"], agg.aggregate(records))]
    problems += check_entry_code(entry, path)
    return problems


def check_entry_code(entry: Mapping[str, Any], path: Path | None) -> list[str]:
    """The entry's ``code`` field, its archive beside ``path`` and the records' source digest."""
    from oscbench.leaderboard.code import check_code_field, read_archive

    code = entry["code"]
    problems = check_code_field(code, Path(path).name if path is not None else None)
    if code is None or problems:
        return problems
    digests = {r["learner"]["source_sha256"] for r in entry["records"]}
    if digests != {code["source_sha256"]}:
        problems.append(f"the records' source digest {min(map(str, digests))[:12]}… is not the stored code's "
                        f"{code['source_sha256'][:12]}…")
    if path is not None:
        try:
            read_archive(Path(path).parent, code)
        except OscbenchError as err:
            problems.append(str(err))
    return problems
