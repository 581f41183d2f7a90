"""Recording a dataset from a live (scripted) agent, and regenerating it byte for byte from its log."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from oscbench.datasets.atari import record
from oscbench.datasets.atari.generate import generate
from oscbench.datasets.atari.replay import END_GAME_OVER, END_TRUNCATED
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.paths import dataset_path
from oscbench.errors import ConfigError, DataError


class Scripted:
    """Deterministic Breakout agent: FIRE, then cycles RIGHT/LEFT depending on the screen's brightness."""

    def __init__(self) -> None:
        self.t = 0
        self.resets = 0
        self.shapes = set()

    def reset(self) -> None:
        self.resets += 1
        self.t = 0

    def __call__(self, screen: np.ndarray) -> int:
        self.shapes.add(screen.shape)
        self.t += 1
        if self.t % 50 == 1:
            return 1                                   # FIRE launches the ball
        return 2 + int(screen[150:190].sum()) % 2      # RIGHT or LEFT


def test_record_then_regenerate_byte_for_byte(tmp_path):
    agent = Scripted()
    rec = record(agent, "Breakout", 4000, name="scripted", progress=False)
    assert rec.dataset_id == "atari/Breakout-scripted-v1"
    assert rec.dataset_path == dataset_path("atari/Breakout-scripted-v1")
    log = rec.log_path.read_bytes()
    assert len(log) == rec.n_steps == 4000 and log[:1] == b"R"
    assert set(log) <= set(b"Rabcd")
    assert hashlib.sha256(log).hexdigest() == rec.log_sha256
    assert rec.log_path.with_name(rec.log_path.name + ".sha256").read_text() == f"{rec.log_sha256}  {rec.log_path.name}\n"
    assert agent.shapes == {(210, 160, 3)}
    with DatasetFile(rec.dataset_path) as ds:
        ends = ds.array("meta/episode_ends")
        starts = ds.array("meta/episode_starts")
        assert ds.attrs["policy_sha256"] == rec.log_sha256
        digest = ds.content_sha256
    assert len(starts) >= 3 and agent.resets == len(starts)          # several games were lost
    assert list(ends[:-1]) == [END_GAME_OVER] * (len(ends) - 1) and ends[-1] == END_TRUNCATED
    assert [i for i, b in enumerate(log) if b == ord("R")] == list(starts)
    # someone else regenerates it from the log alone
    again = generate("atari/Breakout-scripted-v1", policy_file=rec.log_path, output=tmp_path / "again.h5",
                     progress=False)
    with DatasetFile(again) as ds:
        assert ds.content_sha256 == digest


def test_record_refuses_bad_actions_and_changed_logs(tmp_path):
    with pytest.raises(ConfigError) as err:
        record(lambda s: 7, "Pong", 100, name="bad", progress=False)
    assert "0..5" in str(err.value)
    assert not dataset_path("atari/Pong-bad-v1").exists()
    rec = record(lambda s: 0, "Pong", 300, name="noop", screen="grayscale", progress=False)
    tampered = tmp_path / rec.log_path.name
    tampered.write_bytes(rec.log_path.read_bytes()[:-1] + b"b")
    (tmp_path / (tampered.name + ".sha256")).write_text(rec.log_path.with_name(rec.log_path.name + ".sha256").read_text())
    with pytest.raises(DataError) as err:
        generate("atari/Pong-noop-v1", policy_file=tampered, output=tmp_path / "x.h5", progress=False)
    assert rec.log_sha256 in str(err.value)
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(ConfigError):
        record(lambda s: 0, "Pong", 10, name="has space", progress=False)
