"""The example learners of examples/, end to end as a newcomer uses them: `oscbench check`, a tiny
`oscbench evaluate`, and a submission to a scratch leaderboard; plus their arithmetic against
independent numpy computations."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO
from oscbench.cli import cli
from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream

EXAMPLES = REPO / "examples"
NAMES = ("linear_td", "recurrent_numpy")


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stream(n: int, seed: int = 0):
    return next(iter(TracePatterningStream(TracePatterningConfig(), seed).chunks(n, n)))


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_examples_are_documented():
    readme = (EXAMPLES / "README.md").read_text()
    for name in NAMES:
        assert f"{name}.py" in readme
        doc = _module(name).__doc__
        assert doc and f"oscbench check examples/{name}.py" in doc


@pytest.mark.parametrize("name", NAMES)
def test_check_passes(name):
    res = _run("check", EXAMPLES / f"{name}.py", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert set(statuses.values()) == {"ok"}, statuses
    assert {"causality", "determinism", "flops"} <= set(statuses)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_evaluate(tmp_path, name):
    res = _run("evaluate", EXAMPLES / f"{name}.py", "--steps", 2000, "--n-seeds", 2, "--out", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ok"] and out["summary"][0]["learner"] == name and out["summary"][0]["seeds"] == [0, 1]
    for p in out["records"]:
        rec = json.loads(Path(p).read_text())
        assert rec["status"] == "ok" and np.isfinite(rec["metrics"]["nmse"])


@pytest.mark.parametrize("name", NAMES)
def test_submission_to_a_scratch_leaderboard(tmp_path, name):
    """The smoke preset in full (3 seeds x 200k steps), then `submit`, `leaderboard show` and `validate`."""
    runs, root = tmp_path / "runs", tmp_path / "lb"
    res = _run("evaluate", EXAMPLES / f"{name}.py", "--out", runs, "--quiet", "--json")
    assert res.exit_code == 0, res.output
    sub = _run("submit", runs, "--name", f"Example {name}", "--authors", "A. Newcomer", "--root", root, "--json")
    assert sub.exit_code == 0, sub.output
    entry = json.loads(sub.output)
    assert entry["ok"] and entry["preset"] == "smoke" and entry["seeds"] == 3 and entry["learner"] == name
    assert Path(entry["path"]).is_file()
    show = json.loads(_run("leaderboard", "show", "--json", "--root", root).output)
    names = [row["name"] for b in show for row in b["rows"]]
    assert names == [f"Example {name}"]
    assert _run("leaderboard", "validate", "--root", root).exit_code == 0


def _linear_td_reference(xs, cs, gs, alpha, lam):
    """Linear TD(λ) written out in numpy, independently of the example's numba loop."""
    X = np.hstack([xs.astype(np.float64), np.ones((len(xs), 1))])
    w, e, prev, out = np.zeros(X.shape[1]), np.zeros(X.shape[1]), None, np.empty(len(xs))
    for t in range(len(xs)):
        v = float(w @ X[t])
        if prev is not None:
            w = w + alpha * (float(cs[t]) + float(gs[t]) * v - prev) * e
        e = float(gs[t]) * lam * e + X[t]
        prev, out[t] = v, v
    return out


def test_linear_td_matches_numpy_reference():
    mod = _module("linear_td")
    c = _stream(3000)
    learner = mod.make_learner(12, seed=0, step_size=0.5, lam=0.8)
    got = learner.run(c.observations, c.cumulants, c.continuations)
    want = _linear_td_reference(c.observations, c.cumulants, c.continuations, 0.5 / 13, 0.8)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.abs(want).max() > 1e-3                  # it learned something to compare
    assert learner.flops_per_step() == 3 * 13 + 5


def test_recurrent_gradient_matches_finite_differences():
    """The RTRL gradient ∇V_t (read off the traces with λ = 0, γ = 1: e = ∇V_t) equals central finite
    differences of V_t computed by a plain numpy forward pass over the whole prefix."""
    mod = _module("recurrent_numpy")
    c = _stream(40, seed=3)
    xs = c.observations.astype(np.float64)
    xs += np.random.default_rng(0).normal(0, 0.3, xs.shape)      # dense inputs exercise every weight
    H = 3
    lrn = mod.make_learner(12, seed=1, hidden=H, step_size=1e-9, lam=0.0)
    lrn.alpha = 0.0                                               # no learning: θ fixed over the prefix
    lrn.run(xs, np.zeros(len(xs)), np.ones(len(xs)))
    W, U, b, v = lrn.W.copy(), lrn.U.copy(), lrn.b.copy(), lrn.v.copy()

    def value(W, U, b):
        h = np.zeros(H)
        for x in xs:
            h = np.tanh(W @ x + U @ h + b)
        return v @ h

    v = np.random.default_rng(2).normal(size=H)                 # a non-zero readout for the check
    lrn = mod.make_learner(12, seed=1, hidden=H, step_size=1e-9, lam=0.0)
    lrn.alpha, lrn.v[:] = 0.0, v
    lrn.run(xs, np.zeros(len(xs)), np.ones(len(xs)))
    eps = 1e-6
    for arr, grad in ((W, lrn.eW), (U, lrn.eU), (b, lrn.eb)):
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            orig = arr[idx]
            arr[idx] = orig + eps
            up = value(W, U, b)
            arr[idx] = orig - eps
            down = value(W, U, b)
            arr[idx] = orig
            fd[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_recurrent_flops_within_budgets():
    mod = _module("recurrent_numpy")
    assert mod.rtrl_flops(12, 4) <= 4400 and mod.rtrl_flops(275, 4) <= 55000
    # the U·J product alone is H²·P multiply-accumulates: the declaration must cover it
    for F, H in ((12, 4), (275, 4), (12, 8)):
        assert mod.rtrl_flops(F, H) > H * H * H * (F + H + 1)


def test_documented_flop_counts_are_the_declared_ones():
    """examples/README.md's table and the RNN's docstring quote what flops_per_step() declares."""
    readme = (EXAMPLES / "README.md").read_text()
    for name in NAMES:
        mod = _module(name)
        tp, atari = (mod.make_learner(f, seed=0).flops_per_step() for f in (12, 275))
        row = next(ln for ln in readme.splitlines() if ln.startswith(f"| [`{name}.py`]"))
        assert row.rstrip(" |").endswith(f"{tp:,} / {atari:,}"), row
    doc = _module("recurrent_numpy").__doc__
    assert "1,936 FLOPs on trace patterning" in doc and "31,392 on Atari" in doc
