"""`oscbench evaluate / check / results / tasks` through click: outputs, --json, and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscbench.cli import cli

LEARNERS = Path(__file__).with_name("eval_learners.py")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def spec(name: str) -> str:
    return f"{LEARNERS}:{name}"


def _one_line_error(res, *needles: str) -> None:
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, res.output
    assert "Traceback" not in res.output
    for n in needles:
        assert n in lines[0], lines[0]


def test_evaluate_writes_records_and_validates(tmp_path):
    out = tmp_path / "res"
    res = run("evaluate", spec("linear_td"), "--steps", "4000", "--seeds", "0-1", "--hp", "step_size=0.02",
              "--out", str(out), "--quiet")
    assert res.exit_code == 0, res.output
    assert "linear_td" in res.output and "records:" in res.output
    files = sorted(out.glob("*.json"))
    assert len(files) == 2
    rec = json.loads(files[0].read_text())
    assert rec["learner"]["hyperparameters"] == {"step_size": 0.02}
    v = run("results", "validate", str(out))
    assert v.exit_code == 0 and v.output.count("ok ") == 2
    vj = run("results", "validate", str(files[0]), "--json")
    assert json.loads(vj.output)[0]["ok"] is True
    s = run("results", "summary", str(out), "--json")
    assert json.loads(s.output)["summary"][0]["seeds"] == [0, 1]


def test_evaluate_json_and_hp_file(tmp_path):
    hp = tmp_path / "hp.toml"
    hp.write_text("[hyperparameters]\nstep_size = 0.05\n")
    res = run("evaluate", spec("linear_td"), "--steps", "3500", "--seeds", "3", "--hp-file", str(hp),
              "--out", str(tmp_path / "o"), "--json", "--quiet")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["ok"] and data["summary"][0]["hyperparameters"] == {"step_size": 0.05}
    assert data["summary"][0]["seeds"] == [3]


def test_failed_runs_exit_nonzero_naming_them(tmp_path):
    res = run("evaluate", spec("faulty"), "--steps", "5000", "--seeds", "0-2", "--out", str(tmp_path), "--quiet")
    _one_line_error(res, "1 run(s) failed", "seed 1", ".log")
    assert len(list(tmp_path.glob("*.json"))) == 3 and len(list(tmp_path.glob("*.log"))) == 1


def test_interrupt_exits_130_and_keeps_records(tmp_path):
    # unisolated: the learner's KeyboardInterrupt stands for the user's Ctrl-C (test_isolation sends a real SIGINT)
    res = run("evaluate", spec("faulty"), "--steps", "5000", "--seeds", "0-2", "--hp", 'mode="interrupt"',
              "--hp", "at=3500", "--out", str(tmp_path), "--quiet", "--no-isolate")
    assert res.exit_code == 130 and "interrupted" in res.output
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_check_prints_one_line_per_check():
    res = run("check", spec("linear_td"))
    assert res.exit_code == 0
    assert [ln.split()[1] for ln in res.output.splitlines()] == ["load", "construct", "protocol", "flops", "step",
                                                                 "run", "causality", "determinism"]
    bad = run("check", spec("peek_ahead"))
    assert bad.exit_code == 1 and "FAIL  causality" in bad.output
    _one_line_error(bad, "causality")
    js = run("check", spec("over_budget"), "--json")
    assert js.exit_code == 1
    data = json.loads(js.output[:js.output.rindex("}") + 1])
    assert data["ok"] is False


@pytest.mark.parametrize("args,needles", [
    (["evaluate", "no/such/learner.py"], ["does not exist"]),
    (["evaluate", "nonsense"], ["unknown learner"]),
    (["evaluate", "x.y:z"], ["cannot import module"]),
    (["evaluate", spec("constant"), "--task", "mystery-v1"], ["unknown task", "trace-patterning-v1"]),
    (["evaluate", spec("constant"), "--preset", "gigantic"], ["no preset", "smoke"]),
    (["evaluate", spec("constant"), "--seeds", "a-b"], ["--seeds"]),
    (["evaluate", spec("constant"), "--hp", "novalue"], ["NAME=VALUE"]),
    (["evaluate", spec("constant"), "--hp", "bogus=1", "--steps", "100"], ["bogus"]),
    (["evaluate", spec("constant"), "--hp-file", "missing.toml"], ["does not exist"]),
    (["evaluate", spec("over_budget"), "--steps", "100"], ["1,000,000", "4,400"]),
    (["evaluate", spec("constant"), "--steps", "0"], ["--steps"]),
    (["evaluate", spec("constant"), "--task", "atari-v1/Tennis"], ["excluded"]),
    (["evaluate", spec("constant"), "--task", "atari-v1/Pong", "--dataset", "nofile.h5"], ["nofile.h5"]),
    (["results", "validate", "missing.json"], ["invalid"]),
    (["results", "validate", "."], ["no .json records"]),
    (["tasks", "show", "nope-v9"], ["unknown task"]),
])
def test_cli_errors_are_one_line(tmp_path, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    _one_line_error(run(*args), *needles)


def test_syntax_error_in_learner_file(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("def make_learner(:\n")
    _one_line_error(run("evaluate", str(f), "--out", str(tmp_path / "o")), "bad.py line 1", "syntax error")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_tasks_list_and_show():
    res = run("tasks", "list")
    assert "trace-patterning-v1" in res.output and "4,400" in res.output and "55,000" in res.output
    js = json.loads(run("tasks", "show", "trace-patterning-v1", "--json").output)
    assert js["presets"]["smoke"]["steps"] == 200_000 and js["presets"]["full"]["seeds"] == 30
    assert js["target"] == "returns_truncated" and js["gamma"] == 0.9
    atari = json.loads(run("tasks", "show", "atari-v1", "--json").output)
    assert atari["budget_flops"] == 55_000 and atari["presets"]["full"]["seeds"] == 15 and atari["gamma"] == 0.98
