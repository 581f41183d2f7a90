"""V_t = a constant from a sibling module (honest, trivially causal)."""
from __future__ import annotations

import numpy as np

from trustpkg.constants import VALUE


class ConstantLearner:
    def __init__(self, n_features: int, seed: int) -> None:
        self.value = VALUE

    def flops_per_step(self) -> int:
        return 1

    def step(self, x, cumulant, continuation) -> float:
        return self.value

    def run(self, xs, cumulants, continuations):
        return np.full(len(cumulants), self.value)


def make_learner(n_features: int, *, seed: int) -> ConstantLearner:
    return ConstantLearner(n_features, seed)
