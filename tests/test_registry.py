"""The dataset registry: every id, the atari-v1 suite, committed upstream facts, local paths and status."""
from __future__ import annotations

import hashlib
import json

import pytest
from atari_fixtures import policies_dir, policy_bytes
from click.testing import CliRunner
from conftest import shared_dir

from oscbench.cli import cli
from oscbench.datasets import paths, registry
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.generate import policy_path
from oscbench.datasets.trace_patterning import PRESETS
from oscbench.errors import ConfigError


def test_every_id_is_registered():
    ids = [e.id for e in registry.entries()]
    assert len(ids) == len(set(ids)) == len(PRESETS) + 58
    assert {f"trace-patterning/{p}-v1" for p in PRESETS} <= set(ids)
    assert {f"atari/{g}-v1" for g in G.GAMES} <= set(ids)
    assert "atari/NameThisGame-v1" not in ids            # no policy file exists (SPEC §2.1)
    pong = registry.get("atari/Pong-v1")
    assert (pong.kind, pong.n_features, pong.gamma, pong.steps) == ("atari", 275, 0.98, 250_000)
    assert pong.source == ("https://raw.githubusercontent.com/khurramjaved96/swiftd-atari-prediction-benchmark/"
                           "25395d07e821fd55d09e557f30ddfe3938dcdc5b/policies/PongNoFrameskip-v4.txt")
    assert registry.get("Pong") == pong
    tp = registry.get("trace-patterning/default-v1")
    assert tp.steps is None and tp.n_features == 12 and tp.source is None


def test_atari_v1_suite_is_the_53_reference_games():
    suite = {e.extra["game"] for e in registry.suite("atari-v1")}
    excluded = {e.extra["game"]: e.excluded_reason for e in registry.entries("atari") if e.excluded}
    assert len(suite) == 53 and suite.isdisjoint(excluded)
    assert set(excluded) == {"Assault", "MontezumaRevenge", "Tennis", "Venture", "Skiing"}
    assert all(excluded.values())
    assert "-1 on every frame" in excluded["Skiing"] and "no non-zero reward" in excluded["Tennis"]
    with pytest.raises(ConfigError):
        registry.suite("atari-v9")


def test_committed_upstream_digests_match_the_upstream_logs():
    logs = policies_dir()          # all 58, fetched and checked against the registry by the downloader
    sums_file = shared_dir() / "atari" / "SHA256SUMS"
    sums = dict(reversed(line.split()) for line in sums_file.read_text().splitlines()) if sums_file.is_file() else {}
    for game in G.GAMES:
        f = G.game_facts(game)
        data = (logs / G.policy_filename(game)).read_bytes()
        assert f["policy_sha256"] == hashlib.sha256(data).hexdigest() == sums.get(G.policy_filename(game),
                                                                                 f["policy_sha256"])
        assert f["policy_size"] == len(data) == 250_000


def test_exclusions_agree_with_the_committed_replay_facts():
    for game in G.GAMES:
        fp = G.game_facts(game)["fingerprint"]
        scores = fp["episode_scores"]
        if G.EXCLUDED.get(game, "").startswith("no non-zero reward"):
            assert set(scores) == {0}, game
        elif game == "Skiing":
            assert all(s < -3000 for s, e in zip(scores, fp["episode_ends"]) if e != "x")
        else:
            assert any(scores), game
    # SPEC §12: 1,757 complete episodes, 1,740 at game over (each with one more action), 17 at the cap
    ends = "".join(G.game_facts(g)["fingerprint"]["episode_ends"] for g in G.GAMES)
    assert (ends.count("g"), ends.count("t"), ends.count("x")) == (1740, 17, 58)
    assert all(x == 1 for g in G.GAMES for e, x in zip(G.game_facts(g)["fingerprint"]["episode_ends"],
                                                        G.game_facts(g)["fingerprint"]["episode_extra_actions"])
               if e == "g")


def test_unknown_ids_get_a_hint():
    with pytest.raises(ConfigError) as err:
        registry.get("atari/pong-v1")
    assert "atari/Pong-v1" in str(err.value)
    with pytest.raises(ConfigError):
        registry.get("nothing/here-v1")


def test_local_paths_and_status_follow_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OSCBENCH_DATA", str(tmp_path))
    e = registry.get("atari/Breakout-v1")
    assert e.local_path() == tmp_path / "atari" / "Breakout-v1.h5" == registry.local_path("atari/Breakout-v1")
    assert e.local_status() == "absent"
    policy_path("Breakout").parent.mkdir(parents=True)
    policy_path("Breakout").write_bytes(b"R" + b"a" * 9)          # wrong log: still absent
    assert e.local_status() == "absent"
    policy_path("Breakout").write_bytes(policy_bytes("Breakout"))
    assert e.local_status() == "log only"
    e.local_path().write_bytes(b"not hdf5")
    assert e.local_status() == "corrupt"
    tp = registry.get("trace-patterning/default-v1")
    assert tp.local_path() == paths.data_dir() / "trace-patterning" / "default-v1"
    assert tp.local_status() == "on the fly"


def test_cli_list_show_and_refusals():
    r = CliRunner()
    res = r.invoke(cli, ["datasets", "list", "--json"])
    assert res.exit_code == 0
    rows = {d["id"]: d for d in json.loads(res.output)}
    assert rows["atari/Skiing-v1"]["excluded"] and rows["atari/Skiing-v1"]["excluded_reason"]
    assert not rows["atari/Pong-v1"]["excluded"] and rows["atari/Pong-v1"]["local_status"] == "absent"
    text = r.invoke(cli, ["datasets", "list"]).output
    assert "atari/Tennis-v1" in text and "no reward in the log" in text
    res = r.invoke(cli, ["datasets", "show", "atari/Pong-v1"])
    assert res.exit_code == 0 and G.game_facts("Pong")["policy_sha256"] in res.output
    res = r.invoke(cli, ["datasets", "show", "atari/Pongg-v1"])
    assert res.exit_code == 2 and res.output.startswith("error: ")
    res = r.invoke(cli, ["datasets", "download", "trace-patterning/default-v1"])
    assert res.exit_code != 0 and "generated on the fly" in res.output
    res = r.invoke(cli, ["datasets", "download"])
    assert res.exit_code != 0 and "--all" in res.output
