"""The learner protocol: what the evaluator calls, with shapes and units.

Time runs t = 0, 1, 2, ... over one stream of experience. At each step the learner receives

* ``x`` -- the observation x_t, ``float32`` array of shape ``[F]``;
* ``cumulant`` -- c_t, the signal received on the transition *into* x_t (the US bit for trace
  patterning, the clipped reward for Atari);
* ``continuation`` -- γ_t, the discount of the transition into x_t: the task's γ inside an episode,
  ``0`` where x_t starts a new episode. By convention c_0 = γ_0 = 0.

and returns V_t, its prediction of the return

    G_t = Σ_{j>t} (Π_{i=t+1}^{j-1} γ_i) c_j  =  c_{t+1} + γ_{t+1} · G_{t+1},

the discounted sum of *future* cumulants, which the TD target c_{t+1} + γ_{t+1} V_{t+1} estimates.
V_t may depend on everything seen up to and including x_t, and on nothing later; the evaluator's
causality audit checks this.

A learner is built by a factory ``make_learner(n_features, *, seed, **hyperparameters)``;
hyper-parameters have explicit names (``step_size``, ``lam``, ``hidden``, ...).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Learner(Protocol):
    """An online learner of a discounted-return prediction.

    Required methods: :meth:`step` and :meth:`flops_per_step`. Optional: ``run`` (see
    :class:`FastLearner`), which the evaluator uses when present.
    """

    def step(self, x: np.ndarray, cumulant: float, continuation: float) -> float:
        """Consume x_t (float32 ``[F]``), c_t and γ_t; learn; return V_t (a finite float)."""
        ...

    def flops_per_step(self) -> int:
        """Declared cost of one step (prediction and learning), counted with :mod:`oscbench.benchmark.flops` rules."""
        ...


@runtime_checkable
class FastLearner(Learner, Protocol):
    """A learner with a compiled fast path over whole chunks of the stream."""

    def run(self, xs: np.ndarray, cumulants: np.ndarray, continuations: np.ndarray) -> np.ndarray:
        """Process N consecutive steps at once.

        Args:
            xs: float32 ``[N, F]`` observations x_t .. x_{t+N-1}.
            cumulants: float32 ``[N]`` c_t .. c_{t+N-1}.
            continuations: float32 ``[N]`` γ_t .. γ_{t+N-1}.

        Returns:
            float64 (or float32) ``[N]`` predictions V_t .. V_{t+N-1}, exactly equal to N calls of
            :meth:`Learner.step`.
        """
        ...


class LearnerFactory(Protocol):
    """``make_learner(n_features, *, seed, **hyperparameters) -> Learner``."""

    def __call__(self, n_features: int, *, seed: int, **hyperparameters: Any) -> Learner: ...


def run_steps(learner: Learner, xs: np.ndarray, cumulants: np.ndarray, continuations: np.ndarray) -> np.ndarray:
    """Run ``learner`` over a chunk, using its ``run`` fast path when it has one.

    Shapes as in :meth:`FastLearner.run`; returns float64 ``[N]``.
    """
    run = getattr(learner, "run", None)
    if callable(run):
        return np.asarray(run(xs, cumulants, continuations), dtype=np.float64)
    out = np.empty(len(xs), dtype=np.float64)
    for t in range(len(xs)):
        out[t] = learner.step(xs[t], float(cumulants[t]), float(continuations[t]))
    return out


# -- snapshots: the whole-run causality check and checkpoints ---------------------------------------------
class SnapshotLearner(Learner, Protocol):
    """A learner with its own snapshot format (optional; without it the evaluator uses pickle).

    The evaluator snapshots the learner before **every** chunk it hands over (so a learner cannot
    tell the chunks it later re-checks from the others), restores copies of some of these snapshots
    to replay a random prefix of the chunk (the whole-run causality check: the replay's predictions
    must equal the full chunk's, bitwise), and writes snapshots into checkpoints to resume a run.
    """

    def snapshot(self) -> bytes:
        """The learner's complete state (parameters, traces, optimizer state, RNG state) as bytes."""
        ...

    def restore(self, data: bytes) -> Learner:
        """A new learner whose state is ``data`` (from :meth:`snapshot`); ``self`` is left unchanged.

        A restored learner must continue exactly as the snapshotted one would have: the same
        predictions, bit for bit, on the same inputs.
        """
        ...


def snapshot(learner: Any) -> bytes:
    """The learner's state as bytes: its ``snapshot()`` when it has the pair of methods, else pickle."""
    own = getattr(learner, "snapshot", None)
    if callable(own) and callable(getattr(learner, "restore", None)):
        data = own()
        if not isinstance(data, bytes):
            raise TypeError(f"snapshot() returned {type(data).__name__}; it must return bytes")
        return data
    import pickle

    return pickle.dumps(learner, protocol=pickle.HIGHEST_PROTOCOL)


def restore(learner: Any, data: bytes) -> Any:
    """A new learner from :func:`snapshot` bytes (``learner``: any learner of the same kind)."""
    own = getattr(learner, "restore", None)
    if callable(own) and callable(getattr(learner, "snapshot", None)):
        return own(data)
    import pickle

    return pickle.loads(data)
