"""Benchmark: wall time of an evaluation with ``--workers 2`` against ``--workers 1`` (docs/distributed.md).

Default case (issue: Atari smoke, hybrid, 4 games x 2 seeds)::

    OSCBENCH_DATA=... python tools/bench_distributed.py --games Pong,Breakout,Boxing,Freeway --seeds 0,1

The Atari datasets must be in the data directory (``oscbench datasets download atari/Pong-v1 ...``).
Each repetition times both executors in alternating order, end to end (planning, cluster start-up,
every run, cluster shut-down), after one untimed warm-up run that fills numba's on-disk cache. It
prints the machine's load (``uptime``) before and after, the wall times, their ratio (median over
repetitions), the CPU-seconds spent inside the runs per wall second ("cores busy": about 1 serially,
up to N with N workers when N cores are free) and whether every record is identical across executors (metrics, curve, dataset,
learner, audit verdict). This is a measurement, not a test: on a shared machine the figures move
with the other load.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from typing import Any

from oscbench.benchmark import evaluator

SAME = ("task", "dataset", "learner", "seed", "steps", "status", "failure", "metrics", "curve")


def comparable(rec: dict[str, Any]) -> str:
    out = {k: rec[k] for k in SAME}
    # timings, and the replay lengths of the whole-run checks (their points are drawn secretly per run)
    out["audit"] = {k: v for k, v in rec["audit"].items() if "seconds" not in k and "replay" not in k}
    return json.dumps(out, sort_keys=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def specs_for(args: argparse.Namespace, steps: int | None = None, seeds: list[int] | None = None) -> list:
    tasks = [f"{args.task}/{g}" for g in args.games.split(",")] if args.games else [args.task]
    out = []
    for t in tasks:
        out += evaluator.plan(args.learner, task=t, preset=args.preset, seeds=seeds or args.seeds,
                              n_steps=steps if steps is not None else args.steps)
    return out


def timed(args: argparse.Namespace, workers: int) -> tuple[float, list[dict[str, Any]], dict[str, Any]]:
    t0 = time.perf_counter()
    res = evaluator.EvaluationResults(args.task, args.preset)
    outcomes = evaluator.run_batch(specs_for(args), workers=workers, progress=False, results=res)
    return time.perf_counter() - t0, [o.record for o in outcomes], res.execution


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--learner", default="hybrid")
    p.add_argument("--task", default="atari-v1")
    p.add_argument("--games", default="Pong,Breakout,Boxing,Freeway", help="comma-separated; empty: the task as given")
    p.add_argument("--preset", default="smoke")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    print(f"before: {uptime()}", flush=True)
    warm = specs_for(args, steps=5000, seeds=[0])[:1]
    evaluator.run_batch(warm, workers=1, progress=False)          # numba's cache, not timed
    walls: dict[int, list[float]] = {1: [], args.workers: []}
    cores: dict[int, list[float]] = {1: [], args.workers: []}   # CPU-seconds inside the runs per wall second
    ref: list[str] | None = None
    identical = True
    for rep in range(args.repeats):
        for w in ((1, args.workers) if rep % 2 == 0 else (args.workers, 1)):
            wall, recs, execution = timed(args, w)
            walls[w].append(wall)
            got = [comparable(r) for r in recs]
            ok = sum(r["status"] == "ok" for r in recs)
            # the evaluator's own CPU time plus the learner's (an isolated learner's is its child process's)
            cpu = sum((r["timing"].get("total_cpu_seconds") or 0.0) + (r["timing"].get("cpu_seconds") or 0.0)
                      for r in recs)
            cores[w].append(cpu / wall)
            ref = ref or got
            identical &= got == ref
            print(f"rep {rep} workers {w}: {wall:.1f} s wall ({len(recs)} runs, {ok} ok, "
                  f"{execution.get('steps_per_second') or 0:,.0f} learner-steps/s while running, "
                  f"{cpu / wall:.2f} cores busy in runs) | {uptime()}", flush=True)
    m1, mw = statistics.median(walls[1]), statistics.median(walls[args.workers])
    print(f"after: {uptime()}")
    print(json.dumps({"learner": args.learner, "task": args.task, "games": args.games, "preset": args.preset,
                      "seeds": args.seeds, "walls": {str(k): v for k, v in walls.items()},
                      "cores_busy": {str(k): v for k, v in cores.items()},
                      "median_wall_1": m1, f"median_wall_{args.workers}": mw, "speedup": m1 / mw,
                      "records_identical": identical}, indent=1))


if __name__ == "__main__":
    main()
