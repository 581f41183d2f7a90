"""Long work shows per-frame progress, and every command that produces a result prints one JSON document
on stdout with --json (progress bars stay on stderr)."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from atari_fixtures import policy_bytes
from oscbench.cli import cli
from oscbench.datasets.format import DatasetFile

SHORT = 3000


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _short_log(tmp_path: Path) -> Path:
    log = tmp_path / "Pong-short.txt"
    log.write_bytes(policy_bytes("Pong")[:SHORT])
    return log


def test_replay_reports_every_frame_to_a_callback(tmp_path):
    from oscbench.datasets.atari.generate import replay_policy

    counts: list[int] = []
    rep, _, _ = replay_policy("atari/Pong-short-v1", _short_log(tmp_path), progress=counts.append)
    assert sum(counts) == rep.n_steps == SHORT and len(counts) >= 1


def test_atari_generate_shows_a_frame_bar_and_prints_json(tmp_path):
    out = tmp_path / "pong.h5"
    res = _run("datasets", "generate", "atari/Pong-short-v1", "--policy-file", _short_log(tmp_path), "-o", out,
               "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)                      # stdout: the JSON document alone
    assert doc == {"datasets": {"atari/Pong-short-v1": str(out)}}
    with DatasetFile(out) as ds:
        assert ds.n_steps == SHORT
    # the bar went to stderr, counted in frames, with a rate
    assert "replay Pong" in res.stderr and "frame" in res.stderr and f"{SHORT / 1000:.0f}" in res.stderr


def test_trace_generate_json(tmp_path):
    out = tmp_path / "tp.h5"
    res = _run("datasets", "generate", "trace-patterning", "--steps", 500, "-o", out, "--json", "--quiet")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"datasets": {"trace-patterning/default-v1": str(out)}}


def test_download_json_log_only(tmp_path):
    """A real HTTP download from 127.0.0.1 (the shared log served locally), --log-only, --json."""
    from atari_fixtures import serve

    with serve() as server:
        res = _run("datasets", "download", "atari/Pong-v1", "--log-only", "--mirror", f"{server.base}/ok",
                   "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    path = Path(doc["datasets"]["atari/Pong-v1"])
    assert path.is_file() and path.read_bytes() == policy_bytes("Pong")


def test_leaderboard_build_json(tmp_path):
    from leaderboard_fixtures import make_records, write_records

    runs, root = tmp_path / "runs", tmp_path / "lb"
    write_records(make_records(3, 0.4, name="mine"), runs)
    assert _run("submit", runs, "--name", "Mine", "--root", root, "--json").exit_code == 0
    res = _run("leaderboard", "build", "--root", root, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["entries"] == 1 and doc["boards"] >= 1 and Path(doc["site"]).is_file() and Path(doc["readme"]).is_file()


def test_submit_json_reports_problems_as_json(tmp_path):
    from leaderboard_fixtures import make_records, write_records

    runs = tmp_path / "runs"
    write_records(make_records(2, 0.4, name="few"), runs)
    res = _run("submit", runs, "--name", "Few", "--root", tmp_path / "lb", "--json")
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and len(doc["problems"]) == 1 and "needs 3" in doc["problems"][0]


def test_every_command_has_json():
    """Every command produces a result, so every command takes --json (a new one must too)."""
    import click

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from walk(cmd, f"{prefix} {name}")
            else:
                yield f"{prefix} {name}", cmd

    lacking = [path for path, cmd in walk(cli, "oscbench")
               if not any("--json" in p.opts for p in cmd.params if isinstance(p, click.Option))]
    assert lacking == []


def test_cheap_commands_print_one_json_document(tmp_path):
    out = tmp_path / "tp.h5"
    assert _run("datasets", "generate", "trace-patterning", "--steps", 300, "-o", out, "--quiet").exit_code == 0
    runs = tmp_path / "runs"
    from leaderboard_fixtures import make_records, write_records

    write_records(make_records(3, 0.4, name="mine"), runs)
    for args in (["tasks", "list"], ["tasks", "show", "atari-v1"], ["datasets", "list"],
                 ["datasets", "show", "atari/Pong-v1"], ["datasets", "info", out], ["results", "summary", runs],
                 ["results", "validate", runs], ["leaderboard", "show", "--root", tmp_path / "lb"],
                 ["leaderboard", "validate", "--root", tmp_path / "lb"], ["speed", "--case", "trace-stream",
                                                                         "--scale", 0.001]):
        res = _run(*args, "--json")
        assert res.exit_code == 0, (args, res.output)
        json.loads(res.stdout)
