"""The causality and determinism audit (the conformance checks of ``oscbench check`` are :mod:`oscbench.benchmark.check`).

Audit (before every scored run), on the first ``prefix_steps`` steps of the run's own stream:

1. a fresh learner runs the prefix in **one chunk** (``run`` when it has one) -> predictions A;
2. a fresh learner runs it **step by step** (``step`` on every step) -> predictions B;
3. a fresh learner runs it in **random small chunks** of 1..``max_chunk`` steps (``run`` when it
   has one) -> predictions C;
4. a fresh learner with the same seed runs it in one chunk again -> predictions D.

**Causality** passes when A == B == C exactly: V_t must not change with how much of the stream after
t the learner was handed. Step by step it is handed nothing after t, so a learner that peeks ahead
anywhere inside a chunk fails (and so does one whose ``run`` is not exactly repeated ``step``, or
whose ``run`` mishandles chunk boundaries). **Determinism** passes when A == D exactly. The chunk
sizes come from a fixed RNG (seed 0), so the audit itself is reproducible.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

import numpy as np

from oscbench.benchmark.guard import LearnerFault
from oscbench.datasets.stream import StepChunk

AUDIT_CHUNK_SEED = 0


@dataclass
class AuditResult:
    """Outcome of :func:`run_audit`; ``to_dict`` is a record's ``audit`` block."""

    causality: str                  # "passed" | "failed" | "not run"
    determinism: str
    prefix_steps: int
    max_chunk: int
    chunk_seed: int = AUDIT_CHUNK_SEED
    n_chunks: int = 0
    first_mismatch_step: int | None = None
    max_abs_difference: float | None = None
    message: str = ""
    cpu_seconds: float = 0.0
    predictions: np.ndarray | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return self.causality == "passed" and self.determinism == "passed"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("predictions")
        d.pop("cpu_seconds")
        return d


def random_chunk_sizes(n: int, max_chunk: int, seed: int = AUDIT_CHUNK_SEED) -> list[int]:
    """Sizes 1..max_chunk (uniform, fixed RNG) summing to ``n``."""
    rng = np.random.default_rng(seed)
    sizes, left = [], n
    while left > 0:
        s = min(left, int(rng.integers(1, max_chunk + 1)))
        sizes.append(s)
        left -= s
    return sizes


def _compare(a: np.ndarray, b: np.ndarray) -> tuple[int | None, float]:
    diff = np.flatnonzero(a != b)
    if not len(diff):
        return None, 0.0
    return int(diff[0]), float(np.max(np.abs(a - b)))


class AuditHost(Protocol):
    """What the audit drives (:mod:`oscbench.benchmark.isolation`'s hosts): ``build()`` makes a fresh
    learner (same seed), ``run(start, xs, cs, gs, use_run)`` returns its checked predictions, and
    ``run_split(start, xs, cs, gs, cuts)`` those of calls ending at each cut."""

    def build(self) -> int: ...

    def run(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, use_run: bool = True) -> np.ndarray: ...

    def run_split(self, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray, cuts: list[int]) -> np.ndarray: ...


def run_audit(host: AuditHost | Callable[[], Any], prefix: StepChunk, *, max_chunk: int = 16) -> AuditResult:
    """Audit fresh learners from ``host`` (each ``build()``: a fresh learner, same seed) on ``prefix``.

    ``host`` may also be a function returning a fresh learner (run in this process).

    Raises :class:`~oscbench.benchmark.guard.LearnerFault` when a learner raises or returns a bad
    prediction during the audit. Every prediction is compared here, in the evaluator's process.
    """
    if not hasattr(host, "build"):
        from oscbench.benchmark.isolation import LocalHost

        return run_audit(LocalHost(host), prefix, max_chunk=max_chunk)  # type: ignore[arg-type]
    host = cast(AuditHost, host)
    c0 = time.process_time()
    n = len(prefix)
    xs, cs, gs = prefix.observations, prefix.cumulants, prefix.continuations
    res = AuditResult("not run", "not run", n, max_chunk)
    if n == 0:
        return res

    def one_chunk(use_run: bool = True) -> np.ndarray:
        host.build()
        return host.run(0, xs, cs, gs, use_run)

    a = one_chunk()
    res.predictions = a
    first, worst = _compare(a, one_chunk())
    if first is not None:   # without determinism the causality comparison means nothing
        res.determinism = "failed"
        res.first_mismatch_step, res.max_abs_difference = first, worst
        res.message = (f"determinism audit failed: two learners with the same seed differ at step {first} "
                       f"(max |difference| {worst:.3g}); seed every random draw from the factory's seed "
                       "(causality not checked)")
        res.cpu_seconds = time.process_time() - c0
        return res
    res.determinism = "passed"

    b = one_chunk(use_run=False)
    host.build()
    sizes = random_chunk_sizes(n, max_chunk)
    res.n_chunks = len(sizes)
    c = host.run_split(0, xs, cs, gs, np.cumsum(sizes).tolist())
    res.causality = "passed"
    for other, how in ((b, "step by step"), (c, f"in {len(sizes)} random chunks of 1..{max_chunk} steps")):
        first, worst = _compare(a, other)
        if first is not None:
            res.causality = "failed"
            res.first_mismatch_step, res.max_abs_difference = first, worst
            res.message = (f"causality audit failed: predictions differ at step {first} (max |difference| "
                           f"{worst:.3g}) between one chunk of {n} steps and the same steps {how}; V_t may use "
                           "only inputs up to step t, and run() must equal repeated step()")
            break
    res.cpu_seconds = time.process_time() - c0
    return res


