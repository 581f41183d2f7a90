"""Scoring arithmetic (RunScorer) against direct numpy, and the statistics over seeds and games."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from oscbench.benchmark import metrics
from oscbench.benchmark.metrics import RunScorer


def _score(v, g, gf, window, bin_steps, cuts, **kw):
    s = RunScorer(len(v), window, bin_steps, **kw)
    edges = [0, *sorted(set(cuts)), len(v)]
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            s.update(a, v[a:b], g[a:b], gf[a:b])
    return s.finalize()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 400), window_frac=st.floats(0.01, 1.0), bin_steps=st.integers(1, 50),
       cuts=st.lists(st.integers(0, 400), max_size=8), seed=st.integers(0, 10_000))
def test_scorer_matches_numpy_for_any_chunking(n, window_frac, bin_steps, cuts, seed):
    rng = np.random.default_rng(seed)
    v, g, gf = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    w = max(1, int(n * window_frac))
    m, curve = _score(v, g, gf, w, bin_steps, [c for c in cuts if c < n], running_window=10, running_every=5,
                      running_offset=0)
    e, ef = (v - g) ** 2, (v - gf) ** 2
    assert m["final_error"] == pytest.approx(e[-w:].mean(), rel=1e-12)
    assert m["lifetime_error"] == pytest.approx(e.mean(), rel=1e-12)
    assert m["target_variance"] == pytest.approx(g[-w:].var(), rel=1e-12, abs=1e-15)
    assert m["final_error_full_return"] == pytest.approx(ef[-w:].mean(), rel=1e-12)
    # bins anchored at the run's end: the last bin ends at n, only the first may be shorter
    ends = list(range(n, 0, -bin_steps))[::-1]
    expect_bins = [e[max(0, end - bin_steps):end].mean() for end in ends]
    np.testing.assert_allclose(curve["mse"], expect_bins, rtol=1e-12)
    if w % bin_steps == 0:   # so a window of whole bins is exactly the last bins, whatever n is
        assert m["final_error"] == pytest.approx(np.mean(curve["mse"][-(w // bin_steps):]), rel=1e-12)
    assert m["running_window"]["steps"] == list(range(10, n + 1, 5))
    np.testing.assert_allclose(m["running_window"]["mse"], [e[i - 10:i].mean() for i in range(10, n + 1, 5)],
                               rtol=1e-9, atol=1e-12)


def test_constant_target_gives_null_nmse_and_reference_gives_relative_error():
    s = RunScorer(10, 5, 2)
    s.update(0, np.ones(10), np.zeros(10), np.zeros(10))
    m, _ = s.finalize(reference_final_error=0.5)
    assert m["nmse"] is None and m["target_variance"] == 0.0
    assert m["final_error"] == 1.0 and m["relative_error"] == 2.0 and m["reference_final_error"] == 0.5


def test_scorer_refuses_gaps_and_overruns():
    s = RunScorer(10, 5, 2)
    with pytest.raises(ValueError):
        s.update(3, np.zeros(2), np.zeros(2), np.zeros(2))
    s.update(0, np.zeros(8), np.zeros(8), np.zeros(8))
    with pytest.raises(ValueError):
        s.update(8, np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError):
        s.finalize()


def test_reference_code_running_log_positions():
    s = RunScorer(260_000, 200_000, 2000, 100_000, 50_000, 20_000)
    s.update(0, np.zeros(260_000), np.ones(260_000), np.ones(260_000))
    steps, mse = s.running_log()
    assert steps == [120_000, 170_000, 220_000] and mse == [1.0, 1.0, 1.0]


def test_bootstrap_ci_is_reproducible_and_brackets_the_mean():
    x = np.random.default_rng(3).normal(1.0, 0.2, size=12)
    lo, hi = metrics.bootstrap_ci(x)
    assert lo < x.mean() < hi
    assert (lo, hi) == metrics.bootstrap_ci(x)
    res = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=metrics.N_RESAMPLES,
                          rng=np.random.default_rng(metrics.BOOTSTRAP_SEED))
    assert (lo, hi) == (res.confidence_interval.low, res.confidence_interval.high)
    assert all(np.isnan(metrics.bootstrap_ci([1.0])))
    s = metrics.summarize([1.0, None, 3.0])
    assert s["n"] == 2 and s["mean"] == 2.0


def test_iqm_is_the_trimmed_mean():
    x = [10.0, 1, 2, 3, 4, 5, 6, 7, 8, -100]
    # middle 50% of 10 values: drop the 2.5 lowest and highest -> scipy drops 2 each side
    assert metrics.iqm(x) == pytest.approx(np.mean(sorted(x)[2:8]))


def test_stratified_bootstrap_keeps_each_game_s_runs():
    # game a: all 0, game b: all 10. Resampling within games keeps 4 zeros and 4 tens in every resample,
    # so the IQM never moves; an unstratified bootstrap of the 8 values would.
    r = metrics.iqm_stratified({"a": [0.0] * 4, "b": [10.0] * 4})
    assert r["iqm"] == 5.0 and r["ci_low"] == 5.0 and r["ci_high"] == 5.0
    pooled = metrics.bootstrap_ci([0.0] * 4 + [10.0] * 4)
    assert pooled[0] < 5.0 < pooled[1]
    # with spread within games the interval is non-trivial and contains the point estimate
    rng = np.random.default_rng(0)
    games = {g: rng.normal(i, 1.0, size=5).tolist() for i, g in enumerate("abcdef")}
    r = metrics.iqm_stratified(games)
    assert r["ci_low"] < r["iqm"] < r["ci_high"] and r["n_runs"] == 30 and r["n_games"] == 6
    assert r == metrics.iqm_stratified(games)


def test_aggregate_groups_by_learner_and_hyperparameters():
    def rec(name, seed, fe, hp):
        return {"task": {"id": "t-v1", "preset": "smoke", "game": None}, "seed": seed, "steps": 10, "status": "ok",
                "learner": {"name": name, "hyperparameters": hp, "flops_per_step": 5},
                "metrics": {"final_error": fe, "nmse": fe * 2, "lifetime_error": fe, "relative_error": None,
                            "nmse_full_return": None},
                "timing": {"steps_per_cpu_second": 100.0}}
    recs = [rec("a", 0, 1.0, {"x": 1}), rec("a", 1, 3.0, {"x": 1}), rec("a", 0, 5.0, {"x": 2}), rec("b", 0, 7.0, {})]
    out = metrics.aggregate(recs)
    assert len(out) == 3
    first = out[0]
    assert first["learner"] == "a" and first["seeds"] == [0, 1] and first["final_error"]["mean"] == 2.0
    assert first["nmse"]["mean"] == 4.0 and first["relative_error"]["n"] == 0
