"""Learner hosts: the learner of one run, in this process (:class:`LocalHost`) or in a child process
(:class:`ChildHost`), behind one interface the evaluator drives.

A host builds the run's learner, runs it over chunks of observations, cumulants and continuations
and returns checked float64 predictions. Before **every** chunk it snapshots the learner (the
protocol's ``snapshot``/``restore`` pair, pickle by default, :func:`oscbench.benchmark.protocol.snapshot`),
so the evaluator can later ask it to :meth:`~LocalHost.replay` a prefix of the last chunk from that
snapshot (the whole-run causality check) or to hand over the snapshot (checkpoints) -- and a learner
cannot tell a checked chunk from an unchecked one.

Isolation (the default of ``oscbench evaluate``): the learner lives in a child process started from
a preloaded fork server (:mod:`multiprocessing`'s ``forkserver``, whose server imports numpy, numba
and the reference kernels once, so a child starts in milliseconds). The child is handed only the
arrays a learner may see; targets and scoring never leave the evaluator. Its answers come back as
JSON headers and raw float64 bytes -- the evaluator never unpickles anything a learner produced.
The child ignores Ctrl-C (the evaluator handles it), dies with its parent (``PR_SET_PDEATHSIG`` on
Linux, and EOF on its pipe), runs under an address-space limit (``RLIMIT_AS``), and the evaluator
measures its CPU time from the outside (psutil reads the kernel's figure for the child's pid).

Any misbehaviour -- an exception, ``sys.exit``, a signal (the out-of-memory killer's SIGKILL
included), no answer within the timeout, bad predictions -- becomes a
:class:`~oscbench.benchmark.guard.LearnerFault` for that run alone.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from oscbench.benchmark import protocol
from oscbench.benchmark.guard import LearnerFault, call, run_checked

DEFAULT_TIMEOUT = 600.0                 # seconds a learner may take for one request (a chunk, a build)
DEFAULT_MEMORY_LIMIT = 8 * 1024 ** 3    # bytes of address space of a learner process
MAX_HEADER_BYTES = 1 << 20              # a reply header (JSON; a failure's traceback included)
MAX_SNAPSHOT_BYTES = 1 << 32            # a learner snapshot handed to the evaluator (checkpoints)
PRELOAD = ["oscbench.benchmark.warm"]   # imported once by the fork server: numpy, numba, the kernels
LEARNER_PROCESS = "oscbench-learner"      # the learner processes' name (ps, and the exit handler below)


@dataclass(frozen=True)
class Limits:
    """What a learner process may use: ``timeout`` seconds per request, ``memory_limit`` bytes of
    address space (None: no limit)."""

    timeout: float | None = DEFAULT_TIMEOUT
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT


def parse_size(text: str | None) -> int | None:
    """``--memory-limit``: ``8G``, ``512M``, ``100000000`` (bytes) or ``none``; None gives the default."""
    if text is None:
        return DEFAULT_MEMORY_LIMIT
    t = text.strip().lower()
    if t in ("none", "off", "0"):
        return None
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
    try:
        value = float(t[:-1].rstrip("i")) * units[t[-1]] if t[-1] in units else float(t.rstrip("b"))
    except (ValueError, IndexError):
        value = -1.0
    if not 0 < value < 2 ** 62:
        from oscbench.errors import ConfigError

        raise ConfigError(f"--memory-limit {text!r} is not a size; write e.g. 4G, 512M or none.")
    return int(value)


class LocalHost:
    """The run's learner in this process.

    ``build`` returns the learner's declared FLOPs per step; ``run`` the checked predictions of a chunk,
    snapshotting the learner after it (:attr:`state`: the learner's state after the last chunk, i.e.
    before the next one; None when it cannot be snapshotted, see :attr:`snapshot_error`);
    ``replay_from(state, ...)`` the predictions of a copy restored from ``state`` on a chunk cut into
    calls (the whole-run causality check, run by a second host that never sees whole chunks).
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make                      # () -> a fresh learner of the run (same seed every call)
        self.learner: Any = None
        self.snapshot_error: str | None = None
        self.state: bytes | None = None
        self._cpu = 0.0

    # -- the interface ------------------------------------------------------------------------------
    def build(self) -> int:
        """A fresh learner; returns its declared FLOPs per step (LearnerFault when it has none)."""
        from oscbench.benchmark.guard import declared_flops

        self.learner = call("the factory", 0, "building the learner", self.make)
        self.state = None
        flops, why = declared_flops(self.learner)
        if flops is None:
            raise LearnerFault(None, why)
        return flops

    def run(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, use_run: bool = True) -> np.ndarray:
        c0 = time.process_time()
        try:
            preds = run_checked(self.learner, start, xs, cs, gs, use_run=use_run)
            self.state = self._snapshot()    # after every chunk, checked or not
            return preds
        finally:
            self._cpu += time.process_time() - c0

    def run_split(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, cuts: list[int]) -> np.ndarray:
        """The learner run over the chunk in calls ending at each cut (the prefix audit; no snapshots)."""
        c0 = time.process_time()
        try:
            return _split(self.learner, start, xs, cs, gs, cuts)
        finally:
            self._cpu += time.process_time() - c0

    def replay_from(self, state: bytes, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray,
                    cuts: list[int]) -> np.ndarray:
        """A copy restored from ``state`` run on the chunk's first ``max(cuts)`` steps, in calls ending at
        each cut; its predictions (this host's own learner is only the template of the restore)."""
        copy = call("restore()", start, "restoring a snapshot", protocol.restore, self.learner, state)
        return _split(copy, start, xs, cs, gs, cuts)

    def snapshot(self) -> bytes | None:
        """The learner's current state (also :attr:`state`)."""
        self.state = self._snapshot()
        return self.state

    def restore(self, data: bytes) -> None:
        self.learner = call("restore()", None, "restoring a checkpoint", protocol.restore, self.learner, data)
        self.state = data

    def cpu_seconds(self) -> float:
        """CPU seconds spent inside the learner's run/step calls and snapshots (this process's clock)."""
        return self._cpu

    def close(self) -> None:
        self.learner = None

    # -- helpers ------------------------------------------------------------------------------------
    def _snapshot(self) -> bytes | None:
        if self.snapshot_error is not None:
            return None
        try:
            return protocol.snapshot(self.learner)
        except Exception as err:  # noqa: BLE001 - any learner may fail to pickle
            self.snapshot_error = f"{type(err).__name__}: {' '.join(str(err).split())}"[:300]
            return None


