"""I/O faults (issue 9 item 7): on a full disk, ``datasets generate``, ``evaluate``, ``submit`` and
``leaderboard build`` stop with one line naming the path, exit non-zero, leave no ``.partial`` and no
half-written file, and never crash (each runs in its own process, so a segfault would show as a signal).

The full disk is a real one: a small tmpfs mounted for the test (needs root; skipped with the reason
otherwise), filled up with a filler file before the command runs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leaderboard_fixtures import make_records, write_records

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({r.stderr.strip() or r.returncode}); run as root")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


def _fill(d: Path) -> None:
    """Fill the file system of ``d`` to the last byte."""
    with open(d / "filler", "wb", buffering=0) as fh:
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError:
                pass
    assert shutil.disk_usage(d).free == 0


def _files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()}   # (empty folders may remain)


def _oscbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "oscbench", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def _one_line_naming(res: subprocess.CompletedProcess, path: Path) -> None:
    assert res.returncode > 0, (res.returncode, res.stderr)   # < 0 would be a signal (segfault)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert str(path) in lines[0] and "No space left on device" in lines[0], lines[0]


def test_generate_on_a_full_disk(disk):
    out = disk / "data" / "tp.h5"
    res = _oscbench("datasets", "generate", "trace-patterning", "--steps", "1000000", "-o", str(out))
    _one_line_naming(res, out)
    assert _files(disk) == set()   # nothing written, no .partial


def test_evaluate_on_a_full_disk(disk):
    out = disk / "runs"
    out.mkdir()
    _fill(disk)
    before = _files(disk)
    res = _oscbench("evaluate", "hybrid", "--steps", "3000", "--seeds", "0", "--out", str(out), "--quiet")
    assert res.returncode > 0 and "Traceback" not in res.stderr, res.stderr
    assert str(out) in res.stderr and "No space left on device" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert _files(disk) == before


def test_submit_on_a_full_disk(disk, tmp_path):
    runs = write_records(make_records(3, 0.4, name="full disk"), tmp_path / "runs")
    root = disk / "lb"
    (root / "submissions").mkdir(parents=True)
    _fill(disk)
    before = _files(disk)
    res = _oscbench("submit", *map(str, runs), "--name", "Full disk", "--root", str(root))
    _one_line_naming(res, root / "submissions" / "trace-patterning-v1" / "smoke" / "full-disk.json")
    assert _files(disk) == before


def test_leaderboard_build_on_a_full_disk(disk):
    root = disk / "lb"
    board = Path("submissions") / "trace-patterning-v1" / "short"     # the committed short board: a few
    shutil.copytree(REPO / "leaderboard" / board, root / board)        # hundred kB of the 2 MB disk
    readme = "# leaderboard\n"
    (root / "README.md").write_text(readme)
    _fill(disk)
    before = _files(disk)
    res = _oscbench("leaderboard", "build", "--root", str(root))
    assert res.returncode > 0 and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "No space left on device" in res.stderr, res.stderr
    assert str(root) in res.stderr
    assert _files(disk) == before and (root / "README.md").read_text() == readme