# -- the whole-run causality check --------------------------------------------------------------------
MIN_CHECKS = 10              # check points per run, at least
STEPS_PER_CHECK = 1_000_000  # and at least one per this many steps


class RunHost(Protocol):
    """The host running the learner: its state after the last chunk (None: cannot be snapshotted)."""

    state: bytes | None
    snapshot_error: str | None


class ReplayHost(Protocol):
    """A second host, which never sees a whole chunk: runs a copy restored from a state on a prefix."""

    def replay_from(self, state: bytes, start: int, xs: np.ndarray, cs: np.ndarray, gs: np.ndarray,
                    cuts: list[int]) -> np.ndarray: ...


class WholeRunCheck:
    """Causality checked over the whole run, at points drawn secretly (OS entropy, not the run's seed).

    ``max(MIN_CHECKS, ceil(steps / STEPS_PER_CHECK))`` check steps are drawn uniformly over the run
    when the run starts (a resumed run draws the remaining ones over the steps still to run). The
    run's host snapshots its learner after every chunk, checked or not, and sends the snapshot along
    with the chunk's predictions. Before a chunk holding check steps s_1 < ... < s_m is handed to the
    learner, a second host -- a separate process that is only ever handed prefixes -- restores a copy
    from the snapshot taken before that chunk and runs the chunk's prefix up to s_m in calls that end
    at each s_i. At that moment no process holds the chunk's later steps, so neither the copy nor
    anything it could read can know them. After the full chunk has run, its predictions must equal
    the replay's bit for bit: a learner whose V_{s_i} used inputs after s_i differs there. A replay
    costs at most one chunk of learner steps; at most ``n_checks`` chunks are replayed.
    """

    def __init__(self, steps: int, start: int = 0, done: int = 0, replayed_steps: int = 0) -> None:
        import secrets

        self.n_checks = max(MIN_CHECKS, -(-steps // STEPS_PER_CHECK)) - done
        rng = np.random.default_rng(secrets.randbits(128))
        self._points = np.sort(rng.integers(start, steps, max(self.n_checks, 0))) if start < steps else np.zeros(0, int)
        self.done = done                        # with a run resumed from a checkpoint: the checks before it
        self.replayed_steps = replayed_steps
        self.status = "passed" if done else "not run"
        self._pending: tuple[int, np.ndarray, int] | None = None

    def before_chunk(self, host: RunHost, replayer: ReplayHost | None, start: int, xs: np.ndarray, cs: np.ndarray,
                     gs: np.ndarray) -> None:
        """Replay the chunk of steps ``start ..`` (about to be handed to ``host``) when it holds check steps."""
        self._pending = None
        lo, hi = np.searchsorted(self._points, [start, start + len(cs)])
        if lo == hi or host.state is None or replayer is None:
            return
        cuts = sorted({int(p) - start + 1 for p in self._points[lo:hi]})
        self._pending = (start, replayer.replay_from(host.state, start, xs, cs, gs, cuts), int(hi - lo))

    def after_chunk(self, start: int, predictions: np.ndarray) -> None:
        """Compare the chunk's predictions with its replay; a mismatch raises
        :class:`~oscbench.benchmark.guard.LearnerFault` naming the step."""
        if self._pending is None:
            return
        at, replay, m = self._pending
        self._pending = None
        assert at == start
        self.replayed_steps += len(replay)
        self.done += m
        first, worst = _compare(predictions[:len(replay)], replay)
        if first is not None:
            self.status = "failed"
            t = start + first
            raise LearnerFault(t, f"whole-run causality check failed at step {t}: the prediction differs (by "
                                  f"{worst:.3g}) from that of the learner restored from its snapshot before step "
                                  f"{start} and handed the stream only up to a secretly chosen step; V_t may use "
                                  "only inputs up to step t")
        self.status = "passed"

    def to_dict(self, host: RunHost, isolated: bool) -> dict[str, Any]:
        """The record's audit fields of the check (and whether the run may enter a leaderboard)."""
        snap = "ok" if host.snapshot_error is None else f"unavailable: {host.snapshot_error}"
        return {"isolated": isolated, "snapshots": snap, "whole_run_causality": self.status,
                "whole_run_checks": int(self.done), "whole_run_replay_steps": int(self.replayed_steps),
                "leaderboard_eligible": bool(isolated and host.snapshot_error is None and self.status == "passed")}
