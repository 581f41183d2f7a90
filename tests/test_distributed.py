"""Distributed execution on a real Dask cluster on 127.0.0.1 (2 worker processes).

Records must not depend on where or in which order runs execute: every test compares the records a
cluster writes with the records of the serial loop (``workers=1``), which the evaluator tests check
against independent computations. Everything a record says about the run -- dataset block (digests
computed on the worker), learner, audit verdict, metrics and curve -- must be equal bit for bit;
only timing, creation time and the process-specific provenance may differ.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from oscbench.benchmark import distributed
from oscbench.benchmark.evaluator import evaluate
from oscbench.errors import OscbenchError
from tests.conftest import REPO, communicate_or_dump, popen_to_interrupt

LEARNER = str(Path(__file__).with_name("dist_learners.py"))
TIMEOUT = 180            # generous: the machine may be loaded by other test runs
SAME = ("task", "dataset", "learner", "seed", "steps", "status", "failure", "metrics", "curve")


def _comparable(rec: dict) -> dict:
    out = {k: rec[k] for k in SAME}
    # timings, and the replay lengths of the whole-run checks (their points are drawn secretly per run)
    out["audit"] = {k: v for k, v in rec["audit"].items() if "seconds" not in k and "replay" not in k}
    return out


def _assert_same_records(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert json.dumps(_comparable(x), sort_keys=True) == json.dumps(_comparable(y), sort_keys=True)


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of 2 worker processes, configured as ``--workers 2`` configures it."""
    from distributed import Client

    with distributed.connect(2, timeout=TIMEOUT, retries=2) as client:
        assert isinstance(client, Client)
        yield client


def test_serial_and_two_workers_write_identical_records(tmp_path, cluster):
    common = {"task": "trace-patterning-v1", "seeds": [0, 1, 2], "n_steps": 6000, "progress": False}
    serial = evaluate("hybrid", out_dir=tmp_path / "serial", **common)
    dist = evaluate("hybrid", out_dir=tmp_path / "dist", client=cluster, **common)
    _assert_same_records(serial.records, dist.records)
    assert [r["seed"] for r in dist.records] == [0, 1, 2]            # the order of the specs
    assert len({r["metrics"]["final_error"] for r in dist.records}) == 3   # three different runs
    # the files under --out are the same records
    files = sorted(p.name for p in (tmp_path / "dist").glob("*.json"))
    assert files == sorted(p.name for p in (tmp_path / "serial").glob("*.json")) and len(files) == 3
    for name in files:
        _assert_same_records([json.loads((tmp_path / "serial" / name).read_text())],
                             [json.loads((tmp_path / "dist" / name).read_text())])
    # the workers run as --workers configures them: non-daemonic, single-threaded numerical libraries
    infos = cluster.run(distributed.identity)
    assert all(not i["daemon"] and i["threads"]["NUMBA_NUM_THREADS"] == "1" for i in infos.values())


def test_local_workers_do_not_run_the_dashboard_diagnostics(cluster):
    """The local cluster's workers run with LOCAL_CLUSTER_CONFIG (no statistical profiler, slow tick and
    system monitors): the settings reach the worker processes, which read them when they start."""
    import dask

    def settings(dask_worker) -> tuple:     # client.run passes the worker under this name
        return (dask.config.get("distributed.worker.profile.enabled"), dask.config.get("distributed.admin.tick.interval"),
                dask.config.get("distributed.admin.system-monitor.interval"), "profile" in dask_worker.periodic_callbacks)

    got = cluster.run(settings)
    assert len(got) == 2 and all(v == (False, "1s", "5s", False) for v in got.values()), got


