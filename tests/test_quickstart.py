"""The quickstart end to end at a tiny size: real HDF5 files, the reference learners, records, table, PNG."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from oscbench.baselines.configs import reference_config
from oscbench.benchmark import flops as flop_count
from oscbench.quickstart import quickstart
from oscbench.benchmark.records import validate_record
from oscbench.cli import cli
from oscbench.datasets.format import DatasetFile

LEARNERS = Path(__file__).with_name("eval_learners.py")
STEPS = 4000


def _png_size(path: Path) -> tuple[int, int]:
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    return img.shape[1], img.shape[0]


def test_quickstart_cli_tiny(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["quickstart", "--out", str(out), "--steps", str(STEPS), "--n-seeds", "2", "--quiet"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    text = res.output
    # the dataset summary, then the table with both reference learners, then the plot path
    assert "trace-patterning/default-v1" in text and "digest" in text and "ok" in text
    table = text[text.index("== 3."):]
    tb = reference_config("tbptt", "trace-patterning", STEPS)       # the reference shape (the sweep's best)
    for name, flops in (("hybrid", f"{flop_count.hybrid(12, 20, 4):,}"),
                        ("tbptt", f"{flop_count.tbptt(12, tb['hidden'], tb['truncation']):,}"), ("linear_td", "44")):
        row = next(ln for ln in table.splitlines() if ln.startswith(name))
        assert flops in row and "[" in row   # NMSE with a CI over 2 seeds
    png = out / "learning_curves.png"
    assert f"learning curve: {png}" in text
    w, h = _png_size(png)
    assert w > 400 and h > 300
    # one verified HDF5 file per seed, and the records point at them by content digest
    files = sorted((out / "data").glob("*.h5"))
    assert len(files) == 2
    digests = {}
    for f in files:
        with DatasetFile(f) as ds:
            assert ds.n_steps == STEPS
            digests[ds.seed] = ds.content_sha256
    recs = sorted((out / "records").glob("*/*.json"))
    assert sorted({p.parent.name for p in recs}) == ["hybrid", "linear_td", "tbptt"] and len(recs) == 6
    for p in recs:
        assert validate_record(p).ok, validate_record(p).errors
        r = json.loads(p.read_text())
        assert r["status"] == "ok" and r["steps"] == STEPS
        if p.parent.name == "linear_td":   # the example reads the task's own stream: a digest the board recomputes
            assert r["dataset"]["sha256_kind"] == "generated-stream"
        else:
            assert r["dataset"]["sha256"] == digests[r["seed"]] and r["dataset"]["sha256_kind"] == "file-content"
        assert r["audit"]["causality"] == "passed"
        assert np.isfinite(r["metrics"]["nmse"])
    # a custom length is no leaderboard entry, and the quickstart says why in terms of its own options
    assert "not a leaderboard entry: the smoke board needs 200,000 steps a run; run `oscbench quickstart` " \
           "without --steps" in text
    assert "oscbench submit" not in text


def test_quickstart_python_with_other_learners_and_a_failing_one(tmp_path):
    lines: list[str] = []
    res = quickstart(tmp_path, n_steps=5000, n_seeds=2, learners=[f"{LEARNERS}:linear_td", f"{LEARNERS}:faulty"],
                     example=None, progress=False, echo=lines.append)
    assert res.plot is not None and res.plot.is_file()
    assert [r["status"] for r in res.records] == ["ok", "ok", "ok", "failed"]
    assert "linear_td" in res.table and "faulty" in res.table
    # the failing run is shown as failed seeds in the table, and the CLI would exit non-zero
    assert "1+1F" in res.table


def test_quickstart_then_submit_the_example(tmp_path):
    """The example's records from a quickstart at the smoke preset are a valid first submission: the
    printed command, run as printed (plus a scratch --root), writes an entry the board shows."""
    import shlex

    lines: list[str] = []
    res = quickstart(tmp_path / "out", learners=(), progress=False, echo=lines.append)
    assert res.submit_command and res.not_submittable is None
    assert res.submit_command in "\n".join(lines)
    argv = shlex.split(res.submit_command)
    assert argv[:2] == ["oscbench", "submit"] and Path(argv[2]) == res.example_dir
    root = tmp_path / "lb"
    sub = CliRunner().invoke(cli, argv[1:] + ["--root", str(root), "--json"])
    assert sub.exit_code == 0, sub.output
    entry = json.loads(sub.output)
    assert entry["ok"] and entry["learner"] == "linear_td" and entry["preset"] == "smoke" and entry["seeds"] == 3
    show = json.loads(CliRunner().invoke(cli, ["leaderboard", "show", "--json", "--root", str(root)]).output)
    assert [row["name"] for b in show for row in b["rows"]] == ["linear TD (example)"]


def test_quickstart_json(tmp_path):
    res = CliRunner().invoke(cli, ["quickstart", "--out", str(tmp_path), "--steps", "3000", "--seeds", "0-1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)          # stdout is one JSON document, nothing else
    assert doc["ok"] and len(doc["records"]) == 6 and Path(doc["plot"]).is_file()
    assert {s["learner"] for s in doc["summary"]} == {"hybrid", "tbptt", "linear_td"}
    assert doc["submit_command"] is None and "200,000 steps" in doc["not_submittable"]


def test_submitting_all_quickstart_records_names_learners_plainly(tmp_path):
    """Mixed learners are named as the user knows them (`hybrid`), not as a JSON list."""
    from leaderboard_fixtures import make_records

    from oscbench.leaderboard.validation import check_records

    a = make_records(3, 0.4, name="hybrid", spec="hybrid")
    b = make_records(3, 0.5, name="mine", spec="mine.py:make")
    probs = check_records(a + b)
    assert len(probs) == 1 and probs[0].startswith("the records mix learners: "), probs
    assert "hybrid (3 runs)" in probs[0] and "mine (mine.py:make) (3 runs)" in probs[0] and "[" not in probs[0]


def test_a_stream_read_from_a_file_is_refused_naming_the_file_not_a_wrappers_option():
    from leaderboard_fixtures import make_records

    from oscbench.leaderboard.validation import check_records

    recs = make_records(3, 0.4, name="mine")
    for r in recs:
        r["dataset"].update(sha256_kind="file-content", path="out/data/tp_seed.h5")
    probs = check_records(recs)
    assert len(probs) == 1 and "the dataset file out/data/tp_seed.h5" in probs[0], probs
    assert "rerun without --dataset" not in probs[0]


def test_learning_curve_panels_show_a_ci_band_and_the_best_constant():
    """One panel per learner; the band is a Student-t 95% interval over seeds of the smoothed curves,
    recomputed here independently; the dashed line sits at the mean target variance (NMSE 1)."""
    from scipy import stats

    from leaderboard_fixtures import make_records
    from oscbench.benchmark.plots import learning_curve_figure, smoothed_band

    a = make_records(3, 0.4, name="a", noise=0.3)
    b = make_records(4, 0.9, name="b", noise=0.3)
    fig = learning_curve_figure(a + b)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title().split(":")[0] for ax in panels) == ["a", "b"]
    for ax, runs in zip(sorted(panels, key=lambda ax: ax.get_title()), (a, b)):
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(dashed) == 1
        want = np.mean([r["metrics"]["target_variance"] for r in runs])
        assert np.allclose(dashed[0].get_ydata(), want)
        assert len(ax.collections) == 1                   # the CI band
    # the band, independently: trailing means of 5 bins, then mean ± t(0.975, n-1)·sd/√n over runs
    x, mean, lo, hi = smoothed_band(b, smooth_bins=5)
    ys = np.array([r["curve"]["mse"] for r in b])
    sm = np.array([[ys[i, max(0, j - 4):j + 1].mean() for j in range(ys.shape[1])] for i in range(len(ys))])
    half = stats.t.ppf(0.975, len(b) - 1) * sm.std(axis=0, ddof=1) / np.sqrt(len(b))
    np.testing.assert_allclose(mean, sm.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(hi - mean, half, rtol=1e-9)
    np.testing.assert_allclose(mean - lo, half, rtol=1e-9)
    assert x[-1] == b[0]["steps"]
