#!/usr/bin/env python
"""Regenerate the reference leaderboard entries after the reference learners' code changed (maintainers).

Reference status belongs to entries whose records carry the digest of the code that computes the
baselines' predictions (``oscbench.benchmark.loading.reference_sha256``; see
``oscbench/leaderboard/ownership.py``). When the kernels change, that digest changes and the committed
reference entries stop being references until this script has re-run them::

    python tools/regenerate_references.py                       # trace-patterning-v1, preset short, 4 learners
    python tools/regenerate_references.py --learners tbptt --preset smoke --root /tmp/lb
    python tools/regenerate_references.py --preset full --workers 2      # the published scale, 2 processes

For every learner it runs the public commands -- ``oscbench evaluate LEARNER --task T --preset P
--seeds S --out RUNS/<task>/<preset>/<learner> --quiet`` for the seeds whose record is missing or
was made by other code (so an interrupted regeneration resumes where it stopped), then
``oscbench submit RUNS/... --name "<Name> (reference)" --code <oscbench/baselines> --command ...``
which re-checks the records, re-runs the first curve bins of every seed, and stores the code
archive beside the entry. The previous entry of the same name is replaced (its records were made by
code that no longer exists; git keeps it); pass ``--keep-old`` to keep it as superseded instead.
It prints the CPU time of every step and the total.

T-BPTT runs first (whatever the order of ``--learners``): its entry's mean final error (per game on
Atari) is the reference the task file's ``[presets.<preset>.reference]`` holds and every later record's
``relative_error`` is measured against. The script prints that block; with ``--set-reference`` it also
writes it into the task file (``oscbench/benchmark/tasks/<task>.toml`` of this checkout) before the
other learners run, so their records refer to the new T-BPTT (the rest of the file, comments included,
is kept as it is)::

    python tools/regenerate_references.py --task atari-v1 --preset smoke --workers 2 --set-reference
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]   # regenerate for this checkout's code, whatever is installed
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])

LEARNERS = {
    "hybrid": ("Hybrid (reference)", "{n_columns} columns, {columns_per_stage} per stage (SPEC §4, §8)"),
    "constructive": ("Constructive (reference)", "{n_columns} columns, 1 per stage (SPEC §4, §8)"),
    "columnar": ("Columnar (reference)", "{n_columns} independent columns (SPEC §4, §8)"),
    "tbptt": ("T-BPTT (reference)", "dense LSTM, {hidden} hidden units, truncation {truncation} (SPEC §6, §8)"),
}
AUTHORS = "oscbench reference learners"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str]) -> float:
    """Run ``cmd`` (echoed); its CPU seconds. Exit with its code on failure."""
    print("$ " + shlex.join(cmd), flush=True)
    c0 = _children_cpu()
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        sys.exit(f"error: `{shlex.join(cmd)}` failed with exit code {done.returncode}; fix it and run this script "
                 "again (finished runs are kept and skipped).")
    return _children_cpu() - c0


def _current(path: Path, digest: str) -> bool:
    """A finished, successful record made by the current reference code."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return rec.get("status") == "ok" and rec.get("learner", {}).get("source_sha256") == digest


