"""Speed cases of the reference learners for ``oscbench speed`` (steps per CPU-second).

Each case builds its learner(s), times a first short call separately (numba compilation, or loading
the on-disk cache), then measures process CPU time over ``total`` steps of the default
trace-patterning stream fed in chunks of 65,536 steps, as the evaluator does. The stream is
generated before the clock starts (1M steps -- 131k for the wide Atari-sized cases -- cycled for
longer runs). Anchors are the authors' C++ (steps per CPU-second) on the same cases with every stage
visited, measured side by side with oscbench by ``tools/cpp_side_by_side.py`` (medians of 3 interleaved
runs on one pinned core of a 2-core AMD EPYC, 2026-12-02; docs/performance.md); the batched cases are
compared with the C++ single run of the same learner.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from oscbench.baselines.batched import BatchedLearner
from oscbench.benchmark.flops import hybrid_stage_work
from oscbench.benchmark.speed import SpeedResult, case, measure
from oscbench.datasets.trace_patterning import TracePatterningStream

CHUNK = 65_536
POOL = 1_000_000
CPP_ANCHORS = {"hybrid": 137_000, "columnar": 213_000, "constructive": 406_000, "tbptt": 75_000,
               "hybrid-atari": 15_100, "tbptt-atari": 27_800}


def _stream_pool(n_steps: int, n_features: int = 12) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    pool_steps = min(n_steps, POOL if n_features == 12 else 2 * CHUNK)
    chunks = TracePatterningStream(seed=0).chunks(pool_steps, CHUNK)
    pool = [(c.observations, c.cumulants, c.continuations) for c in chunks]
    if n_features != 12:      # a wider observation (Atari-sized): the trace features, zero-padded
        pool = [(np.pad(x, ((0, 0), (0, n_features - 12))), c, g) for x, c, g in pool]
    return pool


SEGMENTS = 10          # segments of a --long run
LONG_TRACE = 20_000_000  # steps of a --long run: trace-size learners
LONG_ATARI = 2_000_000   # Atari-size learners


def subnormal_count(state: object) -> int:
    """Subnormal floats in a learner state's arrays (every float ndarray attribute, also inside dicts)."""
    n = 0
    items = list(vars(state).values())
    items += [x for v in items if isinstance(v, dict) for x in v.values()]
    for v in items:
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            a = np.abs(v)
            n += int(np.count_nonzero((a > 0) & (a < np.finfo(v.dtype).tiny)))
    return n


