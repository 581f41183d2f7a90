"""Learners for the distributed-execution tests (loaded by file path on the workers, as users' learners are).

``make_learner(n_features, *, seed, step_size, mark_dir="", pause=0.0)``: linear TD(0) on the
observation with seed-dependent initial weights (so every run's record differs), deterministic. When
``mark_dir`` is set, every call of ``run()`` on more than 64 steps appends one line to ``<mark_dir>/seed-<seed>.calls``
(a test watches it to act while a run is under way) and sleeps ``pause`` seconds (keeps a run busy
long enough to be interrupted), and waits while ``<mark_dir>/hold-seed-<seed>`` exists (at most 300 s). ``extra_flops`` is added to the declared FLOPs per step (sweeps over cost).
"""
from __future__ import annotations

import os
import time

import numpy as np

GAMMA = 0.9


class LinearTD:
    def __init__(self, n_features: int, seed: int, step_size: float, mark_dir: str, pause: float,
                 extra_flops: int) -> None:
        self.w = np.random.default_rng(seed).normal(0.0, 0.1, n_features)
        self.alpha, self.mark_dir, self.pause = float(step_size), mark_dir, float(pause)
        self.seed, self.extra_flops = seed, int(extra_flops)
        self.x_prev: np.ndarray | None = None
        self.v_prev = 0.0

    def flops_per_step(self) -> int:
        return 6 * len(self.w) + self.extra_flops

    def step(self, x: np.ndarray, c: float, g: float) -> float:
        x = np.array(x, dtype=np.float64)            # a contiguous copy: the same arithmetic on every path
        v = float(np.sum(self.w * x))
        if self.x_prev is not None:
            self.w += self.alpha * (float(c) + GAMMA * float(g) * v - self.v_prev) * self.x_prev
        self.x_prev, self.v_prev = x, v
        return v

    def run(self, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray) -> np.ndarray:
        if self.mark_dir and len(cs) > 64:   # scored-run chunks only (the audit's chunks are small)
            with open(os.path.join(self.mark_dir, f"seed-{self.seed}.calls"), "a") as f:
                f.write(f"{len(cs)}\n")
            time.sleep(self.pause)
            hold, t0 = os.path.join(self.mark_dir, f"hold-seed-{self.seed}"), time.monotonic()
            while os.path.exists(hold) and time.monotonic() - t0 < 300:
                time.sleep(0.05)
        return np.array([self.step(xs[i], cs[i], gs[i]) for i in range(len(cs))])


def make_learner(n_features: int, *, seed: int, step_size: float = 0.01, mark_dir: str = "",
                 pause: float = 0.0, extra_flops: int = 0) -> LinearTD:
    return LinearTD(n_features, seed, step_size, mark_dir, pause, extra_flops)
