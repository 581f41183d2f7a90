"""Trace-patterning stream: SPEC §1 semantics, statistics, targets and determinism."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from oscbench.datasets.stream import concat_chunks
from oscbench.datasets.trace_patterning import (PATTERNS, PRESETS, TracePatterningConfig,
                                                TracePatterningStream, valid_pattern_mask)
from oscbench.errors import ConfigError


def _all(stream: TracePatterningStream, n: int) -> dict[str, np.ndarray]:
    blocks = list(stream.raw_blocks(n))
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0] if k != "start"}


def spec_state_machine(trials: dict[str, np.ndarray], n_steps: int, gamma: float):
    """SPEC §1.2/§1.4 transliterated: start_trial()/step() with counters u, r, driven by given draws.

    Returns CS+US bits uint8 [n, 7] and G* float64 [n]. Independent of the generator's code.
    """
    bits = np.zeros((n_steps, 7), np.uint8)
    gstar = np.zeros(n_steps)
    trial = -1
    u = r = 0
    valid = False

    def start_trial(t):
        nonlocal trial, u, r, valid
        trial += 1
        u = int(trials["isi"][trial])
        r = u + int(trials["iti"][trial])
        valid = bool(trials["valid"][trial])
        bits[t, :6] = PATTERNS[trials["pattern"][trial]]

    for t in range(n_steps):
        if t == 0 or r == 0:
            start_trial(t)
        else:
            bits[t, 6] = 1 if (u == 1 and valid) else 0
            u -= 1
            r -= 1
        gstar[t] = gamma ** (u - 1) if (u > 0 and valid) else 0.0
    return bits, gstar


def test_hand_checked_timing_fixed_intervals():
    cfg = TracePatterningConfig(isi=(5, 5), iti=(3, 3), n_distractors=0, n_valid_patterns=20)
    d = _all(TracePatterningStream(cfg, seed=3), 40)
    obs = d["observations"]
    # every pattern valid: CS at 0, 9, 18, ...; US exactly ISI=5 steps later; next CS ITI+1=4 after the US
    cs_steps = np.nonzero(obs[:, :6].sum(1))[0]
    us_steps = np.nonzero(obs[:, 6])[0]
    assert list(cs_steps) == [0, 9, 18, 27, 36]
    assert list(us_steps) == [5, 14, 23, 32]
    assert (obs[cs_steps, :6].sum(1) == 3).all()
    # G* = γ^(ISI-1-offset) on the CS step and before the US, 0 on and after it
    g = 0.9
    np.testing.assert_allclose(d["returns_truncated"][0:6], [g**4, g**3, g**2, g, 1.0, 0.0])
    assert (d["returns_truncated"][6:9] == 0).all()
    assert d["continuations"][0] == 0 and (d["continuations"][1:] == np.float32(0.9)).all()
    assert (d["cumulants"] == obs[:, 6]).all()


def test_invalid_patterns_never_trigger_the_us():
    cfg = TracePatterningConfig(isi=(5, 5), iti=(3, 3), n_distractors=0, n_valid_patterns=0)
    d = _all(TracePatterningStream(cfg, seed=1), 500)
    assert d["observations"][:, 6].sum() == 0
    assert (d["returns"] == 0).all() and (d["returns_truncated"] == 0).all()


@pytest.mark.parametrize("seed", [0, 7])
def test_stream_equals_spec_state_machine(seed):
    stream = TracePatterningStream(TracePatterningConfig(), seed=seed)
    n = 150_000  # crosses internal block boundaries
    d = _all(stream, n)
    trials = stream.trials(2000)
    bits, gstar = spec_state_machine(trials, n, 0.9)
    np.testing.assert_array_equal(d["observations"][:, :7], bits)
    np.testing.assert_allclose(d["returns_truncated"], gstar, rtol=1e-12, atol=0)


def test_trial_statistics_over_a_long_stream():
    stream = TracePatterningStream(TracePatterningConfig(), seed=11)
    tr = stream.trials(40_000)
    # ISI ~ U{14..26}, ITI ~ U{80..120}: chi-square goodness of fit (fixed seed: deterministic)
    for key, lo, hi in (("isi", 14, 26), ("iti", 80, 120)):
        counts = np.bincount(tr[key] - lo, minlength=hi - lo + 1)
        assert counts.size == hi - lo + 1 and tr[key].min() == lo and tr[key].max() == hi
        assert stats.chisquare(counts).pvalue > 1e-3
    # trial period ISI + ITI + 1
    np.testing.assert_array_equal(np.diff(tr["start"]), (tr["isi"] + tr["iti"] + 1)[:-1])
    # patterns uniform over 20; exactly 10 valid; about half the trials valid
    assert stats.chisquare(np.bincount(tr["pattern"], minlength=20)).pvalue > 1e-3
    assert valid_pattern_mask(11).sum() == 10
    frac, n = tr["valid"].mean(), len(tr["valid"])
    assert abs(frac - 0.5) < 5 * np.sqrt(0.25 / n)


def test_distractor_rates_and_observation_layout():
    n = 2_000_000
    d = _all(TracePatterningStream(TracePatterningConfig(), seed=5), n)
    obs = d["observations"]
    assert obs.shape == (n, 12) and obs.dtype == np.uint8
    p = 1.0 / (10.0 * (np.arange(5) + 1))
    rate = obs[:, 7:].mean(0)
    assert (np.abs(rate - p) < 5 * np.sqrt(p * (1 - p) / n)).all(), rate
    # distractors independent of the CS: the rate on CS steps matches too (within 5 sigma)
    cs = obs[:, :6].sum(1) == 3
    rate_cs = obs[cs, 7:].mean(0)
    assert (np.abs(rate_cs - p) < 5 * np.sqrt(p * (1 - p) / cs.sum())).all()
    # CS bits are zero off CS steps, and exactly three on CS steps
    assert set(np.unique(obs[:, :6].sum(1))) == {0, 3}


def test_both_targets_against_brute_force():
    for cfg, seed, n in ((TracePatterningConfig(), 2, 4000), (TracePatterningConfig(isi=(3, 6), iti=(2, 5)), 9, 3000)):
        d = _all(TracePatterningStream(cfg, seed), n)
        # G* is defined by the trial state (SPEC §1.4), so it sees a US just past the horizon:
        # brute-force it on a longer run of the same stream.
        m = n + 200
        longer = _all(TracePatterningStream(cfg, seed), m)
        g = cfg.gamma
        c = longer["cumulants"].astype(np.float64)
        cs = np.nonzero(longer["observations"][:, :6].sum(1) == 3)[0]
        full = np.zeros(n)
        trunc = np.zeros(n)
        for t in range(n):
            j = np.arange(t + 1, n)                       # full return: over the horizon n only
            full[t] = np.sum(g ** (j - t - 1) * c[t + 1:n])
            cut = cs[cs > t][0]                            # truncated: up to the next CS onset
            j = np.arange(t + 1, cut)
            trunc[t] = np.sum(g ** (j - t - 1) * c[t + 1:cut])
        np.testing.assert_allclose(d["returns"], full, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d["returns_truncated"], trunc, rtol=1e-12, atol=1e-14)
        assert d["returns"][-1] == 0.0  # the future beyond the horizon counts as 0


def test_chunked_equals_one_shot_for_any_chunk_size():
    stream = TracePatterningStream(TracePatterningConfig(), seed=4)
    n = 140_000
    one = concat_chunks(list(stream.chunks(n, n)))
    for size in (1 << 16, 7777, 100_001):
        parts = list(stream.chunks(n, size))
        assert all(len(p) <= size for p in parts) and [p.start for p in parts][:2] == [0, min(size, n)]
        got = concat_chunks(parts)
        for name in ("observations", "cumulants", "continuations", "returns", "returns_truncated"):
            np.testing.assert_array_equal(getattr(got, name), getattr(one, name))
    assert one.observations.dtype == np.float32 and one.observations.shape == (n, 12)
    # step by step over a short prefix
    steps = concat_chunks(list(stream.chunks(300, 1)))
    np.testing.assert_array_equal(steps.observations, one.observations[:300])


def test_prefix_does_not_depend_on_run_length():
    stream = TracePatterningStream(TracePatterningConfig(), seed=8)
    a = _all(stream, 70_000)
    b = _all(stream, 200_000)
    np.testing.assert_array_equal(a["observations"], b["observations"][:70_000])
    np.testing.assert_array_equal(a["returns_truncated"], b["returns_truncated"][:70_000])
    # the full return only differs near the shorter run's horizon
    np.testing.assert_allclose(a["returns"][:65_000], b["returns"][:65_000], rtol=1e-12, atol=1e-300)


def test_same_seed_same_stream_different_seed_different_stream():
    a = _all(TracePatterningStream(seed=1), 20_000)
    b = _all(TracePatterningStream(seed=1), 20_000)
    c = _all(TracePatterningStream(seed=2), 20_000)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["observations"], c["observations"])
    assert not np.array_equal(valid_pattern_mask(1), valid_pattern_mask(2)) or \
        not np.array_equal(a["observations"][:, :6], c["observations"][:, :6])


def test_configuration_variants():
    cfg = TracePatterningConfig(n_distractors=0)
    d = _all(TracePatterningStream(cfg, 0), 5000)
    assert d["observations"].shape[1] == 7
    assert PRESETS["code-head"].isi == (24, 36)
    tr = TracePatterningStream(PRESETS["code-head"], 0).trials(3000)
    assert tr["isi"].min() == 24 and tr["isi"].max() == 36
    g = _all(TracePatterningStream(TracePatterningConfig(gamma=0.5, isi=(4, 4), iti=(5, 5), n_valid_patterns=20), 0), 20)
    np.testing.assert_allclose(g["returns_truncated"][:5], [0.125, 0.25, 0.5, 1.0, 0.0])


@pytest.mark.parametrize("kwargs", [dict(isi=(26, 14)), dict(isi=(0, 3)), dict(iti=(5, 2)), dict(gamma=1.0),
                                    dict(n_valid_patterns=21), dict(n_distractors=-1)])
def test_invalid_configurations_are_refused(kwargs):
    with pytest.raises(ConfigError):
        TracePatterningConfig(**kwargs)


def test_negative_seed_and_steps_refused():
    with pytest.raises(ConfigError):
        TracePatterningStream(seed=-1)
    with pytest.raises(ConfigError):
        list(TracePatterningStream(seed=0).raw_blocks(-5))


def test_discount_powers_are_sequential_ieee_products():
    """The discount table is built by repeated float64 multiplication (the same bits on every CPU), and
    stays within a few ulps of the correctly rounded power."""
    from oscbench.datasets.trace_patterning import discount_powers

    p = discount_powers(0.9, 2001)
    assert p[0] == 1.0 and all(p[k] == p[k - 1] * 0.9 for k in range(1, len(p)))
    exact = np.array([float(Fraction(9, 10) ** k) for k in range(0, 60)])
    assert np.allclose(p[:60], exact, rtol=60 * np.finfo(float).eps, atol=0)


def test_stream_digest_is_the_same_on_every_machine():
    """REGRESSION (value copied from this code's output on an AVX2 host, 2026-12-02): the digest of seed 0's
    50M-step trace-patterning stream. Every machine must compute it: leaderboard records carry it and
    `oscbench leaderboard validate` recomputes it. The previous generator used NumPy's SIMD ``power``,
    whose last bits differ between AVX-512 and AVX2 hosts, so records made on one failed on the other."""
    from oscbench.benchmark import tasks
    from oscbench.benchmark.streams import open_stream

    src = open_stream(tasks.get_task("trace-patterning-v1"), game=None, seed=0, n_steps=50_000_000)
    assert src.dataset["sha256"] == "9a49e1c0fe749e3337b33588348aba5452a84fc2f4bc2fd9a4e610d8c8328b72"