def _segment_work(learner: BatchedLearner, bounds: list[int]) -> list[float]:
    """Mean work per step (:func:`~oscbench.benchmark.flops.hybrid_stage_work`) of each segment [bounds[i], bounds[i+1]) of a staged
    column network's run; [] for learners whose work per step does not change along a run."""
    c = learner.configs[0]
    if getattr(c, "n_stages", 1) <= 1:
        return []

    def work(t: int) -> int:
        return hybrid_stage_work(c.n_features, c.n_columns, c.columns_per_stage, t // c.steps_per_stage)
    return [float(np.mean([work(t) for t in range(a, b, max(1, (b - a) // 1000))])) for a, b in zip(bounds, bounds[1:])]


def _segment_stages(learner: BatchedLearner, bounds: list[int]) -> list[int | None]:
    """The stage each segment [bounds[i], bounds[i+1]) of a staged column network's run lies in (None for a
    segment that spans a stage switch); [] for learners without stages."""
    c = learner.configs[0]
    if getattr(c, "n_stages", 1) <= 1:
        return []
    return [a // c.steps_per_stage if a // c.steps_per_stage == (b - 1) // c.steps_per_stage else None
            for a, b in zip(bounds, bounds[1:])]


def _timed(name: str, build: Callable[[], BatchedLearner], total: int, *, anchor: float | None,
           n_features: int = 12, note: str = "", segments: int = 1, flops: bool = False) -> SpeedResult:
    """Time ``total`` steps of a fresh ``build()``; ``segments`` > 1 also records each segment's rate
    and, for staged learners, its mean work per step (segment boundaries fall on chunk boundaries)."""
    pool = _stream_pool(total, n_features)
    learner = build()
    t0 = time.perf_counter()
    x, c, g = pool[0]
    learner.run(x[:64], c[:64], g[:64])          # compile (or load from the cache)
    compile_s = time.perf_counter() - t0
    learner = build()
    seg_len = -(-total // segments)
    marks: list[tuple[int, float]] = [(0, time.process_time())]

    def go() -> int:
        done, i = 0, 0
        while done < total:
            x, c, g = pool[i % len(pool)]
            k = min(len(c), total - done, seg_len - done % seg_len)
            learner.run(x[:k], c[:k], g[:k])
            done += k
            i += 1
            if segments > 1 and done % seg_len == 0 or done == total:
                marks.append((done, time.process_time()))
        return done * learner.n_runs

    steps, cpu, wall = measure(go)
    unit = "learner-steps" if learner.n_runs > 1 else "steps"
    bounds = [d for d, _ in marks]
    segs = [(d1 - d0) * learner.n_runs / max(c1 - c0, 1e-9) for (d0, c0), (d1, c1) in zip(marks, marks[1:])]
    return SpeedResult(name, steps, cpu, wall, compile_s, unit=unit, anchor=anchor, note=note,
                       flops_per_step=learner.flops_per_step() if flops else None,
                       segments=segs if segments > 1 else [], subnormals=subnormal_count(learner.state),
                       segment_work=_segment_work(learner, bounds) if segments > 1 else [],
                       segment_stage=_segment_stages(learner, bounds) if segments > 1 else [])


def _length(scale: float, long: bool, default: int, long_total: int, minimum: int, stages: int = 1) -> tuple[int, int]:
    """(steps, segments) of a case run; a long run of a staged learner has at least two segments a stage,
    so that its speed can be compared at constant work (``SpeedResult.stage_last_over_first``)."""
    if long:
        n = max(SEGMENTS, 2 * stages)
        return max(int(long_total * scale), n * CHUNK), n
    return max(int(default * scale), minimum), 1


@case("hybrid", "hybrid 20 columns / 4 per stage / 12 inputs, all 5 stages visited (anchor: C++ 137k)")
def _hybrid(scale: float, long: bool = False) -> SpeedResult:
    total, segs = _length(scale, long, 2_000_000, LONG_TRACE, 50_000, stages=5)
    hp = dict(n_columns=20, columns_per_stage=4, steps_per_stage=total // 5)
    return _timed("hybrid", lambda: BatchedLearner("hybrid", 12, [0], [hp]), total,
                  anchor=CPP_ANCHORS["hybrid"], note="steps_per_stage = total/5", segments=segs)


@case("columnar", "columnar 7 columns / 12 inputs (anchor: C++ 213k)")
def _columnar(scale: float, long: bool = False) -> SpeedResult:
    total, segs = _length(scale, long, 2_000_000, LONG_TRACE, 50_000)
    return _timed("columnar", lambda: BatchedLearner("columnar", 12, [0], [dict(n_columns=7)]), total,
                  anchor=CPP_ANCHORS["columnar"], segments=segs)


@case("constructive", "constructive 10 columns / 12 inputs, all 10 stages visited (anchor: C++ 406k)")
def _constructive(scale: float, long: bool = False) -> SpeedResult:
    total, segs = _length(scale, long, 2_000_000, LONG_TRACE, 50_000, stages=10)
    hp = dict(n_columns=10, steps_per_stage=total // 10)
    return _timed("constructive", lambda: BatchedLearner("constructive", 12, [0], [hp]), total,
                  anchor=CPP_ANCHORS["constructive"], note="steps_per_stage = total/10", segments=segs)


@case("tbptt", "T-BPTT hidden 2, truncation 30, 12 inputs (anchor: C++ 75k)")
def _tbptt(scale: float, long: bool = False) -> SpeedResult:
    total, segs = _length(scale, long, 1_000_000, LONG_TRACE, 50_000)
    return _timed("tbptt", lambda: BatchedLearner("tbptt", 12, [0], [dict(hidden=2, truncation=30)]), total,
                  anchor=CPP_ANCHORS["tbptt"], segments=segs)


@case("hybrid-batched-32", "32 hybrid runs (seeds 0-31) sharing one stream, one call; aggregate learner-steps "
                           "(anchor: C++ hybrid 137k)")
def _hybrid_batched(scale: float) -> SpeedResult:
    total = max(int(400_000 * scale), 20_000)
    hp = dict(n_columns=20, columns_per_stage=4, steps_per_stage=total // 5)
    return _timed("hybrid-batched-32", lambda: BatchedLearner("hybrid", 12, range(32), [hp] * 32), total,
                  anchor=CPP_ANCHORS["hybrid"], note="32 runs x steps, all 5 stages visited")


ATARI_HP = {   # the Atari reference structures (baselines.configs), every stage visited in the run
    "hybrid": lambda total: dict(n_columns=15, columns_per_stage=5, steps_per_stage=max(total // 3, 1)),
    "tbptt": lambda total: dict(hidden=5, truncation=8),
}


def _atari(learner: str, runs: int, total: int, segs: int = 1) -> SpeedResult:
    """``runs`` seeds of an Atari-size reference learner on one stream (the trace stream zero-padded to
    275 features), one call per chunk; compared with the authors' C++ single run."""
    name = f"{learner}-atari" + (f"-batched-{runs}" if runs > 1 else "")
    hp = ATARI_HP[learner](total)
    note = "trace stream zero-padded to 275 features" if runs == 1 else f"{runs} runs x steps"
    return _timed(name, lambda: BatchedLearner(learner, 275, range(runs), [hp] * runs), total,
                  anchor=CPP_ANCHORS[f"{learner}-atari"], n_features=275, note=note, segments=segs, flops=True)


@case("hybrid-atari", "hybrid 15 columns / 5 per stage / 275 inputs (Atari size), all 3 stages visited "
                     "(anchor: C++ 15.1k)")
def _hybrid_atari(scale: float, long: bool = False) -> SpeedResult:
    return _atari("hybrid", 1, *_length(scale, long, 300_000, LONG_ATARI, 30_000, stages=3))


@case("tbptt-atari", "T-BPTT hidden 5, truncation 8, 275 inputs (Atari size) (anchor: C++ 27.8k)")
def _tbptt_atari(scale: float, long: bool = False) -> SpeedResult:
    return _atari("tbptt", 1, *_length(scale, long, 300_000, LONG_ATARI, 30_000))


@case("hybrid-atari-batched-4", "4 hybrid 15/5 runs (seeds 0-3) at Atari size sharing one stream, one call; aggregate "
                                "learner-steps (compare with hybrid-atari; anchor: C++ 15.1k)")
def _hybrid_atari_batched(scale: float) -> SpeedResult:
    return _atari("hybrid", 4, max(int(100_000 * scale), 10_000))


@case("tbptt-atari-batched-4", "4 T-BPTT runs (hidden 5, truncation 8; seeds 0-3) at Atari size sharing one stream, "
                               "one call; aggregate learner-steps (compare with tbptt-atari; anchor: C++ 27.8k)")
def _tbptt_atari_batched(scale: float) -> SpeedResult:
    return _atari("tbptt", 4, max(int(100_000 * scale), 10_000))
