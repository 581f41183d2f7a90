"""Small learners for the evaluator tests (loaded by file path, as users' learners are).

Each factory follows the protocol ``make(n_features, *, seed, **hp)``.
"""
from __future__ import annotations

import numpy as np

from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream


class _Base:
    flops = 10

    def __init__(self, n_features: int, seed: int) -> None:
        self.n, self.seed, self.t = n_features, seed, 0

    def flops_per_step(self) -> int:
        return self.flops


class Constant(_Base):
    """V_t = value on every step."""

    def __init__(self, n, seed, value):
        super().__init__(n, seed)
        self.value = float(value)

    def step(self, x, c, g):
        return self.value

    def run(self, xs, cs, gs):
        return np.full(len(cs), self.value)


def constant(n_features, *, seed, value=0.0):
    return Constant(n_features, seed, value)


class Oracle(_Base):
    """Handed the stream's targets at construction (the trace stream of its seed): V_t = G_t."""

    def __init__(self, n, seed, n_steps, target):
        super().__init__(n, seed)
        chunk = next(iter(TracePatterningStream(TracePatterningConfig(), seed).chunks(n_steps, n_steps)))
        self.g = getattr(chunk, target)

    def step(self, x, c, g):
        v = self.g[self.t]
        self.t += 1
        return float(v)

    def run(self, xs, cs, gs):
        out = self.g[self.t:self.t + len(cs)].copy()
        self.t += len(cs)
        return out


def oracle(n_features, *, seed, n_steps, target="returns_truncated"):
    return Oracle(n_features, seed, n_steps, target)


class Weighted(_Base):
    """V_t = w · x_t (fixed weights): a simple learner whose errors the test computes independently."""

    def __init__(self, n, seed, w):
        super().__init__(n, seed)
        self.w = np.asarray(w, dtype=np.float64)

    def step(self, x, c, g):
        return float(self.w @ x)


def weighted(n_features, *, seed, w):
    return Weighted(n_features, seed, w)


class LinearTD(_Base):
    """Linear TD(0) on the raw observation, step() only (a Python loop)."""

    def __init__(self, n, seed, step_size):
        super().__init__(n, seed)
        rng = np.random.default_rng(seed)
        self.w = rng.normal(0, 0.01, n)
        self.a, self.x, self.v = step_size, None, 0.0
        self.flops = 4 * n

    def step(self, x, c, g):
        x, c, g = np.asarray(x, dtype=np.float64), float(c), float(g)
        if self.x is not None:
            v_now = float(self.w @ x)
            self.w += self.a * (c + g * v_now - self.v) * self.x
        self.x = x
        self.v = float(self.w @ x)
        return self.v


def linear_td(n_features, *, seed, step_size=0.01):
    return LinearTD(n_features, seed, step_size)


class PeekAhead(LinearTD):
    """Looks one step ahead inside the chunk run() is handed (the US bit of x_{t+1})."""

    def run(self, xs, cs, gs):
        out = np.empty(len(cs))
        for i in range(len(cs)):
            v = self.step(xs[i], cs[i], gs[i])
            out[i] = v + (0.5 * float(xs[i + 1, 6]) if i + 1 < len(cs) else 0.0)
        return out


def peek_ahead(n_features, *, seed, step_size=0.01):
    return PeekAhead(n_features, seed, step_size)


class RunDisagrees(LinearTD):
    """run() is not repeated step(): it adds a constant."""

    def run(self, xs, cs, gs):
        return np.array([self.step(xs[i], cs[i], gs[i]) for i in range(len(cs))]) + 1e-9


def run_disagrees(n_features, *, seed):
    return RunDisagrees(n_features, seed, 0.01)


class Unseeded(_Base):
    """Draws from an unseeded RNG: not deterministic."""

    def __init__(self, n, seed):
        super().__init__(n, seed)
        self.rng = np.random.default_rng()

    def step(self, x, c, g):
        return float(self.rng.random())


def unseeded(n_features, *, seed):
    return Unseeded(n_features, seed)


class Faulty(LinearTD):
    """Misbehaves at step ``at`` (its own step count) for the seeds in ``seeds``: raise, NaN or inf."""

    def __init__(self, n, seed, at, mode, seeds):
        super().__init__(n, seed, 0.01)
        self.at, self.mode, self.bad = at, mode, seed in seeds

    def step(self, x, c, g):
        v = super().step(x, c, g)
        t = self.t
        self.t += 1
        if self.bad and t == self.at:
            if self.mode == "raise":
                raise RuntimeError(f"boom at {t}")
            if self.mode == "interrupt":
                raise KeyboardInterrupt
            return float(self.mode)  # "nan" / "inf"
        return v


def faulty(n_features, *, seed, at=4000, mode="raise", seeds=(1,)):
    return Faulty(n_features, seed, at, mode, tuple(seeds))


class WrongShape(LinearTD):
    def run(self, xs, cs, gs):
        return np.array([self.step(xs[i], cs[i], gs[i]) for i in range(len(cs))])[:, None]


def wrong_shape(n_features, *, seed):
    return WrongShape(n_features, seed, 0.01)


def over_budget(n_features, *, seed):
    learner = Constant(n_features, seed, 0.0)
    learner.flops = 1_000_000
    return learner


def broken_factory(n_features, *, seed):
    raise ValueError("cannot build")


class FileOracle(_Base):
    """Handed a dataset file's returns: V_t = G_(t mod T), looping like the Atari stream."""

    def __init__(self, n, seed, path):
        super().__init__(n, seed)
        from oscbench.datasets.format import DatasetFile

        with DatasetFile(path) as f:
            self.g = f.array("returns").astype(np.float64)

    def step(self, x, c, g):
        v = self.g[self.t % len(self.g)]
        self.t += 1
        return float(v)

    def run(self, xs, cs, gs):
        idx = np.arange(self.t, self.t + len(cs)) % len(self.g)
        self.t += len(cs)
        return self.g[idx]


def file_oracle(n_features, *, seed, path):
    return FileOracle(n_features, seed, path)
