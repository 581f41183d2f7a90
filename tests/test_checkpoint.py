"""Checkpoints and resume: a resumed run equals an uninterrupted one; finished runs are kept, runs of
edited code are not; Ctrl-C exits 130 with the command that resumes."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oscbench.benchmark import checkpoint
from oscbench.benchmark.evaluator import evaluate
from tests.conftest import communicate_or_dump, faulthandler_env, popen_to_interrupt

HERE = Path(__file__).parent
LEARNERS = HERE / "isolation_learners.py"
STEPS, CHUNK, EVERY = 20000, 2048, 4096


class Interrupt:
    """A progress callback that raises KeyboardInterrupt (as Ctrl-C would) once ``at`` steps are scored."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, 0

    def __call__(self, n: int, err: float) -> None:
        self.seen += n
        if self.seen >= self.at:
            raise KeyboardInterrupt


class Count:
    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, n: int, err: float) -> None:
        self.seen += n


def _eval(learner, out, **kw):
    kw = {"seeds": [0], "n_steps": STEPS, "chunk_steps": CHUNK, "checkpoint_every": EVERY, **kw}
    return evaluate(learner, out_dir=out, **kw)


@pytest.mark.parametrize("learner", ["hybrid", "tbptt"])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, learner):
    whole = _eval(learner, tmp_path / "whole", progress=False).records[0]
    with pytest.raises(KeyboardInterrupt):
        _eval(learner, tmp_path / "cut", progress=Interrupt(13000))
    ckpts = list((tmp_path / "cut").glob("*.ckpt"))
    assert len(ckpts) == 1 and not list((tmp_path / "cut").glob("*.json"))
    count = Count()
    resumed = _eval(learner, tmp_path / "cut", progress=count).records[0]
    assert count.seen == STEPS - 12288            # continued from the checkpoint after 3 x 4096 steps
    assert resumed["metrics"] == whole["metrics"] and resumed["curve"] == whole["curve"]
    assert resumed["audit"]["whole_run_causality"] == "passed"
    assert not list((tmp_path / "cut").glob("*.ckpt"))   # a finished run removes its checkpoint


def test_rerunning_keeps_finished_runs_and_fresh_redoes_them(tmp_path):
    first = _eval("hybrid", tmp_path, seeds=[0, 1], progress=False)
    count = Count()
    again = _eval("hybrid", tmp_path, seeds=[0, 1, 2], progress=count)
    assert count.seen == STEPS                       # only seed 2 ran
    assert [r["created"] for r in again.records[:2]] == [r["created"] for r in first.records]
    count = Count()
    _eval("hybrid", tmp_path, seeds=[0], progress=count, fresh=True)
    assert count.seen == STEPS


def test_edited_code_is_never_reused(tmp_path):
    learner = tmp_path / "mine.py"
    shutil.copy(LEARNERS, learner)
    out = tmp_path / "out"
    spec = f"{learner}:honest"
    with pytest.raises(KeyboardInterrupt):
        _eval(spec, out, progress=Interrupt(9000))
    assert len(list(out.glob("*.ckpt"))) == 1
    learner.write_text(learner.read_text() + "\n# edited\n")
    count = Count()
    rec = _eval(spec, out, progress=count).records[0]
    assert count.seen == STEPS                       # the old checkpoint was not used
    learner.write_text(learner.read_text() + "\n# edited again\n")
    count = Count()
    rec2 = _eval(spec, out, progress=count).records[0]
    assert count.seen == STEPS and rec2["learner"]["source_sha256"] != rec["learner"]["source_sha256"]


def test_a_learner_that_cannot_be_snapshotted_says_its_runs_cannot_resume(tmp_path, capsys):
    res = _eval(f"{LEARNERS}:unpicklable", tmp_path, progress=False)
    assert res.ok and not list(tmp_path.glob("*.ckpt"))
    assert "cannot resume" in capsys.readouterr().err


def test_a_corrupt_checkpoint_is_ignored(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _eval("hybrid", tmp_path, progress=Interrupt(9000))
    (ck,) = tmp_path.glob("*.ckpt")
    ck.write_bytes(b"not a checkpoint")
    count = Count()
    assert _eval("hybrid", tmp_path, progress=count).ok and count.seen == STEPS


def test_checkpoint_interval_rounds_up_to_whole_chunks():
    assert checkpoint.interval(1_000_000, 4096) == 245 * 4096 and checkpoint.DEFAULT_EVERY >= 1_000_000
    assert checkpoint.interval(4096, 4096) == 4096 and checkpoint.interval(0, 4096) is None


def test_ctrl_c_exits_130_keeps_records_and_prints_the_resume_command(tmp_path):
    pidfile = tmp_path / "pid"
    out = tmp_path / "out"
    proc = popen_to_interrupt([sys.executable, "-m", "oscbench", "evaluate", f"{LEARNERS}:faulty", "--steps", "6000",
                               "--seeds", "0-1", "--hp", 'mode="pidfile"', "--quiet", "--out", str(out)],
                              env=dict(os.environ, OSCBENCH_TEST_PIDFILE=str(pidfile)), text=True)
    try:
        end = time.time() + 120
        while not (pidfile.is_file() and pidfile.read_text()) and time.time() < end:
            time.sleep(0.2)
        child = int(pidfile.read_text())
        proc.send_signal(signal.SIGINT)
        _, err = communicate_or_dump(proc, 60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Resume with:" in err
    assert f"oscbench evaluate {LEARNERS}:faulty" in err and "--out" in err and "--fresh" not in err
    assert [p.name.endswith("seed-0.json") for p in out.glob("*.json")] == [True]
    time.sleep(1)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_hung_ctrl_c_test_reports_where_the_process_waits():
    """The Ctrl-C tests' diagnosis (tests/conftest.communicate_or_dump): a process that does not exit is
    made to print its threads' stacks, and the test fails with them."""
    code = "import time\ndef wait_here():\n    time.sleep(120)\nwait_here()\n"
    proc = subprocess.Popen([sys.executable, "-c", code], env=faulthandler_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)did not exit within 2 s.*in wait_here"):
        communicate_or_dump(proc, 2)
    assert proc.poll() is not None
