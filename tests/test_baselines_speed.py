"""The speed machinery's correctness (never its speed: that is `oscbench speed`, a benchmark):
step = run = batched at the Atari-size configurations, no subnormal floats in a learner's state, and
the speed report's fields (GFLOP/s by the paper's formula, the GEMM rate, their ratio)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from oscbench.baselines import make_batched, make_learner
from oscbench.benchmark.learner_speed import subnormal_count
from oscbench.benchmark import flops
from oscbench.cli import cli

ATARI = {   # the Atari reference structures (configs.py), stages short enough to switch inside the test
    "hybrid": dict(n_columns=15, columns_per_stage=5, steps_per_stage=70),
    "columnar": dict(n_columns=7),
    "constructive": dict(n_columns=10, steps_per_stage=20),
    "tbptt": dict(hidden=5, truncation=8),
}


def _atari_stream(n_steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xs = (rng.random((n_steps, 275)) < 0.05).astype(np.float32) * rng.random((n_steps, 275)).astype(np.float32)
    cum = (rng.random(n_steps) < 0.1).astype(np.float32)
    cont = np.full(n_steps, 0.98, np.float32)
    cont[[30, 31, 150]] = 0.0
    return xs, cum, cont


@pytest.mark.parametrize("name", sorted(ATARI))
def test_step_run_and_batched_identical_at_atari_size(name):
    xs, cum, cont = _atari_stream(230)
    hp = dict(ATARI[name], step_size=0.01)
    v_run = make_learner(name, 275, seed=3, **hp).run(xs, cum, cont)
    stepper = make_learner(name, 275, seed=3, **hp)
    v_step = np.array([stepper.step(xs[t], float(cum[t]), float(cont[t])) for t in range(len(xs))])
    bl = make_batched(name, 275, seeds=[7, 3, 5], hp_list=[hp] * 3)
    P = np.concatenate([bl.run(xs[:101], cum[:101], cont[:101]), bl.run(xs[101:], cum[101:], cont[101:])], axis=1)
    assert np.array_equal(v_run, v_step)
    assert np.array_equal(P[1], v_run)
    assert not np.array_equal(P[0], v_run)        # other seeds, other predictions
    assert np.std(v_run[50:]) > 0


@pytest.mark.parametrize("n", [12, 70])          # both layouts: rows-major and lane-major (LANE_MAJOR_FROM)
@pytest.mark.parametrize("name,hp", [("columnar", dict(n_columns=3)),
                                     ("hybrid", dict(n_columns=4, columns_per_stage=2, steps_per_stage=5000)),
                                     ("tbptt", dict(hidden=2, truncation=4))])
def test_no_subnormal_floats_in_the_state(name, hp, n):
    """After a burst of activity, 12k silent steps let the traces (γλ = 0.99) and the RMSProp state
    (β2 = 0.99) decay by 0.99 a step: without flushing they would end in the subnormal range and stay
    there (k·2^-149 · 0.99 rounds back to itself) -- the numpy float32 recursion below shows it."""
    v = np.float32(1e-2)
    for _ in range(12_000):
        v = np.float32(v * np.float32(0.99))
    assert 0 < v < np.finfo(np.float32).tiny          # the scenario does produce stuck subnormals
    rng = np.random.default_rng(1)
    N, burst = 12_050, 50
    xs = np.zeros((N, n), np.float32)
    xs[:burst] = rng.random((burst, n))
    cum = np.zeros(N, np.float32)
    cum[:burst] = rng.random(burst)
    L = make_learner(name, n, seed=0, lam=0.99, rms_beta2=0.99, step_size=0.01, **hp)
    preds = L.run(xs, cum, np.ones(N, np.float32))
    assert np.all(np.isfinite(preds))
    assert subnormal_count(L.state) == 0


def test_subnormal_count_sees_subnormals():
    class S:
        pass
    s = S()
    s.a = np.array([1e-40, 0.0, 1.0], np.float32)
    s.d = {"b": np.array([5e-320, 1e-300])}
    assert subnormal_count(s) == 2


def test_speed_report_fields_for_the_atari_cases():
    res = CliRunner().invoke(cli, ["speed", "--case", "hybrid-atari", "--scale", "0.01", "--json"])
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.output)
    assert r["flops_per_step"] == flops.hybrid(275, 15, 5) == 51_030
    assert r["gflops"] == pytest.approx(r["per_cpu_second"] * r["flops_per_step"] / 1e9)
    assert r["gemm_gflops"] > 0 and r["gemm_kernel"]
    assert r["share_of_gemm"] == pytest.approx(r["gflops"] / r["gemm_gflops"])


def test_speed_report_names_its_host_and_load():
    """A figure says where it was measured: the CPU and numba's target (as records name them), the 1-minute
    load average around the case, and the case's CPU share."""
    from oscbench.benchmark.records import compiled_target

    res = CliRunner().invoke(cli, ["speed", "--case", "trace-stream", "--case", "columnar", "--scale", "0.01", "--json"])
    assert res.exit_code == 0, res.output
    host = compiled_target()
    for r in json.loads(res.output):
        assert r["host"] == host and host["compiled_target"]
        assert r["load_before"] >= 0 and r["load_after"] >= 0          # Linux: the OS gives a load average
        assert r["cpu_share"] == pytest.approx(r["cpu_seconds"] / r["wall_seconds"])
    table = CliRunner().invoke(cli, ["speed", "--case", "trace-stream", "--scale", "0.01"])
    first = table.output.splitlines()[0]
    assert first.startswith("host: ") and f"numba target {host['compiled_target']}" in first
    assert (host["cpu"] or "unknown CPU") in first and "before" in first and "after" in first
    assert "CPU share" in table.output.splitlines()[1]


