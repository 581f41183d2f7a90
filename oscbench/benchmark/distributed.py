"""Executing a list of runs: one after another, on a local Dask cluster, or on an existing one.

The unit of work is one run (:class:`oscbench.benchmark.evaluator.RunSpec` →
:func:`oscbench.benchmark.evaluator.execute`). Where it executes:

* ``workers=1`` (the default, ``--workers 1``): in this process, one run after another, no cluster;
* ``workers=N`` (``--workers N``; ``auto`` = the CPUs this process may use): a
  ``dask.distributed.LocalCluster`` of N worker processes on 127.0.0.1, one thread each, started for
  the evaluation and closed after it;
* ``scheduler="tcp://HOST:PORT"`` (``--scheduler``): an existing cluster (``dask scheduler`` +
  ``dask worker``, dask-jobqueue, ...; see docs/distributed.md), left running afterwards;
* ``client=distributed.Client(...)`` (Python): the caller's cluster, left as it is.

What holds whatever the executor:

* **Identical records.** A run's record does not depend on where or when it ran: every run builds its
  stream (trace patterning is generated on the worker; Atari files are opened and verified from the
  worker's data directory, so the record's dataset digests are the ones checked there) and its
  learner from the spec alone. Results come back in the order of the specs, not of completion.
* **Workers are checked.** Before anything runs, every worker reports its oscbench version and code
  digest (:func:`identity`); a worker that differs from the client is refused with one line, and a
  worker that joins later refuses its first run the same way. The learner's source digest on the
  worker must equal the client's. Workers of a local cluster run non-daemonic (learner child
  processes can start) with numerical libraries single-threaded (:data:`THREAD_ENV`).
* **Lost workers.** A worker that dies mid-run (SIGKILL, node lost) has its run retried on another
  worker, at most ``retries`` more times (the local cluster's scheduler setting
  ``distributed.scheduler.allowed-failures``; an existing scheduler uses its own), continuing from the
  run's last checkpoint when there is one; after that the run gets a failed record and the others go on.
* **Records where the client is.** Each finished run's record (and failure log) is written under
  ``out`` by the client as it arrives, so ``--out`` need not be shared with remote workers (the worker
  writes its copy too, identical, where its filesystem has ``out``).

Progress: workers report the steps they score through Dask's event log (topic per batch), the client
feeds them to one :class:`~oscbench.benchmark.progress.ProgressView`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import platform
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributed.comm.core import CommClosedError
from distributed.diagnostics.plugin import WorkerPlugin

from oscbench.errors import ConfigError, OscbenchError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from oscbench.benchmark.evaluator import RunOutcome, RunSpec
    from oscbench.benchmark.progress import ProgressView

DEFAULT_WORKERS = 1          # no cluster unless asked: identical to a plain loop, nothing to start
DEFAULT_RETRIES = 2          # a run whose worker dies is tried at most 1 + DEFAULT_RETRIES times
STARTUP_TIMEOUT = 120.0      # seconds for a cluster (or its workers) to come up; generous on a loaded machine
INTERRUPT_CLOSE = 3.0        # seconds a local cluster gets to close after Ctrl-C before its workers are killed
REPORT_EVERY = 0.5           # seconds between a worker's progress reports for one run
#: environment of local-cluster workers: one thread per numerical library, so N workers use N cores
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}
#: Dask settings of the local cluster: its diagnostics sample all the time, for a dashboard that oscbench
#: does not need (the progress line comes from the workers' own reports). The worker's statistical
#: profiler (every 10 ms), the event-loop tick monitor (every 20 ms) and the system monitor (every
#: 0.5 s) cost an idle 2-worker cluster about 16% of a core, 4% with these settings (docs/distributed.md).
#: A cluster given with --scheduler keeps its own configuration.
LOCAL_CLUSTER_CONFIG = {"distributed.worker.daemon": False,       # workers start learner child processes
                        "distributed.worker.profile.enabled": False,
                        "distributed.admin.tick.interval": "1s",
                        "distributed.admin.system-monitor.interval": "5s"}


class WorkerMismatch(OscbenchError):
    """A worker runs another oscbench version or other code than the client."""


def parse_workers(text: str | int | None) -> int:
    """``--workers``: a positive count, or ``auto`` (the CPUs this process may run on)."""
    if text is None:
        return DEFAULT_WORKERS
    if isinstance(text, str) and text.strip().lower() == "auto":
        return usable_cpus()
    try:
        n = int(text)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"--workers {text!r} is not a worker count; give a positive integer or auto.")
    return n


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


# -- worker identity -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def code_sha256() -> str:
    """Digest of the oscbench sources this process runs (:func:`loading.package_sha256` of the package)."""
    import oscbench
    from oscbench.benchmark.loading import package_sha256

    return package_sha256(Path(oscbench.__file__).resolve().parent)


def identity() -> dict[str, Any]:
    """What a process (client or worker) runs: oscbench version, code digest, and its setting."""
    import multiprocessing

    from oscbench import __version__

    return {"oscbench_version": __version__, "code_sha256": code_sha256(), "python": platform.python_version(),
            "host": socket.gethostname(), "pid": os.getpid(),
            "daemon": bool(multiprocessing.current_process().daemon),
            "threads": {k: os.environ.get(k) for k in THREAD_ENV}}


def _mismatch(worker: str, theirs: dict[str, Any], ours: dict[str, Any]) -> str | None:
    if (theirs["oscbench_version"], theirs["code_sha256"]) == (ours["oscbench_version"], ours["code_sha256"]):
        return None
    return (f"worker {worker} runs oscbench {theirs['oscbench_version']} (code {theirs['code_sha256'][:12]}), "
            f"the client oscbench {ours['oscbench_version']} (code {ours['code_sha256'][:12]}); install the "
            "same oscbench on every worker and restart it.")


def check_workers(client: Client, note: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Refuse (one line) a cluster with a worker whose version or code differs; note thread settings."""
    ours = identity()
    try:
        infos: dict[str, dict[str, Any]] = client.run(identity)
    except Exception as err:  # noqa: BLE001 - a worker that cannot even import us
        raise WorkerMismatch(f"a worker of the cluster cannot run oscbench ({type(err).__name__}: {err}); "
                             "install the same oscbench on every worker.") from None
    for addr, info in sorted(infos.items()):
        problem = _mismatch(addr, info, ours)
        if problem:
            raise WorkerMismatch(problem)
        if info["daemon"]:
            raise ConfigError(f"worker {addr} is a daemonic process and cannot start learner processes; start "
                              "workers with DASK_DISTRIBUTED__WORKER__DAEMON=False (see docs/distributed.md).")
        loose = [k for k, v in info["threads"].items() if v != "1"]
        if loose and note is not None:
            note(f"note: worker {addr} has no {'/'.join(loose)}=1: its numerical libraries may use several "
                 "threads (see docs/distributed.md).")
    return infos


