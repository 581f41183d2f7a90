"""Every Atari refusal: bad ROMs, wrong logs, missing datasets, divergence, interrupted generation."""
from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from atari_fixtures import policy_bytes, policy_file
from click.testing import CliRunner

from oscbench.cli import cli
from tests.conftest import communicate_or_dump, popen_to_interrupt
from oscbench.datasets.atari import AtariStream, games as G
from oscbench.datasets.atari.emulator import rom_info
from oscbench.datasets.atari.generate import generate, policy_path
from oscbench.datasets.atari.replay import replay_log
from oscbench.datasets.paths import dataset_path
from oscbench.errors import ConfigError, DataError


def test_bad_rom_is_an_error_not_a_dead_process(tmp_path, monkeypatch):
    (tmp_path / "pong.bin").write_bytes(b"\0" * 2048)
    monkeypatch.setenv("ALE_ROMS_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        rom_info("Pong")
    assert "md5" in str(err.value)
    with pytest.raises(DataError):
        replay_log("Pong", b"Raaa")


def test_unknown_games_and_ids():
    for bad in ("atari/Pongg-v1", "atari/Pong-v2", "atari/pong", "Pacman"):
        with pytest.raises(ConfigError):
            G.parse_id(bad)
    with pytest.raises(ConfigError) as err:
        G.check_game("ms_pacman")
    assert "MsPacman" in str(err.value)


def test_missing_log_and_dataset_name_the_command_to_run():
    with pytest.raises(DataError) as err:
        generate("atari/Pong-v1", progress=False)
    assert "oscbench datasets download atari/Pong-v1" in str(err.value)
    with pytest.raises(DataError) as err:
        AtariStream("atari/Pong-v1")
    assert "oscbench datasets download atari/Pong-v1" in str(err.value)
    res = CliRunner().invoke(cli, ["datasets", "verify", "atari/Pong-v1"])
    assert res.exit_code != 0 and "oscbench datasets download atari/Pong-v1" in res.output


def test_a_log_that_is_not_the_registry_log_is_refused(tmp_path):
    wrong = tmp_path / "PongNoFrameskip-v4.txt"
    wrong.write_bytes(policy_bytes("Pong")[:-1] + b"a")
    with pytest.raises(DataError) as err:
        generate("atari/Pong-v1", policy_file=wrong, output=tmp_path / "p.h5", progress=False)
    assert G.game_facts("Pong")["policy_sha256"] in str(err.value) and "atari/Pong-mine-v1" in str(err.value)
    assert not (tmp_path / "p.h5").exists()
    # the downloaded copy is checked too
    policy_path("Pong").parent.mkdir(parents=True)
    policy_path("Pong").write_bytes(wrong.read_bytes())
    with pytest.raises(DataError):
        generate("atari/Pong-v1", progress=False)
    assert not dataset_path("atari/Pong-v1").exists()


def test_divergence_from_the_recording_names_the_step():
    log = policy_bytes("Pong")[:7000]
    r = log.index(b"R", 1)
    early = log[:r - 2] + b"R" + log[r - 2:r] + log[r + 1:]     # reset two frames early: game still running
    with pytest.raises(DataError) as err:
        replay_log("Pong", early)
    assert f"diverged at step {r - 2}" in str(err.value)


def test_interrupted_generation_leaves_no_file(tmp_path):
    out = tmp_path / "Pong-v1.h5"
    proc = popen_to_interrupt([sys.executable, "-m", "oscbench", "datasets", "generate", "atari/Pong-v1",
                               "--policy-file", str(policy_file("Pong")), "-o", str(out)],
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen = b""
    deadline = time.monotonic() + 120
    while b"kframe/s" not in seen and time.monotonic() < deadline:   # the replay has done 4,096+ frames
        ch = proc.stderr.read(1)
        if not ch:
            break
        seen += ch
    assert proc.poll() is None, seen.decode()[-500:]
    proc.send_signal(signal.SIGINT)
    _, err = communicate_or_dump(proc, 60)
    assert proc.returncode == 130, err.decode()[-500:]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []     # no partial file either
