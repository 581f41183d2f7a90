"""An honest learner for the verification tests: V_t = (mean cumulant so far) / (1 − γ).

It sees only the observations, cumulants and continuations it is handed (causal, deterministic), so
its error on a fresh stream is what it is on the streams it was submitted on.
"""
from __future__ import annotations

import numpy as np


class RunningMean:
    def __init__(self, n_features: int, seed: int, gamma: float) -> None:
        self.total, self.count, self.scale = 0.0, 0, 1.0 / (1.0 - gamma)

    def flops_per_step(self) -> int:
        return 4

    def step(self, x, cumulant, continuation) -> float:
        return float(self.run(np.asarray([x]), np.asarray([cumulant]), np.asarray([continuation]))[0])

    def run(self, xs, cumulants, continuations):
        c = np.asarray(cumulants, dtype=np.float64)
        sums = self.total + np.cumsum(c)
        counts = self.count + np.arange(1, len(c) + 1)
        self.total, self.count = float(sums[-1]), int(counts[-1])
        return sums / counts * self.scale


def make_learner(n_features: int, *, seed: int, gamma: float = 0.9) -> RunningMean:
    return RunningMean(n_features, seed, gamma)
