"""``oscbench sweep``: grids, the budget skip, one record per (configuration, run), the table and the best rule."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from oscbench.benchmark import sweep as sw
from oscbench.benchmark.evaluator import evaluate
from oscbench.benchmark.records import read_record
from oscbench.cli import cli
from oscbench.errors import ConfigError
from tests.conftest import REPO
from tests.test_distributed import TIMEOUT, _assert_same_records

LEARNER = str(Path(__file__).with_name("dist_learners.py"))


# -- grids --------------------------------------------------------------------------------------------
def test_axes_and_their_cartesian_product():
    a = sw.parse_axis("step_size=1e-3,3e-4")
    b = sw.parse_axis("hidden,truncation=2:30,13:2")
    c = sw.parse_axis('widths=[4, 4],[8,2]')            # TOML arrays keep their commas
    assert a.points == ((1e-3,), (3e-4,)) and b.names == ("hidden", "truncation")
    assert c.points == (([4, 4],), ([8, 2],))
    got = sw.configurations([a, b])
    assert got == [{"step_size": 1e-3, "hidden": 2, "truncation": 30}, {"step_size": 1e-3, "hidden": 13, "truncation": 2},
                   {"step_size": 3e-4, "hidden": 2, "truncation": 30}, {"step_size": 3e-4, "hidden": 13, "truncation": 2}]


@pytest.mark.parametrize("text, why", [
    ("step_size", "not NAME=V1,V2"), ("step_size=", "not NAME=V1,V2"), ("step_size=1,,2", "empty value"),
    ("hidden,truncation=2:30,13", "has 1 value"), ("a,a=1:2", "twice in one axis"), ("x=1,1", "point appears twice"),
    ("2x=1", "name hyper-parameters"),
])
def test_bad_axes_are_one_line_errors(text, why):
    with pytest.raises(ConfigError, match=why):
        sw.parse_axis(text)


def test_a_name_on_two_axes_is_refused():
    with pytest.raises(ConfigError, match="on two --grid axes"):
        sw.configurations([sw.parse_axis("step_size=1,2"), sw.parse_axis("hidden,step_size=1:2")])


def test_sweep_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('task = "trace-patterning-v1"\npreset = "smoke"\nseeds = "0-2"\nsteps = 5000\n'
                 '[hyperparameters]\nbeta = 0.9\n[grid]\nstep_size = [0.1, 0.01]\n"hidden,truncation" = [[2, 30], [13, 2]]\n')
    got = sw.read_sweep_file(f)
    assert got.seeds == [0, 1, 2] and got.steps == 5000 and got.hyperparameters == {"beta": 0.9}
    assert [a.names for a in got.axes] == [("step_size",), ("hidden", "truncation")]
    assert got.axes[1].points == ((2, 30), (13, 2))
    f.write_text("[grid]\nstep_size = [0.1]\nlearning_rate = 2\n")
    with pytest.raises(ConfigError, match="must be a list"):
        sw.read_sweep_file(f)
    f.write_text("tasks = 1\n")
    with pytest.raises(ConfigError, match="unknown key"):
        sw.read_sweep_file(f)
    f.write_text('[grid]\n"a,b" = [1, 2]\n')
    with pytest.raises(ConfigError, match="joint axis"):
        sw.read_sweep_file(f)


def test_the_baselines_default_grids_are_the_reference_codes_sweeps():
    """Regression (ported from the maintainer script this command replaces): SPEC §8's grids."""
    hybrid = sw.configurations(sw.default_axes("hybrid", "trace-patterning"))
    assert hybrid == [{"var_floor": f, "step_size": a} for f in (0.1, 0.01) for a in (0.3, 0.1, 0.03, 0.01, 0.003, 0.001)]
    assert sw.configurations(sw.default_axes("tbptt", "atari")) == [{"step_size": a} for a in (1e-3, 3e-4, 1e-4)]
    with pytest.raises(ConfigError, match="no --grid given"):
        sw.default_axes(LEARNER, "trace-patterning")


# -- the best rule --------------------------------------------------------------------------------------
def _config(mean, lo, hi, flops, failed=0):
    recs = [{"status": "ok"}] * 2 + [{"status": "failed"}] * failed
    return sw.ConfigResult({"m": mean}, {}, flops, recs, {"mean": mean, "ci_low": lo, "ci_high": hi})


