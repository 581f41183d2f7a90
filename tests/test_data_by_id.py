"""Data by id: ``load`` / ``open_dataset`` with ids, ``datasets delete``, did-you-mean, recursive
``results validate`` and ``results plot``."""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from atari_fixtures import policies_dir, serve
from click.testing import CliRunner

from oscbench import datasets
from oscbench.benchmark.evaluator import evaluate
from oscbench.benchmark.plots import learning_curve_figure
from oscbench.cli import cli
from oscbench.datasets import paths
from oscbench.datasets.atari import AtariStream
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.trace_patterning import PRESETS, TracePatterningStream
from oscbench.errors import ConfigError, DataError

LEARNERS = Path(__file__).with_name("eval_learners.py")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_line_error(res, *needles: str) -> str:
    assert res.exit_code != 0 and "Traceback" not in res.output, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, res.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_load_an_atari_id_after_a_download_then_delete_it():
    with serve(policies_dir("Pong")) as srv:
        res = run("datasets", "download", "atari/Pong-v1", "--mirror", f"{srv.base}/ok", "--quiet")
    assert res.exit_code == 0, res.output
    with datasets.open_dataset("atari/Pong-v1") as f:          # right after the download, by id
        assert f.dataset_id == "atari/Pong-v1" and f.n_steps == 250_000
        first = f.read(0, 1000)
        digest = f.content_sha256
    with datasets.load("atari/Pong-v1") as s:
        assert isinstance(s, AtariStream) and s.digest == digest and s.n_features == 275
        c = next(iter(s.chunks(1000, 1000)))
    np.testing.assert_array_equal(c.observations, first.observations)
    np.testing.assert_array_equal(c.returns, first.returns)
    with datasets.load("Pong", download=True) as s:                # present: no second download
        assert s.dataset_id == "atari/Pong-v1"

    data = paths.data_dir()
    res = run("datasets", "delete", "atari/Pong-v1")                # no terminal, no --yes: refused
    one_line_error(res, "--yes")
    assert (data / "atari" / "Pong-v1.h5").is_file()
    res = run("datasets", "delete", "atari/Pong-v1", "--yes")
    assert res.exit_code == 0 and "deleted 2 file(s)" in res.output, res.output
    assert not (data / "atari" / "Pong-v1.h5").exists()
    assert not list(data.rglob("*Pong*"))
    with pytest.raises(DataError, match="oscbench datasets download atari/Pong-v1"):
        datasets.open_dataset("atari/Pong-v1")
    one_line_error(run("datasets", "delete", "atari/Pong-v1", "--yes"), "nothing of atari/Pong-v1")


def test_load_trace_patterning_ids_and_files(tmp_path):
    s = datasets.load("trace-patterning/code-head-v1", seed=3)
    want = next(iter(TracePatterningStream(PRESETS["code-head"], 3).chunks(500, 500)))
    got = next(iter(s.chunks(500, 500)))
    np.testing.assert_array_equal(got.observations, want.observations)
    np.testing.assert_array_equal(got.returns_truncated, want.returns_truncated)
    with pytest.raises(ConfigError, match="generated on the fly"):
        datasets.open_dataset("trace-patterning/default-v1")
    out = tmp_path / "tp.h5"
    assert run("datasets", "generate", "trace-patterning", "--steps", "700", "--seed", "3", "--preset", "code-head",
               "-o", str(out), "--quiet").exit_code == 0
    with datasets.load(out) as f:
        assert isinstance(f, DatasetFile)
        np.testing.assert_array_equal(next(iter(f.chunks(500, 500))).observations, want.observations)


@pytest.mark.parametrize("bad,hint", [("atari/Pongg-v1", "atari/Pong-v1"), ("atari/pong-v1", "atari/Pong-v1"),
                                      ("trace-patterning/defualt-v1", "trace-patterning/default-v1"),
                                      ("MsPacmn", "atari/MsPacman-v1")])
def test_unknown_ids_suggest_the_closest(bad, hint):
    line = one_line_error(run("datasets", "show", bad), f"did you mean '{hint}'")
    assert line.count("'atari/") + line.count("'trace-patterning/") <= 2      # a hint, not a list
    with pytest.raises(ConfigError, match=hint):
        datasets.load(bad)
    assert "did you mean" not in one_line_error(run("datasets", "show", "nothing/here-v1"), "datasets list")


