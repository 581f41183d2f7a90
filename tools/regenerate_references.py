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
It prints the CPU time of every step and the total, and the reference T-BPTT mean final error the
task file's ``[presets.<preset>.reference]`` should then hold.
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
    args = ap.parse_args(argv)

    import oscbench.baselines
    from oscbench.benchmark import tasks
    from oscbench.benchmark.seeds import parse_seeds
    from oscbench.benchmark.loading import reference_sha256
    from oscbench.benchmark.records import record_stem
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
        todo = []
        for s in seeds:   # resumable: a finished record of the current code is kept
            probe = {"task": {"id": task.id, "preset": preset.name, "game": None},
                     "learner": {"name": learner, "hyperparameters": hp}, "seed": s}
            if not _current(out / f"{record_stem(probe)}.json", digest):
                todo.append(s)
        if todo:
            cpu = _run(oscbench_cmd + evaluate + ["--seeds", ",".join(map(str, todo)), "--out", str(out), "--quiet",
                                                  "--workers", args.workers])
            total_cpu += cpu
            print(f"{learner}: {len(todo)} run(s) in {cpu:.1f} CPU-s")
        else:
            print(f"{learner}: every seed already run with the current code (kept in {out})")

        folder = E.entry_dir(args.root, task.id, preset.name)
        target = folder / f"{E.slugify(name)}.json"
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
        if learner == "tbptt" and task.games:
            _print_game_references(E.read_entry(target), task, preset)
        elif learner == "tbptt":
            entry = E.read_entry(target)
            mean = sum(r["metrics"]["final_error"] for r in entry["records"]) / len(entry["records"])
            ref = (preset.reference or {}).get("final_error")
            print(f"T-BPTT mean final error {mean!r}; {task.source} [presets.{preset.name}.reference] final_error = "
                  f"{ref!r}" + ("" if ref is None or ref == mean else " -- update it so records' relative_error follows the new code"))
    print(f"done: {total_cpu:.1f} CPU-s in the oscbench commands + {total_learner_cpu:.1f} CPU-s in the learner "
          f"processes, {time.perf_counter() - t0:.0f} s wall; now run "
          f"`oscbench leaderboard build --root {args.root}` and commit {args.root}")
    return 0


def _print_game_references(entry: dict, task, preset) -> None:
    """The per-game T-BPTT mean final errors, as the task file's ``[presets.<preset>.reference.games]``."""
    by: dict[str, list[float]] = {}
    for r in entry["records"]:
        by.setdefault(r["task"]["game"], []).append(r["metrics"]["final_error"])
    print(f"T-BPTT per-game mean final errors; put this block in {task.source} so that records get their relative_error:")
    print(f"[presets.{preset.name}.reference]\nlearner = \"tbptt\"\n[presets.{preset.name}.reference.games]")
    for g in sorted(by):
        print(f"{g} = {sum(by[g]) / len(by[g])!r}")


def _hp(learner: str, task, preset) -> dict:
    """The hyper-parameters ``oscbench evaluate LEARNER`` records for the task and preset."""
    from oscbench.benchmark.loading import load_learner

    return load_learner(learner).hyperparameters(task.kind, preset.steps, {})


def _set_aside(target: Path, folder: Path) -> list[tuple[Path, Path]]:
    """Move the entry and its code archive to ``*.bak`` (restored if the new submission fails)."""
    from oscbench.leaderboard.code import archive_name

    moved = []
    for p in (target, folder / archive_name(target.name)):
        if p.exists():
            backup = p.with_name(p.name + ".bak")
            shutil.move(p, backup)
            moved.append((p, backup))
    return moved


def _restore(moved: list[tuple[Path, Path]]) -> None:
    for original, backup in moved:
        shutil.move(backup, original)


if __name__ == "__main__":
    sys.exit(main())
