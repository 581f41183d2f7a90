"""Learners run isolated: every fault fails its own run only; no child outlives the evaluator;
factories travel to the child; the whole-run causality check catches a late look-ahead."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from oscbench.benchmark.evaluator import RunSpec, evaluate, plan, run_one
from oscbench.benchmark.records import validate_record
from oscbench.cli import cli
from oscbench.errors import ConfigError
from tests.conftest import communicate_or_dump, faulthandler_env

HERE = Path(__file__).parent
LEARNERS = HERE / "isolation_learners.py"
STEPS = 6000   # audit prefix 3000, then the scored run; faults fire at step 3500 of the scored run


def spec(factory: str) -> str:
    return f"{LEARNERS}:{factory}"


FAULTS = {
    "exit0": "sys.exit(0)",
    "os_exit": "exited with code 0",
    "sigkill": "SIGKILL",
    "raise": "RuntimeError: boom",
    "overflow": "1e+200",
    "badfloat": "object",
    "dtype": "complex128",
    "shape": "run() returned shape (",
}


@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_each_learner_fault_fails_only_its_own_run(tmp_path, mode):
    res = evaluate(spec("faulty"), seeds=[0, 1], n_steps=STEPS, hyperparameters={"mode": mode},
                   out_dir=tmp_path, progress=False, chunk_steps=4096)
    ok, bad = res.records
    assert ok["status"] == "ok" and ok["metrics"] is not None
    assert bad["status"] == "failed" and bad["failure"]["stage"] == "run"
    assert FAULTS[mode] in bad["failure"]["message"], bad["failure"]["message"]
    assert bad["failure"]["step"] is not None and 0 <= bad["failure"]["step"] < STEPS
    assert (tmp_path / bad["failure"]["log"]).is_file()
    assert all(validate_record(p).ok for p in res.paths) and len(res.paths) == 2


def test_a_hang_fails_after_the_timeout(tmp_path):
    t0 = time.perf_counter()
    res = evaluate(spec("faulty"), seeds=[1, 0], n_steps=STEPS, hyperparameters={"mode": "hang"},
                   out_dir=tmp_path, progress=False, timeout=3)
    assert time.perf_counter() - t0 < 120
    bad, ok = res.records
    assert bad["status"] == "failed" and "no answer within 3 s" in bad["failure"]["message"]
    assert ok["status"] == "ok"


def test_a_learner_over_the_memory_limit_fails_its_run(tmp_path):
    res = evaluate(spec("faulty"), seeds=[0, 1], n_steps=STEPS, hyperparameters={"mode": "alloc"},
                   out_dir=tmp_path, progress=False, memory_limit=4 * 2**30)
    ok, bad = res.records
    assert ok["status"] == "ok"
    assert bad["status"] == "failed" and "MemoryError" in bad["failure"]["message"]
    assert "--memory-limit" in bad["failure"]["message"]


def _run_in_child(spec_, queue):
    queue.put(run_one(spec_)["status"])


def test_isolation_works_from_a_non_main_process(tmp_path):
    # as in a (non-daemonic) Dask worker process: the worker starts the learner processes
    import multiprocessing

    (s,) = plan(spec("honest"), seeds=[0], n_steps=4000, out_dir=tmp_path)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    worker = ctx.Process(target=_run_in_child, args=(s, q), daemon=False)
    worker.start()
    assert q.get(timeout=180) == "ok"
    worker.join(30)
    assert worker.exitcode == 0


def test_step_returning_an_object_whose_float_raises_fails_its_run(tmp_path):
    res = evaluate(spec("step_bad_float"), seeds=[0], n_steps=4000, out_dir=tmp_path, progress=False)
    (bad,) = res.records
    assert bad["status"] == "failed" and "must return one float" in bad["failure"]["message"]


def test_cli_exits_nonzero_naming_the_failed_run_without_traceback(tmp_path):
    res = CliRunner().invoke(cli, ["evaluate", spec("faulty"), "--steps", str(STEPS), "--seeds", "0-1",
                                   "--hp", 'mode="exit0"', "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 1, res.output
    assert "1 run(s) failed" in res.output and "seed 1" in res.output
    assert "Traceback" not in res.output
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_isolated_and_unisolated_records_agree(tmp_path):
    a = evaluate("hybrid", seeds=[0], n_steps=9000, progress=False, chunk_steps=2048).records[0]
    b = evaluate("hybrid", seeds=[0], n_steps=9000, progress=False, chunk_steps=2048, isolate=False).records[0]
    assert a["metrics"] == b["metrics"] and a["curve"] == b["curve"]
    assert a["audit"]["isolated"] is True and b["audit"]["isolated"] is False
    assert a["audit"]["leaderboard_eligible"] is True and b["audit"]["leaderboard_eligible"] is False


def test_late_look_ahead_is_caught_with_its_step(tmp_path):
    res = evaluate(spec("late_peek"), seeds=[0], n_steps=40000, out_dir=tmp_path, progress=False, chunk_steps=4096)
    (r,) = res.records
    assert r["audit"]["causality"] == "passed"          # the prefix audit alone lets it through
    assert r["status"] == "failed" and "whole-run causality check failed" in r["failure"]["message"]
    step = r["failure"]["step"]
    assert step >= 3000 and f"at step {step}" in r["failure"]["message"]


def test_honest_learner_passes_every_whole_run_check(tmp_path):
    (r,) = evaluate(spec("honest"), seeds=[0], n_steps=40000, progress=False, chunk_steps=4096).records
    assert r["status"] == "ok" and r["audit"]["whole_run_causality"] == "passed"
    assert r["audit"]["whole_run_checks"] == 10 and r["audit"]["leaderboard_eligible"] is True


def test_a_learner_that_cannot_be_snapshotted_runs_but_is_not_eligible(tmp_path):
    (r,) = evaluate(spec("unpicklable"), seeds=[0], n_steps=5000, progress=False).records
    assert r["status"] == "ok" and r["metrics"] is not None
    assert r["audit"]["snapshots"].startswith("unavailable") and r["audit"]["leaderboard_eligible"] is False
    assert r["audit"]["whole_run_causality"] == "not run"


def test_records_of_a_learner_that_cannot_be_snapshotted_are_refused_by_the_leaderboard():
    """Not checked for causality over the whole run -> never on the board (the smoke preset, full length)."""
    from oscbench.leaderboard.validation import check_records

    res = evaluate(spec("unpicklable"), n_seeds=3, progress=False)
    assert res.ok and all(r["audit"]["leaderboard_eligible"] is False for r in res.records)
    problems = check_records(res.records, check_data=False)
    assert len(problems) == 1 and "whole run" in problems[0] and "snapshotted" in problems[0]
    honest = evaluate(spec("honest"), n_seeds=3, progress=False)
    assert all(r["audit"]["leaderboard_eligible"] is True for r in honest.records)
    assert check_records(honest.records, check_data=False) == []


def test_a_closure_factory_runs_isolated():
    from isolation_learners import Honest

    rate = 0.02

    def make(n_features, *, seed):      # a closure: pickled by value into the child
        return Honest(n_features, seed, step_size=rate)

    res = evaluate(make, seeds=[0], n_steps=4000, progress=False)
    assert res.ok and res.records[0]["audit"]["isolated"] is True


def test_an_unpicklable_factory_is_refused_with_how_to_run_unisolated():
    import threading

    lock = threading.Lock()

    def make(n_features, *, seed):
        with lock:
            from isolation_learners import Honest
            return Honest(n_features, seed)

    with pytest.raises(ConfigError, match="cannot be pickled.*isolate=False"):
        evaluate(make, seeds=[0], n_steps=4000, progress=False)
    assert evaluate(make, seeds=[0], n_steps=4000, progress=False, isolate=False).ok


def test_run_spec_is_picklable_and_runs_alone(tmp_path):
    import pickle

    (s,) = plan(spec("honest"), seeds=[2], n_steps=4000, out_dir=tmp_path)
    s2 = pickle.loads(pickle.dumps(s))
    assert isinstance(s2, RunSpec) and s2 == s
    rec = run_one(s2)
    assert rec["status"] == "ok" and rec["seed"] == 2
    assert len(list(tmp_path.glob("*.json"))) == 1


def _wait_for(path: Path, seconds: float) -> str:
    end = time.time() + seconds
    while time.time() < end:
        if path.is_file() and path.read_text():
            return path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"{path} never written")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_no_learner_process_outlives_a_killed_evaluator(tmp_path):
    pidfile = tmp_path / "pid"
    env = dict(os.environ, OSCBENCH_TEST_PIDFILE=str(pidfile))
    proc = subprocess.Popen([sys.executable, "-m", "oscbench", "evaluate", spec("faulty"), "--steps", str(STEPS),
                             "--seeds", "1", "--hp", 'mode="pidfile"', "--quiet", "--out", str(tmp_path)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child = int(_wait_for(pidfile, 120))
        assert child != proc.pid and _alive(child)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        end = time.time() + 10
        while _alive(child) and time.time() < end:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        proc.kill()


def test_an_evaluator_exits_even_with_a_learner_process_it_never_closed(tmp_path):
    """A learner process whose host was never closed -- Ctrl-C or an error between the process's start and
    its host's registration -- is stopped at exit, before multiprocessing's own exit handler would wait
    for it forever (learner processes are not daemons, ignore SIGINT and outlive nothing but the evaluator)."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
            "from oscbench.benchmark import isolation\n"
            "host = isolation.ChildHost('isolation_learners.py:honest', 4, 0, {})\n"
            "host.build()\n"
            f"open({str(tmp_path / 'pid')!r}, 'w').write(str(host.pid))\n"
            "isolation._LIVE.discard(host)   # as if the host had never been registered (and is still referenced)\n"
            "raise SystemExit(3)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=HERE, env=faulthandler_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = communicate_or_dump(proc, 60)
    assert proc.returncode == 3, err
    assert not _alive(int((tmp_path / "pid").read_text()))