def test_delete_never_leaves_the_data_dir(tmp_path):
    data = paths.data_dir()
    for seed in (0, 1):
        assert run("datasets", "generate", "trace-patterning", "--preset", "code-head", "--steps", "300",
                   "--seed", str(seed), "--quiet").exit_code == 0
    made = sorted((data / "trace-patterning" / "code-head-v1").glob("*.h5"))
    assert len(made) == 2
    res = run("datasets", "delete", "trace-patterning/code-head-v1", "-y")
    assert res.exit_code == 0 and all(str(p) in res.output for p in made)
    assert not (data / "trace-patterning" / "code-head-v1").exists()

    # a linked file inside the data dir: the link goes, its target stays
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "keep.h5"
    target.write_bytes(b"precious")
    d = data / "trace-patterning" / "default-v1"
    d.mkdir(parents=True)
    (d / "seed-0_steps-10.h5").symlink_to(target)
    assert run("datasets", "delete", "trace-patterning/default-v1", "--yes").exit_code == 0
    assert target.read_bytes() == b"precious" and not d.exists()
    # a linked directory pointing outside: refused, nothing deleted
    d.symlink_to(outside, target_is_directory=True)
    one_line_error(run("datasets", "delete", "trace-patterning/default-v1", "--yes"), "outside the data dir")
    assert target.read_bytes() == b"precious"
    # a path is not an id
    one_line_error(run("datasets", "delete", str(target), "--yes"), "dataset id")
    assert target.exists()
    one_line_error(run("datasets", "delete", "atari/Pongg-v1", "--yes"), "did you mean 'atari/Pong-v1'")


@pytest.fixture(scope="module")
def small_records(tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    for name, hp in (("linear_td", {"step_size": 0.02}), ("constant", {"value": 0.1})):
        res = evaluate(f"{LEARNERS}:{name}", n_steps=3000, seeds=[0, 1, 2], hyperparameters=hp, out_dir=out,
                       progress=False)
        assert res.ok
    return out


def test_results_validate_recurses_into_folders(small_records, tmp_path):
    root = tmp_path / "results"
    files = sorted(small_records.glob("*.json"))
    for i, f in enumerate(files):
        dest = root / f"run{i % 3}" / ("deep" if i % 2 else "") / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    (root / ".cache").mkdir()
    (root / ".cache" / "junk.json").write_text("not json")      # hidden folders are skipped
    res = CliRunner().invoke(cli, ["results", "validate", str(root), "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)) == len(files) == 6
    bad = root / "run1" / "deep" / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1}))
    res = CliRunner().invoke(cli, ["results", "validate", str(root)])
    assert res.exit_code == 1 and f"FAIL  {bad}" in res.output and res.output.count("ok    ") == 6


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_results_plot_writes_curves_and_the_best_constant(small_records, tmp_path):
    out = tmp_path / "plot.png"
    res = CliRunner().invoke(cli, ["results", "plot", str(small_records), "-o", str(out)])
    assert res.exit_code == 0, res.output
    recs = [json.loads(p.read_text()) for p in sorted(small_records.glob("*.json"))]
    fig = learning_curve_figure(recs)
    w, h = fig.get_size_inches() * fig.dpi
    assert _png_size(out) == (round(w), round(h)) and out.stat().st_size > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]          # no partial file beside it

    # the best constant predictor's MSE is the target's variance over the scoring window (here: the
    # whole 3,000-step run), computed here from the streams themselves, averaged over the seeds
    g = [next(iter(TracePatterningStream(PRESETS["default"], s).chunks(3000, 3000))).returns_truncated
         for s in (0, 1, 2)]
    want = np.mean([np.var(x) for x in g])
    panels = {ax.get_title().split(":")[0] + ":" + ax.get_title().split(":")[1]: ax
              for ax in fig.axes if ax.get_visible() and ax.get_title()}
    assert sorted(panels) == ["eval_learners:constant", "eval_learners:linear_td"]
    for ax in panels.values():
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert np.allclose(lines["best constant (NMSE 1)"].get_ydata(), want, rtol=1e-6)
    # the constant learner predicts 0.1 everywhere: its curve is the per-bin mean of (0.1 - G)^2
    bins = recs[0]["curve"]["bin_steps"]
    per_bin = np.array([[np.mean((0.1 - x[a:a + bins]) ** 2) for a in range(0, 3000, bins)] for x in g])
    k = max(1, per_bin.shape[1] // 20)        # the plot averages each run over a trailing 1/20 of its bins
    smooth = np.array([[run[max(0, i + 1 - k):i + 1].mean() for i in range(len(run))] for run in per_bin])
    per_bin = smooth.mean(axis=0)
    lines = {ln.get_label(): ln for ln in panels["eval_learners:constant"].get_lines()}
    assert np.allclose(lines["mean over seeds"].get_ydata(), per_bin, rtol=1e-5)


def test_results_plot_user_errors(small_records, tmp_path):
    one_line_error(CliRunner().invoke(cli, ["results", "plot", str(small_records), "-o", str(tmp_path / "x.pdf")]),
                   ".png")
    one_line_error(CliRunner().invoke(cli, ["results", "plot", str(tmp_path), "-o", str(tmp_path / "x.png")]),
                   "no .json records")
    assert not (tmp_path / "x.png").exists()