# -- clusters ----------------------------------------------------------------------------------------
def _dashboard_available() -> bool:
    try:
        import bokeh  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def connect(workers: int = DEFAULT_WORKERS, scheduler: str | None = None, client: Client | None = None, *,
            retries: int = DEFAULT_RETRIES, timeout: float = STARTUP_TIMEOUT,
            note: Callable[[str], None] | None = None) -> Iterator[Client | None]:
    """The Dask client runs go to, checked (:func:`check_workers`); None for a serial evaluation.

    Starts (and closes on exit) a local cluster for ``workers > 1``; connects to (and disconnects
    from) ``scheduler``; uses ``client`` as it is.
    """
    if sum(x is not None for x in (scheduler, client)) > 1 or ((scheduler or client) and workers > 1):
        raise ConfigError("give one of --workers N, --scheduler ADDRESS (or client=...), not several.")
    if retries < 0:
        raise ConfigError(f"retries={retries} must be >= 0.")
    if client is not None:
        _wait_for_workers(client, "the given client's cluster", timeout)
        check_workers(client, note)
        yield client
        return
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            c = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise OscbenchError(f"cannot reach the Dask scheduler at {scheduler} ({type(err).__name__}: {err}); "
                                "start it (`dask scheduler`) or fix --scheduler.") from None
        try:
            _wait_for_workers(c, f"the scheduler {scheduler}", timeout)
            check_workers(c, note)
            yield c
        finally:
            c.close()
        return
    if workers <= 1:
        yield None
        return
    # read by the nanny at every (re)start: keep the settings for the cluster's whole life; the
    # scheduler (in this process) reads allowed-failures
    with dask.config.set({**LOCAL_CLUSTER_CONFIG, "distributed.scheduler.allowed-failures": retries}):
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=":0",   # a free port: never collides
                                   env=dict(THREAD_ENV), silence_logs=logging.ERROR, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise OscbenchError(f"cannot start a local Dask cluster of {workers} workers ({err}); "
                                "try fewer --workers.") from None
        interrupted = False
        try:
            with Client(cluster, timeout=timeout, set_as_default=False) as c:
                c.register_plugin(_IgnoreSigint(), name="oscbench-ignore-sigint")
                _wait_for_workers(c, "the local cluster", timeout)
                check_workers(c, note)
                try:
                    yield c
                except KeyboardInterrupt:
                    interrupted = True
                    raise
        finally:
            pids = _worker_pids(cluster)
            if interrupted:   # do not wait for the runs under way: each nanny stops its worker within seconds
                with contextlib.suppress(Exception):
                    cluster.sync(_stop_workers, list(cluster.workers.values()), INTERRUPT_CLOSE)
            try:
                cluster.close(timeout=INTERRUPT_CLOSE if interrupted else timeout)
            except TimeoutError:
                if not interrupted:
                    raise
            finally:
                _kill(pids)   # anything still alive


