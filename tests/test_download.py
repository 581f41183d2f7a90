"""Verified downloads against a local HTTP server on 127.0.0.1 serving the upstream action logs (see atari_fixtures)."""
from __future__ import annotations

import hashlib
import json

import pytest
from atari_fixtures import policies_dir, serve
from click.testing import CliRunner

from oscbench.cli import cli
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.fetch import download_policy
from oscbench.datasets.atari.generate import policy_path
from oscbench.datasets.download import fetch, resolve_source
from oscbench.errors import ConfigError, DataError

FILE = "PongNoFrameskip-v4.txt"
SHA = G.game_facts("Pong")["policy_sha256"]


def _leftovers(d):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_good_download_verifies_and_is_not_fetched_again(tmp_path):
    dest = tmp_path / "logs" / FILE
    logs = policies_dir("Pong")
    with serve(logs) as srv:
        got = fetch(f"{srv.base}/ok/{FILE}", dest, sha256=SHA, size=250_000, progress=False)
        assert got.fetched and got.path == dest
        assert dest.read_bytes() == (logs / FILE).read_bytes()
        again = fetch(f"{srv.base}/ok/{FILE}", dest, sha256=SHA, progress=False)
        assert not again.fetched
        assert srv.requests == [f"/ok/{FILE}"]          # the second call made no request
    assert _leftovers(dest.parent) == [FILE]


def test_corrupted_file_is_refused_naming_both_digests(tmp_path):
    dest = tmp_path / FILE
    logs = policies_dir("Pong")
    bad = bytearray((logs / FILE).read_bytes())
    bad[100] ^= 1
    actual = hashlib.sha256(bytes(bad)).hexdigest()
    with serve(logs) as srv, pytest.raises(DataError) as err:
        fetch(f"{srv.base}/corrupt/{FILE}", dest, sha256=SHA, size=250_000, retries=2, backoff=0, progress=False)
    msg = str(err.value)
    assert SHA in msg and actual in msg and "\n" not in msg
    assert len(srv.requests) == 1          # a wrong digest is not retried
    assert _leftovers(tmp_path) == []      # nothing left behind, not even a partial file


def test_server_dying_mid_transfer_is_retried_then_refused(tmp_path):
    dest = tmp_path / FILE
    with serve(policies_dir("Pong")) as srv, pytest.raises(DataError) as err:
        fetch(f"{srv.base}/dies/{FILE}", dest, sha256=SHA, size=250_000, retries=2, backoff=0, progress=False)
    assert "after 3 attempts" in str(err.value)
    assert len(srv.requests) == 3
    assert _leftovers(tmp_path) == []


def test_transient_failure_recovers_on_retry(tmp_path):
    dest = tmp_path / FILE
    with serve(policies_dir("Pong")) as srv:
        got = fetch(f"{srv.base}/flaky/{FILE}", dest, sha256=SHA, retries=2, backoff=0, progress=False)
        assert got.fetched and len(srv.requests) == 2
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == SHA


def test_404_is_refused_without_retries(tmp_path):
    dest = tmp_path / "out" / FILE
    with serve(tmp_path) as srv, pytest.raises(DataError) as err:
        fetch(f"{srv.base}/ok/NoSuchGameNoFrameskip-v4.txt", dest, sha256=SHA, retries=3, backoff=0, progress=False)
    assert "404" in str(err.value)
    assert len(srv.requests) == 1
    assert _leftovers(dest.parent) == []


def test_mirror_url_directory_and_environment(tmp_path, monkeypatch):
    # a URL mirror replaces the upstream base
    logs = policies_dir("Pong")
    with serve(logs) as srv:
        got = download_policy("Pong", mirror=f"{srv.base}/ok", progress=False)
        assert got.fetched and got.source == f"{srv.base}/ok/{FILE}" and got.path == policy_path("Pong")
    # a directory mirror, given through $OSCBENCH_MIRROR
    got.path.unlink()
    monkeypatch.setenv("OSCBENCH_MIRROR", str(logs))
    again = download_policy("Pong", progress=False)
    assert again.fetched and again.source == str(logs / FILE)
    assert hashlib.sha256(again.path.read_bytes()).hexdigest() == SHA
    # without a mirror the upstream URL at the pinned commit is used
    monkeypatch.delenv("OSCBENCH_MIRROR")
    assert resolve_source(FILE, G.UPSTREAM_BASE) == G.upstream_url("Pong")
    assert G.UPSTREAM_COMMIT in G.upstream_url("Pong")
    with pytest.raises(ConfigError):
        resolve_source(FILE, G.UPSTREAM_BASE, mirror=str(tmp_path / "missing"))


def test_mirror_directory_with_a_wrong_file_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILE).write_bytes(b"R" + b"a" * 10)
    with pytest.raises(DataError) as err:
        download_policy("Pong", mirror=str(mirror), progress=False)
    assert SHA in str(err.value)
    assert not policy_path("Pong").exists()


def test_cli_download_log_only_through_a_mirror(tmp_path):
    with serve(policies_dir("Pong", "Breakout")) as srv:
        res = CliRunner().invoke(cli, ["datasets", "download", "atari/Breakout-v1", "--log-only", "--quiet",
                                       "--mirror", f"{srv.base}/ok"])
        assert res.exit_code == 0, res.output
        assert str(policy_path("Breakout")) in res.output
        res = CliRunner().invoke(cli, ["datasets", "download", "atari/Breakout-v1", "--log-only", "--quiet",
                                       "--mirror", f"{srv.base}/dies"])
        assert res.exit_code == 0          # already present and verified: no transfer at all
        assert srv.requests == ["/ok/BreakoutNoFrameskip-v4.txt"]
        res = CliRunner().invoke(cli, ["datasets", "download", "atari/Pong-v1", "--log-only", "--quiet",
                                       "--mirror", f"{srv.base}/corrupt"])
    assert res.exit_code != 0 and res.output.startswith("error: ") and "Traceback" not in res.output
    assert not policy_path("Pong").exists()
    listing = json.loads(CliRunner().invoke(cli, ["datasets", "list", "--json", "--kind", "atari"]).output)
    status = {d["id"]: d["local_status"] for d in listing}
    assert status["atari/Breakout-v1"] == "log only" and status["atari/Pong-v1"] == "absent"