def _plan(task, preset: str, learner: str, hp: dict, seeds: list[int], out: Path,
          digest: str) -> tuple[list[int], set[str]]:
    """(seeds with a run still to make, the file stems of every run of the entry). Resumable: a finished
    record of the current code is kept -- one per game for a suite, whose evaluator then skips the games
    it finds finished in ``out``."""
    from oscbench.benchmark.records import record_stem

    todo, stems = [], set()
    for s in seeds:
        for game in task.games or (None,):
            probe = {"task": {"id": task.id, "preset": preset, "game": game},
                     "learner": {"name": learner, "hyperparameters": hp}, "seed": s}
            stem = record_stem(probe)
            stems.add(stem)
            if s not in todo and not _current(out / f"{stem}.json", digest):
                todo.append(s)
    return todo, stems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="trace-patterning-v1")
    ap.add_argument("--preset", default="short")
    ap.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    ap.add_argument("--seeds", default=None, help="seeds, e.g. 0-4 (default: the preset's count from 0)")
    ap.add_argument("--runs", type=Path, default=Path("runs/reference"), help="where the records go (kept; resumable)")
    ap.add_argument("--root", type=Path, default=Path("leaderboard"), help="the leaderboard directory")
    ap.add_argument("--keep-old", action="store_true", help="keep the previous entries as superseded")
    ap.add_argument("--workers", default="1", help="oscbench evaluate --workers (N, or auto)")
    ap.add_argument("--set-reference", action="store_true",
                    help="write the new T-BPTT reference into the task file before the other learners run")
    args = ap.parse_args(argv)
    args.learners = sorted(dict.fromkeys(args.learners), key=lambda name: name != "tbptt")   # T-BPTT first

    import oscbench.baselines
    from oscbench.benchmark import tasks
    from oscbench.benchmark.seeds import parse_seeds
    from oscbench.benchmark.loading import reference_sha256
    from oscbench.leaderboard import entries as E

    task = tasks.get_task(args.task)
    preset = task.preset(args.preset)
    seeds = parse_seeds(args.seeds) if args.seeds else list(range(preset.seeds))
    from repro.common import seeds_text as format_seeds   # tools/repro: the report's seed ranges

    seeds_text = format_seeds(seeds)
    digest = reference_sha256()
    code = Path(oscbench.baselines.__file__).parent
    oscbench_cmd = [sys.executable, "-m", "oscbench"]
    total_cpu, total_learner_cpu, t0 = 0.0, 0.0, time.perf_counter()
    print(f"reference code digest {digest} ({code}); task {task.id}, preset {preset.name}, seeds {seeds_text}")

    for learner in args.learners:
        name, description = LEARNERS[learner]
        hp = _hp(learner, task, preset)
        description = description.format(**hp)        # the task's reference configuration
        out = args.runs / task.id / preset.name / learner
        evaluate = ["evaluate", learner, "--task", task.id, "--preset", preset.name]
        todo, stems = _plan(task, preset.name, learner, hp, seeds, out, digest)
        _set_aside_others(out, stems)
        if todo:
            cpu = _run(oscbench_cmd + evaluate + ["--seeds", ",".join(map(str, todo)), "--out", str(out), "--quiet",
                                                  "--workers", args.workers])
            total_cpu += cpu
            print(f"{learner}: {len(todo)} run(s) in {cpu:.1f} CPU-s")
        else:
            print(f"{learner}: every seed already run with the current code (kept in {out})")

        folder = E.entry_dir(args.root, task.id, preset.name)
        target = folder / f"{E.slugify(name)}.json"
        _recover_interrupted(target, folder)
        moved = _set_aside(target, folder) if target.exists() and not args.keep_old else []
        command = (f"python tools/regenerate_references.py --learners {learner} --task {task.id} --preset {preset.name} "
                   f"--seeds {seeds_text}  (runs: oscbench {shlex.join(evaluate)} --seeds {seeds_text})")
        submit = ["submit", str(out), "--name", name, "--authors", AUTHORS, "--description", description,
                  "--command", command, "--code", str(code), "--root", str(args.root)]
        if target.exists():
            submit.append("--supersede")
        c0 = _children_cpu()
        print("$ " + shlex.join(oscbench_cmd + submit), flush=True)
        done = subprocess.run(oscbench_cmd + submit, check=False)
        total_cpu += _children_cpu() - c0
        if done.returncode != 0:
            _restore(moved)
            sys.exit(f"error: submitting {learner} failed (exit code {done.returncode}); the previous entry is kept.")
        for _, backup in moved:
            backup.unlink()
        # the learners run in their own processes (forked by the evaluator's fork server, not waited for
        # by this script): their CPU time is what the evaluator measured, in the records
        learner_cpu = sum(float(r["timing"]["cpu_seconds"]) for r in E.read_entry(target)["records"])
        total_learner_cpu += learner_cpu
        print(f"{learner}: {learner_cpu:.1f} CPU-s in the learner processes (records' timing.cpu_seconds)")
        if learner == "tbptt":
            value = reference_values(E.read_entry(target), bool(task.games))
            block = reference_block(preset.name, value)
            path = REPO / "oscbench" / "benchmark" / tasks.TASK_DIR / task.source
            print(f"T-BPTT reference for {path.relative_to(REPO)} (mean final error{' per game' if task.games else ''} "
                  f"over the entry's seeds):\n{block}", end="")
            if args.set_reference:
                from oscbench._atomic import write_text_atomic

                try:
                    text = set_reference_text(path.read_text(encoding="utf-8"), preset.name, value)
                except ValueError as err:
                    sys.exit(f"error: {err}")
                write_text_atomic(path, text)
                print(f"written into {path}; the other learners' records refer to it")
            elif (preset.reference or {}).get("games" if task.games else "final_error") != value:
                print("the task file holds another value: put this block in it (or run again with --set-reference) "
                      "so that records' relative_error follows the new code")
    print(f"done: {total_cpu:.1f} CPU-s in the oscbench commands + {total_learner_cpu:.1f} CPU-s in the learner "
          f"processes, {time.perf_counter() - t0:.0f} s wall; now run "
          f"`oscbench leaderboard build --root {args.root}` and commit {args.root}")
    return 0


def reference_values(entry: dict, per_game: bool) -> float | dict[str, float]:
    """The T-BPTT reference of an entry: its mean final error, or (Atari) the mean per game."""
    if not per_game:
        errors = [r["metrics"]["final_error"] for r in entry["records"]]
        return sum(errors) / len(errors)
    by: dict[str, list[float]] = {}
    for r in entry["records"]:
        by.setdefault(r["task"]["game"], []).append(r["metrics"]["final_error"])
    return {g: sum(v) / len(v) for g, v in sorted(by.items())}


