"""Learner objects over the compiled kernels: batched runs and the single-run protocol learner.

:class:`BatchedLearner` holds B independent runs of one reference learner that share one stream
(different seeds, or different scalar hyper-parameters of a sweep); one compiled call advances all
of them over a whole chunk::

    bl = make_batched("hybrid", 12, seeds=range(8), hp_list=[{"step_size": a} for a in grid])
    preds = bl.run(xs, cumulants, continuations)       # float64 [B, N]

Runs of one batch must share the *structure* (n_features, n_columns, columns_per_stage -- or hidden,
truncation -- and dtype); everything else (seed, step_size, lam, beta, var_floor, optimizer,
rms_beta2, rms_eps, steps_per_stage, same_step_stages, norm_floor) may differ per run. Run b of a batch computes
exactly what a single learner with the same seed and hyper-parameters computes.

:class:`ReferenceLearner` is one run; it implements the learner protocol
(:mod:`oscbench.benchmark.protocol`): ``step``, ``run`` (== repeated ``step``, bit for bit) and
``flops_per_step``.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from oscbench.baselines.ccn import VARIANTS, CCNState, ccn_config
from oscbench.baselines.tbptt import NAME as TBPTT, TBPTTState, tbptt_config
from oscbench.errors import ConfigError

NAMES = ("hybrid", "columnar", "constructive", TBPTT)


def _state(name: str, n_features: int, seeds: Sequence[int], hp_list: Sequence[dict[str, Any]]):
    if name in VARIANTS:
        return CCNState([ccn_config(name, n_features, **hp) for hp in hp_list], list(seeds))
    if name == TBPTT:
        return TBPTTState([tbptt_config(n_features, **hp) for hp in hp_list], list(seeds))
    raise ConfigError(f"unknown reference learner {name!r}; choose one of {', '.join(NAMES)}.")


class BatchedLearner:
    """B independent runs of reference learner ``name`` sharing one stream (see module docs).

    Args:
        name: ``"hybrid" | "columnar" | "constructive" | "tbptt"``.
        n_features: F, the observation length.
        seeds: one seed per run.
        hp_list: one hyper-parameter dict per run (or ``None``: ``common`` for every run).
        common: hyper-parameters shared by every run (a run's own dict overrides them).
    """

    def __init__(self, name: str, n_features: int, seeds: Iterable[int],
                 hp_list: Sequence[dict[str, Any]] | None = None, **common: Any) -> None:
        seeds = list(seeds)
        if hp_list is None:
            hp_list = [{} for _ in seeds]
        hp_list = [{**common, **hp} for hp in hp_list]
        if len(hp_list) != len(seeds):
            raise ConfigError(f"got {len(seeds)} seeds and {len(hp_list)} hyper-parameter dicts; give one per run.")
        self.name = name
        self.state = _state(name, n_features, seeds, hp_list)
        self.configs = self.state.configs
        self.seeds = self.state.seeds
        self.n_features = self.configs[0].n_features
        self.dtype = self.state.dtype

    @property
    def n_runs(self) -> int:
        return self.state.n_runs

    def flops_per_step(self) -> int:
        """Declared FLOPs of one step of one run (the runs share the structure, hence the cost)."""
        return self.configs[0].flops_per_step()

    def _inputs(self, xs: Any, cumulants: Any, continuations: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dt = self.dtype
        xs = np.ascontiguousarray(xs, dtype=dt)
        cum = np.ascontiguousarray(cumulants, dtype=dt).reshape(-1)
        cont = np.ascontiguousarray(continuations, dtype=dt).reshape(-1)
        if xs.ndim != 2 or xs.shape[1] != self.n_features:
            raise ConfigError(f"observations have shape {xs.shape}; the {self.name} learner was built for "
                              f"[N, {self.n_features}] -- build it with n_features={xs.shape[-1] if xs.ndim else '?'}.")
        if len(cum) != len(xs) or len(cont) != len(xs):
            raise ConfigError(f"got {len(xs)} observations, {len(cum)} cumulants and {len(cont)} continuations; "
                              "give one of each per step.")
        return xs, cum, cont

    def run(self, xs: Any, cumulants: Any, continuations: Any) -> np.ndarray:
        """Advance every run over N steps: xs ``[N, F]``, cumulants/continuations ``[N]`` → float64 ``[B, N]``."""
        xs, cum, cont = self._inputs(xs, cumulants, continuations)
        out = np.empty((self.n_runs, len(xs)), np.float64)
        if len(xs):
            self.state.advance(xs, cum, cont, out)
        return out

    def step(self, x: Any, cumulant: float, continuation: float) -> np.ndarray:
        """One step of every run: x ``[F]`` → float64 ``[B]``."""
        return self.run(np.asarray(x).reshape(1, -1), [cumulant], [continuation])[:, 0]

    def copy(self) -> "BatchedLearner":
        return copy.deepcopy(self)


class ReferenceLearner:
    """One run of a reference learner; implements the learner protocol.

    Build it with :func:`oscbench.baselines.make_learner` or a factory of
    :data:`oscbench.baselines.BASELINES`.
    """

    def __init__(self, name: str, n_features: int, *, seed: int, **hp: Any) -> None:
        self._batch = BatchedLearner(name, n_features, [seed], [hp])
        self.name = name
        self.seed = self._batch.seeds[0]
        self.config = self._batch.configs[0]

    @property
    def state(self):
        """The run's arrays (a CCNState / TBPTTState with B = 1), for tests and analysis."""
        return self._batch.state

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Every hyper-parameter, defaults filled in."""
        return self.config.to_dict()

    def step(self, x: np.ndarray, cumulant: float, continuation: float) -> float:
        """Consume x_t ``[F]``, c_t, γ_t; learn; return V_t."""
        return float(self._batch.step(x, cumulant, continuation)[0])

    def run(self, xs: np.ndarray, cumulants: np.ndarray, continuations: np.ndarray) -> np.ndarray:
        """N steps at once (compiled): float64 ``[N]``, exactly equal to N calls of :meth:`step`."""
        return self._batch.run(xs, cumulants, continuations)[0]

    def flops_per_step(self) -> int:
        return self._batch.flops_per_step()

    def copy(self) -> "ReferenceLearner":
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return f"ReferenceLearner({self.name!r}, seed={self.seed}, flops_per_step={self.flops_per_step()})"


def make_batched(name: str, n_features: int, seeds: Iterable[int],
                 hp_list: Sequence[dict[str, Any]] | None = None, **common: Any) -> BatchedLearner:
    """B runs of ``name`` sharing one stream; see :class:`BatchedLearner`."""
    return BatchedLearner(name, n_features, seeds, hp_list, **common)