def test_best_rule_lowest_mean_then_cheapest_of_the_overlapping():
    cheap_tied, top, far = _config(0.30, 0.2, 0.4, 100), _config(0.25, 0.1, 0.35, 900), _config(0.5, 0.45, 0.6, 10)
    assert sw.mark_best([top, cheap_tied, far]) is cheap_tied
    assert top.tied and not far.tied and not far.best
    alone, other = _config(0.1, 0.05, 0.15, 900), _config(0.3, 0.2, 0.4, 100)   # no overlap: the lowest mean wins
    assert sw.mark_best([alone, other]) is alone and not other.tied
    broken, ok = _config(0.01, 0.0, 0.02, 10, failed=1), _config(0.3, 0.2, 0.4, 100)   # failed runs: not eligible
    assert sw.mark_best([broken, ok]) is ok


# -- the command, on a local cluster of 2 workers -------------------------------------------------------
def test_sweep_two_configurations_two_seeds_on_two_workers(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "oscbench.cli", "sweep", LEARNER, "--seeds", "0,1", "--steps", "6000",
           "--grid", "step_size,extra_flops=0.01:500,0.001:0,0.001:9000", "--out", str(out), "--workers", "2",
           "--json", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT * 2, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    # the third point declares 72 + 9000 FLOPs/step, over the budget of 4,400: skipped with one line
    assert proc.stderr.strip().splitlines() == [
        "skipped step_size=0.001 extra_flops=9000: 9,072 FLOPs/step is over the budget of 4,400 of trace-patterning-v1"]
    summary = json.loads(proc.stdout)
    assert summary["execution"]["workers"] == 2 and summary["execution"]["done"] == 4
    assert [c["point"] for c in summary["configurations"]] == [{"step_size": 0.01, "extra_flops": 500},
                                                                 {"step_size": 0.001, "extra_flops": 0}]
    assert len(list(out.glob("*.json"))) == 4 == len(summary["records"])
    nmse = {}
    for c in summary["configurations"]:
        recs = [read_record(p) for p in summary["records"] if read_record(p)["learner"]["hyperparameters"]
                == c["hyperparameters"]]
        assert sorted(r["seed"] for r in recs) == [0, 1] and c["failed_runs"] == 0
        # each configuration's records are those `oscbench evaluate` writes for it
        _assert_same_records(evaluate(LEARNER, seeds=[0, 1], n_steps=6000, progress=False,
                                      hyperparameters=c["point"]).records, recs)
        vals = [r["metrics"]["nmse"] for r in recs]
        nmse[c["point"]["step_size"]] = vals
        assert c["nmse"]["mean"] == pytest.approx(np.mean(vals), rel=1e-12)
        assert c["flops_per_step"] == 72 + c["point"]["extra_flops"]
    # best: if the two seeds' ranges overlap the configurations are tied and the cheaper one wins,
    # otherwise the lower mean does (with two seeds a percentile bootstrap CI spans the two values)
    lo = {k: (min(v), max(v)) for k, v in nmse.items()}
    overlap = lo[0.01][0] <= lo[0.001][1] and lo[0.001][0] <= lo[0.01][1]
    lower = min(nmse, key=lambda k: np.mean(nmse[k]))
    want = 0.001 if overlap else lower
    assert summary["best"]["point"]["step_size"] == want
    assert [c["best"] for c in summary["configurations"]] == [want == 0.01, want == 0.001]


def test_sweep_table_and_errors(tmp_path):
    r = CliRunner().invoke(cli, ["sweep", LEARNER, "--seeds", "0,1", "--steps", "4000", "--grid", "step_size=0.01,0.001",
                                 "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    rows = [ln for ln in lines if "step_size=" in ln]
    assert len(rows) == 2 and sum(ln.startswith("*") for ln in rows) == 1
    assert "mean NMSE [95% CI]" in r.output and "* best: lowest mean NMSE" in r.output
    for args, why in ((["--grid", "step_size"], "is not NAME=V1,V2"),
                      (["--grid", "step_size=1", "--grid", "step_size=2"], "on two --grid axes"),
                      (["--grid", "extra_flops=9000,8000"], "every point of the grid is over the FLOP budget"),
                      ([], "no --grid given")):
        r = CliRunner().invoke(cli, ["sweep", LEARNER, "--steps", "4000", "--out", str(tmp_path / "e"), "--quiet", *args])
        assert r.exit_code == 2 and why in r.output and "Traceback" not in r.output, r.output
