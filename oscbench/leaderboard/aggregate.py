"""An entry's aggregate: the figures the leaderboard shows, recomputed from the per-seed records.

Per game (``None`` for trace patterning)::

    seeds                 sorted seeds
    steps                 run length in steps
    nmse, final_error, lifetime_error, nmse_full_return, steps_per_cpu_second
                          {n, mean, ci_low, ci_high, std}: mean over seeds, 95% percentile bootstrap
                          CI (:func:`oscbench.benchmark.metrics.summarize`)
    curve                 {bin_steps, steps[], mean[], ci_low[], ci_high[]}: learning curve, mean over
                          seeds per bin with a 95% percentile bootstrap band (:func:`curve_band`)

Across games (Atari entries): ``iqm`` = interquartile mean of per-run NMSE with a stratified
bootstrap CI (:func:`oscbench.benchmark.metrics.iqm_stratified`).

The same records always give the same aggregate (fixed bootstrap seed), so validation recomputes it
and compares: a hand-edited figure is caught.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from oscbench.benchmark import metrics

SUMMARISED = ("nmse", "final_error", "lifetime_error", "nmse_full_return")
CURVE_RESAMPLES = 2000  # bands are drawn, not ranked on: fewer resamples than the CIs of the scores


def curve_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin mean over runs and 95% percentile bootstrap band.

    Args:
        curves: float64 ``[runs, bins]`` mean squared error per bin.

    Returns:
        (mean, low, high), each float64 ``[bins]``. One run: the band is the curve itself.
        Resampling is over runs (whole curves), as :func:`oscbench.benchmark.metrics.bootstrap_ci`
        does (same method and seed, :data:`CURVE_RESAMPLES` resamples), by scipy along axis 0.
    """
    y = np.asarray(curves, dtype=np.float64)
    mean = y.mean(axis=0)
    if len(y) < 2:
        return mean, mean.copy(), mean.copy()
    res = stats.bootstrap((y,), np.mean, axis=0, confidence_level=metrics.CONFIDENCE,
                          n_resamples=CURVE_RESAMPLES, method="percentile",
                          rng=np.random.default_rng(metrics.BOOTSTRAP_SEED))
    lo = np.where(np.ptp(y, axis=0) == 0, mean, res.confidence_interval.low)
    hi = np.where(np.ptp(y, axis=0) == 0, mean, res.confidence_interval.high)
    return mean, lo, hi


def probability_of_improvement(x: Mapping[str, Sequence[float]], y: Mapping[str, Sequence[float]]) -> float:
    """P(X improves on Y) as in rliable (Agarwal et al. 2021), for errors (lower is better).

    ``x``/``y`` map game -> per-run NMSE. Over the games both cover, the mean of
    P(X_m < Y_m) = 1/(N·K) Σ_i Σ_j S(x_mi, y_mj), with S = 1 if x < y, ½ if equal, 0 otherwise
    (the Mann-Whitney U statistic normalised by N·K).
    """
    games = sorted(set(x) & set(y))
    if not games:
        return math.nan
    total = 0.0
    for g in games:
        a = np.asarray(x[g], dtype=np.float64)[:, None]
        b = np.asarray(y[g], dtype=np.float64)[None, :]
        total += float(np.mean((a < b) + 0.5 * (a == b)))
    return total / len(games)


