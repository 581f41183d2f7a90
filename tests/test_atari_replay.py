"""Step semantics of the Atari replay on short hand-made logs, checked against ale-py driven directly."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from ale_py import ALEInterface, roms

from oscbench.datasets.atari import AtariStream, replay_log
from oscbench.datasets.atari.dataset import N_FEATURES, write_replay
from oscbench.datasets.atari.replay import END_RESET, END_TRUNCATED, GAMMA
from oscbench.datasets.format import DatasetFile
from oscbench.errors import DataError


def _direct(game: str, log: bytes):
    """Independent oracle: drive ale-py by hand (SPEC §2.2-§2.4) -> frames, action idx, raw rewards."""
    ale = ALEInterface()
    ale.setInt("random_seed", 1731038949)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.setInt("frame_skip", 1)
    ale.loadROM(str(roms.get_rom_path(game)))
    acts = ale.getMinimalActionSet()
    frames, idx, raw = [], [], []
    for b in log:
        if b == ord("R"):
            ale.reset_game()
            idx.append(-1)
            raw.append(0)
        else:
            raw.append(ale.act(acts[b - 97]))
            idx.append(b - 97)
        g = ale.getScreenGrayscale()
        frames.append(cv2.resize(g, (16, 16), interpolation=cv2.INTER_LINEAR))
    return np.array(frames), np.array(idx), np.array(raw, dtype=np.float64)


def _brute_returns(rewards: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """G_t = sum_{j=t+1..e} γ^(j-t-1) r_j, e = the last step of t's episode (SPEC §2.5), by brute force."""
    T = len(rewards)
    out = np.zeros(T)
    for t in range(T):
        e = t
        while e + 1 < T and not resets[e + 1]:
            e += 1
        out[t] = sum(GAMMA ** (j - t - 1) * float(rewards[j]) for j in range(t + 1, e + 1))
    return out


# SpaceInvaders: FIRE/RIGHT pairs score 5 and 15 points (clipping), with two mid-game resets.
LOG = (b"R" + (b"bbbbcccc" * 100) + b"R" + b"a" * 37 + (b"bbbbdddd" * 110) + b"R" + b"b" * 30
       + (b"bbbbcccc" * 40))


@pytest.fixture(scope="module")
def invaders(tmp_path_factory):
    rep = replay_log("SpaceInvaders", LOG, strict=False)
    path = write_replay(rep, tmp_path_factory.mktemp("ds") / "si.h5", dataset_id="atari/SpaceInvaders-hand-v1",
                        policy_file="hand.txt", policy_sha256="0" * 64)
    return rep, path


def test_replay_matches_direct_emulation_with_clipped_rewards(invaders):
    rep, _ = invaders
    frames, idx, raw = _direct("space_invaders", LOG)
    assert rep.n_steps == len(LOG)                     # one step per byte, the leading 'R' is step 0
    assert np.array_equal(rep.frames, frames)
    assert np.array_equal(rep.actions, idx)
    assert (np.abs(raw) > 1).any()                     # the log does score 5/15-point hits
    assert np.array_equal(rep.rewards, np.clip(raw, -1, 1).astype(np.float32))
    resets = [0, 801, 801 + 38 + 880]
    assert list(rep.episode_starts) == resets
    assert list(rep.episode_ends) == [END_RESET, END_RESET, END_TRUNCATED]
    assert list(rep.episode_lengths) == [800, 917, 30 + 320]
    bounds = resets + [len(LOG)]
    assert list(rep.episode_scores) == [raw[a:b].sum() for a, b in zip(bounds, bounds[1:])]


def test_file_observations_continuations_and_returns(invaders):
    rep, path = invaders
    with DatasetFile(path) as ds:
        assert ds.n_features == N_FEATURES == 275
        c = ds.read(0, ds.n_steps)
    obs = c.observations
    assert obs.dtype == np.float32 and obs.shape == (len(LOG), 275)
    assert np.array_equal(obs[:, :256], rep.frames.reshape(-1, 256).astype(np.float32) / 256)
    onehot = obs[:, 256:274]
    resets = rep.actions < 0
    assert np.all(onehot[resets] == 0)
    assert np.all(onehot.sum(1)[~resets] == 1)
    assert np.array_equal(np.argmax(onehot[~resets], 1), rep.actions[~resets])
    assert np.array_equal(obs[:, 274], rep.rewards) and np.array_equal(c.cumulants, rep.rewards)
    assert np.all(c.continuations[resets] == 0) and np.all(c.continuations[~resets] == np.float32(0.98))
    np.testing.assert_allclose(c.returns, _brute_returns(rep.rewards, resets), rtol=1e-12, atol=1e-12)
    ends = np.r_[np.nonzero(resets)[0][1:] - 1, len(LOG) - 1]
    assert np.all(c.returns[ends] == 0)                # G = 0 at each episode's last step


def test_stream_loops_with_an_episode_break_at_the_wrap(invaders):
    rep, path = invaders
    T = rep.n_steps
    with AtariStream(path) as s:
        assert (s.n_features, s.gamma, s.n_steps_per_pass) == (275, 0.98, T)
        assert len(s.digest) == 64 and s.dataset_id == "atari/SpaceInvaders-hand-v1"
        chunks = list(s.chunks(2 * T + 5, chunk_size=333))
    assert all(len(c) <= 333 for c in chunks)
    assert [c.start for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
    obs = np.concatenate([c.observations for c in chunks])
    cont = np.concatenate([c.continuations for c in chunks])
    ret = np.concatenate([c.returns for c in chunks])
    assert len(obs) == 2 * T + 5
    idx = np.arange(2 * T + 5) % T
    with DatasetFile(path) as ds:
        one = ds.read(0, T)
    assert np.array_equal(obs, one.observations[idx])
    assert cont[T - 1] != 0 and cont[T] == 0 and cont[2 * T] == 0   # the wrap starts a new episode
    assert ret[T - 1] == 0 and np.array_equal(ret, one.returns[idx])


def test_strict_replay_refuses_a_reset_of_a_running_game():
    with pytest.raises(DataError) as err:
        replay_log("SpaceInvaders", LOG[:900])
    assert "diverged at step 801" in str(err.value)


@pytest.mark.parametrize("log, words", [
    (b"abR", "starts with"),
    (b"Raaz", "byte 3"),
    (b"Rag", "byte 2"),          # Pong has 6 actions: 'a'..'f'
    (b"", "empty"),
])
def test_malformed_logs_are_refused(log, words):
    with pytest.raises(DataError) as err:
        replay_log("Pong", log)
    assert words in str(err.value) and "\n" not in str(err.value)
