"""Scoring arithmetic (per run) and statistics (over seeds and games).

Per run (:class:`RunScorer`), fed chunk by chunk with the predictions V_t and the targets:

* per-step error e_t = (V_t − G_t)², every step, against the task target (and against the full return);
* **final error** = mean of e_t over the scoring window, the last ``window`` steps of the run
  (``window`` = min(task window, steps): 200k steps for the standard tasks);
* **NMSE** = final error / Var(G_t over the same window) (population variance): 0 is perfect, 1 is
  the best constant predictor (the window's mean), ``None`` when the target is constant there;
* **lifetime error** = mean of e_t over the whole run;
* the **learning curve**: mean e_t per bin of ``bin_steps`` steps, the bins anchored at the run's end
  (the *first* bin may be shorter: :func:`bin_lengths`), so a scoring window that is a multiple of
  ``bin_steps`` is exactly the last ``window / bin_steps`` bins and the final error can be recomputed
  from the curve for every run (records of schema version 1 anchored the bins at step 0);
* the reference code's **running error**: mean e_t over the last ``running_window`` steps, logged after
  every step count i ≥ running_window with i mod ``running_every`` = ``running_offset``.

Over seeds: mean with a 95% percentile bootstrap CI (:func:`bootstrap_ci`, scipy). Across Atari games:
the interquartile mean of per-run NMSE with a stratified bootstrap CI, resampling runs within each
game (:func:`iqm_stratified`, the rliable method, with scipy doing the resampling).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 9999
BOOTSTRAP_SEED = 0   # fixed: the same records always give the same intervals
CURVE_RESAMPLES = 2000  # bands are drawn, not ranked on: fewer resamples than the CIs of the scores


def n_bins(steps: int, bin_steps: int) -> int:
    """Number of learning-curve bins of a run (ceil(steps / bin_steps))."""
    return -(-int(steps) // int(bin_steps))


def bin_lengths(steps: int, bin_steps: int, *, anchored_at_end: bool = True) -> np.ndarray:
    """Steps in each curve bin: ``bin_steps`` each, the remainder in the first bin (anchored at the end)
    or, for schema-1 records (``anchored_at_end=False``), in the last."""
    n = n_bins(steps, bin_steps)
    out = np.full(n, int(bin_steps), dtype=np.int64)
    out[0 if anchored_at_end else -1] = int(steps) - int(bin_steps) * (n - 1)
    return out


def bin_ends(steps: int, bin_steps: int) -> np.ndarray:
    """The step count at the end of each curve bin (the last bin ends at ``steps``)."""
    return int(steps) - int(bin_steps) * np.arange(n_bins(steps, bin_steps) - 1, -1, -1, dtype=np.int64)


def running_log_steps(steps: int, running_window: int, running_every: int, running_offset: int) -> list[int]:
    """The step counts after which the running error is logged in a run of ``steps`` steps."""
    first = running_window + ((running_offset % running_every - running_window) % running_every)
    return list(range(first, int(steps) + 1, running_every))


class RunScorer:
    """Accumulate per-step errors of one run in O(window + bins) memory.

    Args:
        steps: the run's length T.
        window: scoring-window length W (≤ T).
        bin_steps: learning-curve bin width.
        running_window, running_every, running_offset: the running-error log (see module docs).
    """

    def __init__(self, steps: int, window: int, bin_steps: int, running_window: int = 100_000,
                 running_every: int = 50_000, running_offset: int = 20_000) -> None:
        if not 0 < window <= steps or bin_steps <= 0:
            raise ValueError(f"need 0 < window <= steps and bin_steps > 0 (steps={steps}, window={window}, bins={bin_steps})")
        self.steps, self.window, self.bin_steps = steps, window, bin_steps
        nb = n_bins(steps, bin_steps)
        self._bin_offset = nb * bin_steps - steps   # step t is in bin (t + offset) // bin_steps
        self._bins = np.zeros(nb)
        self._bins_full = np.zeros(nb)
        self._w_err = np.empty(window)
        self._w_err_full = np.empty(window)
        self._w_target = np.empty(window)
        self._w_full = np.empty(window)
        self._w0 = steps - window
        self.done = 0
        self._sum = 0.0
        # running window: prefix sums of e_t at multiples of g
        self.rw, self.r_every, self.r_offset = running_window, running_every, running_offset % running_every
        self._g = math.gcd(math.gcd(running_window, running_every), self.r_offset or running_every)
        self._prefix = np.zeros(steps // self._g + 1)

    def update(self, start: int, predictions: np.ndarray, target: np.ndarray, full_return: np.ndarray) -> np.ndarray:
        """Score steps ``start .. start+N-1`` (must follow the previous update); return e_t (float64 [N])."""
        if start != self.done:
            raise ValueError(f"chunk starts at step {start}, expected {self.done}")
        n = len(predictions)
        if n == 0:
            return np.zeros(0)
        if start + n > self.steps:
            raise ValueError(f"chunk ends at step {start + n}, beyond the run's {self.steps} steps")
        v = np.asarray(predictions, dtype=np.float64)
        err = np.square(v - target)
        err_full = np.square(v - full_return)
        idx = (np.arange(start, start + n) + self._bin_offset) // self.bin_steps
        b0 = idx[0]
        m = idx[-1] - b0 + 1
        self._bins[b0:b0 + m] += np.bincount(idx - b0, weights=err, minlength=m)
        self._bins_full[b0:b0 + m] += np.bincount(idx - b0, weights=err_full, minlength=m)
        a = max(start, self._w0)
        if a < start + n:
            s, d = a - start, a - self._w0
            k = start + n - a
            self._w_err[d:d + k] = err[s:]
            self._w_err_full[d:d + k] = err_full[s:]
            self._w_target[d:d + k] = target[s:]
            self._w_full[d:d + k] = full_return[s:]
        cs = self._sum + np.cumsum(err)
        first = (-(start + 1)) % self._g   # first i in the chunk with (start + i + 1) % g == 0
        pos = np.arange(first, n, self._g)
        self._prefix[(start + pos + 1) // self._g] = cs[pos]
        self._sum = float(cs[-1])
        self.done += n
        return err

    def state(self) -> dict[str, np.ndarray]:
        """Everything the scorer holds, as named arrays (checkpoints; :meth:`load_state` reads it back)."""
        return {k: np.array(v, copy=True) for k, v in vars(self).items()}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from :meth:`state` of a scorer built with the same arguments."""
        mine = vars(self)
        if set(state) != set(mine):
            raise ValueError(f"scorer state fields {sorted(state)} differ from {sorted(mine)}")
        for k, v in state.items():
            old = mine[k]
            if isinstance(old, np.ndarray):
                if v.shape != old.shape:
                    raise ValueError(f"scorer state {k}: shape {v.shape}, expected {old.shape}")
                mine[k] = np.array(v, dtype=old.dtype, copy=True)
            else:
                if v.shape != ():
                    raise ValueError(f"scorer state {k}: not a scalar")
                if k in ("steps", "window", "bin_steps", "rw", "r_every", "r_offset", "_g", "_w0") and v.item() != old:
                    raise ValueError(f"scorer state {k}={v.item()} differs from this run's {old}")
                mine[k] = type(old)(v.item())

    @property
    def running_error(self) -> float:
        """Mean error so far (for progress bars)."""
        return self._sum / self.done if self.done else float("nan")

    def running_log(self) -> tuple[list[int], list[float]]:
        """(step counts, mean error over the ``running_window`` steps before each)."""
        g, k = self._g, self.rw
        steps = running_log_steps(self.done, k, self.r_every, self.r_offset)
        mse = [float((self._prefix[i // g] - self._prefix[(i - k) // g]) / k) for i in steps]
        return steps, mse

    def first_bins(self, n: int) -> list[float]:
        """The MSE of the first ``n`` learning-curve bins, which must be scored already: what
        :meth:`finalize` would give for them, with the run's own bin layout (the remainder in the first)."""
        lengths = bin_lengths(self.steps, self.bin_steps)[:n]
        if self.done < int(lengths.sum()):
            raise ValueError(f"the first {n} bins need {int(lengths.sum())} steps; {self.done} were scored")
        return (self._bins[:n] / lengths.astype(np.float64)).tolist()

    def finalize(self, reference_final_error: float | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metrics, curve) as stored in a result record. Call after all ``steps`` were scored."""
        if self.done != self.steps:
            raise ValueError(f"scored {self.done} of {self.steps} steps")
        lengths = bin_lengths(self.steps, self.bin_steps).astype(np.float64)
        final = float(self._w_err.mean())
        final_full = float(self._w_err_full.mean())
        var = float(self._w_target.var())
        var_full = float(self._w_full.var())
        r_steps, r_mse = self.running_log()
        metrics = {
            "final_error": final,
            "lifetime_error": float(self._bins.sum() / self.steps),
            "nmse": final / var if var > 0 else None,
            "target_variance": var,
            "target_mean": float(self._w_target.mean()),
            "relative_error": final / reference_final_error if reference_final_error else None,
            "reference_final_error": reference_final_error or None,
            "final_error_full_return": final_full,
            "lifetime_error_full_return": float(self._bins_full.sum() / self.steps),
            "nmse_full_return": final_full / var_full if var_full > 0 else None,
            "target_variance_full_return": var_full,
            "window_steps": self.window,
            "running_window": {"window": self.rw, "steps": r_steps, "mse": r_mse},
        }
        curve = {"bin_steps": self.bin_steps, "mse": (self._bins / lengths).tolist(),
                 "mse_full_return": (self._bins_full / lengths).tolist()}
        return metrics, curve


# -- statistics over runs ------------------------------------------------------------------------
def bootstrap_ci(values: Sequence[float], *, confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (scipy.stats.bootstrap); (nan, nan) with fewer than 2 values."""
    x = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(x) < 2:
        return (math.nan, math.nan)
    if np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(values: Sequence[float | None]) -> dict[str, Any]:
    """{n, mean, ci_low, ci_high, std} of the non-null values (mean over seeds, 95% bootstrap CI)."""
    x = [float(v) for v in values if v is not None]
    if not x:
        return {"n": 0, "mean": None, "ci_low": None, "ci_high": None, "std": None}
    lo, hi = bootstrap_ci(x)
    return {"n": len(x), "mean": float(np.mean(x)), "ci_low": None if math.isnan(lo) else lo,
            "ci_high": None if math.isnan(hi) else hi, "std": float(np.std(x, ddof=1)) if len(x) > 1 else None}


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy.stats.trim_mean, 25% cut each side)."""
    return float(stats.trim_mean(np.asarray(values, dtype=np.float64).ravel(), 0.25))


def iqm_stratified(scores_by_game: Mapping[str, Sequence[float]], *, confidence: float = CONFIDENCE,
                   n_resamples: int = 2000, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """IQM over all runs of all games, with a stratified bootstrap CI (runs resampled within each game).

    scipy's multi-sample bootstrap (``paired=False``) resamples each game's runs independently, which
    is the stratified bootstrap of Agarwal et al. (2021). Games with a single run enter every
    resample unchanged.
    """
    samples = [np.asarray(v, dtype=np.float64) for v in scores_by_game.values() if len(v) >= 2]
    fixed = np.concatenate([np.asarray(v, dtype=np.float64) for v in scores_by_game.values() if len(v) == 1] or [np.zeros(0)])
    allv = np.concatenate(samples + [fixed]) if samples else fixed
    if len(allv) == 0:
        return {"iqm": None, "ci_low": None, "ci_high": None, "n_games": 0, "n_runs": 0}
    point = iqm(allv.tolist())
    lo = hi = point
    if samples and not np.all(allv == allv[0]):
        def stat(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
            batch = xs[0].shape[:-1]
            parts = list(xs) + [np.broadcast_to(fixed, batch + fixed.shape)]
            return stats.trim_mean(np.concatenate(parts, axis=-1), 0.25, axis=-1)

        res = stats.bootstrap(tuple(samples), stat, paired=False, vectorized=True, confidence_level=confidence,
                              n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {"iqm": point, "ci_low": lo, "ci_high": hi, "n_games": len(scores_by_game), "n_runs": int(len(allv))}


def group_key(record: Mapping[str, Any]) -> tuple[str, str | None, str, str, str]:
    """(task id, game, preset, learner name, hyper-parameter digest): runs that differ only by seed."""
    from oscbench.benchmark.records import hyperparameter_digest

    t, lr = record["task"], record["learner"]
    return (t["id"], t.get("game"), t["preset"], lr["name"], hyperparameter_digest(lr["hyperparameters"]))


def aggregate(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One summary per group of runs (:func:`group_key`): metrics' mean and 95% CI over seeds."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    out = []
    for (task, game, preset, name, hp_digest), runs in groups.items():
        ok = [r for r in runs if r["status"] == "ok"]
        m = lambda k, ok=ok: [r["metrics"][k] for r in ok]  # noqa: E731
        out.append({
            "task": task, "game": game, "preset": preset, "learner": name, "hp_digest": hp_digest,
            "hyperparameters": runs[0]["learner"]["hyperparameters"], "steps": runs[0]["steps"],
            "seeds": sorted(r["seed"] for r in ok), "failed_seeds": sorted(r["seed"] for r in runs if r["status"] != "ok"),
            "flops_per_step": runs[0]["learner"]["flops_per_step"],
            "final_error": summarize(m("final_error")), "nmse": summarize(m("nmse")),
            "lifetime_error": summarize(m("lifetime_error")), "relative_error": summarize(m("relative_error")),
            "nmse_full_return": summarize(m("nmse_full_return")),
            "steps_per_cpu_second": summarize([r["timing"]["steps_per_cpu_second"] for r in ok]),
        })
    return out


def suite_summary(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Across games, per (task, preset, learner, hp): IQM of per-run NMSE with a stratified bootstrap CI."""
    groups: dict[tuple, dict[str, list[float]]] = {}
    for r in records:
        if r["status"] != "ok" or not r["task"].get("game") or r["metrics"]["nmse"] is None:
            continue
        task, _, preset, name, hp = group_key(r)
        groups.setdefault((task, preset, name, hp), {}).setdefault(r["task"]["game"], []).append(r["metrics"]["nmse"])
    return [{"task": t, "preset": p, "learner": n, "hp_digest": h, "nmse": iqm_stratified(by_game)}
            for (t, p, n, h), by_game in groups.items()]


def curve_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin mean over runs and 95% percentile bootstrap band.

    Args:
        curves: float64 ``[runs, bins]`` mean squared error per bin.

    Returns:
        (mean, low, high), each float64 ``[bins]``. One run: the band is the curve itself.
        Resampling is over runs (whole curves), as :func:`bootstrap_ci`
        does (same method and seed, :data:`CURVE_RESAMPLES` resamples), by scipy along axis 0.
    """
    y = np.asarray(curves, dtype=np.float64)
    mean = y.mean(axis=0)
    if len(y) < 2:
        return mean, mean.copy(), mean.copy()
    res = stats.bootstrap((y,), np.mean, axis=0, confidence_level=CONFIDENCE,
                          n_resamples=CURVE_RESAMPLES, method="percentile",
                          rng=np.random.default_rng(BOOTSTRAP_SEED))
    lo = np.where(np.ptp(y, axis=0) == 0, mean, res.confidence_interval.low)
    hi = np.where(np.ptp(y, axis=0) == 0, mean, res.confidence_interval.high)
    return mean, lo, hi


def stacked_curves(records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(bin end steps ``[bins]``, curves ``[runs, bins]``) of the ok runs whose bins are the first ok
    run's (same bin width and length); empty arrays when no run finished."""
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return np.zeros(0), np.zeros((0, 0))
    b, steps = ok[0]["curve"]["bin_steps"], ok[0]["steps"]
    ys = np.array([r["curve"]["mse"] for r in ok if r["curve"]["bin_steps"] == b and r["steps"] == steps])
    return bin_ends(steps, b), ys


def mean_curve(records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bin end steps, mean MSE over runs, 95% band low, high) of :func:`stacked_curves` (:func:`curve_band`)."""
    x, ys = stacked_curves(records)
    if not len(ys):
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
    return (x, *curve_band(ys))
