"""`oscbench datasets generate|info` and the CLI's error contract (one line, non-zero, no traceback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oscbench.cli import cli
from oscbench.datasets.format import DatasetFile


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "oscbench", *args], capture_output=True, text=True, env=os.environ)


def assert_user_error(res, fragment: str) -> None:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], res.stderr


def test_generate_and_info(tmp_path):
    out = tmp_path / "tp.h5"
    r = CliRunner().invoke(cli, ["datasets", "generate", "trace-patterning", "--steps", "5000", "--seed", "4",
                                 "--isi", "10", "12", "--distractors", "2", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ds = DatasetFile(out)
    assert ds.n_features == 9 and ds.n_steps == 5000 and ds.params["isi"] == [10, 12] and ds.seed == 4
    assert ds.dataset_id == "trace-patterning/custom-v1"
    r = CliRunner().invoke(cli, ["datasets", "info", str(out), "--json"])
    info = json.loads(r.output)
    assert info["digest_status"] == "ok" and info["n_steps"] == 5000 and info["size_bytes"] == out.stat().st_size
    assert 0 < info["statistics"]["returns"]["mean"] < 1
    r = CliRunner().invoke(cli, ["datasets", "info", str(out)])
    assert "trace-patterning/custom-v1" in r.output and "ok" in r.output


def test_default_output_goes_to_the_data_dir():
    r = CliRunner().invoke(cli, ["datasets", "generate", "trace-patterning", "--preset", "code-head", "--steps", "1000"])
    assert r.exit_code == 0, r.output
    want = Path(os.environ["OSCBENCH_DATA"]) / "trace-patterning" / "code-head-v1" / "seed-0_steps-1000.h5"
    assert want.exists() and DatasetFile(want).params["isi"] == [24, 36]


@pytest.mark.parametrize("args,fragment", [
    (["--isi", "26", "14"], "ISI range 26..14"),
    (["--steps", "-5"], "--steps -5"),
    (["--gamma", "1.5"], "--gamma"),
    (["--preset", "nonsense"], "unknown trace-patterning preset"),
])
def test_generate_user_errors(args, fragment, tmp_path):
    res = run("datasets", "generate", "trace-patterning", "-o", str(tmp_path / "x.h5"), *args)
    assert_user_error(res, fragment)
    assert not (tmp_path / "x.h5").exists()


def test_existing_output_and_unwritable_path(tmp_path):
    out = tmp_path / "a.h5"
    assert run("datasets", "generate", "trace-patterning", "--steps", "100", "-o", str(out)).returncode == 0
    before = out.read_bytes()
    assert_user_error(run("datasets", "generate", "trace-patterning", "--steps", "100", "-o", str(out)), "--overwrite")
    assert out.read_bytes() == before
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_user_error(run("datasets", "generate", "trace-patterning", "--steps", "100", "-o", str(blocker / "x.h5")),
                      "cannot create directory")


def test_info_on_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"this is not hdf5" * 100)
    assert_user_error(run("datasets", "info", str(bad)), "not a readable HDF5 file")
    assert_user_error(run("datasets", "info", str(tmp_path / "missing.h5")), "no dataset file")


def test_unknown_dataset_name():
    assert_user_error(run("datasets", "generate", "nonsense/thing-v1"), "unknown dataset")


def test_trace_options_refused_for_atari():
    assert_user_error(run("datasets", "generate", "atari/Pong-v1", "--steps", "5"), "only apply to trace patterning")
