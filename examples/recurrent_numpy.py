"""A small recurrent learner for oscbench: an Elman RNN of a few tanh units trained online.

The network (H hidden units, F inputs)::

    h_t = tanh(W x_t + U h_{t−1} + b)          W: H×F, U: H×H, b: H
    V_t = v · h_t + c                          v: H, c: scalar

is trained by TD(λ) with exact real-time recurrent learning (RTRL): it carries the sensitivities
J_t = ∂h_t/∂θ of the hidden state to every recurrent parameter θ = (W, U, b), advanced every step by

    J_t = diag(1 − h_t²) · (∂(W x_t + U h_{t−1} + b)/∂θ + U J_{t−1}),

so the gradient ∇V_t = (v · J_t, h_t, 1) needs no backpropagation through time. The TD(λ) update is
the one of ``linear_td.py`` with ∇V_t in place of the features: δ = c_t + γ_t V_t − V_{t−1},
θ += α δ e, e = γ_t λ e + ∇V_t. Sensitivities and ∇V_t use the parameters before the step's update
(the usual online approximation of RTRL).

The code is plain numpy-style array code; numba compiles the per-step loop (``@numba.njit``), which
the ``short`` and ``full`` presets (millions of steps) need. ``flops_per_step`` counts every term of the
step with the rules of ``oscbench/benchmark/flops.py``; the RTRL product U·J (H²·P multiply-accumulates,
P = H(F+H+1) recurrent parameters) dominates. With H = 4: 1,936 FLOPs on trace patterning (F = 12,
budget 4,400) and 31,392 on Atari (F = 275, budget 55,000). Try it::

    oscbench check examples/recurrent_numpy.py
    oscbench evaluate examples/recurrent_numpy.py --steps 20000 --n-seeds 2 --hp hidden=3
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _rtrl_td(W, U, b, v, c, eW, eU, eb, ev, ec, JW, JU, Jb, h, last, xs, cumulants, continuations,
             alpha, lam, out):
    """Advance the network over len(xs) steps in place; write V_t into ``out``.

    JW[i, j, k] = ∂h_i/∂W[j, k], JU[i, j, k] = ∂h_i/∂U[j, k], Jb[i, j] = ∂h_i/∂b[j];
    ``last`` = [V_{t−1}, started (0/1)].
    """
    H = h.shape[0]
    # scratch, allocated once per call: the new sensitivities, the gradient, the previous hidden state
    JW_new, JU_new, Jb_new = np.empty_like(JW), np.empty_like(JU), np.empty_like(Jb)
    gW, gU, gb = np.empty_like(W), np.empty_like(U), np.empty_like(b)
    h_prev = np.empty_like(h)
    for t in range(xs.shape[0]):
        x = xs[t]
        gamma = continuations[t]
        h_prev[:] = h
        h_new = np.tanh(W @ x + U @ h_prev + b)
        d = 1.0 - h_new * h_new
        # RTRL: J_t = diag(d) (direct term + U J_{t-1}), with the parameters before this step's update
        JW_new[:] = 0.0
        JU_new[:] = 0.0
        Jb_new[:] = 0.0
        for i in range(H):
            for m in range(H):
                u = U[i, m]
                JW_new[i] += u * JW[m]
                JU_new[i] += u * JU[m]
                Jb_new[i] += u * Jb[m]
            JW_new[i, i] += x
            JU_new[i, i] += h_prev
            Jb_new[i, i] += 1.0
            JW_new[i] *= d[i]
            JU_new[i] *= d[i]
            Jb_new[i] *= d[i]
        value = v @ h_new + c[0]
        # gradient of V_t with respect to the recurrent parameters: v · J_t
        gW[:] = 0.0
        gU[:] = 0.0
        gb[:] = 0.0
        for i in range(H):
            gW += v[i] * JW_new[i]
            gU += v[i] * JU_new[i]
            gb += v[i] * Jb_new[i]
        # TD(λ): learn from the previous step's prediction with the previous traces
        if last[1] > 0.0:
            a = alpha * (cumulants[t] + gamma * value - last[0])
            W += a * eW
            U += a * eU
            b += a * eb
            v += a * ev
            c += a * ec
        decay = gamma * lam
        eW *= decay
        eW += gW
        eU *= decay
        eU += gU
        eb *= decay
        eb += gb
        ev *= decay
        ev += h_new
        ec *= decay
        ec += 1.0
        h[:] = h_new
        JW[:] = JW_new
        JU[:] = JU_new
        Jb[:] = Jb_new
        last[0] = value
        last[1] = 1.0
        out[t] = value


class RecurrentTD:
    """An H-unit Elman RNN trained online by TD(λ) with RTRL; see the module docstring."""

    def __init__(self, n_features: int, seed: int, hidden: int, step_size: float, lam: float) -> None:
        F, H = int(n_features), int(hidden)
        rng = np.random.default_rng(seed)
        self.F, self.H = F, H
        self.alpha, self.lam = float(step_size), float(lam)
        self.W = rng.uniform(-1.0, 1.0, (H, F)) / np.sqrt(F)
        self.U = rng.uniform(-1.0, 1.0, (H, H)) / np.sqrt(H)
        self.b = np.zeros(H)
        self.v = np.zeros(H)
        self.c = np.zeros(1)
        self.eW, self.eU, self.eb = np.zeros((H, F)), np.zeros((H, H)), np.zeros(H)
        self.ev, self.ec = np.zeros(H), np.zeros(1)
        self.JW, self.JU, self.Jb = np.zeros((H, H, F)), np.zeros((H, H, H)), np.zeros((H, H))
        self.h = np.zeros(H)
        self.last = np.zeros(2)

    def run(self, xs: np.ndarray, cumulants: np.ndarray, continuations: np.ndarray) -> np.ndarray:
        out = np.empty(len(xs))
        _rtrl_td(self.W, self.U, self.b, self.v, self.c, self.eW, self.eU, self.eb, self.ev, self.ec,
                 self.JW, self.JU, self.Jb, self.h, self.last,
                 np.ascontiguousarray(xs, dtype=np.float64), np.asarray(cumulants, dtype=np.float64),
                 np.asarray(continuations, dtype=np.float64), self.alpha, self.lam, out)
        return out

    def step(self, x: np.ndarray, cumulant: float, continuation: float) -> float:
        return float(self.run(np.asarray(x)[None, :], np.array([cumulant]), np.array([continuation]))[0])

    def flops_per_step(self) -> int:
        return rtrl_flops(self.F, self.H)


def rtrl_flops(F: int, H: int) -> int:
    """Declared FLOPs of one step (multiply-accumulate = 1, elementwise op = 1 per element)."""
    P = H * (F + H + 1)             # recurrent parameters W, U, b
    forward = H * (F + H) + H       # W x + U h (multiply-accumulates) + b
    forward += H + 2 * H            # tanh, then d = 1 − h² (a multiply and a subtract)
    sensitivities = H * H * P       # U · J_{t−1}
    sensitivities += H * (F + H + 1)   # the direct term, added on each unit's own row
    sensitivities += H * P          # times d (row-wise)
    value = H + 1                   # v · h + c
    gradient = H * P                # v · J_t
    td_error = 3                    # γ·V, + c, − V_prev
    update = 1 + P + H + 1          # α·δ, then θ += (αδ)·e over W, U, b, v, c
    trace = 1 + P + H + 1           # γ·λ, then e = (γλ)·e + ∇V over W, U, b, v, c
    return forward + sensitivities + value + gradient + td_error + update + trace


def make_learner(n_features: int, *, seed: int, hidden: int = 4, step_size: float = 0.003,
                 lam: float = 0.9) -> RecurrentTD:
    """The factory oscbench calls; ``seed`` draws the initial recurrent weights."""
    if not 1 <= hidden <= 64:
        raise ValueError(f"hidden {hidden} must be in 1..64")
    if not 0.0 < step_size < 1.0:
        raise ValueError(f"step_size {step_size} must be in (0, 1)")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam {lam} must be in [0, 1]")
    return RecurrentTD(n_features, seed, hidden, step_size, lam)
