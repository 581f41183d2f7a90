"""Misbehaving learners for the isolation, whole-run causality and checkpoint tests (loaded by file path).

Each is honest (a small linear TD learner with an exact ``run`` == repeated ``step``) until its fault
fires at step ``at`` of the scored run, on the seeds in ``seeds`` only.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

import numpy as np


class Honest:
    """Linear TD(0) on the observation; ``run`` is repeated ``step``."""

    def __init__(self, n_features, seed, step_size=0.01, gamma=0.9):
        self.w = np.random.default_rng(seed).normal(0, 0.01, n_features)
        self.alpha, self.gamma, self.t = step_size, gamma, 0
        self.x_prev = None
        self.v_prev = 0.0

    def flops_per_step(self):
        return 4 * len(self.w)

    def step(self, x, c, g):
        v = float(self.w @ x)
        if self.x_prev is not None:
            self.w += self.alpha * (c + g * v - self.v_prev) * self.x_prev
        self.x_prev, self.v_prev = np.array(x, dtype=np.float64), v
        self.t += 1
        return v

    def run(self, xs, cs, gs):
        return np.array([self.step(xs[i], float(cs[i]), float(gs[i])) for i in range(len(cs))])


def honest(n_features, *, seed, step_size=0.01):
    return Honest(n_features, seed, step_size)


class _ObjectWithBadFloat:
    def __float__(self):
        raise RuntimeError("no float for you")


class Faulty(Honest):
    """``mode``: exit0, os_exit, sigkill, raise, hang, overflow, badfloat, dtype, shape, keyboard."""

    def __init__(self, n_features, seed, mode, at, seeds):
        super().__init__(n_features, seed)
        self.mode, self.at, self.bad = mode, at, seed in seeds
        self.built = 0

    def run(self, xs, cs, gs):
        out = super().run(xs, cs, gs)
        if not self.bad or self.t < self.at:
            return out
        if self.mode == "pidfile":       # report the learner process's pid, then hang
            with open(os.environ["OSCBENCH_TEST_PIDFILE"], "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)
        if self.mode == "exit0":
            sys.exit(0)
        if self.mode == "os_exit":
            os._exit(0)
        if self.mode == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "raise":
            raise RuntimeError("boom")
        if self.mode == "hang":
            time.sleep(600)
        if self.mode == "overflow":
            out[-1] = 1e200
        if self.mode == "badfloat":
            return np.array([_ObjectWithBadFloat()] * len(out), dtype=object)
        if self.mode == "dtype":
            return out.astype(np.complex128)
        if self.mode == "shape":
            return np.append(out, 0.0)
        if self.mode == "keyboard":
            raise KeyboardInterrupt
        if self.mode == "alloc":           # 6 GiB at once: over a --memory-limit of 4G
            self.hog = np.ones(6 * 2**30, dtype=np.uint8)
        return out


def faulty(n_features, *, seed, mode="raise", at=3500, seeds=(1,)):
    return Faulty(n_features, seed, mode, at, tuple(seeds))


class StepBadFloat(Honest):
    """No ``run``: its ``step`` returns an object whose ``__float__`` raises, from step ``at``."""

    def __init__(self, n_features, seed, at):
        super().__init__(n_features, seed)
        self.at = at

    def step(self, x, c, g):
        v = super().step(x, c, g)
        return _ObjectWithBadFloat() if self.t > self.at else v

    run = None


def step_bad_float(n_features, *, seed, at=3500):
    return StepBadFloat(n_features, seed, at)


class LatePeek(Honest):
    """Honest for the first ``after`` steps (the prefix audit passes); afterwards ``run`` predicts the
    discounted sum of the cumulants still ahead *in its chunk* -- a look-ahead the prefix audit cannot see."""

    def __init__(self, n_features, seed, after):
        super().__init__(n_features, seed)
        self.after = after

    def run(self, xs, cs, gs):
        out = super().run(xs, cs, gs)
        start = self.t - len(cs)
        if start + len(cs) <= self.after:
            return out
        g = 0.0
        for i in range(len(cs) - 1, -1, -1):   # G_i = c_{i+1} + γ_{i+1} G_{i+1}, inside the chunk only
            if start + i >= self.after:
                out[i] = g
            g = float(cs[i]) + float(gs[i]) * g
        return out


def late_peek(n_features, *, seed, after=3000):
    return LatePeek(n_features, seed, after)


class Unpicklable(Honest):
    """Holds a lock: it cannot be pickled, so it cannot be snapshotted."""

    def __init__(self, n_features, seed):
        super().__init__(n_features, seed)
        self.lock = threading.Lock()


def unpicklable(n_features, *, seed):
    return Unpicklable(n_features, seed)


_SEEN_STEPS: set[int] = set()   # process-global memory: every step this process was ever handed (never pickled)


class GlobalPeek(Honest):
    """Keeps what it is handed in a module-level global, outside its snapshotted state, and from step
    ``after`` on lets V_t depend on whether step t+1 was ever handed to this process. A replay run in
    the same process after the full chunk would see the same global and agree with it."""

    def __init__(self, n_features, seed, after):
        super().__init__(n_features, seed)
        self.after = after

    def run(self, xs, cs, gs):
        start = self.t
        out = super().run(xs, cs, gs)
        _SEEN_STEPS.update(range(start, start + len(cs)))
        for i in range(len(cs)):
            if start + i >= self.after and start + i + 1 in _SEEN_STEPS:
                out[i] += 1e-3
        return out


def global_peek(n_features, *, seed, after=3000):
    return GlobalPeek(n_features, seed, after)
