"""The evaluator on an Atari stream: a short real replay of the recorded Pong log (ale-py), looped."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oscbench.benchmark import tasks
from oscbench.benchmark.evaluator import evaluate
from oscbench.benchmark.records import validate_record
from oscbench.datasets.format import DatasetFile
from atari_fixtures import policy_file

LEARNERS = Path(__file__).with_name("eval_learners.py")
PASS = 6000


@pytest.fixture(scope="module")
def pong_file(tmp_path_factory):
    from oscbench.datasets.atari.dataset import write_replay
    from oscbench.datasets.atari.generate import replay_policy

    log = policy_file("Pong")
    rep, digest, name = replay_policy("atari/Pong-test-v1", log, n_steps=PASS)
    return write_replay(rep, tmp_path_factory.mktemp("atari") / "pong.h5", dataset_id="atari/Pong-test-v1",
                        policy_file=name, policy_sha256=digest)


def test_suite_matches_the_atari_datasets():
    from oscbench.datasets import atari

    t = tasks.get_task("atari-v1")
    assert t.games == atari.SUITE and set(t.excluded_games) == set(atari.EXCLUDED)
    assert t.gamma == atari.GAMMA and t.dataset_id.format(game="Pong") == atari.dataset_id("Pong")


def test_every_step_scored_against_its_own_return_looping(pong_file, tmp_path):
    n = 2 * PASS + 1500   # loops over the pass twice and a bit
    with DatasetFile(pong_file) as f:
        x = f.read(0, PASS)
        digest = f.content_sha256
    idx = np.arange(n) % PASS
    g = x.returns[idx]
    w = np.zeros(275)
    w[274] = 0.5          # V_t = 0.5 * reward of this step
    w[:256] = 0.01
    v = x.observations.astype(np.float64)[idx] @ w
    e = (v - g) ** 2
    res = evaluate(f"{LEARNERS}:weighted", task="atari-v1/Pong", seeds=[0, 4], n_steps=n, dataset=pong_file,
                   hyperparameters={"w": w.tolist()}, out_dir=tmp_path, progress=False)
    assert res.ok
    for r in res.records:
        assert validate_record(r).ok
        assert r["task"]["game"] == "Pong" and r["task"]["target"] == "returns"
        assert r["dataset"]["sha256"] == digest and r["dataset"]["seed"] is None
        assert r["metrics"]["final_error"] == pytest.approx(e.mean(), rel=1e-10)
        assert r["metrics"]["nmse"] == pytest.approx(e.mean() / g.var(), rel=1e-10)
    suite = res.suite()
    assert len(suite) == 1 and suite[0]["nmse"]["n_runs"] == 2


def test_file_oracle_scores_zero_on_every_step(pong_file):
    res = evaluate(f"{LEARNERS}:file_oracle", task="atari-v1/Pong", seeds=[1], n_steps=PASS + 700,
                   dataset=pong_file, hyperparameters={"path": str(pong_file)}, progress=False)
    m = res.records[0]["metrics"]
    assert m["final_error"] == 0.0 and m["lifetime_error"] == 0.0 and m["nmse"] == 0.0


def test_wrong_game_file_is_refused(pong_file):
    from oscbench.errors import OscbenchError

    with pytest.raises(OscbenchError, match="Pong"):
        evaluate(f"{LEARNERS}:constant", task="atari-v1/Breakout", seeds=[0], n_steps=100, dataset=pong_file,
                 progress=False)


def test_custom_run_of_a_recording_loops_as_the_atari_task_does(pong_file, tmp_path):
    """--dataset FILE without --task and --steps beyond one pass: the recorded pass loops exactly as the
    Atari task loops it (same steps, same targets, same score), and the record stays a custom one."""
    n = 2 * PASS + 1500
    with DatasetFile(pong_file) as f:
        x = f.read(0, PASS)
    idx = np.arange(n) % PASS
    w = np.zeros(275)
    w[274], w[:256] = 0.5, 0.01
    e = (x.observations.astype(np.float64)[idx] @ w - x.returns[idx]) ** 2
    kw = dict(seeds=[0], n_steps=n, dataset=pong_file, hyperparameters={"w": w.tolist()}, progress=False)
    custom = evaluate(f"{LEARNERS}:weighted", task=None, **kw).records[0]
    task = evaluate(f"{LEARNERS}:weighted", task="atari-v1/Pong", **kw).records[0]
    assert custom["task"]["id"] == tasks.CUSTOM_TASK_ID and custom["steps"] == n
    assert custom["metrics"]["final_error"] == task["metrics"]["final_error"]
    assert custom["metrics"]["final_error"] == pytest.approx(e[-200_000:].mean(), rel=1e-10)


def test_custom_generated_stream_does_not_loop(tmp_path):
    """A generated (trace-patterning) file is not a recording: a run longer than it is refused, not wrapped."""
    from oscbench.datasets.generate import generate_trace_patterning
    from oscbench.errors import OscbenchError

    path = generate_trace_patterning(tmp_path / "tp.h5", seed=0, n_steps=3000, progress=False)
    with pytest.raises(OscbenchError, match="holds 3,000 steps but the run needs 4,000"):
        evaluate(f"{LEARNERS}:constant", task=None, seeds=[0], n_steps=4000, dataset=path, progress=False)


@pytest.mark.parametrize("reference, message", [
    ({"games": {"Pongg": 0.01}}, "names Pongg, not games of atari-v1"),
    ({"games": {"Pong": -0.01}}, "Pong must be positive"),
    ({"final_error": "0.1"}, "final_error must be positive"),
    ({"games": {"Pong": float("inf")}}, "Pong must be positive"),
])
def test_task_file_reference_errors_are_checked(reference, message):
    """A misspelt game or a non-positive reference error in a task file is refused, not silently ignored."""
    from dataclasses import replace

    from oscbench.errors import ConfigError

    t = tasks.get_task("atari-v1")
    for p in t.presets.values():                  # the shipped file passes
        tasks._check_reference(p, t, "atari-v1.toml")
    with pytest.raises(ConfigError, match=message):
        tasks._check_reference(replace(t.preset("full"), reference=reference), t, "atari-v1.toml")


def test_per_game_reference_gives_relative_error():
    """The evaluator reads a game's reference error from the preset's reference.games (and only at its length)."""
    from dataclasses import replace

    from oscbench.benchmark.evaluator import _reference

    p = replace(tasks.get_task("atari-v1").preset("smoke"), reference={"games": {"Pong": 0.25}})
    assert _reference(p, p.steps, "Pong") == 0.25
    assert _reference(p, p.steps - 1, "Pong") is None and _reference(p, p.steps, "Qbert") is None
