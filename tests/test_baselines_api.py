"""The public API of the reference learners: factories, hyper-parameters, run == step, batching,
determinism, copies, dtypes, FLOPs and the reference configurations."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.special import expit

from oscbench.baselines import BASELINES, BatchedLearner, make_batched, make_learner, reference_config
from oscbench.baselines.kernels_column import exp_scratch, scaled_sigmoid
from oscbench.benchmark import flops, tasks
from oscbench.benchmark.protocol import FastLearner, Learner
from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream
from oscbench.errors import ConfigError

NAMES = ["hybrid", "columnar", "constructive", "tbptt"]
SMALL = {  # small, fast structures that still switch stages inside the test streams
    "hybrid": dict(n_columns=6, columns_per_stage=2, steps_per_stage=97),
    "columnar": dict(n_columns=3),
    "constructive": dict(n_columns=3, steps_per_stage=61),
    "tbptt": dict(hidden=3, truncation=7),
}


def _chunk(n_steps=400, seed=0):
    ch = next(TracePatterningStream(TracePatterningConfig(isi=(4, 6), iti=(10, 20)), seed=seed).chunks(n_steps, n_steps))
    cont = ch.continuations.copy()
    cont[[50, 51, 150]] = 0.0                 # episode boundaries, one right after another
    return ch.observations, ch.cumulants, cont


def test_registry_and_protocol():
    assert sorted(BASELINES) == sorted(NAMES)
    for name in NAMES:
        L = make_learner(name, 12, seed=0, **SMALL[name])
        assert isinstance(L, Learner) and isinstance(L, FastLearner)
        assert L.state.dtype == np.float32                      # float32 by default
        assert isinstance(L.flops_per_step(), int) and L.flops_per_step() > 0
        v = L.step(np.zeros(12, np.float32), 0.0, 0.0)
        assert isinstance(v, float) and np.isfinite(v)


OPTIONS = {   # the non-default options, all at once
    "tbptt": dict(optimizer="sgd", dtype="float64"),
    **{k: dict(norm_floor="sigma", same_step_stages=True) for k in ("hybrid", "columnar", "constructive")},
}


@pytest.mark.parametrize("options", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_run_equals_repeated_step_exactly(name, options):
    xs, cum, cont = _chunk()
    hp = {**SMALL[name], **(OPTIONS[name] if options else {})}
    a = make_learner(name, 12, seed=5, step_size=0.01, **hp)
    b = make_learner(name, 12, seed=5, step_size=0.01, **hp)
    c = make_learner(name, 12, seed=5, step_size=0.01, **hp)
    v_run = a.run(xs, cum, cont)
    v_step = np.array([b.step(xs[t], float(cum[t]), float(cont[t])) for t in range(len(xs))])
    v_chunks = np.concatenate([c.run(xs[i:j], cum[i:j], cont[i:j])
                               for i, j in [(0, 1), (1, 96), (96, 98), (98, 250), (250, 400)]])
    assert v_run.dtype == np.float64 and v_run.shape == (len(xs),)
    assert np.array_equal(v_run, v_step)
    assert np.array_equal(v_run, v_chunks)
    assert np.std(v_run[100:]) > 0                             # it is learning something


@pytest.mark.parametrize("name", NAMES)
def test_batched_runs_equal_single_runs(name):
    xs, cum, cont = _chunk(300)
    hp_list = [{"step_size": 0.01}, {"step_size": 0.003, "lam": 0.5}, {"step_size": 0.01, "optimizer": "sgd"}]
    if name != "tbptt":
        hp_list[1].update(beta=0.999, var_floor=0.1, norm_floor="sigma")
        hp_list[2].update(same_step_stages=True)
    else:
        hp_list[1].update(rms_beta2=0.99)
    if name in ("hybrid", "constructive"):
        hp_list[0]["steps_per_stage"] = 40       # may differ per run
    seeds = [1, 2, 1]
    bl = make_batched(name, 12, seeds=seeds, hp_list=hp_list, **SMALL[name])
    assert isinstance(bl, BatchedLearner) and bl.n_runs == 3
    P = np.concatenate([bl.run(xs[:123], cum[:123], cont[:123]), bl.run(xs[123:], cum[123:], cont[123:])], axis=1)
    assert P.shape == (3, 300)
    for b in range(3):
        single = make_learner(name, 12, seed=seeds[b], **{**SMALL[name], **hp_list[b]})
        assert np.array_equal(P[b], single.run(xs, cum, cont)), b
    assert not np.array_equal(P[0], P[2])


def test_batched_runs_must_share_structure():
    with pytest.raises(ConfigError, match="share"):
        make_batched("hybrid", 12, seeds=[0, 1], hp_list=[{"n_columns": 4}, {"n_columns": 6}],
                     columns_per_stage=2)
    with pytest.raises(ConfigError, match="one per run"):
        make_batched("tbptt", 12, seeds=[0, 1], hp_list=[{}])


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_seed_and_copyable(name):
    xs, cum, cont = _chunk(200)
    a = make_learner(name, 12, seed=3, **SMALL[name])
    fresh = make_learner(name, 12, seed=3, **SMALL[name])
    other = make_learner(name, 12, seed=4, **SMALL[name])
    a.run(xs[:80], cum[:80], cont[:80])
    snap = copy.deepcopy(a)
    tail = a.run(xs[80:], cum[80:], cont[80:])
    assert np.array_equal(snap.run(xs[80:], cum[80:], cont[80:]), tail)      # a copy continues identically
    assert np.array_equal(a.copy().step(xs[0], 0.0, 0.9), copy.deepcopy(a).step(xs[0], 0.0, 0.9))
    full = fresh.run(xs, cum, cont)
    assert np.array_equal(full[80:], tail)
    assert not np.array_equal(other.run(xs, cum, cont), full)


@pytest.mark.parametrize("name", NAMES)
def test_memory_layout_never_changes_what_is_learned(name, monkeypatch):
    """The kernels' layout (lane padding, rows- or lane-major) is a speed choice: the same seed gives the
    same initial weights and, in float64, the same predictions up to rounding under every layout.
    (Once the column learners' initial weights were drawn in the padded shape, so widening the padding
    changed the hybrid.)"""
    from oscbench.baselines import ccn, tbptt

    xs, cum, cont = _chunk(300)

    def learn():
        L = make_learner(name, 12, seed=5, step_size=0.003, dtype=np.float64, **SMALL[name])
        st = L.state
        w = st.Wt[0] if name == "tbptt" else st.column_params(0, st.configs[0].n_columns - 1)["W"]
        return w.copy(), L.run(xs, cum, cont)

    w0, v0 = learn()
    if name != "tbptt":
        monkeypatch.setattr(ccn, "padded_lanes", lambda u: -(-4 * u // 64) * 64)   # wider padding
        w1, v1 = learn()
        assert np.array_equal(w0, w1) and np.max(np.abs(v1 - v0)) < 1e-10
    monkeypatch.setattr(tbptt if name == "tbptt" else ccn, "LANE_MAJOR_FROM", 0)   # the other layout
    L = make_learner(name, 12, seed=5, **SMALL[name])
    assert L.state.lane_major
    w2, v2 = learn()
    assert np.array_equal(w0, w2)
    assert np.std(v0) > 1e-4                                                      # it learns something
    assert np.max(np.abs(v2 - v0)) < 1e-10


@pytest.mark.parametrize("name", NAMES)
def test_float64_on_request_tracks_float32(name):
    xs, cum, cont = _chunk(300)
    v32 = make_learner(name, 12, seed=0, step_size=0.003, **SMALL[name]).run(xs, cum, cont)
    L64 = make_learner(name, 12, seed=0, step_size=0.003, dtype=np.float64, **SMALL[name])
    assert L64.state.dtype == np.float64
    v64 = L64.run(xs, cum, cont)
    assert np.max(np.abs(v32 - v64)) < 1e-3
    assert not np.array_equal(v32, v64)


def test_feature_strings_are_a_convenience():
    a = make_learner("hybrid", 12, seed=0, features="20:4:10000000")
    b = make_learner("hybrid", 12, seed=0, n_columns=20, columns_per_stage=4, steps_per_stage=10_000_000)
    assert a.hyperparameters == b.hyperparameters
    assert make_learner("columnar", 12, seed=0, features="7:7:50000000").hyperparameters["columns_per_stage"] == 7
    t = make_learner("tbptt", 12, seed=0, features="30:2").hyperparameters
    assert (t["truncation"], t["hidden"]) == (30, 2)
    assert make_learner("constructive", 12, seed=0).hyperparameters["columns_per_stage"] == 1


@pytest.mark.parametrize("name,hp,fragment", [
    ("hybrid", {"learning_rate": 0.1}, "unknown hyper-parameter"),
    ("tbptt", {"n_columns": 3}, "unknown hyper-parameter"),
    ("hybrid", {"step_size": -1}, "step_size"),
    ("hybrid", {"lam": 1.5}, "lam"),
    ("hybrid", {"beta": "fast"}, "beta"),
    ("hybrid", {"var_floor": 0}, "var_floor"),
    ("hybrid", {"optimizer": "adam"}, "optimizer"),
    ("hybrid", {"n_columns": 0}, "n_columns"),
    ("hybrid", {"n_columns": 4, "columns_per_stage": 5}, "columns_per_stage"),
    ("hybrid", {"steps_per_stage": 2.5}, "steps_per_stage"),
    ("hybrid", {"same_step_stages": "yes"}, "same_step_stages"),
    ("hybrid", {"dtype": "float16"}, "dtype"),
    ("columnar", {"n_columns": 5, "columns_per_stage": 2}, "columnar"),
    ("constructive", {"columns_per_stage": 2}, "constructive"),
    ("hybrid", {"features": "20:4"}, "features"),
    ("hybrid", {"features": "20:4:10", "n_columns": 8}, "contradicts"),
    ("tbptt", {"features": "a:b"}, "features"),
    ("tbptt", {"truncation": 0}, "truncation"),
    ("tbptt", {"rms_eps": 0}, "rms_eps"),
    ("hybrid", {"norm_floor": "epsilon"}, "norm_floor"),
    ("columnar", {"compat_stage_length": True}, "unknown hyper-parameter"),     # C's bugs: not options
    ("constructive", {"compat_episode_traces": True}, "unknown hyper-parameter"),
    ("tbptt", {"compat_ring": True}, "unknown hyper-parameter"),
    ("tbptt", {"norm_floor": "sigma"}, "unknown hyper-parameter"),
])
def test_invalid_hyperparameters_raise_one_line_config_errors(name, hp, fragment):
    with pytest.raises(ConfigError) as info:
        make_learner(name, 12, seed=0, **hp)
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg
    assert any(w in msg for w in ("give", "valid names", "omit it"))     # names the fix


def test_other_bad_input():
    with pytest.raises(ConfigError, match="unknown reference learner"):
        make_learner("lstm", 12, seed=0)
    with pytest.raises(ConfigError, match="seed"):
        make_learner("hybrid", 12, seed=-1)
    L = make_learner("hybrid", 12, seed=0, **SMALL["hybrid"])
    with pytest.raises(ConfigError, match="n_features=5"):
        L.run(np.zeros((3, 5), np.float32), np.zeros(3), np.zeros(3))
    with pytest.raises(ConfigError, match="one of each per step"):
        L.run(np.zeros((3, 12), np.float32), np.zeros(2), np.zeros(3))
    assert L.run(np.zeros((0, 12), np.float32), np.zeros(0), np.zeros(0)).shape == (0,)


def test_flops_per_step_are_the_spec_formulas():
    assert make_learner("hybrid", 12, seed=0).flops_per_step() == flops.hybrid(12, 20, 4) == 4048
    assert make_learner("columnar", 12, seed=0, n_columns=7).flops_per_step() == flops.columnar(12, 7) == 2744
    assert make_learner("constructive", 12, seed=0).flops_per_step() == flops.constructive(12, 10) == 1152
    assert make_learner("tbptt", 12, seed=0).flops_per_step() == flops.tbptt(12, 2, 30) == 3720


@pytest.mark.parametrize("task,n", [("trace-patterning", 12), ("atari", 275)])
@pytest.mark.parametrize("name", NAMES)
def test_reference_configs_fit_the_task_budget(name, task, n):
    budget = tasks.get_task("trace-patterning-v1" if task == "trace-patterning" else "atari-v1").budget_flops
    n_steps = 1_000_000
    hp = reference_config(name, task, n_steps)
    L = make_learner(name, n, seed=0, **hp)
    assert L.flops_per_step() <= budget
    assert hp == reference_config(name, task, n_steps)          # plain data, stable
    cfg = L.hyperparameters
    if name == "hybrid":
        stages = -(-cfg["n_columns"] // cfg["columns_per_stage"])
        assert cfg["steps_per_stage"] * stages <= n_steps < cfg["steps_per_stage"] * (stages + 1)
        assert (cfg["n_columns"], cfg["columns_per_stage"]) == ((20, 4) if task == "trace-patterning" else (15, 5))
    if name == "constructive":
        assert cfg["n_columns"] == 10 and cfg["steps_per_stage"] * 10 <= n_steps
    if name == "columnar":
        assert cfg["n_columns"] == (5 if task == "trace-patterning" else 7)
        assert cfg["steps_per_stage"] >= n_steps                # one stage for the whole run
    # T-BPTT's shapes are the committed sweeps' picks: tests/test_reproduction.py
    v = L.run(np.zeros((5, n), np.float32), np.zeros(5), np.full(5, 0.9))
    assert np.all(np.isfinite(v))


def test_reference_config_rejects_unknowns():
    with pytest.raises(ConfigError, match="unknown task"):
        reference_config("hybrid", "pong", 10)
    with pytest.raises(ConfigError, match="unknown reference learner"):
        reference_config("rnn", "atari", 10)
    with pytest.raises(ConfigError, match="n_steps"):
        reference_config("hybrid", "atari", 0)


@pytest.mark.parametrize("dtype,ulps", [(np.float32, 2.0), (np.float64, 2.0)])
def test_compiled_sigmoid_and_tanh_are_accurate(dtype, ulps):
    """The kernels' vectorised σ / tanh (own exp) against numpy, over the whole useful range."""
    x = np.concatenate([np.linspace(-60, 60, 200_001), [0.0, 1e-30, -1e-30, 1e3, -1e3]]).astype(dtype)
    for g, ref in ((1.0, expit), (2.0, np.tanh)):
        out = np.empty_like(x)
        ef, eb = exp_scratch(len(x), dtype)
        scaled_sigmoid(x, out, np.full(len(x), g, dtype), 0, len(x), np.empty_like(x), eb, ef)
        want = ref(x.astype(np.float64))
        err = np.abs(out.astype(np.float64) - want)
        assert np.all(np.isfinite(out))
        assert np.max(err) <= ulps * np.finfo(dtype).eps        # absolute error of values in [-1, 1]


def test_speed_cases_are_registered_with_the_cpp_anchors():
    from oscbench.benchmark import speed

    cases = speed.available_cases()
    # the C++ side-by-side medians of docs/performance.md (all stages visited), as the cases print them
    anchors = {"hybrid": 137_000, "columnar": 213_000, "constructive": 406_000, "tbptt": 75_000,
               "hybrid-atari": 15_100, "tbptt-atari": 27_800, "hybrid-batched-32": 137_000}
    assert set(anchors) <= set(cases)
    (res,) = speed.run_cases(["hybrid-batched-32"], scale=0.0)       # the smallest run: 32 x 20,000 steps
    assert res.anchor == anchors["hybrid-batched-32"] and res.unit == "learner-steps"
    assert res.steps == 32 * 20_000 and res.cpu_seconds > 0 and res.compile_seconds >= 0


def test_the_baseline_names_have_one_meaning():
    """The evaluator knows the baselines by name without importing their kernels: the same names."""
    from oscbench.baselines import NAMES
    from oscbench.benchmark.loading import BASELINE_NAMES
    from oscbench.leaderboard.ownership import REFERENCE_LEARNERS

    assert BASELINE_NAMES == tuple(NAMES) and REFERENCE_LEARNERS is BASELINE_NAMES