def test_speed_long_mode_reports_segments():
    res = CliRunner().invoke(cli, ["speed", "--case", "columnar", "--long", "--scale", "0.01", "--json"])
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.output)
    assert len(r["segments"]) == 10 and all(x > 0 for x in r["segments"])
    assert r["steps"] == 655_360                       # 10 segments of at least one 65,536-step chunk
    assert r["last_over_first"] == pytest.approx(r["segments"][-1] / r["segments"][0])
    assert r["subnormals"] == 0
    assert r["lowest_over_first"] == pytest.approx(min(r["segments"]) / r["segments"][0])
    assert r["holds"] == (r["lowest_over_first"] >= 0.9)
    assert r["segment_work"] == [] and r["work_last_over_first"] is None   # one stage: constant work
    assert r["segment_stage"] == [] and r["stage_last_over_first"] is None
    res = CliRunner().invoke(cli, ["speed", "--case", "constructive", "--long", "--scale", "0.01", "--json"])
    (r,) = json.loads(res.output)
    w = r["segment_work"]                           # 10 stages over 20 segments: the work grows with the stage
    assert len(w) == 20 and all(a <= b for a, b in zip(w, w[1:])) and w[0] < w[-1]
    assert r["work_last_over_first"] == pytest.approx(r["last_over_first"] * w[-1] / w[0])
    assert r["segment_stage"] == [k // 2 for k in range(20)]          # two whole segments a stage
    seg = r["segments"]
    assert r["stage_last_over_first"] == pytest.approx(min(seg[2 * k + 1] / seg[2 * k] for k in range(10)))
    bad = CliRunner().invoke(cli, ["speed", "--case", "trace-stream", "--long"])
    assert bad.exit_code != 0 and "no long mode" in bad.output


def test_stage_last_over_first_compares_segments_of_one_stage_only():
    from oscbench.benchmark.speed import SpeedResult

    r = SpeedResult("x", 1, 1.0, 1.0, 0.0, segments=[100.0, 90.0, 50.0, 60.0, 30.0, 45.0],
                    segment_stage=[0, 0, None, 1, 1, 2])
    # stage 0: 90/100; the segment spanning a switch is left out; stage 1: 30/60; stage 2 has one segment
    assert r.stage_last_over_first == pytest.approx(0.5)
    assert SpeedResult("x", 1, 1.0, 1.0, 0.0, segments=[1.0, 2.0], segment_stage=[0, 1]).stage_last_over_first is None
    assert r.to_dict()["stage_last_over_first"] == pytest.approx(0.5)


def test_speed_holds_judges_the_slowest_segment_not_only_the_last():
    """A dip in the middle of a run that has passed by its end (the columnar learner on an Intel core, 2026-12-04:
    1,619k -> 1,223k -> 1,632k steps/s) is caught; staged runs are judged within a stage, at constant work."""
    from oscbench.benchmark.speed import SpeedResult, format_table

    dip = SpeedResult("c", 1, 1.0, 1.0, 0.0, segments=[1619.0, 1595.0, 1223.0, 1293.0, 1632.0])
    assert dip.last_over_first > 1.0 and dip.lowest_over_first == pytest.approx(1223 / 1619)
    assert dip.holds is False and dip.to_dict()["holds"] is False
    flat = SpeedResult("t", 1, 1.0, 1.0, 0.0, segments=[470.0, 440.0, 480.0])
    assert flat.holds is True and flat.lowest_over_first == pytest.approx(440 / 470)
    # staged: stage 1's slowest segment is 0.8 of its first; the fall from stage to stage (more work) is not judged
    staged = SpeedResult("h", 1, 1.0, 1.0, 0.0, segments=[100.0, 95.0, 70.0, 60.0, 48.0, 57.0],
                         segment_stage=[0, 0, None, 1, 1, 1])
    assert staged.lowest_over_first == pytest.approx(0.8) and staged.holds is False
    staged.segments[4] = 55.0
    assert staged.lowest_over_first == pytest.approx(55 / 60) and staged.holds is True   # stage 0: 0.95
    assert SpeedResult("x", 1, 1.0, 1.0, 0.0).holds is None            # no segments: no verdict
    table = format_table([dip, flat])
    assert "SPEED DOES NOT HOLD: slowest segment 0.76 of the first" in table
    assert "speed holds (slowest segment 0.94 of the first)" in table