def test_memory_limit_and_timeout_are_checked_options():
    res = CliRunner().invoke(cli, ["evaluate", "hybrid", "--memory-limit", "lots", "--steps", "100"])
    assert res.exit_code == 2 and "--memory-limit 'lots' is not a size" in res.output
    res = CliRunner().invoke(cli, ["evaluate", "hybrid", "--timeout", "-1", "--steps", "100"])
    assert res.exit_code == 2 and "--timeout" in res.output


def test_numpy_predictions_are_compared_bitwise():
    # the check's comparison: a difference in the last bit fails
    from oscbench.benchmark.audit import _compare

    a = np.array([0.1, 0.2, 0.3])
    b = a.copy()
    b[2] = np.nextafter(b[2], 1.0)
    assert _compare(a, b)[0] == 2 and _compare(a, a.copy())[0] is None


@pytest.mark.parametrize("name", ["hybrid", "columnar", "constructive", "tbptt"])
def test_every_reference_learner_passes_isolated_with_whole_run_checks(name):
    (r,) = evaluate(name, seeds=[1], n_steps=12000, progress=False).records
    assert r["status"] == "ok", r["failure"]
    a = r["audit"]
    assert a["causality"] == a["determinism"] == a["whole_run_causality"] == "passed"
    assert a["snapshots"] == "ok" and a["whole_run_checks"] == 10 and a["leaderboard_eligible"] is True


