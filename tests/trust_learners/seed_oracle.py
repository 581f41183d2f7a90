"""A dishonest learner for the verification tests: it rebuilds the trace-patterning stream from the
seed it is handed (equal to the stream seed when a run is not held out) and predicts the true
truncated return. Causal as far as any audit can tell, deterministic, NMSE 0 on its own seeds."""
from __future__ import annotations

from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream


class SeedOracle:
    def __init__(self, n_features: int, seed: int, n_steps: int) -> None:
        chunk = next(iter(TracePatterningStream(TracePatterningConfig(), seed).chunks(n_steps, n_steps)))
        self.g, self.t = chunk.returns_truncated, 0

    def flops_per_step(self) -> int:
        return 1

    def step(self, x, cumulant, continuation) -> float:
        self.t += 1
        return float(self.g[self.t - 1])

    def run(self, xs, cumulants, continuations):
        out = self.g[self.t:self.t + len(cumulants)].copy()
        self.t += len(cumulants)
        return out


def make_learner(n_features: int, *, seed: int, n_steps: int = 200_000) -> SeedOracle:
    return SeedOracle(n_features, seed, n_steps)
