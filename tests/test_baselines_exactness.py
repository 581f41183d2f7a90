"""Exactness of the reference learners' gradients (float64).

* Column networks: the kernel's RTRL traces TH = ∂h_t/∂θ and its gradient ∂V_t/∂θ (read from the
  eligibility trace with λ = 0) are compared, at every step of a ≥ 60-step random trajectory, with
  (a) central finite differences of an independent numpy forward of the whole network and (b) an
  independent full (untruncated) BPTT of the whole network, in lag and same-step modes, for a
  single column, a columnar, a constructive and a hybrid network.
* T-BPTT: the kernel's gradient equals finite differences of the k-step truncated objective and a
  numpy BPTT of it; with k >= t + 1 it equals the full BPTT.

SPEC semantics reproduced by the reference: per-column input statistics (updated after use while
the column's stage learns), output statistics (updated before use, treated as constants in the
gradient), RTRL traces that start at 0 when the stage starts (so the perturbation starts there).
"""
from __future__ import annotations

import numpy as np
import pytest

from baselines_reference import RefNet, lstm_bptt, lstm_forward

from oscbench.baselines import make_learner
from oscbench.baselines.kernels_column import LANE_MAJOR_FROM

EPS_FD = 1e-6


# ================================================================ kernel side
def _setup(T, U, sps, same, n=5, stage=None, n_steps=None, seed=3, norm_floor="variance"):
    """A float64 learner with random (large) parameters, α = 0 and λ = 0, plus a random input stream."""
    rng = np.random.default_rng(seed)
    S = -(-T // U)
    stage = S - 1 if stage is None else stage
    t0 = stage * sps
    N = n_steps or t0 + min(sps, 60)       # the trajectory ends inside the learning stage
    L = make_learner("hybrid", n, seed=seed, n_columns=T, columns_per_stage=U, steps_per_stage=sps,
                     step_size=0.0, lam=0.0, beta=0.9, var_floor=0.02, same_step_stages=same, dtype="float64",
                     norm_floor=norm_floor)
    st = L.state
    W, u, b = [], [], []
    for k in range(T):
        p = st.column_params(0, k)
        p["W"][...] = rng.uniform(-1.2, 1.2, p["W"].shape) * np.sqrt(5 / n)   # wide inputs: gates not saturated
        p["u"][...] = rng.uniform(-1.5, 1.5, 4)
        p["b"][...] = rng.uniform(-0.5, 0.5, 4)
        W.append(p["W"].copy())
        u.append(p["u"].copy())
        b.append(p["b"].copy())
    active = min((stage + 1) * U, T)
    st.w_out[0, :active] = rng.uniform(-1, 1, active)
    st.b_out[0] = 0.3
    xs = np.concatenate([rng.normal(0, 1, (N, 2)), (rng.random((N, n - 3)) < 0.3), np.full((N, 1), 0.5)],
                        axis=1).astype(np.float64)
    ref = RefNet(n, T, U, sps, 0.9, 0.02, same, W, u, b, st.w_out[0].copy(), 0.3, sigma=norm_floor == "sigma")
    return L, ref, xs, stage, t0


def _kernel_traces(L, xs, t0):
    """Run the learner step by step; record TH (∂h/∂θ) and E (= ∂V/∂θ, λ = 0) for t >= t0, and V."""
    cum = np.zeros(len(xs))
    cont = np.full(len(xs), 0.9)
    THs, Es, Vs = {}, {}, []
    for t in range(len(xs)):
        Vs.append(L.step(xs[t], cum[t], cont[t]))
        if t >= t0:
            THs[t], Es[t] = L.state.TH[0].copy(), L.state.E[0].copy()
    return THs, Es, np.array(Vs)


def _trace_to_params(tr, ref, stage, kk, lane_major):
    """The kernel's traces ([lanes, rows] when lane-major, else [rows, lanes]) of the stage's kk-th
    column → (W [4, m], u [4], b [4])."""
    m = ref.m(stage * ref.U)
    lanes = slice(4 * kk, 4 * kk + 4)
    tr = tr if lane_major else tr.T
    return tr[lanes, 2:2 + m], tr[lanes, 0], tr[lanes, 1]


def _fd(ref, xs, stage, t0):
    """Central differences of h(t) and of V(t) (output statistics frozen) for every parameter of the stage."""
    T, U = ref.T, ref.U
    cols = list(range(stage * U, min((stage + 1) * U, T)))
    m = ref.m(cols[0])
    H0, V0, rec = ref.run(xs, record=True)
    mu = np.array([r["mu"] for r in rec])
    nu = np.array([r["nu"] for r in rec])
    base_W = np.stack([ref.W[k] for k in cols])          # [C, 4, m]
    base_u = np.stack([ref.u[k] for k in cols])
    base_b = np.stack([ref.b[k] for k in cols])
    index = []
    for ci in range(len(cols)):
        for q in range(4):
            index += [(ci, "u", q, 0), (ci, "b", q, 0)] + [(ci, "W", q, j) for j in range(m)]
    P = 2 * len(index)
    params = {"W": np.repeat(base_W[None], P, 0), "u": np.repeat(base_u[None], P, 0),
              "b": np.repeat(base_b[None], P, 0)}
    for p, (ci, kind, q, j) in enumerate(index):
        for sgn, row in ((1, 2 * p), (-1, 2 * p + 1)):
            if kind == "W":
                params["W"][row, ci, q, j] += sgn * EPS_FD
            else:
                params[kind][row, ci, q] += sgn * EPS_FD
    H, _, _ = ref.run(xs, t0=t0, stage=stage, params=params)
    dH = (H[:, 0::2] - H[:, 1::2]) / (2 * EPS_FD)                 # [N, nparam, T]
    # (max with the floor: a no-op for C's floored ν, P's σ-floor for the unfloored one)
    Vfrozen = ((H - mu[:, None]) / np.sqrt(np.maximum(nu[:, None], ref.floor))) @ ref.w   # [N, P]
    dV = (Vfrozen[:, 0::2] - Vfrozen[:, 1::2]) / (2 * EPS_FD)      # [N, nparam]
    return index, dH, dV, cols


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


CASES = [  # (T, U, steps_per_stage, same_step, norm_floor, n inputs)
    (1, 1, 10_000, False, "variance", 5),     # a single column
    (3, 3, 10_000, False, "variance", 5),     # columnar
    (4, 1, 60, False, "variance", 5),         # constructive: the 4th stage learns, reading 3 frozen columns
    (6, 2, 60, False, "variance", 5),         # hybrid, one-step lag between stages
    (6, 2, 60, True, "variance", 5),          # hybrid, same-step stages
    (4, 1, 60, False, "sigma", 5),            # P's σ-floor (SPEC §11.5): unfloored statistics
    (6, 2, 60, True, "sigma", 5),
    (6, 3, 60, False, "variance", 66),        # wide inputs: the lane-major layout (LANE_MAJOR_FROM)
    (3, 1, 60, True, "sigma", 66),
]


@pytest.mark.parametrize("T,U,sps,same,floor,n", CASES)
def test_rtrl_traces_equal_finite_differences(T, U, sps, same, floor, n):
    L, ref, xs, stage, t0 = _setup(T, U, sps, same, n=n, norm_floor=floor)
    assert L.state.lane_major == (n >= LANE_MAJOR_FROM)
    THs, Es, V = _kernel_traces(L, xs, t0)
    H0, V0, _ = ref.run(xs)
    assert _rel(V, V0[:, 0]) < 1e-12                     # the forward passes agree
    index, dH, dV, cols = _fd(ref, xs, stage, t0)
    n_checked = 0
    for t in range(t0, len(xs)):
        for ci, k in enumerate(cols):
            Wt, ut, bt = _trace_to_params(THs[t], ref, stage, ci, L.state.lane_major)
            We, ue, be = _trace_to_params(Es[t], ref, stage, ci, L.state.lane_major)
            kern_h, kern_v, fd_h, fd_v = [], [], [], []
            for p, (cj, kind, q, j) in enumerate(index):
                if cj != ci:
                    assert abs(dH[t, p, k]) < 1e-9          # no cross-column dependence inside a stage
                    continue
                kern_h.append({"W": Wt[q, j], "u": ut[q], "b": bt[q]}[kind])
                kern_v.append({"W": We[q, j], "u": ue[q], "b": be[q]}[kind])
                fd_h.append(dH[t, p, k])
                fd_v.append(dV[t, p])
            fd_v_col = np.array(fd_v)
            assert _rel(np.array(kern_h), np.array(fd_h)) < 1e-7, (t, k)
            n_checked += 1
            # ∂V/∂θ (the later columns that read column k have output weight 0, as in the learner)
            assert _rel(np.array(kern_v), fd_v_col) < 1e-7, (t, k)
    assert n_checked >= 50 * len(cols)


@pytest.mark.parametrize("T,U,sps,same,floor,n", CASES)
def test_rtrl_traces_equal_full_bptt(T, U, sps, same, floor, n):
    L, ref, xs, stage, t0 = _setup(T, U, sps, same, n=n, norm_floor=floor)
    THs, Es, _ = _kernel_traces(L, xs, t0)
    _, _, rec = ref.run(xs, record=True)
    cols = list(range(stage * ref.U, min((stage + 1) * ref.U, ref.T)))
    for t in (t0, t0 + 1, t0 + 17, len(xs) - 1):
        for ci, k in enumerate(cols):      # ∂h_k(t)/∂θ by BPTT of the whole network
            seed = np.zeros(ref.T)
            seed[k] = 1.0
            gW, gu, gb = ref.bptt(rec, t, t0, stage, seed)
            Wt, ut, bt = _trace_to_params(THs[t], ref, stage, ci, L.state.lane_major)
            assert _rel(np.concatenate([Wt.ravel(), ut, bt]), np.concatenate([gW[k].ravel(), gu[k], gb[k]])) < 1e-9
        # ∂V(t)/∂θ: seed w_k/√ν_k on every column (output statistics constant)
        gW, gu, gb = ref.bptt(rec, t, t0, stage, ref.w / np.sqrt(np.maximum(rec[t]["nu"], ref.floor)))
        for ci, k in enumerate(cols):
            We, ue, be = _trace_to_params(Es[t], ref, stage, ci, L.state.lane_major)
            assert _rel(np.concatenate([We.ravel(), ue, be]), np.concatenate([gW[k].ravel(), gu[k], gb[k]])) < 1e-9


# ================================================================ T-BPTT
def _tbptt_kernel_grad(n, H, k, xs, seed=1):
    """Kernel gradient ĝ_t of V_t (λ = 0, α = 0, random output weights) after each step, and the params."""
    L = make_learner("tbptt", n, seed=seed, hidden=H, truncation=k, step_size=0.0, lam=0.0, dtype="float64")
    st = L.state
    rng = np.random.default_rng(seed + 10)
    st.w_out[0, 0] = rng.uniform(-1, 1, H)
    Wg = st.Wt[0].T.reshape(4, H, n).copy()
    Ug = st.Ut[0].T.reshape(4, H, H).copy()
    bg = st.bias[0, 0].reshape(4, H).copy()
    grads = []
    for t in range(len(xs)):
        L.step(xs[t], 0.0, 0.9)
        grads.append((st.eW[0].T.reshape(4, H, n).copy(), st.eU[0].T.reshape(4, H, H).copy(),
                      st.eb[0, 0].reshape(4, H).copy(), st.ew[0, 0].copy()))
    return grads, (Wg, Ug, bg, st.w_out[0, 0].copy())


@pytest.mark.parametrize("H,k", [(2, 5), (3, 1), (2, 30)])
def test_tbptt_gradient_equals_truncated_objective(H, k):
    n, N = 4, 40
    rng = np.random.default_rng(7)
    xs = np.concatenate([rng.normal(0, 1, (N, 2)), rng.random((N, n - 2)) < 0.4], axis=1).astype(float)
    grads, (Wg, Ug, bg, w) = _tbptt_kernel_grad(n, H, k, xs)
    _, _, cache = lstm_forward(Wg, Ug, bg, xs, np.zeros(H), np.zeros(H))
    for t in (0, 3, k - 1, k, k + 1, N - 1):
        if not 0 <= t < N:
            continue
        start = max(0, t - k + 1)
        h0, c0 = cache[start][1], cache[start][2]          # state at t-k: a constant of the objective
        window = xs[start:t + 1]

        def value(Wp, Up, bp, window=window, h0=h0, c0=c0):
            hT, _, _ = lstm_forward(Wp, Up, bp, window, h0, c0)
            return hT @ w

        kW, kU, kb, kw = grads[t]
        # numpy BPTT of the truncated objective
        hT, _, wcache = lstm_forward(Wg, Ug, bg, window, h0, c0)
        dW, dU, db = lstm_bptt(Ug, wcache, w)
        kern = np.concatenate([kW.ravel(), kU.ravel(), kb.ravel()])
        assert _rel(kern, np.concatenate([dW.ravel(), dU.ravel(), db.ravel()])) < 1e-9
        assert _rel(kw, hT) < 1e-12                         # ∂V/∂w = h_t
        # finite differences of the truncated objective
        fd = []
        for arr_i, arr in enumerate((Wg, Ug, bg)):
            for idx in np.ndindex(arr.shape):
                ps = [Wg.copy(), Ug.copy(), bg.copy()]
                ps[arr_i][idx] += EPS_FD
                vp = value(*ps)
                ps[arr_i][idx] -= 2 * EPS_FD
                fd.append((vp - value(*ps)) / (2 * EPS_FD))
        assert _rel(kern, np.array(fd)) < 1e-7


def test_tbptt_with_long_truncation_is_full_bptt():
    n, H, N = 3, 2, 25
    rng = np.random.default_rng(11)
    xs = rng.normal(0, 1, (N, n))
    grads, (Wg, Ug, bg, w) = _tbptt_kernel_grad(n, H, N + 5, xs)   # k >= t + 1 for every t
    grads_short, _ = _tbptt_kernel_grad(n, H, 3, xs)
    for t in (5, 12, N - 1):
        _, _, cache = lstm_forward(Wg, Ug, bg, xs[:t + 1], np.zeros(H), np.zeros(H))
        dW, dU, db = lstm_bptt(Ug, cache, w)
        full = np.concatenate([dW.ravel(), dU.ravel(), db.ravel()])
        kern = np.concatenate([g.ravel() for g in grads[t][:3]])
        assert _rel(kern, full) < 1e-9
        short = np.concatenate([g.ravel() for g in grads_short[t][:3]])
        assert _rel(short, full) > 1e-6                     # truncation really truncates