def _game_aggregate(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rs = sorted(records, key=lambda r: r["seed"])
    out: dict[str, Any] = {"seeds": [r["seed"] for r in rs], "steps": rs[0]["steps"]}
    for key in SUMMARISED:
        vals = [r["metrics"].get(key) for r in rs]
        out[key] = metrics.summarize(vals) if all(v is not None for v in vals) else None
    out["steps_per_cpu_second"] = metrics.summarize([r["timing"]["steps_per_cpu_second"] for r in rs])
    bins = {r["curve"]["bin_steps"] for r in rs}
    lengths = {len(r["curve"]["mse"]) for r in rs}
    if len(bins) == 1 and len(lengths) == 1:
        b, steps = rs[0]["curve"]["bin_steps"], rs[0]["steps"]
        mean, lo, hi = curve_band(np.array([r["curve"]["mse"] for r in rs]))
        x = metrics.bin_ends(steps, b)
        out["curve"] = {"bin_steps": b, "steps": x.tolist(), "mean": mean.tolist(),
                        "ci_low": lo.tolist(), "ci_high": hi.tolist()}
    else:
        out["curve"] = None
    return out


def by_game(records: Sequence[Mapping[str, Any]]) -> dict[str | None, list[Mapping[str, Any]]]:
    """Records grouped by ``task.game`` (``None`` for trace patterning), in sorted game order."""
    groups: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["task"].get("game"), []).append(r)
    return {g: groups[g] for g in sorted(groups, key=lambda g: "" if g is None else g)}


def nmse_by_game(records: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """game -> per-run NMSE (sorted by seed) of an Atari entry's records."""
    return {g: [r["metrics"]["nmse"] for r in sorted(rs, key=lambda r: r["seed"])]
            for g, rs in by_game(records).items() if g is not None}


def aggregate(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The aggregate stored in (and checked against) an entry; records must be ok runs.

    Returns ``{"games": {game or "": per-game aggregate}, "iqm": {...} or None}``; trace-patterning
    entries have the single key ``""``.
    """
    groups = by_game(records)
    games = {("" if g is None else g): _game_aggregate(rs) for g, rs in groups.items()}
    iqm = None
    if any(g is not None for g in groups):
        iqm = metrics.iqm_stratified(nmse_by_game(records))
    return {"games": games, "iqm": iqm}


CI_TOL = 0.1  # bootstrap endpoints may differ by this fraction of the interval's width (see compare)


def compare(stored: Any, fresh: Any, path: str = "aggregate", *, rel_tol: float = 1e-9) -> list[str]:
    """Lines naming where ``stored`` differs from ``fresh``; at most 5.

    Numbers must agree to ``rel_tol``, except bootstrap interval endpoints (``ci_low``/``ci_high``,
    also per learning-curve bin), which may differ by :data:`CI_TOL` of the interval's width: their
    Monte Carlo resampling is scipy's to change between versions, and a committed entry must stay
    valid. A shifted mean, a moved CI or a changed seed list is still caught.
    """
    out: list[str] = []

    def num(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    def check(a: Any, b: Any, where: str, tol: float) -> None:
        if num(a) and num(b) and isinstance(b, float):
            if not (math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-300) or abs(a - b) <= tol):
                out.append(f"{where} is {a!r} but the records give {b!r}")
        elif a != b:
            out.append(f"{where} is {a!r} but the records give {b!r}")

    def walk(a: Any, b: Any, where: str) -> None:
        if len(out) >= 5:
            return
        if isinstance(b, dict):
            if not isinstance(a, dict) or set(a) != set(b):
                out.append(f"{where} does not have the recomputed fields")
                return
            ci = {"ci_low", "ci_high"} <= set(b)
            for k in sorted(b):
                if ci and k in ("ci_low", "ci_high"):
                    lo, hi = b["ci_low"], b["ci_high"]
                    if isinstance(lo, list):
                        if not isinstance(a[k], list) or len(a[k]) != len(lo):
                            out.append(f"{where}.{k} has the wrong length")
                            continue
                        for i, (u, v) in enumerate(zip(a[k], b[k])):
                            check(u, v, f"{where}.{k}[{i}]", CI_TOL * abs(hi[i] - lo[i]))
                    else:
                        width = abs(hi - lo) if num(lo) and num(hi) else 0.0
                        check(a[k], b[k], f"{where}.{k}", CI_TOL * width)
                else:
                    walk(a[k], b[k], f"{where}.{k}")
        elif isinstance(b, list):
            if not isinstance(a, list) or len(a) != len(b):
                out.append(f"{where} has the wrong length")
                return
            for i, (u, v) in enumerate(zip(a, b)):
                walk(u, v, f"{where}[{i}]")
        else:
            check(a, b, where, 0.0)

    walk(stored, fresh, path)
    return out
