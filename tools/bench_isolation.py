"""Costs of learner isolation, the whole-run causality check and checkpoints (docs/isolation.md).

    python tools/bench_isolation.py [--reps 5] [--steps 200000] [--learners hybrid,tbptt]

1. start: a learner process from the preloaded fork server (start, build the hybrid, stop), median.
2. isolation: one run of each learner (trace-patterning-v1, ``--steps``) isolated vs unisolated,
   interleaved repetitions, median wall time of each and the ratio.
3. causality check: the snapshot taken before every chunk (timed against running that chunk) and the
   replayed steps the check adds (counted in the records).
4. checkpoint: the time of one checkpoint (snapshot + scorer state + atomic write) against the time the
   run takes for the default interval's steps.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from oscbench.benchmark import (
    checkpoint,
    evaluator,
    isolation,
    loading,
    metrics,
    protocol,
    streams,
    tasks,
)


def start_cost(reps: int) -> list[float]:
    loaded = loading.load_learner("hybrid")
    blob = evaluator.pickle_learner(loaded)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        h = isolation.ChildHost(blob, 7, 0, loaded.hyperparameters("trace-patterning", 200_000, {}))
        h.build()
        h.close()
        out.append(time.perf_counter() - t0)
    return out


_CHILD_CPU = [0.0]
_close = isolation.ChildHost.close


def _close_counting(self: isolation.ChildHost) -> None:   # the learner process's CPU time, read before it stops
    _CHILD_CPU[0] += self._child_cpu()
    _close(self)


isolation.ChildHost.close = _close_counting  # type: ignore[method-assign]


def run_wall(learner: str, steps: int, isolate: bool, task: str = "trace-patterning-v1",
             dataset: str | None = None) -> tuple[float, dict]:
    """Wall seconds of one run, and its record with ``cpu_all``: this process's + the learner process's CPU."""
    (spec,) = evaluator.plan(learner, task=task, seeds=[0], n_steps=steps, isolate=isolate, dataset=dataset)
    _CHILD_CPU[0] = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    rec = evaluator.run_one(spec)
    rec["cpu_all"] = time.process_time() - c0 + _CHILD_CPU[0]
    return time.perf_counter() - t0, rec


def snapshot_share(learner: str, steps: int) -> tuple[float, float, int]:
    t = tasks.get_task("trace-patterning-v1")
    source = streams.open_stream(t, game=None, seed=0, n_steps=steps)
    loaded = loading.load_learner(learner)
    lr = loaded.build(source.n_features, 0, loaded.hyperparameters(t.kind, steps, {}))
    run_s = snap_s = 0.0
    size = 0
    for chunk in source.chunks(steps, evaluator.default_chunk_steps(steps)):
        t0 = time.perf_counter()
        data = protocol.snapshot(lr)
        t1 = time.perf_counter()
        lr.run(chunk.observations, chunk.cumulants, chunk.continuations)
        t2 = time.perf_counter()
        snap_s += t1 - t0
        run_s += t2 - t1
        size = len(data)
    return snap_s, run_s, size


def checkpoint_seconds(learner: str, steps: int) -> float:
    t = tasks.get_task("trace-patterning-v1")
    loaded = loading.load_learner(learner)
    lr = loaded.build(7, 0, loaded.hyperparameters(t.kind, steps, {}))
    p = t.preset("short")
    scorer = metrics.RunScorer(p.steps, t.window(p.steps), t.bin_steps(p, p.steps))
    with tempfile.TemporaryDirectory() as d:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            checkpoint.save(Path(d) / "x.ckpt", checkpoint.Checkpoint({"k": 1}, 4096, 0, protocol.snapshot(lr),
                                                                      scorer.state(), {}, {}))
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--learners", default="hybrid,tbptt")
    ap.add_argument("--atari", default=None, metavar="FILE",
                    help="only: isolation overhead on atari-v1/Pong read from this dataset file (looped)")
    a = ap.parse_args()
    if a.atari:
        for learner in a.learners.split(","):
            run_wall(learner, 5000, True, "atari-v1/Pong", a.atari)
            iso, loc, recs, ciso, cloc = [], [], [], [], []
            for _ in range(a.reps):
                for isolate in (True, False):
                    w, rec = run_wall(learner, a.steps, isolate, "atari-v1/Pong", a.atari)
                    (iso if isolate else loc).append(w)
                    (ciso if isolate else cloc).append(rec["cpu_all"])
                    recs.append(rec)
            mi, ml = statistics.median(iso), statistics.median(loc)
            print(f"{learner} atari-v1/Pong: {a.steps} steps, CPU (evaluator + learner process) median isolated "
                  f"{statistics.median(ciso):.3f} s, unisolated {statistics.median(cloc):.3f} s: "
                  f"{100 * (statistics.median(ciso) / statistics.median(cloc) - 1):+.1f}%")
            rep = statistics.median(r["audit"]["whole_run_replay_steps"] for r in recs)
            print(f"{learner} atari-v1/Pong: {a.steps} steps, wall median isolated {mi:.3f} s, unisolated {ml:.3f} s, "
                  f"isolation overhead {100 * (mi / ml - 1):+.1f}% (iso {[round(x, 2) for x in iso]}, local "
                  f"{[round(x, 2) for x in loc]}); replayed steps median {rep:,.0f} ({100 * rep / a.steps:.1f}%); "
                  f"{recs[0]['timing']['steps_per_cpu_second']:,.0f} steps/CPU-s")
        return
    s = start_cost(a.reps + 1)
    print(f"start: first {s[0]:.3f} s (starts the fork server), then median {statistics.median(s[1:]) * 1e3:.1f} ms "
          f"per learner process (start + build hybrid + stop)")
    for learner in a.learners.split(","):
        run_wall(learner, 5000, True)     # warm caches
        iso, loc, checks, ciso, cloc = [], [], [], [], []
        for _ in range(a.reps):
            for isolate in (True, False):
                w, rec = run_wall(learner, a.steps, isolate)
                (iso if isolate else loc).append(w)
                (ciso if isolate else cloc).append(rec["cpu_all"])
                checks.append(rec["audit"]["whole_run_replay_steps"])
        mi, ml = statistics.median(iso), statistics.median(loc)
        print(f"{learner}: {a.steps} steps, CPU (evaluator + learner process) median isolated "
              f"{statistics.median(ciso):.3f} s, unisolated {statistics.median(cloc):.3f} s: "
              f"{100 * (statistics.median(ciso) / statistics.median(cloc) - 1):+.1f}%")
        print(f"{learner}: {a.steps} steps, wall median isolated {mi:.3f} s, unisolated {ml:.3f} s, "
              f"isolation overhead {100 * (mi / ml - 1):+.1f}% (runs: iso {[round(x, 2) for x in iso]}, "
              f"local {[round(x, 2) for x in loc]})")
        snap, run, size = snapshot_share(learner, a.steps)
        print(f"{learner}: snapshot before every chunk {snap:.3f} s vs running the chunks {run:.3f} s "
              f"({100 * snap / run:.2f}%; {size:,} bytes per snapshot); replayed steps per run median "
              f"{statistics.median(checks):,.0f} of {a.steps:,} ({100 * statistics.median(checks) / a.steps:.1f}%)")
        rate = a.steps / run
        every = checkpoint.interval(checkpoint.DEFAULT_EVERY, evaluator.default_chunk_steps(a.steps)) or 0
        ck = checkpoint_seconds(learner, a.steps)
        print(f"{learner}: one checkpoint {ck * 1e3:.1f} ms; the default interval ({every:,} steps) takes "
              f"{every / rate:.1f} s at {rate:,.0f} steps/s: {100 * ck / (every / rate):.2f}% of run time")


if __name__ == "__main__":
    main()
