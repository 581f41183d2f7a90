"""Airtight records (issue 9 item 4): each attack on a result record file is refused by
``results validate`` and ``submit`` with a one-line reason, and honest records still pass.

Attacks are made on records built to the evaluator's contract (``leaderboard_fixtures.make_record``,
whose stream-derived figures are the stream's own) or written by the real evaluator.
"""
from __future__ import annotations

import copy
import json
import math

import pytest
from click.testing import CliRunner

from leaderboard_fixtures import make_record, make_records
from oscbench.benchmark import metrics, records, tasks
from oscbench.cli import cli

RUNNER = CliRunner()


def _write(tmp_path, rec, name="r.json", text=None):
    p = tmp_path / name
    p.write_text(text if text is not None else records.dumps(rec))
    return p


def _refused(tmp_path, paths, must_say):
    """``results validate`` and ``submit`` both refuse, naming ``must_say`` on one line, no traceback."""
    res = RUNNER.invoke(cli, ["results", "validate", *map(str, paths)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    fails = [ln for ln in res.output.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == len(paths) and all(must_say in ln for ln in fails), res.output
    res = RUNNER.invoke(cli, ["submit", *map(str, paths), "--name", "Attacker", "--root", str(tmp_path / "lb")])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    assert must_say in res.output, res.output
    assert not (tmp_path / "lb").exists() or not list((tmp_path / "lb").rglob("*.json"))


def test_atari_smoke_final_error_must_match_its_curve(tmp_path):
    """The 249,999-step Atari pass with bins of 2,500: the window (80 bins) is now checked against the
    curve (bins end at the run's end), so a final error the curve contradicts is refused."""
    honest = make_record(seed=0, level=0.5, task_id="atari-v1", game="Pong")
    assert records.validate_record(honest).ok, records.validate_record(honest).errors
    rec = copy.deepcopy(honest)
    m = rec["metrics"]
    m["final_error"] = 5e-5 * m["target_variance"]
    m["nmse"] = 5e-5
    assert m["running_window"]["window"] != m["window_steps"]   # no other cross-check saves it
    assert "last 80 bins" in " ".join(records.validate_record(rec).errors)


def test_bins_that_do_not_tile_the_window_are_refused(tmp_path):
    """A forger who re-bins the curve so the window is not whole bins gets no free pass."""
    rec = make_record(seed=0, level=0.5, task_id="atari-v1", game="Pong")
    steps, b = rec["steps"], 3000
    lengths = metrics.bin_lengths(steps, b)
    level = rec["metrics"]["lifetime_error"]
    rec["curve"] = {"bin_steps": b, "mse": [level] * len(lengths), "mse_full_return": [level] * len(lengths)}
    rec["metrics"]["final_error"] = 5e-5
    rec["metrics"]["nmse"] = 5e-5 / rec["metrics"]["target_variance"]
    errors = " ".join(records.validate_record(rec).errors)
    assert "curve.bin_steps 3000 is not the 2500" in errors


def test_trace_curve_mismatch_refused_by_validate_and_submit(tmp_path):
    recs = make_records(3, 0.5)
    recs[1]["metrics"]["final_error"] /= 400
    recs[1]["metrics"]["nmse"] /= 400
    paths = [_write(tmp_path, r, f"r{i}.json") for i, r in enumerate(recs)]
    res = RUNNER.invoke(cli, ["results", "validate", str(paths[1])])
    assert res.exit_code == 1 and "differs from the curve's mean" in res.output   # smoke: the window is the run
    res = RUNNER.invoke(cli, ["submit", *map(str, paths), "--name", "Attacker", "--root", str(tmp_path / "lb")])
    assert res.exit_code == 2 and "differs from the curve's mean" in res.output


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_tokens_refused(tmp_path, token):
    rec = make_record(seed=0, level=0.5)
    text = records.dumps(rec).replace('"max_abs_difference": 0.0', f'"max_abs_difference": {token}')
    assert token in text
    _refused(tmp_path, [_write(tmp_path, rec, text=text)], f"non-standard token {token}")


def test_absurd_step_counts_refused_without_memory_error(tmp_path):
    rec = make_record(seed=0, level=0.5)
    for i, steps in enumerate(("1e15", "1000000000000000", "5000000.0")):
        text = records.dumps(rec).replace(f'"steps": {rec["steps"]}', f'"steps": {steps}', 1)
        p = _write(tmp_path, rec, f"steps{i}.json", text)
        rep = records.validate_record(p)
        assert not rep.ok and any(e.startswith("steps:") for e in rep.errors), rep.errors
    _refused(tmp_path, [p], "steps:")
    # a preset run must have the preset's length; a curve must not be absurdly long
    short = copy.deepcopy(rec)
    short["steps"] = 100_000
    assert any("preset smoke" in e for e in records.validate_record(short).errors)
    many = copy.deepcopy(rec)
    many["curve"]["mse"] = [0.1] * 20_000
    assert any("curve/mse" in e for e in records.validate_record(many).errors)


def test_deeply_nested_and_huge_records_refused(tmp_path):
    deep = _write(tmp_path, None, "deep.json", text='{"a": ' + "[" * 200_000 + "]" * 200_000 + "}")
    _refused(tmp_path, [deep], "nested more than 8 levels")
    rec = make_record(seed=0, level=0.5)
    rec["learner"]["name"] = "x" * 50_000
    _refused(tmp_path, [_write(tmp_path, rec, "long.json")], "50,000 characters")
    big = _write(tmp_path, None, "big.json", text=" " * (records.MAX_RECORD_BYTES + 1) + "{}")
    rep = records.validate_record(big)
    assert not rep.ok and "more than a result record can be" in rep.errors[0]


def test_future_dates_refused(tmp_path):
    rec = make_record(seed=0, level=0.5)
    rec["created"] = "2999-01-01T00:00:00Z"
    _refused(tmp_path, [_write(tmp_path, rec)], "is in the future")


def test_stream_derived_figures_are_recomputed(tmp_path):
    """A target variance (with a matching nmse) or dataset seed that is not the stream's is refused."""
    rec = make_record(seed=1, level=0.5)
    assert records.validate_record(rec, stream=True).ok
    m = rec["metrics"]
    lied = copy.deepcopy(rec)
    lied["metrics"]["target_variance"] = m["target_variance"] * 10
    lied["metrics"]["nmse"] = m["final_error"] / lied["metrics"]["target_variance"]
    assert records.validate_record(lied).ok            # consistent in itself ...
    errors = records.validate_record(lied, stream=True).errors
    assert any("metrics.target_variance" in e and "stream's" in e for e in errors), errors   # ... but not the stream's
    _refused(tmp_path, [_write(tmp_path, lied)], "is not the stream's")
    relabel = copy.deepcopy(rec)
    relabel["dataset"]["seed"] = 0
    assert any("dataset.seed" in e for e in records.validate_record(relabel, stream=True).errors)


def test_every_task_preset_makes_the_window_whole_bins():
    """The final error is recomputable from the curve for every preset and for custom lengths."""
    for task in tasks.list_tasks():
        for p in task.presets.values():
            for steps in (p.steps, p.steps + 1, 249_999, 300_001, 7_777):
                b = task.bin_steps(p, steps)
                w = task.window(steps)
                assert w == steps or w % b == 0, (task.id, p.name, steps, b)
                assert metrics.n_bins(steps, b) <= records.MAX_BINS
                assert math.isclose(metrics.bin_lengths(steps, b).sum(), steps)


def test_typed_constructor_is_the_schema(tmp_path):
    task = tasks.get_task("trace-patterning-v1")
    rec = records.new_record(task, preset="smoke", game=None, dataset={"id": "trace-patterning/default-v1",
                             "sha256": "0" * 64, "params": {}, "seed": 0}, seed=0, steps=200_000,
                             learner_spec="x.py:f", learner_name="x", hyperparameters={})
    assert set(rec) == set(records.schema()["required"])
    rec["status"], rec["failure"] = "failed", {"step": None, "stage": "load", "message": "m", "log": None}
    rec["created"] = records.now_iso()
    assert records.validate_record(json.loads(records.dumps(rec))).ok