def _split(learner: Any, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, cuts: list[int]) -> np.ndarray:
    out, a = [], 0
    for b in cuts:
        out.append(run_checked(learner, start + a, xs[a:b], cs[a:b], gs[a:b]))
        a = b
    return np.concatenate(out)


# -- the child process ---------------------------------------------------------------------------------
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere EOF on the pipe)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _load(ref: bytes | str) -> Any:
    """The learner a child hosts: a cloudpickled LoadedLearner, or a spec it resolves itself."""
    if isinstance(ref, bytes):
        import cloudpickle  # type: ignore[import-untyped]

        return cloudpickle.loads(ref)
    from oscbench.benchmark.loading import load_learner

    return load_learner(ref)


def _child_main(conn: Any, learner_ref: bytes | str, n_features: int, seed: int, hp: dict[str, Any],
                memory_limit: int | None, parent_pid: int) -> None:
    _release_fork_server()
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the evaluator's to handle
    if not _parent_alive(parent_pid):
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    host: LocalHost | None = None
    shared: Any = None
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        try:
            if host is None:
                host = _host(_load(learner_ref), n_features, seed, hp)
            if op == "attach":                 # the shared chunk buffer (see ChildHost._send_chunk)
                shared = _attach(*args)
                result = None
            elif op in ("run", "run_split"):   # the chunk's arrays are in the shared buffer
                start, n, f, rest = args[0], args[1], args[2], args[3:]
                result = getattr(host, op)(start, *_views(shared, n, f), *rest)
            elif op == "replay_from":
                state, start, n, f, cuts = args
                result = host.replay_from(state, start, *_views(shared, n, f), cuts)
            else:
                result = getattr(host, op)(*args)
            if isinstance(result, np.ndarray):
                state = host.state if op == "run" else None
                _reply(conn, {"ok": True, "kind": "array", "snapshot_error": host.snapshot_error,
                              "state": -1 if state is None else len(state)}, result.astype(np.float64).tobytes())
                if state is not None:
                    conn.send_bytes(state)
            elif isinstance(result, bytes):
                _reply(conn, {"ok": True, "kind": "bytes", "snapshot_error": host.snapshot_error}, result)
            else:
                _reply(conn, {"ok": True, "kind": "json", "value": result, "snapshot_error": host.snapshot_error})
        except LearnerFault as f:
            _reply(conn, {"ok": False, "step": f.step, "message": f.message[:2000], "log": (f.log or "")[-100_000:]})
        except BaseException as err:  # noqa: BLE001 - SystemExit, MemoryError, anything: report, then stop
            what = (f"the learner called sys.exit({err.code!r})" if isinstance(err, SystemExit)
                    else f"{type(err).__name__}: {' '.join(str(err).split())}")
            try:
                _reply(conn, {"ok": False, "step": None, "message": f"{what} during {op}"[:2000],
                              "log": traceback.format_exc()[-100_000:]})
            finally:
                os._exit(1)