class _IgnoreSigint(WorkerPlugin):
    """Worker plugin of the local cluster: Ctrl-C in the terminal reaches the whole process group, but
    only the client acts on it (cancels, keeps finished records, closes the cluster); workers ignore it,
    and do not print the tracebacks of their lost scheduler connection while the cluster closes
    (:class:`LostScheduler`)."""

    def setup(self, worker: Any) -> None:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for handler in logging.getLogger("distributed").handlers:
            handler.addFilter(LostScheduler())


class LostScheduler(logging.Filter):
    """Drops a local worker's log records about a closed connection (a ``CommClosedError``, e.g. "Failed to
    communicate with scheduler during heartbeat", with its traceback). A local cluster's scheduler lives in
    the client process, so such a record means the client is closing the cluster -- after Ctrl-C, say -- and
    the client says what happened; a worker's traceback must not reach the user's terminal (seen once in 10
    runs of the Ctrl-C test on a loaded machine, 2026-12-04). Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, CommClosedError)


async def _stop_workers(nannies: list[Any], timeout: float) -> None:
    """Stop local workers now: each nanny closes (no restart), asking its worker to close and killing it
    after ``0.8 * timeout`` s (a graceful cluster close would wait for the runs under way to end)."""
    import asyncio

    await asyncio.gather(*(n.close(timeout=timeout, reason="oscbench-interrupted") for n in nannies),
                         return_exceptions=True)


def _worker_pids(cluster: Any) -> list[int]:
    """The pids of a local cluster's worker processes."""
    pids = []
    for nanny in list(cluster.workers.values()):
        pid = getattr(getattr(getattr(nanny, "process", None), "process", None), "pid", None)
        if pid:
            pids.append(int(pid))
    return pids


