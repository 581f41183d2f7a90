"""How much of an Atari-size hybrid step is per-seed work by parameter: a bound on what batching seeds can gain.

A maintainer's measurement (not part of CI; docs/performance.md, "Batched Atari runs"). Seeds that share one
stream share only the stream: each has its own weights, RTRL traces, eligibility traces and RMSProp state,
and every one of them is read and written once a step. This script times, with the learner's **own compiled
functions** on the learner's **own arrays** (``oscbench.baselines.kernels_column``: ``rtrl_lane``,
``matvec_acc``, ``row_dots``), the three passes of one hybrid 15/5 step at 275 inputs that touch every
parameter of one seed -- the RTRL/TD(λ)/RMSProp pass over the learning stage's 20 lanes × 288 rows, the
effective-weight product of the other stages' 40 lanes, the learning stage's dot products -- and the whole
step (``BatchedLearner.run``), interleaved, on one core. Any batching that computes what the single runs
compute still does those passes once per seed, so the aggregate gain of B seeds in one call is at most

    whole step / per-parameter passes            (everything else made free, B → ∞)

It also times two floors of the RTRL pass over the same 20 × 288 parameters: the RMSProp step's square root
and division alone (``w += a·e / (√s + ε)``) and a read-modify-write of five arrays without them -- what
any exact learner of this size must pay a step, whatever the layout (docs/performance.md, "Why 8% is out
of reach").

Usage::

    taskset -c 1 python tools/step_parts.py [--steps 200000] [--reps 5] [--json]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from numba import njit

from oscbench.baselines.batched import BatchedLearner
from oscbench.baselines.kernels_column import matvec_acc, row_dots, rtrl_lane, stage_rows, tiny_of
from oscbench.benchmark.learner_speed import CHUNK, _stream_pool
from oscbench.benchmark.speed import format_load, load_average

N_FEATURES, N_COLUMNS, PER_STAGE = 275, 15, 5


@njit(cache=False, error_model="numpy", fastmath={"contract"})
def _param_passes(xs, th, trc, trh, el, rs, weff, n_steps):  # pragma: no cover - compiled
    """The per-parameter passes of stage 0 of a hybrid 15/5 step, ``n_steps`` times, on the stream ``xs``."""
    n = xs.shape[1]
    U = PER_STAGE
    T = N_COLUMNS
    L = 4 * U
    dt = th.dtype
    nr = stage_rows(n, 0, U)
    A4 = -(-4 * T // 16) * 16
    acc = np.zeros(A4, dt)
    z = np.zeros(n + T, dt)
    zfull = np.zeros(th.shape[2], dt)
    zfull[1] = 1.0
    tiny = tiny_of(th)
    a, b2, eps = dt.type(1e-4), dt.type(0.9999), dt.type(1e-8)
    omb2 = dt.type(1.0) - b2
    total = dt.type(0.0)
    for t in range(n_steps):
        x = xs[t % xs.shape[0]]
        for j in range(n):
            z[j] = x[j]
            zfull[2 + j] = x[j]
        matvec_acc(weff, 0, 0, z, 0, n + T, acc, L, L, 4 * T - L)      # the other stages (effective weights)
        row_dots(th[0], zfull, 1, nr, L, acc, 0)                       # the learning stage's pre-activations
        delta = dt.type(1e-3) * acc[0]
        for l in range(L):                                              # RTRL + TD(λ) + RMSProp, lane by lane
            zfull[0] = acc[l]
            rtrl_lane(th[0], trc, trh, el, rs, l, zfull, nr, dt.type(0.6), dt.type(0.01), dt.type(0.3),
                      dt.type(0.02), dt.type(0.05) if l % 4 != 2 else dt.type(0.0),
                      dt.type(0.0) if l % 4 != 2 else dt.type(0.05), dt.type(0.1), delta, dt.type(0.89), True,
                      True, a, b2, omb2, eps, tiny)
        total += acc[0]
    return total


@njit(cache=False, error_model="numpy", fastmath={"contract"})
def _sqrt_div(w, ev, s, n_steps, ad, eps):  # pragma: no cover - compiled
    """The RMSProp step's square root and division alone, over every parameter, ``n_steps`` times."""
    for _ in range(n_steps):
        for i in range(w.size):
            w[i] += ad * ev[i] / (np.sqrt(s[i]) + eps)
    return w[0]