def test_local_workers_keep_a_lost_scheduler_out_of_the_terminal(cluster):
    """Closing a local cluster (after Ctrl-C) can cut a worker's heartbeat; the worker then logs the closed
    connection with its traceback, which once reached the terminal in the Ctrl-C test below. Every local
    worker filters those records out of its log output, and only those."""
    import logging

    from distributed.comm.core import CommClosedError

    def filters(dask_worker) -> list:
        return [[type(f).__name__ for f in h.filters] for h in logging.getLogger("distributed").handlers]

    got = cluster.run(filters)
    assert len(got) == 2 and all(v and all("LostScheduler" in h for h in v) for v in got.values()), got

    def record(exc: BaseException | None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1,
                                 "Failed to communicate with scheduler during heartbeat.", None, info)

    keep = distributed.LostScheduler()
    assert not keep.filter(record(CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>: Stream is closed")))
    assert keep.filter(record(ValueError("a real error"))) and keep.filter(record(None))


def _full_chunks(mark: Path, size: int = 1000) -> int:
    """Calls of run() on a whole chunk (the whole-run causality checks replay shorter prefixes)."""
    return mark.read_text().split().count(str(size))


def _kill_worker_when_busy(client, mark: Path, run_index: int, killed: list, chunks: int = 2) -> None:
    """Once run ``run_index`` has scored ``chunks`` chunks, SIGKILL the worker process executing it."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if mark.exists() and _full_chunks(mark) >= chunks:
            for addr, keys in client.processing().items():
                if any(str(k).endswith(f"-{run_index}") for k in keys):
                    pid = client.run(os.getpid, workers=[addr])[addr]
                    os.kill(pid, signal.SIGKILL)
                    killed.append((addr, pid))
                    return
        time.sleep(0.05)


def test_a_worker_killed_mid_run_is_retried_from_its_checkpoint_and_records_stay_identical(tmp_path, cluster):
    marks = tmp_path / "marks"
    marks.mkdir()
    hp = {"step_size": 0.01, "mark_dir": str(marks), "pause": 0.4}
    common = {"task": "trace-patterning-v1", "seeds": [0, 1], "n_steps": 8000, "progress": False,
              "hyperparameters": hp, "chunk_steps": 1000, "checkpoint_every": 2000}
    serial = evaluate(LEARNER, out_dir=tmp_path / "serial", **common)
    assert serial.ok
    shutil.rmtree(marks)
    marks.mkdir()
    killed: list = []
    killer = threading.Thread(target=_kill_worker_when_busy, args=(cluster, marks / "seed-1.calls", 1, killed, 4))
    killer.start()
    dist = evaluate(LEARNER, out_dir=tmp_path / "dist", client=cluster, **common)
    killer.join()
    assert killed, "the test never saw the run under way"
    assert dist.ok
    _assert_same_records(serial.records, dist.records)
    # seed 1 ran twice: its first attempt died after 4 (at most 5) of its 8 chunks, after the checkpoint
    # at step 2000 (or 4000); the retry continued from that checkpoint instead of running all 8 again
    calls = _full_chunks(marks / "seed-1.calls")
    assert 4 + 4 <= calls <= 5 + 6
    cluster.wait_for_workers(2, timeout=TIMEOUT)   # the nanny restarted the killed worker


def test_a_run_whose_worker_keeps_dying_gets_a_failed_record_and_the_others_finish(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    hp = {"step_size": 0.01, "mark_dir": str(marks), "pause": 0.4}
    killed: list = []
    with distributed.connect(2, timeout=TIMEOUT, retries=0) as client:
        killer = threading.Thread(target=_kill_worker_when_busy, args=(client, marks / "seed-1.calls", 1, killed))
        killer.start()
        res = evaluate(LEARNER, task="trace-patterning-v1", seeds=[0, 1], n_steps=8000, progress=False,
                       hyperparameters=hp, chunk_steps=1000, out_dir=tmp_path / "out", client=client)
        killer.join()
    assert killed
    ok, lost = res.records
    assert ok["status"] == "ok" and ok["seed"] == 0
    assert lost["status"] == "failed" and lost["seed"] == 1
    assert lost["failure"]["stage"] == "run" and "1 attempt(s)" in lost["failure"]["message"]
    assert lost["dataset"] == evaluate(LEARNER, task="trace-patterning-v1", seeds=[1], n_steps=8000, progress=False,
                                       hyperparameters={**hp, "pause": 0.0}).records[0]["dataset"]
    written = json.loads((tmp_path / "out" / f"{Path(res.paths[1]).name}").read_text())
    assert written["status"] == "failed" and (tmp_path / "out" / written["failure"]["log"]).is_file()


# -- an existing cluster: `dask scheduler` + `dask worker` on 127.0.0.1 (the recipe of docs/distributed.md) --
def _start(args: list[str], env: dict) -> subprocess.Popen:
    # cwd: not the checkout (python -m puts the working directory first on sys.path)
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=env["PYTHONPATH"])


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _scheduler(tmp_path: Path, env: dict) -> tuple[subprocess.Popen, str]:
    sched_file = tmp_path / "scheduler.json"
    proc = _start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                   ":0", "--scheduler-file", str(sched_file)], env)
    deadline = time.monotonic() + TIMEOUT
    while not sched_file.exists() or not sched_file.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            _stop([proc])
            pytest.fail("dask scheduler did not start")
        time.sleep(0.2)
    time.sleep(0.2)
    return proc, json.loads(sched_file.read_text())["address"]


def _worker(address: str, env: dict) -> subprocess.Popen:
    return _start(["distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
                   "--no-dashboard"], env)


def _env(pythonpath: str) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath, DASK_DISTRIBUTED__WORKER__DAEMON="False",
               **distributed.THREAD_ENV)
    return env


def test_the_documented_scheduler_and_worker_recipe_gives_identical_records(tmp_path):
    env = _env(str(REPO))
    sched, address = _scheduler(tmp_path, env)
    procs = [sched, _worker(address, env)]
    try:
        out = tmp_path / "cli"
        cmd = [sys.executable, "-m", "oscbench.cli", "evaluate", LEARNER, "--seeds", "0,1", "--steps", "5000",
               "--scheduler", address, "--out", str(out), "--quiet", "--json"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT * 2, check=False)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["execution"]["scheduler"] == address and summary["execution"]["done"] == 2
    finally:
        _stop(procs)
    serial = evaluate(LEARNER, seeds=[0, 1], n_steps=5000, progress=False)
    from oscbench.benchmark.records import read_record

    _assert_same_records(serial.records, [read_record(p) for p in summary["records"]])


def test_a_worker_running_other_code_is_refused_with_one_line(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(REPO / "oscbench", other / "oscbench", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "oscbench" / "benchmark" / "metrics.py", "a") as f:
        f.write("\n# an edit the client does not have\n")
    sched, address = _scheduler(tmp_path, _env(str(REPO)))
    procs = [sched, _worker(address, _env(str(other)))]
    try:
        proc = subprocess.run([sys.executable, "-m", "oscbench.cli", "evaluate", LEARNER, "--seeds", "0",
                               "--steps", "5000", "--scheduler", address, "--out", str(tmp_path / "out"), "--quiet"],
                              env=_env(str(REPO)), capture_output=True, text=True, timeout=TIMEOUT * 2, check=False)
    finally:
        _stop(procs)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: worker tcp://127.0.0.1:"), proc.stderr
    assert f"(code {distributed.code_sha256()[:12]})" in lines[0] and "install the same oscbench" in lines[0]
    assert not list((tmp_path / "out").glob("*.json"))          # nothing ran


def test_workers_option_is_checked():
    assert distributed.parse_workers("3") == 3
    assert distributed.parse_workers("auto") == distributed.usable_cpus()
    for bad in ("0", "-2", "two"):
        with pytest.raises(OscbenchError, match="--workers"):
            distributed.parse_workers(bad)
    with pytest.raises(OscbenchError, match="not several"), distributed.connect(2, scheduler="tcp://127.0.0.1:1"):
        pass


def test_ctrl_c_keeps_finished_records_exits_130_and_the_printed_command_continues(tmp_path):
    """Ctrl-C in a terminal: SIGINT to the whole process group (client and local-cluster workers)."""
    marks, out = tmp_path / "marks", tmp_path / "out"
    marks.mkdir()
    for s in (2, 3):   # seeds 2 and 3 stay under way until the test lets them go (it never does)
        (marks / f"hold-seed-{s}").touch()
    args = ["evaluate", LEARNER, "--seeds", "0-3", "--steps", "8000", "--hp", f'mark_dir="{marks}"',
            "--hp", "pause=0.1", "--workers", "2", "--out", str(out), "--quiet"]
    proc = popen_to_interrupt([sys.executable, "-m", "oscbench.cli", *args], cwd=REPO, text=True,
                              start_new_session=True)
    deadline = time.monotonic() + TIMEOUT * 2
    # wait until seeds 0 and 1 have records and seed 2 or 3 is under way
    while not (len(list(out.glob("*.json"))) >= 2 and any(
            (marks / f"seed-{s}.calls").exists() for s in (2, 3))):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = communicate_or_dump(proc, TIMEOUT, group=True)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    lines = stderr.strip().splitlines()
    i = lines.index(f"interrupted; finished records and checkpoints in {out} were kept. Resume with:")
    # the printed command is the same evaluation (its options in canonical order)
    resume = shlex.split(lines[i + 1])
    assert resume[:3] == ["oscbench", "evaluate", LEARNER]
    pairs = dict(zip(resume[3::2], resume[4::2]))
    assert pairs["--seeds"] == "0-3" and pairs["--steps"] == "8000" and pairs["--workers"] == "2"
    assert pairs["--out"] == str(out) and "--fresh" not in resume
    assert [resume[k + 1] for k, w in enumerate(resume) if w == "--hp"] == [f'mark_dir="{marks}"', "pause=0.1"]
    kept = sorted(out.glob("*.json"))
    assert len(kept) == 2                                   # the two finished runs, nothing of the others
    for s in (2, 3):
        (marks / f"hold-seed-{s}").unlink()
    # nothing of the evaluation outlives it (workers, learner processes)
    time.sleep(2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    # the printed command continues: the finished runs are kept (not run again), the others run
    calls = {s: (marks / f"seed-{s}.calls").read_text() for s in (0, 1)}
    before = [p.read_bytes() for p in kept]
    again = subprocess.run([sys.executable, "-m", "oscbench.cli", *resume[1:]], cwd=REPO, capture_output=True,
                           text=True, timeout=TIMEOUT * 2, check=False)
    assert again.returncode == 0, again.stderr
    assert {s: (marks / f"seed-{s}.calls").read_text() for s in (0, 1)} == calls
    assert [p.read_bytes() for p in kept] == before
    from oscbench.benchmark.records import read_record

    serial = evaluate(LEARNER, seeds=[0, 1, 2, 3], n_steps=8000, progress=False,
                      hyperparameters={"mark_dir": str(marks), "pause": 0.1})
    by_seed = {r["seed"]: r for r in serial.records}
    got = [read_record(p) for p in sorted(out.glob("*.json"))]
    assert sorted(r["seed"] for r in got) == [0, 1, 2, 3]
    _assert_same_records([by_seed[r["seed"]] for r in got], got)


def test_a_worker_without_the_atari_data_downloads_and_verifies_it_itself(tmp_path):
    """Data where the workers are: a worker whose data directory lacks the game fetches the log from its
    mirror, generates and verifies the dataset there, and scores the same run as the client would."""
    from atari_fixtures import policies_dir

    from oscbench.datasets import local, paths

    mirror = policies_dir("Pong")
    local.download("atari/Pong-v1", mirror=mirror, progress=False)       # the client's own copy (planning)
    worker_data = tmp_path / "worker-data"
    env = _env(str(REPO))
    env.update(OSCBENCH_DATA=str(worker_data), OSCBENCH_MIRROR=str(mirror))
    sched, address = _scheduler(tmp_path, env)
    procs = [sched, _worker(address, env)]
    try:
        remote = evaluate("hybrid", task="atari-v1/Pong", seeds=[0], n_steps=3000, scheduler=address, progress=False)
    finally:
        _stop(procs)
    assert (worker_data / "atari" / "Pong-v1.h5").is_file()                # fetched and generated on the worker
    assert not paths.dataset_path("atari/Pong-v1").resolve().is_relative_to(worker_data.resolve())
    (rec,) = remote.records
    assert rec["status"] == "ok", rec["failure"]
    assert rec["dataset"]["path"].startswith(str(worker_data))             # the digests were checked there
    serial = evaluate("hybrid", task="atari-v1/Pong", seeds=[0], n_steps=3000, progress=False)

    def same_but_where(r: dict) -> dict:      # each machine names its own copy of the (identical) file
        c = _comparable(r)
        c["dataset"] = {k: v for k, v in c["dataset"].items() if k != "path"}
        return c

    assert [same_but_where(r) for r in serial.records] == [same_but_where(r) for r in remote.records]
