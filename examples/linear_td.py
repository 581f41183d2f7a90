"""A minimal learner for oscbench: linear TD(λ) on the raw observation plus a bias.

The smallest complete learner that follows the protocol (``oscbench/benchmark/protocol.py``):

* a factory ``make_learner(n_features, *, seed, **hyperparameters)``;
* ``step(x, cumulant, continuation) -> V_t``, which predicts, then learns;
* ``flops_per_step()``, the declared cost of one step, counted with the rules at the top of
  ``oscbench/benchmark/flops.py``;
* ``run(xs, cumulants, continuations)``, the optional fast path over a whole chunk. Both ``step`` and
  ``run`` call the same compiled (numba) loop, so ``run`` equals repeated ``step`` bit for bit, which
  the evaluator's audit checks.

Each step t receives x_t, c_t and γ_t (the discount of the transition *into* x_t; 0 at an episode
start) and does, with features φ_t = [x_t, 1] and weights w:

    V_t   = w · φ_t                       (the prediction, returned)
    δ     = c_t + γ_t V_t − V_{t−1}       (TD error of the previous prediction)
    w    += (α / (F+1)) δ e               (α = step_size, scaled by the number of features)
    e     = γ_t λ e + φ_t                 (accumulating eligibility trace)

It has no memory, so on trace patterning it cannot beat the best constant predictor by much (NMSE
near 1); it is a template to copy, not a contender. Try it::

    oscbench check examples/linear_td.py
    oscbench evaluate examples/linear_td.py --steps 20000 --n-seeds 2 --out runs/linear_td
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _td_lambda(w, e, last, xs, cumulants, continuations, alpha, lam, out):
    """Advance the learner over len(xs) steps in place; write V_t into ``out``.

    ``last`` holds [V_{t−1}, started (0/1)]. The bias is the last weight (feature value 1).
    """
    n_in = xs.shape[1]
    for t in range(xs.shape[0]):
        v = w[n_in]
        for i in range(n_in):
            v += w[i] * xs[t, i]
        gamma = continuations[t]
        if last[1] > 0.0:
            delta = cumulants[t] + gamma * v - last[0]
            a = alpha * delta
            for i in range(n_in + 1):
                w[i] += a * e[i]
        decay = gamma * lam
        for i in range(n_in):
            e[i] = decay * e[i] + xs[t, i]
        e[n_in] = decay * e[n_in] + 1.0
        last[0] = v
        last[1] = 1.0
        out[t] = v


class LinearTD:
    """Linear TD(λ) with an accumulating trace; see the module docstring."""

    def __init__(self, n_features: int, step_size: float, lam: float) -> None:
        self.n_features = int(n_features)
        self.alpha = float(step_size) / (self.n_features + 1)
        self.lam = float(lam)
        self.w = np.zeros(self.n_features + 1)
        self.e = np.zeros(self.n_features + 1)
        self.last = np.zeros(2)

    def run(self, xs: np.ndarray, cumulants: np.ndarray, continuations: np.ndarray) -> np.ndarray:
        out = np.empty(len(xs))
        _td_lambda(self.w, self.e, self.last, np.ascontiguousarray(xs, dtype=np.float32),
                   np.ascontiguousarray(cumulants, dtype=np.float32),
                   np.ascontiguousarray(continuations, dtype=np.float32), self.alpha, self.lam, out)
        return out

    def step(self, x: np.ndarray, cumulant: float, continuation: float) -> float:
        return float(self.run(np.asarray(x, dtype=np.float32)[None, :], np.array([cumulant], dtype=np.float32),
                              np.array([continuation], dtype=np.float32))[0])

    def flops_per_step(self) -> int:
        k = self.n_features + 1
        predict = k                 # w · φ: one multiply-accumulate per weight (the bias counts as one)
        td_error = 3                # γ·V, + c, − V_prev
        update = 1 + k              # α·δ, then w += (αδ)·e: a multiply-accumulate per weight
        trace = 1 + k               # γ·λ, then e = (γλ)·e + φ: a multiply-accumulate per weight
        return predict + td_error + update + trace


def make_learner(n_features: int, *, seed: int, step_size: float = 0.1, lam: float = 0.9) -> LinearTD:
    """The factory oscbench calls. ``seed`` is unused: this learner starts from zero weights."""
    if not 0.0 < step_size < 10.0:
        raise ValueError(f"step_size {step_size} must be in (0, 10)")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam {lam} must be in [0, 1]")
    return LinearTD(n_features, step_size, lam)