def reference_block(preset: str, value: float | dict[str, float]) -> str:
    """The task file's reference table(s) for ``preset`` holding ``value`` (see reference_values)."""
    head = f'[presets.{preset}.reference]\nlearner = "tbptt"\n'
    if isinstance(value, dict):
        return head + f"[presets.{preset}.reference.games]\n" + "".join(f"{g} = {v!r}\n" for g, v in value.items())
    return head + f"final_error = {value!r}\n"


def set_reference_text(text: str, preset: str, value: float | dict[str, float]) -> str:
    """``text`` (a task file) with ``preset``'s T-BPTT reference set to ``value``: the ``final_error`` line or
    the ``games`` table replaced in place (a comment after the value is kept), or the block appended when
    the preset has none. Everything else is left as it is; the result must parse to the new values."""
    import re

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    head = f"[presets.{preset}.reference]"
    lines = text.split("\n")
    if head not in (ln.strip() for ln in lines):
        out = text.rstrip("\n") + "\n\n" + reference_block(preset, value)
    elif isinstance(value, dict):
        games = f"[presets.{preset}.reference.games]"
        at = next((k for k, ln in enumerate(lines) if ln.strip() == games), None)
        if at is None:
            raise ValueError(f"{head} has no games table; add [presets.{preset}.reference.games] by hand")
        i = j = at + 1
        while j < len(lines) and re.match(r"^\s*[A-Za-z0-9_]+\s*=", lines[j]):
            j += 1
        out = "\n".join(lines[:i] + [f"{g} = {v!r}" for g, v in value.items()] + lines[j:])
    else:
        i = next(k for k, ln in enumerate(lines) if ln.strip() == head) + 1
        while not re.match(r"^\s*final_error\s*=", lines[i]):
            if lines[i].lstrip().startswith("["):
                raise ValueError(f"{head} has no final_error line")
            i += 1
        lines[i] = re.sub(r"^(\s*final_error\s*=\s*)[^#\s]+", lambda m: m.group(1) + repr(value), lines[i])
        out = "\n".join(lines)
    ref = tomllib.loads(out)["presets"][preset]["reference"]
    if (ref.get("games") if isinstance(value, dict) else ref.get("final_error")) != value:
        raise ValueError(f"could not set {head} in the task file; edit it by hand")
    return out


def _hp(learner: str, task, preset) -> dict:
    """The hyper-parameters ``oscbench evaluate LEARNER`` records for the task and preset."""
    from oscbench.benchmark.loading import load_learner

    return load_learner(learner).hyperparameters(task.kind, preset.steps, {})


def _entry_files(target: Path, folder: Path) -> tuple[Path, Path]:
    """An entry and its code archive."""
    from oscbench.leaderboard.code import archive_name

    return target, folder / archive_name(target.name)


def _set_aside(target: Path, folder: Path) -> list[tuple[Path, Path]]:
    """Move the entry and its code archive to ``*.bak`` (restored if the new submission fails)."""
    moved = []
    for p in _entry_files(target, folder):
        if p.exists():
            backup = p.with_name(p.name + ".bak")
            shutil.move(p, backup)
            moved.append((p, backup))
    return moved


def _set_aside_others(out: Path, stems: set[str]) -> None:
    """Move what ``out`` holds besides these runs' records and checkpoints (runs of another configuration,
    e.g. after the reference configuration changed, or of other seeds) to ``<out>.set-aside/``: the entry
    is submitted from the whole folder and must hold exactly these runs. Nothing is deleted."""
    if not out.is_dir():
        return
    others = [p for p in sorted(out.iterdir()) if not any(p.name.startswith(stem + ".") for stem in stems)]
    if others:
        aside = out.with_name(out.name + ".set-aside")
        aside.mkdir(exist_ok=True)
        for p in others:
            shutil.move(p, aside / p.name)
        print(f"{len(others)} file(s) of other runs moved from {out} to {aside}")


def _recover_interrupted(target: Path, folder: Path) -> None:
    """Undo what a killed earlier run of this script left: ``*.bak`` files of :func:`_set_aside` with no
    entry beside them are the previous entry and its code (restored); with an entry beside them, the new
    entry had been written (the backups are removed)."""
    written = target.exists()           # the entry decides for its code archive too
    for p in _entry_files(target, folder):
        backup = p.with_name(p.name + ".bak")
        if backup.exists():
            if written:
                backup.unlink()
            else:
                shutil.move(backup, p)
                print(f"restored {p} from an interrupted earlier run")


def _restore(moved: list[tuple[Path, Path]]) -> None:
    for original, backup in moved:
        shutil.move(backup, original)


if __name__ == "__main__":
    sys.exit(main())
