"""The whole online learning rule of each reference learner against an independent numpy learner.

Forward, statistics, RTRL / truncated BPTT, TD(λ) with accumulating traces cut by γ_t = 0,
RMSProp or SGD, stage switches and the output layer's α/n_active: the kernel (float64) and the
numpy learners of ``baselines_reference`` must predict the same values, step after step, over a
few hundred learning steps that cross stage switches and episode boundaries.
"""
from __future__ import annotations

import numpy as np
import pytest
from baselines_reference import RefCCNLearner, RefTBPTTLearner

from oscbench.baselines import make_learner
from oscbench.errors import ConfigError


def _stream(n, N, seed):
    rng = np.random.default_rng(seed)
    xs = np.concatenate([rng.normal(0, 1, (N, 2)), rng.random((N, n - 2)) < 0.3], axis=1).astype(np.float64)
    cum = (rng.random(N) < 0.1).astype(np.float64)
    cont = np.full(N, 0.9)
    cont[0] = 0.0
    cont[rng.choice(np.arange(1, N), 8, replace=False)] = 0.0     # episode boundaries
    return xs, cum, cont


@pytest.mark.parametrize("T,U,sps,same,opt", [
    (6, 2, 40, False, "rmsprop"),
    (6, 2, 40, True, "sgd"),
    (4, 1, 30, False, "rmsprop"),      # constructive, runs past its last stage (no column learns)
    (3, 3, 10 ** 9, False, "rmsprop"),  # columnar
])
def test_column_network_learner_matches_reference(T, U, sps, same, opt):
    n, N = 5, 260
    xs, cum, cont = _stream(n, N, seed=T * 10 + U)
    hp = dict(n_columns=T, columns_per_stage=U, steps_per_stage=sps, step_size=0.02 if opt == "rmsprop" else 0.05,
              lam=0.8, beta=0.95, var_floor=0.01, optimizer=opt, same_step_stages=same, dtype="float64")
    L = make_learner("hybrid", n, seed=4, **hp)
    p = [L.state.column_params(0, k) for k in range(T)]
    ref = RefCCNLearner(n, T, U, sps, hp["step_size"], 0.8, 0.95, 0.01, opt == "rmsprop", same,
                        [q["W"] for q in p], [q["u"] for q in p], [q["b"] for q in p])
    frozen = make_learner("hybrid", n, seed=4, **{**hp, "step_size": 0.0})
    v_kernel = L.run(xs, cum, cont)
    v_ref = np.array([ref.step(xs[t], cum[t], cont[t]) for t in range(N)])
    v_frozen = frozen.run(xs, cum, cont)
    assert np.max(np.abs(v_kernel - v_ref)) < 1e-9 * max(1.0, np.max(np.abs(v_ref)))
    assert np.max(np.abs(v_kernel - v_frozen)) > 1e-2        # learning did change the predictions
    # parameters too: every column, output weights
    for k in range(T):
        q = L.state.column_params(0, k)
        assert np.allclose(q["W"], ref.cols[k]["W"], rtol=0, atol=1e-9)
        assert np.allclose(q["u"], ref.cols[k]["u"], rtol=0, atol=1e-9)
    assert np.allclose(L.state.w_out[0], ref.w, rtol=0, atol=1e-9)


@pytest.mark.parametrize("H,k,opt,n", [(2, 4, "rmsprop", 4), (3, 1, "sgd", 4), (2, 12, "rmsprop", 4),
                                       (3, 5, "rmsprop", 70)])     # n = 70: the lane-major layout
def test_tbptt_learner_matches_reference(H, k, opt, n):
    N = 200
    xs, cum, cont = _stream(n, N, seed=H + k)
    hp = dict(hidden=H, truncation=k, step_size=0.01, lam=0.9, optimizer=opt, dtype="float64")
    L = make_learner("tbptt", n, seed=2, **hp)
    st = L.state
    ref = RefTBPTTLearner(st.Wt[0].T.reshape(4, H, n), st.Ut[0].T.reshape(4, H, H), st.bias[0, 0].reshape(4, H),
                          k, 0.01, 0.9, opt == "rmsprop")
    v_kernel = np.concatenate([L.run(xs[:77], cum[:77], cont[:77]), L.run(xs[77:], cum[77:], cont[77:])])
    v_ref = np.array([ref.step(xs[t], cum[t], cont[t]) for t in range(N)])
    assert np.max(np.abs(v_kernel - v_ref)) < 1e-9 * max(1.0, np.max(np.abs(v_ref)))
    assert np.max(np.abs(v_kernel)) > 1e-2
    assert np.allclose(st.Ut[0].T.reshape(4, H, H), ref.p["U"], rtol=0, atol=1e-9)


