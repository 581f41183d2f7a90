"""One progress view for a batch of runs: a single aggregate bar, wherever the runs execute.

The bar counts learner-steps over every run of the batch (``runs × steps``) and says, after it::

    3/8 done, 2 running, 1 failed | 104k steps/s | ETA 0:01:12 | dashboard http://127.0.0.1:8787/status

Runs report the steps they score as increments (:meth:`ProgressView.advance`); a run that starts
again (retried on another worker after its worker died) reports :meth:`~ProgressView.start` again,
which puts its position back to zero. The bar shows finished runs whole plus every running run's
position; the rate counts every step computed (retried ones too) per wall second since the view
opened, and the ETA is the remaining steps at that rate. Reports come from the serial loop directly, or from Dask workers
through the client (:mod:`oscbench.benchmark.distributed`).

The view is thread-safe (the Dask client delivers worker reports on its own thread) and silent when
disabled (``--quiet``); a ``listener`` (the Python API's callable ``progress``) is told every report.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TextIO

from tqdm.auto import tqdm


def format_duration(seconds: float | None) -> str:
    """``H:MM:SS`` (``?`` when unknown)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


@dataclass
class ProgressSummary:
    """What the view saw: counts, learner-steps computed and the rate (``--json`` gets this dict)."""

    runs: int
    done: int
    failed: int
    steps_computed: int
    wall_seconds: float
    steps_per_second: float | None
    dashboard: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ProgressView:
    """The aggregate bar over ``n_runs`` runs of ``steps_per_run`` learner-steps each."""

    def __init__(self, n_runs: int, steps_per_run: int, *, enabled: bool = True, dashboard: str | None = None,
                 file: TextIO | None = None, listener: Callable[[int, float], None] | None = None) -> None:
        self.n_runs, self.steps_per_run = int(n_runs), int(steps_per_run)
        self.dashboard, self.listener = dashboard, listener
        self._lock = threading.Lock()
        self._pos: dict[Hashable, int] = {}       # run -> latest reported step (running runs)
        self._finished: set[Hashable] = set()
        self._done = self._failed = 0
        self._computed = 0
        self._t0 = time.perf_counter()
        self._drawn = 0.0
        self._bar = tqdm(total=self.n_runs * self.steps_per_run, unit="step", unit_scale=True,
                         disable=not enabled, dynamic_ncols=True, file=file or sys.stderr, leave=True,
                         bar_format="{percentage:3.0f}%|{bar}| {desc}")
        self._bar.set_description_str(self._status(), refresh=False)

    # -- reports ----------------------------------------------------------------------------------
    def start(self, run: Hashable) -> None:
        """A run has started (or started again on another worker): its position is zero."""
        with self._lock:
            if run not in self._finished:
                self._pos[run] = 0
        self.refresh()

    def advance(self, run: Hashable, n_steps: int, running_error: float = math.nan) -> None:
        """Run ``run`` has scored ``n_steps`` more steps (its running error is passed to the listener)."""
        n = max(0, int(n_steps))
        with self._lock:
            if run in self._finished:
                return
            self._computed += n
            self._pos[run] = min(self._pos.get(run, 0) + n, self.steps_per_run)
        if self.listener is not None:
            self.listener(n, running_error)
        self.refresh()

    def finish(self, run: Hashable, ok: bool) -> None:
        """Run ``run`` has a record (``ok`` or failed); idempotent."""
        with self._lock:
            if run in self._finished:
                return
            self._finished.add(run)
            self._pos.pop(run, None)
            if ok:
                self._done += 1
            else:
                self._failed += 1
        self.refresh(force=True)

    def note(self, line: str) -> None:
        """A one-line message printed above the bar (e.g. a failed run)."""
        if self._bar.disable:
            return
        self._bar.write(line, file=sys.stderr)

    # -- figures ----------------------------------------------------------------------------------
    @property
    def rate(self) -> float | None:
        """Learner-steps computed per wall second since the view opened (all workers together)."""
        dt = time.perf_counter() - self._t0
        return self._computed / dt if dt > 0 and self._computed > 0 else None

    def position(self) -> int:
        """Learner-steps of the batch behind us: finished runs count whole, running runs their position."""
        with self._lock:
            return (self._done + self._failed) * self.steps_per_run + sum(self._pos.values())

    def _status(self) -> str:
        with self._lock:
            done, failed, running = self._done, self._failed, sum(1 for _ in self._pos)
        rate = self.rate
        remaining = self.n_runs * self.steps_per_run - self.position()
        eta = remaining / rate if rate else None
        parts = [f"{done + failed}/{self.n_runs} done, {running} running, {failed} failed",
                 f"{_si(rate) if rate else '-'} steps/s", f"ETA {format_duration(eta)}"]
        if self.dashboard:
            parts.append(f"dashboard {self.dashboard}")
        return " | ".join(parts)

    def refresh(self, force: bool = False) -> None:
        if self._bar.disable:
            return
        now = time.perf_counter()
        if not force and now - self._drawn < 0.2:
            return
        self._drawn = now
        self._bar.n = self.position()
        self._bar.set_description_str(self._status(), refresh=True)

    def summary(self) -> ProgressSummary:
        rate = self.rate
        return ProgressSummary(self.n_runs, self._done, self._failed, self._computed,
                               time.perf_counter() - self._t0, rate, self.dashboard)

    def close(self) -> None:
        self.refresh(force=True)
        self._bar.close()

    def __enter__(self) -> ProgressView:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
