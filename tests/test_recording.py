"""`oscbench datasets record --env`: Gymnasium environments into the standard format, checked against the
environment driven directly; and `evaluate --dataset FILE` without --task (a custom stream)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
import pytest
from click.testing import CliRunner

from oscbench.benchmark.evaluator import evaluate
from oscbench.benchmark.records import validate_record
from oscbench.cli import cli
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.recording import END_CUT, END_TERMINATED, END_TRUNCATED, record_env
from oscbench.errors import ConfigError

LEARNERS = Path(__file__).with_name("eval_learners.py")
STEPS, GAMMA, SEED = 3000, 0.9, 7


def _drive(env_id: str, steps: int, seed: int, **make):
    """Independent oracle: the environment stepped by hand with the seeded random policy."""
    env = gym.make(env_id, **make)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = {"obs": [obs], "action": [None], "reward": [0.0], "start": [True], "ends": []}
    new_episode = False
    for _ in range(1, steps):
        if new_episode:
            obs, _ = env.reset()
            out["action"].append(None)
            out["reward"].append(0.0)
            out["start"].append(True)
            new_episode = False
        else:
            a = env.action_space.sample()
            obs, r, term, trunc, _ = env.step(a)
            out["action"].append(a)
            out["reward"].append(float(r))
            out["start"].append(False)
            if term or trunc:
                out["ends"].append(END_TERMINATED if term else END_TRUNCATED)
                new_episode = True
        out["obs"].append(obs)
    env.close()
    out["obs"] = out["obs"][:steps]
    return out


def _brute_returns(c: np.ndarray, gam: np.ndarray) -> np.ndarray:
    """G_t = sum_{j>t} c_j prod_{t<i<j} gamma_i, summed until a continuation of 0 cuts the episode."""
    T = len(c)
    g = np.zeros(T)
    for t in range(T):
        disc, acc = 1.0, 0.0
        for j in range(t + 1, T):
            if gam[j] == 0.0:
                break
            acc += disc * float(c[j])
            disc *= float(gam[j])
        g[t] = acc
    return g


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "cartpole.h5"
    res = CliRunner().invoke(cli, ["datasets", "record", "--env", "CartPole-v1", "--steps", str(STEPS), "--seed",
                                   str(SEED), "--gamma", str(GAMMA), "-o", str(path), "--quiet"])
    assert res.exit_code == 0, res.output
    return path


def test_cartpole_recorded_matches_the_environment(cartpole):
    want = _drive("CartPole-v1", STEPS, SEED)
    with DatasetFile(cartpole) as f:                      # verifies every digest
        assert (f.kind, f.dataset_id, f.n_steps, f.n_features, f.gamma) == \
            ("gymnasium", "gymnasium/CartPole-v1", STEPS, 4 + 2 + 1, GAMMA)
        x = f.read(0, STEPS)
        ends = f.array("meta/episode_ends")
        starts = f.array("meta/episode_starts")
    start = np.array(want["start"])
    assert start.sum() > 20                               # many episodes: resets are exercised
    np.testing.assert_array_equal(np.flatnonzero(start), starts)
    np.testing.assert_array_equal(x.observations[:, :4], np.array(want["obs"], np.float32))
    onehot = np.array([np.eye(2)[a] if a is not None else np.zeros(2) for a in want["action"]], np.float32)
    np.testing.assert_array_equal(x.observations[:, 4:6], onehot)
    np.testing.assert_array_equal(x.observations[:, 6], np.array(want["reward"], np.float32))
    np.testing.assert_array_equal(x.cumulants, np.where(start, 0.0, 1.0).astype(np.float32))
    np.testing.assert_array_equal(x.continuations, np.where(start, 0.0, GAMMA).astype(np.float32))
    assert list(ends[:-1]) == want["ends"][:len(ends) - 1] and ends[-1] in (END_CUT, *want["ends"][-1:])
    # returns: brute force from the stored cumulants and continuations ...
    np.testing.assert_allclose(x.returns, _brute_returns(x.cumulants, x.continuations), rtol=1e-6)
    # ... and in closed form: n more rewards of 1 in the episode give (1 - γ^n) / (1 - γ)
    last = np.r_[np.flatnonzero(start)[1:] - 1, STEPS - 1]
    n = np.concatenate([e - np.arange(s, e + 1) for s, e in zip(np.flatnonzero(start), last)])
    np.testing.assert_allclose(x.returns, (1 - GAMMA ** n) / (1 - GAMMA), rtol=1e-6)


def test_cartpole_evaluated_as_a_custom_stream(cartpole, tmp_path):
    with DatasetFile(cartpole) as f:
        g = f.read(0, STEPS).returns
        digest = f.content_sha256
    res = CliRunner().invoke(cli, ["evaluate", f"{LEARNERS}:constant", "--dataset", str(cartpole), "--hp", "value=3",
                                   "--seeds", "0,1", "--out", str(tmp_path / "res"), "--quiet", "--json"])
    assert res.exit_code == 0, res.output
    files = sorted((tmp_path / "res").glob("*.json"))
    assert len(files) == 2
    for p in files:
        r = json.loads(p.read_text())
        assert validate_record(r).ok, validate_record(r).errors
        t = r["task"]
        assert (t["id"], t["preset"], t["budget_flops"], t["gamma"], t["target"]) == \
            ("custom-v1", "custom", None, GAMMA, "returns")
        assert r["dataset"]["id"] == "gymnasium/CartPole-v1" and r["dataset"]["sha256"] == digest
        assert r["steps"] == STEPS
        m = r["metrics"]                                   # the whole file, against the full return
        assert m["final_error"] == pytest.approx(np.mean((3.0 - g) ** 2), rel=1e-9)
        assert m["nmse"] == pytest.approx(np.mean((3.0 - g) ** 2) / g.var(), rel=1e-9)

    # never leaderboard-eligible: submit refuses, naming why
    sub = CliRunner().invoke(cli, ["submit", str(tmp_path / "res"), "--name", "mine", "--root", str(tmp_path / "lb")])
    assert sub.exit_code == 2 and "never leaderboard-eligible" in sub.output, sub.output
    assert not (tmp_path / "lb").exists() or not list((tmp_path / "lb").rglob("*.json"))
    # relabelled as the trace-patterning task, the records are still refused (their stream is not the task's)
    fake = tmp_path / "fake"
    fake.mkdir()
    for p in files:
        r = json.loads(p.read_text())
        r["task"].update(id="trace-patterning-v1", budget_flops=4400, target="returns_truncated", gamma=0.9,
                         preset="smoke", window_steps=200000)
        (fake / p.name).write_text(json.dumps(r))
    sub = CliRunner().invoke(cli, ["submit", str(fake), "--name", "mine", "--root", str(tmp_path / "lb")])
    assert sub.exit_code == 2 and "error:" in sub.output, sub.output


def test_custom_stream_budget(cartpole):
    # no budget by default; --budget is checked; a standard task keeps its own
    res = evaluate(f"{LEARNERS}:over_budget", task=None, dataset=cartpole, seeds=[0], n_steps=500, progress=False)
    assert res.ok and res.records[0]["task"]["budget_flops"] is None
    with pytest.raises(ConfigError, match="over the budget of 100"):
        evaluate(f"{LEARNERS}:over_budget", task=None, dataset=cartpole, seeds=[0], budget=100, progress=False)
    with pytest.raises(ConfigError, match="custom streams only"):
        evaluate(f"{LEARNERS}:constant", dataset=cartpole, seeds=[0], budget=100, progress=False)
    bad = CliRunner().invoke(cli, ["evaluate", f"{LEARNERS}:constant", "--dataset", str(cartpole), "--steps",
                                   str(STEPS + 1), "--quiet"])
    assert bad.exit_code != 0 and "holds 3,000 steps" in bad.output and "Traceback" not in bad.output


def test_ale_pong_through_gymnasium(tmp_path):
    out = tmp_path / "pong.h5"
    res = CliRunner().invoke(cli, ["datasets", "record", "--env", "ALE/Pong-v5", "--steps", "300", "--seed", "3",
                                   "--grayscale16", "--cumulant", "reward", "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    import ale_py

    gym.register_envs(ale_py)
    want = _drive("ALE/Pong-v5", 300, 3)
    with DatasetFile(out) as f:
        assert f.dataset_id == "gymnasium/ALE.Pong-v5" and f.n_features == 256 + 6 + 1
        assert f.versions["ale_py"] == ale_py.__version__
        frames = f.array("frames")
        x = f.read(0, 300)
    gray = [cv2.resize(cv2.cvtColor(o, cv2.COLOR_RGB2GRAY), (16, 16), interpolation=cv2.INTER_LINEAR)
            for o in want["obs"]]
    np.testing.assert_array_equal(frames, np.array(gray))
    np.testing.assert_allclose(x.observations[:, :256], np.array(gray).reshape(300, 256) / 256.0, rtol=1e-7)
    assert len(set(map(bytes, frames))) > 10               # the screen moves
    np.testing.assert_array_equal(x.cumulants[1:], np.array(want["reward"][1:], np.float32))


def test_policy_module_and_user_errors(tmp_path, monkeypatch):
    (tmp_path / "my_policy.py").write_text("def push_right(observation, action_space):\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "right.h5"
    p = record_env("CartPole-v1", out, steps=200, policy="my_policy:push_right", cumulant="obs:2", progress=False)
    with DatasetFile(p) as f:
        x = f.read(0, 200)
        assert f.params["policy"] == "my_policy:push_right"
    start = x.continuations == 0
    assert np.all(x.observations[~start, 5] == 1) and np.all(x.observations[~start, 4] == 0)
    np.testing.assert_array_equal(x.cumulants[~start], x.observations[~start, 2])     # pole angle
    for args, needle in [(["--env", "CartPol-v1"], "did you mean 'CartPole-v1'"),
                         (["--env", "CartPole-v1", "--cumulant", "obs:9"], "out of range"),
                         (["--env", "CartPole-v1", "--cumulant", "speed"], "obs:I"),
                         (["--env", "CartPole-v1", "--grayscale16"], "image observations"),
                         (["--env", "CartPole-v1", "--gamma", "1"], "[0, 1)"),
                         (["--env", "CartPole-v1", "--policy", "my_policy:nope"], "no function 'nope'")]:
        res = CliRunner().invoke(cli, ["datasets", "record", *args, "--steps", "50", "-o", str(tmp_path / "x.h5")])
        lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert res.exit_code == 2 and len(lines) == 1 and needle in lines[0], res.output
        assert not (tmp_path / "x.h5").exists()
