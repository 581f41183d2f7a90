"""The causality / determinism audit and `oscbench check`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oscbench.benchmark.audit import random_chunk_sizes, run_audit
from oscbench.benchmark.check import check_learner
from oscbench.benchmark.evaluator import evaluate
from oscbench.benchmark.records import validate_record
from oscbench.datasets.trace_patterning import TracePatterningStream

LEARNERS = Path(__file__).with_name("eval_learners.py")


def spec(name: str) -> str:
    return f"{LEARNERS}:{name}"


def _prefix(n=2000, seed=0):
    return next(iter(TracePatterningStream(seed=seed).chunks(n, n)))


def _factory(name):
    from oscbench.benchmark.loading import load_learner

    return load_learner(spec(name)).factory


def test_chunk_sizes_cover_the_prefix():
    sizes = random_chunk_sizes(1000, 16)
    assert sum(sizes) == 1000 and min(sizes) >= 1 and max(sizes) <= 16
    assert 1 in sizes and sizes == random_chunk_sizes(1000, 16)


def test_honest_learner_passes():
    f = _factory("linear_td")
    res = run_audit(lambda: f(12, seed=3), _prefix())
    assert res.passed and res.first_mismatch_step is None


def test_look_ahead_fails_causality():
    f = _factory("peek_ahead")
    res = run_audit(lambda: f(12, seed=0), _prefix())
    assert res.causality == "failed" and res.determinism == "passed"
    # it peeks at the US bit of x_{t+1}: the first mismatch is just before a US
    p = _prefix()
    assert p.observations[res.first_mismatch_step + 1, 6] == 1.0


def test_run_that_is_not_repeated_step_fails():
    f = _factory("run_disagrees")
    res = run_audit(lambda: f(12, seed=0), _prefix())
    assert res.causality == "failed" and res.max_abs_difference == pytest.approx(1e-9, rel=1e-3)


def test_unseeded_learner_fails_determinism():
    f = _factory("unseeded")
    res = run_audit(lambda: f(12, seed=0), _prefix())
    assert res.determinism == "failed" and "seed" in res.message


def test_look_ahead_is_not_scored(tmp_path):
    res = evaluate(spec("peek_ahead"), seeds=[0, 1], n_steps=5000, out_dir=tmp_path, progress=False)
    for r in res.records:
        assert r["status"] == "failed" and r["metrics"] is None
        assert r["audit"]["causality"] == "failed" and r["failure"]["stage"] == "audit"
        assert validate_record(r).ok


def test_check_lines_for_good_and_bad_learners():
    good = check_learner(spec("linear_td"))
    assert good.ok
    assert [c.name for c in good.checks] == ["load", "construct", "protocol", "flops", "step", "run", "causality",
                                             "determinism"]
    assert all("\n" not in line for line in good.lines())
    bad = check_learner(spec("peek_ahead"))
    assert not bad.ok and {c.name for c in bad.checks if c.status == "FAIL"} == {"causality"}
    over = check_learner(spec("over_budget"))
    assert [c.status for c in over.checks if c.name == "flops"] == ["FAIL"]
    assert "1,000,000" in next(c.detail for c in over.checks if c.name == "flops")
    shape = check_learner(spec("wrong_shape"))
    assert [c.status for c in shape.checks if c.name == "run"] == ["FAIL"]
    missing = check_learner("no/such/file.py")
    assert missing.checks[0].status == "FAIL" and all(c.status == "skip" for c in missing.checks[1:])
    nd = check_learner(spec("unseeded"))
    assert [(c.name, c.status) for c in nd.checks][-2:] == [("causality", "skip"), ("determinism", "FAIL")]


@pytest.mark.parametrize("name", ["hybrid", "columnar", "constructive", "tbptt"])
def test_every_reference_baseline_passes_the_audit(name):
    from oscbench.baselines import BASELINES, reference_config

    assert name in BASELINES
    hp = reference_config(name, "trace-patterning", 200_000)
    prefix = _prefix(3000, seed=1)
    res = run_audit(lambda: BASELINES[name](12, seed=1, **hp), prefix, max_chunk=16)
    assert res.passed, res.message
    assert np.all(np.isfinite(res.predictions)) and np.any(res.predictions != 0)
    report = check_learner(name)
    assert report.ok, report.lines()
