"""Calling learner code safely: every output checked, every failure turned into a :class:`LearnerFault`.

The evaluator never lets a learner's exception, a non-finite prediction or a wrong-shaped output
escape as a crash: it becomes a ``LearnerFault`` carrying the step, a one-line message and (for
exceptions) the traceback, which the evaluator records as a failed run. ``KeyboardInterrupt`` is not
caught.

Learners receive fresh C-contiguous copies of the observations, so no view can reach rows of the
stream beyond the ones handed over (no look-ahead through ``xs.base``).
"""
from __future__ import annotations

import traceback
from typing import Any

import numpy as np

MAX_PREDICTION = 1e100   # |V_t| beyond this is a fault: its squared error would overflow float64


class LearnerFault(Exception):
    """A learner misbehaved at ``step`` (the chunk's first step when a whole ``run`` call raised)."""

    def __init__(self, step: int | None, message: str, log: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.message = " ".join(message.split())
        self.log = log


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def call(what: str, step: int | None, where: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)``; an exception is re-raised as a LearnerFault: "``what`` raised ``where``: ...", at ``step``."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - learner code may raise anything
        raise LearnerFault(step, f"{what} raised {where}: {_describe(err)}", traceback.format_exc()) from None


def _check_scalar(value: Any, step: int) -> float:
    if np.ndim(value) != 0:
        raise LearnerFault(step, f"step() returned shape {np.shape(value)} at step {step}; it must return one float.")
    try:
        v = float(value)
    except Exception:  # noqa: BLE001 - a learner's object may raise anything from __float__
        raise LearnerFault(step, f"step() returned {type(value).__name__} at step {step}; it must return one float.") from None
    check_predictions(np.array([v]), step)
    return v


def _check_array(out: Any, start: int, n: int) -> np.ndarray:
    shape = np.shape(out)
    if shape != (n,):
        raise LearnerFault(start, f"run() returned shape {shape} for the {n} steps from step {start}; "
                                  f"it must return an array of shape ({n},).")
    try:
        raw = np.asarray(out)
        if raw.dtype.kind not in "fiu":
            raise TypeError(raw.dtype)
        v = raw.astype(np.float64)
    except Exception:  # noqa: BLE001 - a learner's object may raise anything on conversion
        raise LearnerFault(start, f"run() returned values of type {getattr(getattr(out, 'dtype', None), 'name', type(out).__name__)} "
                                  f"for the steps from {start}; it must return float64 or float32 predictions.") from None
    return check_predictions(v, start)


def check_predictions(v: np.ndarray, start: int) -> np.ndarray:
    """``v`` (float64 predictions of the steps from ``start``) if all are finite and within ±MAX_PREDICTION."""
    bad = np.flatnonzero(~(np.abs(v) <= MAX_PREDICTION))
    if len(bad):
        t = start + int(bad[0])
        what = "finite" if not np.isfinite(v[bad[0]]) else f"within ±{MAX_PREDICTION:g} (its squared error overflows)"
        raise LearnerFault(t, f"the learner predicted {v[bad[0]]} at step {t}; predictions must be {what}.")
    return v


def step_checked(learner: Any, t: int, x: np.ndarray, cumulant: float, continuation: float) -> float:
    """One ``step`` call, checked."""
    return _check_scalar(call("step()", t, f"at step {t}", learner.step, x, float(cumulant), float(continuation)), t)


def run_checked(learner: Any, start: int, xs: np.ndarray, cumulants: np.ndarray, continuations: np.ndarray,
                *, use_run: bool = True) -> np.ndarray:
    """Predictions for steps ``start .. start+N-1`` (float64 [N]), through ``run`` when the learner has it.

    Without ``run`` (or with ``use_run=False``) it calls ``step`` once per step, so a fault's step is exact.
    """
    n = len(cumulants)
    xs = np.array(xs, dtype=np.float32, order="C", copy=True)
    cumulants = np.array(cumulants, dtype=np.float32, copy=True)
    continuations = np.array(continuations, dtype=np.float32, copy=True)
    run = getattr(learner, "run", None) if use_run else None
    if callable(run):
        out = call("run()", start, f"in the chunk of steps {start}..{start + n - 1}", run, xs, cumulants, continuations)
        if out is None:
            raise LearnerFault(start, f"run() returned None for the steps from {start}; it must return the predictions.")
        return _check_array(out, start, n)
    preds = np.empty(n, dtype=np.float64)
    for i in range(n):
        preds[i] = step_checked(learner, start + i, xs[i], cumulants[i], continuations[i])
    return preds


def declared_flops(learner: Any) -> tuple[int | None, str]:
    """The learner's declared ``flops_per_step()`` as a positive int, or (None, why it is not one)."""
    fn = getattr(learner, "flops_per_step", None)
    if not callable(fn):
        return None, "the learner has no flops_per_step() method"
    try:
        v = fn()
    except Exception as err:  # noqa: BLE001
        return None, f"flops_per_step() raised {type(err).__name__}: {err}"
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        return None, f"flops_per_step() returned {v!r}; it must return a positive int"
    return int(v), ""