def _kill(pids: Sequence[int]) -> None:
    """SIGKILL the processes still alive (their learner processes die with them; records and checkpoints
    are written atomically, so nothing half-written remains under a final name)."""
    import signal

    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _wait_for_workers(client: Client, what: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise OscbenchError(f"no worker joined {what} within {timeout:.0f} s; start workers "
                            "(`dask worker ADDRESS`).") from None


def dashboard_link(client: Client | None) -> str | None:
    """The cluster's dashboard address, when it has one (its pages need bokeh in the client's environment)."""
    if client is None or not _dashboard_available():
        return None
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001 - informational only
        return None
    return client.dashboard_link if "dashboard" in services else None


# -- running ----------------------------------------------------------------------------------------
class _Reporter:
    """Worker side: sends ``{"run", "steps"}`` increments on the batch's topic, at most every REPORT_EVERY s."""

    def __init__(self, topic: str, run: int) -> None:
        from distributed import get_worker

        self.worker, self.topic, self.run = get_worker(), topic, run
        self.pending, self.last, self.error = 0, time.monotonic(), float("nan")
        self.worker.log_event(topic, {"run": run, "event": "start"})

    def __call__(self, n_steps: int, running_error: float = float("nan")) -> None:
        self.pending += int(n_steps)
        self.error = float(running_error)
        if time.monotonic() - self.last >= REPORT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.worker.log_event(self.topic, {"run": self.run, "event": "steps", "steps": self.pending,
                                               "error": self.error})
            self.pending, self.last = 0, time.monotonic()


def _run_on_worker(spec: RunSpec, run: int, topic: str, client_identity: dict[str, Any]) -> RunOutcome:
    """The task a worker executes for one run: check the worker, run, report progress."""
    from distributed import get_worker

    from oscbench.benchmark import evaluator

    addr = get_worker().address
    problem = _mismatch(addr, identity(), client_identity)
    if problem:
        raise WorkerMismatch(problem)
    reporter = _Reporter(topic, run)
    try:
        outcome = evaluator.execute(spec, progress=reporter)
    except OscbenchError as err:   # a data or configuration problem on this worker: say which worker
        raise OscbenchError(f"on worker {addr}: {err}", exit_code=err.exit_code) from None
    reporter.flush()
    return outcome


def run_specs(specs: Sequence[RunSpec], *, client: Client | None = None, view: ProgressView | None = None,
              learner_sha256: str | None = None) -> list[RunOutcome]:
    """Execute every spec (serially without a client); the outcomes in the order of ``specs``.

    ``learner_sha256``: the learner source digest the client resolved; a run whose worker resolved
    other code is refused (:class:`WorkerMismatch`). Ctrl-C (KeyboardInterrupt) cancels what has not
    finished and propagates; every finished run's record is already written.
    """
    if client is None:
        return [_run_serial(spec, i, view) for i, spec in enumerate(specs)]
    return _run_cluster([_portable(s) for s in specs], client, view, learner_sha256)


def _portable(spec: RunSpec) -> RunSpec:
    """A spec that can travel to a worker: an in-process learner object (``isolate=False``) is pickled."""
    if spec.learner_object is None:
        return spec
    import dataclasses

    import cloudpickle  # type: ignore[import-untyped]

    try:
        blob = cloudpickle.dumps(spec.learner_object)
    except Exception as err:  # noqa: BLE001 - anything a factory may hold
        raise ConfigError(f"the learner factory {spec.learner_object.name} cannot be pickled ({type(err).__name__}: "
                          f"{err}), so it cannot be sent to Dask workers; run it with workers=1.") from None
    return dataclasses.replace(spec, learner_pickle=blob, learner_object=None)


def _run_serial(spec: RunSpec, i: int, view: ProgressView | None) -> RunOutcome:
    from oscbench.benchmark import evaluator

    if view is None:
        return evaluator.execute(spec, progress=False)
    view.start(i)

    def report(n_steps: int, running_error: float = float("nan")) -> None:
        view.advance(i, n_steps, running_error)

    outcome = evaluator.execute(spec, progress=report)
    _report_done(view, i, outcome)
    return outcome


def _report_done(view: ProgressView, i: int, outcome: RunOutcome) -> None:
    from oscbench.benchmark.evaluator import run_name

    ok = outcome.record["status"] == "ok"
    view.finish(i, ok)
    if not ok:
        view.note(f"FAILED {run_name(outcome.record)}: {outcome.record['failure']['message']}")


def _run_cluster(specs: Sequence[RunSpec], client: Client, view: ProgressView | None,
                 learner_sha256: str | None) -> list[RunOutcome]:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    topic = f"oscbench-progress-{uuid.uuid4().hex}"
    if view is not None:
        def on_event(event: Any) -> None:
            msg = event[1] if isinstance(event, tuple) else event
            if msg.get("event") == "start":
                view.start(msg["run"])
            elif msg.get("event") == "steps":
                view.advance(msg["run"], msg["steps"], msg.get("error", float("nan")))

        client.subscribe_topic(topic, on_event)
    ours = identity()
    futures = {client.submit(_run_on_worker, spec, i, topic, ours, key=f"oscbench-run-{topic[-12:]}-{i}",
                             pure=False): i for i, spec in enumerate(specs)}
    outcomes: dict[int, RunOutcome] = {}
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            i = futures[fut]
            try:
                outcome = fut.result()
            except KilledWorker as err:
                outcome = _lost_run(specs[i], client, err)
            _check_learner_code(outcome, learner_sha256)
            _persist(outcome, specs[i])
            outcomes[i] = outcome
            if view is not None:
                _report_done(view, i, outcome)
    except BaseException:
        client.cancel(list(futures), force=True)
        raise
    finally:
        if view is not None:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(topic)
    return [outcomes[i] for i in range(len(specs))]


def _check_learner_code(outcome: RunOutcome, expected: str | None) -> None:
    got = outcome.record["learner"].get("source_sha256")
    if expected is not None and got != expected:
        raise WorkerMismatch(f"a worker loaded the learner {outcome.record['learner']['spec']} with source digest "
                             f"{str(got)[:12]}, the client {expected[:12]}; give every worker the same learner code.")


def _persist(outcome: RunOutcome, spec: RunSpec) -> None:
    """Write the record (and failure log) under ``spec.out`` from the client."""
    if spec.out is None or outcome.reused:
        return
    from oscbench._atomic import write_text_atomic
    from oscbench.benchmark import records

    out = Path(spec.out)
    failure = outcome.record.get("failure") or {}
    if outcome.log is not None and failure.get("log"):
        write_text_atomic(out / failure["log"], outcome.log, overwrite=True)
    records.write_record(outcome.record, out)


class _Lost:
    """A factory that only says why its run was given up (builds the failed record of a lost run)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(self.message)


def _lost_on_worker(spec: RunSpec, message: str) -> RunOutcome:
    """On a worker: the run's failed record (stream opened and digested here), stage ``run``, step unknown."""
    import dataclasses

    import cloudpickle  # type: ignore[import-untyped]

    from oscbench.benchmark import evaluator, records
    from oscbench.benchmark.loading import LoadedLearner

    loaded = spec.load()
    stand_in = LoadedLearner(loaded.spec, loaded.name, _Lost(message), loaded.source_path, loaded.source_sha256)
    outcome = evaluator.execute(dataclasses.replace(spec, learner=None, learner_pickle=cloudpickle.dumps(stand_in),
                                                    learner_object=None, out=None, resume=False), progress=False)
    rec = outcome.record
    stem = records.record_stem(rec)
    rec["failure"] = {"step": None, "stage": "run", "message": message, "log": f"{stem}.log"}
    return type(outcome)(rec, f"{evaluator.run_name(rec)}\nstage: run\nstep: None\n{message}\n")


def _lost_run(spec: RunSpec, client: Client, err: Exception) -> RunOutcome:
    """The failed record of a run whose workers kept dying (after the scheduler's bounded retries)."""
    attempts = getattr(err, "allowed_failures", DEFAULT_RETRIES) + 1
    last = getattr(getattr(err, "last_worker", None), "address", "?")
    message = (f"its worker died on each of {attempts} attempt(s) (last {last}); the run was given up -- "
               "re-run the same command to try it again")
    return client.submit(_lost_on_worker, spec, message, pure=False).result()