@pytest.mark.parametrize("name", ["hybrid", "columnar", "constructive", "tbptt"])
def test_reference_learners_restore_exactly_batched_or_not(name):
    from oscbench.baselines import make_batched, make_learner
    from oscbench.benchmark import protocol

    rng = np.random.default_rng(0)
    xs = (rng.random((600, 6)) < 0.3).astype(np.float32)
    cs = (rng.random(600) < 0.05).astype(np.float32)
    gs = np.full(600, 0.9, dtype=np.float32)
    for learner in (make_learner(name, 6, seed=3), make_batched(name, 6, [3, 4])):
        learner.run(xs[:300], cs[:300], gs[:300])
        copy = protocol.restore(learner, protocol.snapshot(learner))
        a = np.asarray(learner.run(xs[300:], cs[300:], gs[300:]))
        b = np.asarray(copy.run(xs[300:], cs[300:], gs[300:]))
        assert a.shape == b.shape and np.array_equal(a, b) and np.all(np.isfinite(a))


PATCHER = '''
import oscbench.benchmark.metrics as _m
from isolation_learners import honest as make_learner

_orig = _m.RunScorer.update


def _perfect(self, start, predictions, target, full_return):   # scores the target as the prediction
    return _orig(self, start, target.copy(), target, full_return)


_m.RunScorer.update = _perfect
'''


def test_a_learner_file_that_patches_the_scoring_at_import_cannot_reach_the_evaluator(tmp_path):
    from oscbench.benchmark import metrics

    learner = tmp_path / "patcher.py"
    learner.write_text(PATCHER)
    orig = metrics.RunScorer.update
    try:
        (iso,) = evaluate(str(learner), seeds=[0], n_steps=5000, progress=False).records
        assert metrics.RunScorer.update is orig            # never imported here
        assert iso["status"] == "ok" and iso["metrics"]["final_error"] > 1e-6
        (local,) = evaluate(str(learner), seeds=[0], n_steps=5000, progress=False, isolate=False).records
        assert local["metrics"]["final_error"] == 0.0      # what the patch does when it runs in the evaluator
    finally:
        metrics.RunScorer.update = orig


def test_a_look_ahead_kept_in_process_globals_is_caught(tmp_path):
    # the replay runs in a second process that is only ever handed prefixes, before the full chunk
    # exists anywhere: a learner's module-level memory of the chunk cannot make the replay agree
    (r,) = evaluate(spec("global_peek"), seeds=[0], n_steps=40000, progress=False, chunk_steps=4096).records
    assert r["audit"]["causality"] == "passed"
    assert r["status"] == "failed" and "whole-run causality check failed" in r["failure"]["message"]
    assert r["failure"]["step"] >= 3000