def _release_fork_server() -> None:
    """Close this child's copy of the fork server's keep-alive pipe: the server then exits when the
    evaluator does (not when its last child does), and the parent-death signal reaches this child."""
    try:
        from multiprocessing import forkserver

        fd = forkserver._forkserver._forkserver_alive_fd  # type: ignore[attr-defined]
        if fd is not None:
            os.close(fd)
            forkserver._forkserver._forkserver_alive_fd = None  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        pass


def _watch_parent(pid: int) -> None:
    """Second line of defence: exit when the evaluator is gone (checked every second)."""
    while _parent_alive(pid):
        time.sleep(1.0)
    os._exit(1)


def _attach(path: str, size: int) -> Any:
    import mmap

    with open(path, "r+b") as fh:
        return mmap.mmap(fh.fileno(), size)


def _views(buf: Any, n: int, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of the chunk's observations [n, f], cumulants [n] and continuations [n] in ``buf``."""
    flat = np.frombuffer(buf, dtype=np.float32, count=n * (f + 2))
    return flat[:n * f].reshape(n, f).copy(), flat[n * f:n * (f + 1)].copy(), flat[n * (f + 1):].copy()


def _parent_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _reply(conn: Any, header: dict[str, Any], payload: bytes | None = None) -> None:
    conn.send_bytes(json.dumps(header).encode())
    if payload is not None:
        conn.send_bytes(payload)


# -- the parent side -----------------------------------------------------------------------------------
_LIVE: weakref.WeakSet[ChildHost] = weakref.WeakSet()
_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            _CONTEXT = multiprocessing.get_context("forkserver")
            _CONTEXT.set_forkserver_preload(PRELOAD)
        else:  # pragma: no cover - platforms without fork (Windows)
            _CONTEXT = multiprocessing.get_context("spawn")
    return _CONTEXT


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Start a child without re-running the caller's main script in it.

    multiprocessing re-executes a script ``__main__`` in every child (for pickles that name it); a
    learner process needs none of it (factories travel by value), and a script's imports would cost
    every run seconds. Naming the main module ``__main__`` makes the child leave it alone.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield
        return
    main.__spec__ = types.SimpleNamespace(name="__main__")  # type: ignore[assignment]
    try:
        yield
    finally:
        main.__spec__ = None


def _kill_all() -> None:
    """At exit, stop every learner process still running: those of hosts not closed, and any started
    whose host was never registered (an exception or Ctrl-C between the two)."""
    for host in list(_LIVE):
        host.close()
    for proc in multiprocessing.active_children():
        if proc.name == LEARNER_PROCESS:
            proc.kill()
            proc.join(5)


# Exit handlers run last-registered first. multiprocessing's own (registered when multiprocessing.util
# is first imported) joins every non-daemon child, and a learner process -- not a daemon, so that a
# learner may start processes of its own; deaf to SIGINT; waiting for its next request -- would keep
# the evaluator waiting for it forever. Importing multiprocessing.util first makes ours run before it.
import multiprocessing.util  # noqa: E402,F401

atexit.register(_kill_all)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


class ChildHost:
    """The run's learner in a child process; the same interface as :class:`LocalHost`."""

    def __init__(self, learner_ref: bytes | str, n_features: int, seed: int, hp: dict[str, Any],
                 limits: Limits = Limits()) -> None:
        ctx = _context()
        self.limits = limits
        self.snapshot_error: str | None = None
        self._conn, child_conn = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_child_main, name=LEARNER_PROCESS, daemon=False,
                                 args=(child_conn, learner_ref, n_features, seed, hp, limits.memory_limit, os.getpid()))
        with _main_not_reimported():
            self._proc.start()
        child_conn.close()
        _LIVE.add(self)
        self._cpu = 0.0
        self._buf: Any = None
        self.state: bytes | None = None   # the learner's state after its last chunk (sent with each chunk)
        self._ps: Any = None
        try:
            import psutil  # type: ignore[import-untyped]

            self._ps = psutil.Process(self._proc.pid)
        except Exception:  # noqa: BLE001 - no psutil, or the child already gone: measured as 0
            self._ps = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    # -- the interface ------------------------------------------------------------------------------
    def build(self) -> int:
        flops = self._request("build", (), None)
        if isinstance(flops, bool) or not isinstance(flops, int) or flops <= 0:
            self.close()
            raise LearnerFault(None, "the learner process sent a malformed reply to build")
        return flops

    def run(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, use_run: bool = True) -> np.ndarray:
        head = self._send_chunk(start, xs, cs, gs)
        c0 = self._child_cpu()
        try:
            return self._request("run", (*head, use_run), start, n=len(cs))
        finally:
            self._cpu += max(0.0, self._child_cpu() - c0)

    def run_split(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, cuts: list[int]) -> np.ndarray:
        head = self._send_chunk(start, xs, cs, gs)
        c0 = self._child_cpu()
        try:
            return self._request("run_split", (*head, list(cuts)), start, n=max(cuts))
        finally:
            self._cpu += max(0.0, self._child_cpu() - c0)

    def _send_chunk(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray) -> tuple[int, int, int]:
        """Put the chunk into the buffer shared with the child (one copy instead of a pickle through the
        pipe); the child copies it out before its learner sees it. The buffer only ever holds the chunk
        being handed over. Returns the request's (start, n, n_features)."""
        n = len(cs)
        f = int(np.shape(xs)[1]) if np.ndim(xs) == 2 else 0
        size = 4 * n * (f + 2)
        if self._buf is None or len(self._buf) < size:
            self._attach(max(size, 4096))
        flat = np.frombuffer(self._buf, dtype=np.float32, count=n * (f + 2))
        flat[:n * f].reshape(n, f)[...] = xs
        flat[n * f:n * (f + 1)] = cs
        flat[n * (f + 1):] = gs
        return start, n, f

    def _attach(self, size: int) -> None:
        import mmap
        import tempfile

        if self._buf is not None:
            self._buf.close()
        where = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="oscbench-chunk-", dir=where)
        try:
            os.ftruncate(fd, size)
            self._buf = mmap.mmap(fd, size)
            self._request("attach", (path, size), None)
        finally:
            os.close(fd)
            os.unlink(path)   # both sides hold their mapping; nothing is left behind, whatever happens

    def replay_from(self, state: bytes, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray,
                    cuts: list[int]) -> np.ndarray:
        head = self._send_chunk(start, xs, cs, gs)
        return self._request("replay_from", (state, *head, list(cuts)), start, n=max(cuts))

    def snapshot(self) -> bytes | None:
        out = self._request("snapshot", (), None)
        self.state = out if isinstance(out, bytes) else None
        return self.state

    def restore(self, data: bytes) -> None:
        self._request("restore", (data,), None)
        self.state = data

    def cpu_seconds(self) -> float:
        """CPU seconds of the child during run requests, as the kernel counts them for its pid."""
        return self._cpu

    def close(self) -> None:
        _LIVE.discard(self)
        if self._buf is not None:
            self._buf.close()
            self._buf = None
        try:
            self._conn.close()
        except OSError:
            pass
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join(5)

    # -- helpers ------------------------------------------------------------------------------------
    def _child_cpu(self) -> float:
        if self._ps is None:
            return 0.0
        try:
            t = self._ps.cpu_times()
            return float(t.user + t.system)
        except Exception:  # noqa: BLE001 - the child exited
            return 0.0

    def _request(self, op: str, args: tuple[Any, ...], step: int | None, n: int | None = None) -> Any:
        timeout = self.limits.timeout
        try:
            self._conn.send((op, args))
            if not self._conn.poll(timeout):
                self.close()
                raise LearnerFault(step, f"the learner gave no answer within {timeout:g} s ({op}); it was stopped "
                                         "(raise the limit with --timeout SECONDS)")
            header = json.loads(self._conn.recv_bytes(MAX_HEADER_BYTES))
            if not isinstance(header, dict):
                raise TypeError("not a header")
            if header.get("ok") and header.get("kind") in ("array", "bytes"):
                # a learner cannot make the evaluator allocate more than the answer needs
                payload = self._conn.recv_bytes(8 * int(n) if header["kind"] == "array" and n is not None
                                                else MAX_SNAPSHOT_BYTES)
        except (EOFError, OSError):
            raise self._died(op, step) from None
        except (TypeError, ValueError, KeyError):   # a learner may write to its end of the pipe itself
            self.close()
            raise LearnerFault(step, f"the learner process sent a malformed reply to {op}") from None
        if not header.get("ok"):
            msg = str(header.get("message"))[:2000]
            if "MemoryError" in msg and self.limits.memory_limit:
                msg += f" (the learner process is limited to {self.limits.memory_limit / 2**30:g} GiB; --memory-limit)"
            at, log = header.get("step"), header.get("log")
            at = at if isinstance(at, int) and not isinstance(at, bool) and at >= 0 else step
            raise LearnerFault(at, msg, log if isinstance(log, str) else None)
        kind = header.get("kind")
        why = header.get("snapshot_error")
        self.snapshot_error = why[:300] if isinstance(why, str) else None
        if kind == "array":
            if len(payload) != 8 * int(n or 0):
                raise LearnerFault(step, f"the learner process returned {len(payload)} bytes for {n} predictions")
            if op == "run":
                self.state = self._receive_state(header.get("state"), op, step)
            return np.frombuffer(payload, dtype=np.float64).copy()
        if kind == "bytes":
            return payload
        return header.get("value")

    def _receive_state(self, size: Any, op: str, step: int | None) -> bytes | None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None
        try:
            data = self._conn.recv_bytes(MAX_SNAPSHOT_BYTES)
        except (EOFError, OSError):
            raise self._died(op, step) from None
        if len(data) != size:
            self.close()
            raise LearnerFault(step, f"the learner process sent a malformed reply to {op}")
        return data

    def _died(self, op: str, step: int | None) -> LearnerFault:
        self._proc.join(5)
        code = self._proc.exitcode
        _LIVE.discard(self)
        if code is None:
            self.close()
            why = "closed its pipe"
        elif code < 0:
            why = f"was killed by {_signal_name(-code)}"
            if -code == signal.SIGKILL:
                why += " (the kernel's out-of-memory killer sends SIGKILL, as does kill -9)"
        else:
            why = f"exited with code {code}"
        return LearnerFault(step, f"the learner process {why} during {op}")


def _host(loaded: Any, n_features: int, seed: int, hp: dict[str, Any]) -> LocalHost:
    return LocalHost(lambda: loaded.build(n_features, seed, hp))


def start_host(loaded: Any, n_features: int, seed: int, hp: dict[str, Any], *, isolate: bool,
               limits: Limits = Limits(), learner_ref: bytes | str | None = None) -> LocalHost | ChildHost:
    """A host for one run: a child process (``isolate``; it loads ``learner_ref``, a spec string or a
    cloudpickled LoadedLearner) or this process (``loaded``)."""
    if not isolate:
        return _host(loaded, n_features, seed, hp)
    assert learner_ref is not None
    return ChildHost(learner_ref, n_features, seed, hp, limits)
