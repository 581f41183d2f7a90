"""One meaning per option: ``--seeds``/``seeds=`` name seeds, ``--n-seeds``/``n_seeds=`` count them, in every
command and in the Python API; the ambiguous forms are refused with one line, never reinterpreted."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from oscbench.benchmark.evaluator import evaluate
from oscbench.quickstart import quickstart
from oscbench.benchmark.seeds import parse_seeds, resolve_seeds
from oscbench.cli import cli
from oscbench.errors import ConfigError

LEARNERS = Path(__file__).with_name("eval_learners.py")
CONST = f"{LEARNERS}:constant"


@pytest.mark.parametrize("text, seeds", [("0-4", [0, 1, 2, 3, 4]), ("0,3,7", [0, 3, 7]), ("5", [5]),
                                         ("0-2,9", [0, 1, 2, 9]), (" 2 , 4 ", [2, 4]), ("7-7", [7])])
def test_seed_text(text, seeds):
    assert parse_seeds(text) == seeds
    assert resolve_seeds(text, default=3) == seeds


@pytest.mark.parametrize("text", ["a", "1,1", "-1", "4-2", "", ",", "0-2,1", "1.5"])
def test_bad_seed_text_is_one_line_naming_the_option(text):
    with pytest.raises(ConfigError) as err:
        parse_seeds(text, option="--seeds")
    msg = str(err.value)
    assert msg.startswith("--seeds") and "\n" not in msg


def test_api_forms():
    assert resolve_seeds(None, default=3) == [0, 1, 2]
    assert resolve_seeds(None, 4, default=3) == [0, 1, 2, 3]
    assert resolve_seeds([4, 1], default=3) == [4, 1]
    assert resolve_seeds(range(2, 4), default=3) == [2, 3]
    assert resolve_seeds((np.int64(6),), default=3) == [6]


@pytest.mark.parametrize("kwargs, words", [
    ({"seeds": 3}, ["seeds=[3]", "n_seeds=3", "ambiguous"]),
    ({"seeds": np.int32(2)}, ["ambiguous"]),
    ({"seeds": [0, 1], "n_seeds": 2}, ["not both"]),
    ({"n_seeds": 0}, ["positive"]),
    ({"n_seeds": "3"}, ["positive"]),
    ({"seeds": [0, 0]}, ["repeats"]),
    ({"seeds": [0.5]}, ["other than integers"]),
    ({"seeds": True}, ["not a list"]),
])
def test_api_refusals(kwargs, words):
    with pytest.raises(ConfigError) as err:
        resolve_seeds(default=3, **kwargs)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_evaluate_api_seeds_and_n_seeds():
    a = evaluate(CONST, n_steps=300, seeds="1,4", progress=False)
    assert [r["seed"] for r in a.records] == [1, 4]
    b = evaluate(CONST, n_steps=300, n_seeds=2, progress=False)
    assert [r["seed"] for r in b.records] == [0, 1]
    with pytest.raises(ConfigError, match="ambiguous"):
        evaluate(CONST, n_steps=300, seeds=2, progress=False)


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_evaluate_cli_seeds_and_n_seeds(tmp_path):
    res = _run("evaluate", CONST, "--steps", 300, "--seeds", "5", "--json", "--out", tmp_path / "a")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["summary"][0]["seeds"] == [5]
    res = _run("evaluate", CONST, "--steps", 300, "--n-seeds", "2", "--json", "--out", tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["summary"][0]["seeds"] == [0, 1]
    res = _run("evaluate", CONST, "--steps", 300, "--seeds", "0-1", "--n-seeds", "2")
    assert res.exit_code != 0 and res.output.strip().splitlines() == [
        "error: give either --seeds (which seeds) or --n-seeds (how many), not both."]


def test_quickstart_cli_refuses_the_old_count_meaning(tmp_path):
    res = _run("quickstart", "--out", tmp_path, "--steps", 300, "--seeds", "2", "--quiet")
    assert res.exit_code != 0 and "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --seeds 2 names seed 2 alone")
    assert "--n-seeds 2" in lines[0]
    assert not (tmp_path / "data").exists()   # refused before anything ran


def test_quickstart_api_seed_list(tmp_path):
    res = quickstart(tmp_path, n_steps=300, seeds="4", learners=[CONST], example=None, progress=False,
                     echo=lambda _t: None)
    assert [r["seed"] for r in res.records] == [4]
    with pytest.raises(ConfigError, match="ambiguous"):
        quickstart(tmp_path, n_steps=300, seeds=2, learners=[CONST], example=None, progress=False)


def test_callable_named_after_function_or_module_and_name_override():
    import sys

    sys.path.insert(0, str(LEARNERS.parent))
    try:
        import eval_learners
    finally:
        sys.path.remove(str(LEARNERS.parent))

    res = evaluate(eval_learners.constant, n_steps=300, seeds=[0], progress=False)
    assert res.records[0]["learner"]["name"] == "constant"

    def make_learner(n_features, *, seed):
        return eval_learners.constant(n_features, seed=seed)

    res = evaluate(make_learner, n_steps=300, seeds=[0], progress=False)
    assert res.records[0]["learner"]["name"] == "test_seeds"        # the module, not "make_learner"
    res = evaluate(make_learner, n_steps=300, seeds=[0], progress=False, name="mine")
    assert res.records[0]["learner"]["name"] == "mine"
    with pytest.raises(ConfigError, match="name"):
        evaluate(make_learner, n_steps=300, seeds=[0], progress=False, name="a/b")


def test_cli_name_override(tmp_path):
    res = _run("evaluate", CONST, "--steps", 300, "--seeds", "0", "--name", "My constant", "--out", tmp_path,
               "--quiet")
    assert res.exit_code == 0, res.output
    rec = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert rec["learner"]["name"] == "My constant"


@pytest.mark.parametrize("bad", ["", "  ", "a/b", "a\\b", "x\x1b[31m", "line\nbreak", "n" * 101])
def test_name_override_refuses_unsafe_names(bad):
    with pytest.raises(ConfigError, match="--name"):
        evaluate(CONST, n_steps=300, seeds=[0], progress=False, name=bad)


def test_a_name_does_not_make_a_learner_a_reference(tmp_path):
    """--name tbptt on one's own learner changes the label only: the board recognises references by
    what was run (the spec and its configuration), so the entry is not taken for the reference T-BPTT."""
    from oscbench.leaderboard.ranking import reference_kind

    rec = evaluate(CONST, n_steps=300, seeds=[0], progress=False, name="tbptt").records[0]
    assert rec["learner"]["name"] == "tbptt" and rec["learner"]["spec"] == CONST
    assert reference_kind({"learner": rec["learner"], "task": rec["task"], "records": [rec]}) is None
