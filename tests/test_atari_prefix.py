"""The first 20,000 steps of Pong, Breakout and AirRaid replay to the registry's prefix fingerprints.

The full-length check is `oscbench datasets verify atari/<Game>-v1 --replay` (about 30 s per game), not
a test. AirRaid has a 250×160 screen (full screen resized) and short episodes.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from atari_fixtures import policy_bytes

from oscbench.datasets.atari import AtariStream, games as G
from oscbench.datasets.atari.dataset import write_replay
from oscbench.datasets.atari.fingerprint import PREFIX_STEPS, first_difference, prefix_fingerprint
from oscbench.datasets.atari.replay import replay_log
from oscbench.datasets.atari.verify import verify_file
from oscbench.errors import DataError


@pytest.fixture(scope="module")
def prefixes():
    return {g: replay_log(g, policy_bytes(g), n_steps=PREFIX_STEPS) for g in ("Pong", "Breakout", "AirRaid")}


@pytest.mark.parametrize("game", ["Pong", "Breakout", "AirRaid"])
def test_prefix_matches_the_registry(prefixes, game):
    rep = prefixes[game]
    want = G.game_facts(game)["prefix"]
    got = prefix_fingerprint(rep.frames, rep.rewards, rep.episode_arrays())
    assert first_difference(want, got) is None
    assert got == want
    full = G.game_facts(game)["fingerprint"]
    assert full["block_digests"][:8 * (PREFIX_STEPS // full["block_steps"])] == \
        "".join(hashlib.sha256(rep.frames[a:a + 1000].tobytes()).hexdigest()[:8]
                for a in range(0, PREFIX_STEPS, 1000))
    assert rep.facts["rom_md5"] == G.game_facts(game)["rom_md5"]
    assert rep.facts["screen"] == G.game_facts(game)["screen"]


def test_expected_episode_boundaries(prefixes):
    pong = prefixes["Pong"]
    assert list(pong.episode_starts) == [0, 6645, 13217, 19860]
    assert list(pong.episode_scores[:3]) == [21, 21, 21]          # every Pong game is won 21-0 (SPEC §2.2)
    assert list(pong.episode_extra_actions[:3]) == [1, 1, 1]      # one action after game over (SPEC §12)
    brk = prefixes["Breakout"]
    assert list(brk.episode_starts) == [0, 6216, 13439]
    assert list(brk.episode_scores[:2]) == [362, 355]
    air = prefixes["AirRaid"]
    assert air.facts["screen"] == [250, 160] and air.frames.shape == (PREFIX_STEPS, 16, 16)
    assert len(air.episode_starts) > 5


def test_a_shifted_or_altered_pass_is_named(prefixes, tmp_path):
    # skipping the action after game over still replays, but the fingerprint names the episode
    log = policy_bytes("Pong")[:PREFIX_STEPS]
    r = log.index(b"R", 1)
    shifted = log[:r - 1] + log[r:] + b"a"
    rep = replay_log("Pong", shifted)
    got = prefix_fingerprint(rep.frames, rep.rewards, rep.episode_arrays())
    msg = first_difference(G.game_facts("Pong")["prefix"], got)
    assert msg is not None and f"step {r - 1:,}" in msg
    # a file whose frames were altered at step 12,345 is refused, naming the 1,000-step block
    pong = prefixes["Pong"]
    frames = pong.frames.copy()
    frames[12_345, 3, 4] ^= 1
    pong_bad = type(pong)(**{**pong.__dict__, "frames": frames})
    path = write_replay(pong_bad, tmp_path / "Pong-v1.h5", dataset_id="atari/Pong-v1",
                        policy_file="PongNoFrameskip-v4.txt", policy_sha256=G.game_facts("Pong")["policy_sha256"])
    with pytest.raises(DataError) as err:
        verify_file(path)
    assert "steps 12,000–12,999" in str(err.value)
    with pytest.raises(DataError) as err:            # the stream refuses it too (frames digest != registry)
        AtariStream(path)
    assert "oscbench datasets verify atari/Pong-v1" in str(err.value)
    with AtariStream(path, check_registry=False) as s:
        assert s.n_steps_per_pass == PREFIX_STEPS
    assert np.array_equal(pong.frames[:12_345], frames[:12_345])
