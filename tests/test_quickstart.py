"""The quickstart end to end at a tiny size: real HDF5 files, the reference learners, records, table, PNG."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from oscbench.benchmark.quickstart import quickstart
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
    res = CliRunner().invoke(cli, ["quickstart", "--out", str(out), "--steps", str(STEPS), "--seeds", "2", "--quiet"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    text = res.output
    # the dataset summary, then the table with both reference learners, then the plot path
    assert "trace-patterning/default-v1" in text and "digest" in text and "ok" in text
    table = text[text.index("== 3."):]
    for name, flops in (("hybrid", "4,048"), ("tbptt", "3,720")):
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
    recs = sorted((out / "records").glob("*.json"))
    assert len(recs) == 4
    for p in recs:
        assert validate_record(p).ok, validate_record(p).errors
        r = json.loads(p.read_text())
        assert r["status"] == "ok" and r["steps"] == STEPS
        assert r["dataset"]["sha256"] == digests[r["seed"]] and r["dataset"]["sha256_kind"] == "file-content"
        assert r["audit"]["causality"] == "passed"
        assert np.isfinite(r["metrics"]["nmse"])


def test_quickstart_python_with_other_learners_and_a_failing_one(tmp_path):
    lines: list[str] = []
    res = quickstart(tmp_path, n_steps=5000, n_seeds=2, learners=[f"{LEARNERS}:linear_td", f"{LEARNERS}:faulty"],
                     progress=False, echo=lines.append)
    assert res.plot is not None and res.plot.is_file()
    assert [r["status"] for r in res.records] == ["ok", "ok", "ok", "failed"]
    assert "linear_td" in res.table and "faulty" in res.table
    # the failing run is shown as failed seeds in the table, and the CLI would exit non-zero
    assert "1+1F" in res.table