@njit(cache=False, error_model="numpy", fastmath={"contract"})
def _rmw5(w, ev, s, tc, th, n_steps):  # pragma: no cover - compiled
    """A read-modify-write of five arrays (weights, RMSProp state, eligibility and two RTRL traces) without
    the square root and division, ``n_steps`` times."""
    f = w.dtype.type
    for _ in range(n_steps):
        for i in range(w.size):
            w[i] += f(1e-4) * ev[i]
            s[i] = f(0.99) * s[i] + f(1e-3)
            ev[i] = f(0.9) * ev[i] + tc[i]
            tc[i] = f(0.5) * tc[i] + th[i]
            th[i] = f(0.5) * th[i] + f(1e-3)
    return w[0]


def _time_floors(steps: int) -> tuple[float, float]:
    n = 4 * PER_STAGE * stage_rows(N_FEATURES, 0, PER_STAGE)
    rng = np.random.default_rng(0)
    w, tc, th = (np.zeros(n, np.float32) for _ in range(3))
    ev = rng.random(n).astype(np.float32)
    s = rng.random(n).astype(np.float32) + np.float32(0.1)
    _sqrt_div(w, ev, s, 10, np.float32(1e-4), np.float32(1e-8))
    _rmw5(w, ev, s, tc, th, 10)
    t0 = time.process_time()
    _sqrt_div(w, ev, s, steps, np.float32(1e-4), np.float32(1e-8))
    t1 = time.process_time()
    _rmw5(w, ev, s, tc, th, steps)
    return (t1 - t0) / steps, (time.process_time() - t1) / steps


def _learner(steps: int) -> BatchedLearner:
    """A hybrid 15/5 run at 275 inputs that stays in stage 0 for ``steps`` steps (as the passes above)."""
    return BatchedLearner("hybrid", N_FEATURES, [0], [dict(n_columns=N_COLUMNS, columns_per_stage=PER_STAGE,
                                                          steps_per_stage=steps + 1)])


def _time_whole(pool, steps: int) -> float:
    bl = _learner(steps)
    x, c, g = pool[0]
    bl.run(x[:64], c[:64], g[:64])
    t0, done, i = time.process_time(), 0, 0
    while done < steps:
        x, c, g = pool[i % len(pool)]
        k = min(len(c), steps - done)
        bl.run(x[:k], c[:k], g[:k])
        done += k
        i += 1
    return (time.process_time() - t0) / steps


def _time_params(xs, steps: int) -> float:
    st = _learner(steps).state
    th = st.theta[0].copy()
    trc, trh, el, rs = st.TC[0].copy(), st.TH[0].copy(), st.E[0].copy(), st.RS[0].copy()
    weff = np.ascontiguousarray(np.random.default_rng(0).normal(0, 0.05, (1, N_FEATURES + N_COLUMNS, 64)), th.dtype)
    _param_passes(xs, th, trc, trh, el, rs, weff, 10)
    t0 = time.process_time()
    _param_passes(xs, th, trc, trh, el, rs, weff, steps)
    return (time.process_time() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    pool = _stream_pool(2 * CHUNK, N_FEATURES)
    xs = np.concatenate([x for x, _, _ in pool])
    whole, params, sqdiv, rmw = [], [], [], []
    load0 = load_average()
    for _ in range(a.reps):     # interleaved
        whole.append(_time_whole(pool, a.steps))
        params.append(_time_params(xs, a.steps))
        sd, rw = _time_floors(a.steps)
        sqdiv.append(sd)
        rmw.append(rw)
    w, q = float(np.median(whole)), float(np.median(params))
    out = {"whole_step_us": w * 1e6, "param_passes_us": q * 1e6, "share": q / w, "batching_bound": w / q,
           "sqrt_div_only_us": float(np.median(sqdiv)) * 1e6, "rmw5_only_us": float(np.median(rmw)) * 1e6,
           "whole_runs_us": [v * 1e6 for v in whole], "param_runs_us": [v * 1e6 for v in params],
           "load_before": load0, "load_after": load_average(), "steps": a.steps, "reps": a.reps}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"hybrid 15/5 x 275, stage 0, medians of {a.reps} interleaved runs of {a.steps:,} steps "
              f"(load {format_load(load0)} -> {format_load(out['load_after'])}):")
        print(f"  whole step              {w * 1e6:6.2f} us   ({', '.join(f'{v * 1e6:.2f}' for v in whole)})")
        print(f"  per-parameter passes    {q * 1e6:6.2f} us   ({', '.join(f'{v * 1e6:.2f}' for v in params)})"
              f"   {q / w:.0%} of the step")
        print(f"  bound on the gain of batching seeds: {w / q:.2f}x")
        print(f"  floors over the learning stage's {4 * PER_STAGE * stage_rows(N_FEATURES, 0, PER_STAGE):,} parameters: square root + division alone "
              f"{out['sqrt_div_only_us']:.2f} us, read-modify-write of five arrays {out['rmw5_only_us']:.2f} us")


if __name__ == "__main__":
    main()