def test_eligibility_traces_decay_with_the_discount_into_the_state():
    """e_t = γ_t·λ·e_{t−1} + ∇V_t: with α = 0 the kernel's trace equals that recursion applied to the
    gradients of a λ = 0 run (which are ∇V_t), and is exactly ∇V_t at an episode start (γ_t = 0)."""
    n, N = 5, 120
    xs, cum, cont = _stream(n, N, seed=9)
    hp = dict(n_columns=4, columns_per_stage=2, steps_per_stage=50, step_size=0.0, beta=0.95, dtype="float64")
    g_run = make_learner("hybrid", n, seed=1, lam=0.0, **hp)
    e_run = make_learner("hybrid", n, seed=1, lam=0.7, **hp)
    e = None
    prev_ew = None
    for t in range(N):
        g_run.step(xs[t], cum[t], cont[t])
        e_run.step(xs[t], cum[t], cont[t])
        grad = g_run.state.E[0].copy()
        if t % 50 == 0:
            e = np.zeros_like(grad)          # a new stage: its traces start at 0
        e = cont[t] * 0.7 * e + grad
        assert np.allclose(e_run.state.E[0], e, rtol=1e-12, atol=1e-14)
        if t:
            assert np.allclose(e_run.state.e_w[0], g_run.state.e_w[0] + cont[t] * 0.7 * prev_ew, rtol=1e-12)
        prev_ew = e_run.state.e_w[0].copy()
        if cont[t] == 0.0:
            assert np.array_equal(e_run.state.E[0], grad)


def _ref_for(L, n, T, U, sps, hp, **kw):
    p = [L.state.column_params(0, k) for k in range(T)]
    return RefCCNLearner(n, T, U, sps, hp["step_size"], hp["lam"], hp["beta"], hp["var_floor"], True, False,
                         [q["W"] for q in p], [q["u"] for q in p], [q["b"] for q in p], **kw)


def _large_weights(L):
    rng = np.random.default_rng(0)
    for k in range(L.config.n_columns):
        p = L.state.column_params(0, k)
        p["W"][...] = rng.uniform(-1, 1, p["W"].shape)
        p["u"][...] = rng.uniform(-1, 1, 4)
    return L


@pytest.mark.parametrize("T,U,sps", [(6, 2, 40), (3, 3, 10 ** 9)])
def test_sigma_floor_matches_reference_and_differs_from_variance_floor(T, U, sps):
    """norm_floor="sigma" (P's Appendix A, SPEC §11.5): statistics unfloored, divide by max(√floor, σ).
    Input 0 is constant for 130 steps (its variance decays below the floor 0.1), then varies: C's floored
    variance climbs from 0.1, P's from ≈ 0; with large random column weights the columns' outputs also
    cross the floor, so the two modes must differ."""
    n, N = 5, 260
    xs, cum, cont = _stream(n, N, seed=T + U)
    xs[:130, 0] = 0.5
    hp = dict(n_columns=T, columns_per_stage=U, steps_per_stage=sps, step_size=0.02, lam=0.8, beta=0.95,
              var_floor=0.1, dtype="float64")
    L = _large_weights(make_learner("hybrid", n, seed=4, norm_floor="sigma", **hp))
    ref = _ref_for(L, n, T, U, sps, hp, sigma=True)
    v_kernel = [L.run(xs[:130], cum[:130], cont[:130])]
    if sps > N:                                              # one stage: its statistics of input 0 ...
        assert L.state.in_var[0, 0, 0] < 0.01                # ... are not floored
    v_kernel = np.concatenate(v_kernel + [L.run(xs[130:], cum[130:], cont[130:])])
    v_ref = np.array([ref.step(xs[t], cum[t], cont[t]) for t in range(N)])
    assert np.max(np.abs(v_kernel - v_ref)) < 1e-9 * max(1.0, np.max(np.abs(v_ref)))
    assert np.min(L.state.out_nu[0]) < 0.1                  # the stored statistics are not floored
    v_var = _large_weights(make_learner("hybrid", n, seed=4, **hp)).run(xs, cum, cont)
    assert np.max(np.abs(v_var - v_kernel)) > 1e-3
    with pytest.raises(ConfigError, match="norm_floor"):
        make_learner("hybrid", n, seed=4, norm_floor="std")


def test_stage_switch_steps():
    """Stages switch at t = S, 2S, ... (SPEC §11.15; not C's short first stage, SPEC §4). Stage 0's
    parameters change for the last time at the switch step (its last update), and the whole run matches
    the reference learner."""
    n, N, T, U, sps = 5, 130, 6, 2, 40
    xs, cum, cont = _stream(n, N, seed=21)
    hp = dict(n_columns=T, columns_per_stage=U, steps_per_stage=sps, step_size=0.02, lam=0.8, beta=0.95,
              var_floor=0.01, dtype="float64")
    L = make_learner("hybrid", n, seed=4, **hp)
    ref = _ref_for(L, n, T, U, sps, hp)
    stages, last_change, w0 = [], None, L.state.column_params(0, 0)["W"].copy()
    v_ref = []
    for t in range(N):
        stages.append(L.state.stage_of())
        L.step(xs[t], cum[t], cont[t])
        v_ref.append(ref.step(xs[t], cum[t], cont[t]))
        w = L.state.column_params(0, 0)["W"]
        if not np.array_equal(w, w0):
            last_change, w0 = t, w.copy()
    first = sps
    assert [t for t in range(1, N) if stages[t] != stages[t - 1]] == [first, first + sps, first + 2 * sps]
    assert last_change == first
    assert np.allclose(L.state.column_params(0, 0)["W"], ref.cols[0]["W"], rtol=0, atol=1e-9)
    assert np.allclose(L.state.w_out[0], ref.w, rtol=0, atol=1e-9)
