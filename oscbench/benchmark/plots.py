"""Learning-curve plots from result records (matplotlib, drawn off-screen; no global backend change)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oscbench._atomic import atomic_path
from oscbench.benchmark import metrics


def smoothed_band(runs: Sequence[Mapping[str, Any]], level: float = 0.95, smooth_bins: int = 1
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bin end steps, mean MSE, CI low, CI high) of :func:`oscbench.benchmark.metrics.stacked_curves`,
    for reading a plot (the leaderboard's bands are :func:`oscbench.benchmark.metrics.curve_band`).

    Each run's curve is first averaged over a trailing window of ``smooth_bins`` bins (a bin's error
    depends on how many trials it happens to hold); the band is a Student-t interval on the mean over
    seeds (with one run it collapses onto the curve).
    """
    from scipy import stats

    x, ys = metrics.stacked_curves(runs)
    if not len(ys):
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
    k = max(1, min(int(smooth_bins), ys.shape[1]))
    if k > 1:
        c = np.cumsum(np.pad(ys, ((0, 0), (1, 0))), axis=1)
        idx = np.arange(1, ys.shape[1] + 1)
        lo_idx = np.maximum(idx - k, 0)
        ys = (c[:, idx] - c[:, lo_idx]) / (idx - lo_idx)
    mean = ys.mean(axis=0)
    n = len(ys)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * ys.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    return x, mean, mean - half, mean + half


def plot_learning_curves(records: Sequence[Mapping[str, Any]], path: str | Path, *, title: str | None = None) -> Path:
    """Write :func:`learning_curve_figure` of ``records`` as a PNG (atomically); return the path."""
    fig = learning_curve_figure(records, title=title)
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    return path


def learning_curve_figure(records: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Any:
    """A matplotlib Figure with one panel per learner (and game): the mean learning curve over seeds,
    its 95% confidence band, and the best constant predictor's error (the variance of the target over
    the scoring window, mean over seeds: NMSE = 1), so a curve near that line has learned nothing yet.

    Runs are grouped by :func:`oscbench.benchmark.metrics.group_key`; failed runs are left out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in records:
        if r["status"] == "ok":
            groups.setdefault(metrics.group_key(r), []).append(r)
    n = max(1, len(groups))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.6 * cols + 0.6, 3.0 * rows + 0.8), dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    first = next(iter(groups.values()), None)
    target = first[0]["task"]["target"] if first else "returns"
    target_name = "G*" if target == "returns_truncated" else "G"
    top: list[float] = []
    low: list[float] = []
    for k, ((_task, game, _preset, name, _), runs) in enumerate(groups.items()):
        ax = axes[k // cols][k % cols]
        n_bins = len(runs[0]["curve"]["mse"])
        x, mean, lo, hi = smoothed_band(runs, smooth_bins=max(1, n_bins // 20))
        color = f"C{k % 10}"
        ax.plot(x, mean, color=color, linewidth=1.3, label="mean over seeds")
        ax.fill_between(x, lo, hi, color=color, alpha=0.25, linewidth=0, label="95% CI")
        best = float(np.mean([r["metrics"]["target_variance"] for r in runs]))
        ax.axhline(best, color="black", linestyle="--", linewidth=1.0, label="best constant (NMSE 1)")
        nmse = float(np.mean([r["metrics"]["nmse"] for r in runs]))
        ax.set_title(f"{name}" + (f" ({game})" if game else "") + f": NMSE {nmse:.3g}, {len(runs)} seed"
                     + ("s" if len(runs) > 1 else ""), fontsize=9)
        top.append(max(float(np.max(hi, initial=0.0)), best))
        low.append(float(np.min(mean, initial=best)))
        ax.grid(True, which="both", alpha=0.3)
        if k % cols == 0:
            ax.set_ylabel(f"squared error vs {target_name}", fontsize=8)
        if k // cols == rows - 1:
            ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    if top and min(low) > 0 and max(top) / min(low) > 20:   # learning visible over decades: log scale
        axes[0][0].set_yscale("log")
    else:
        axes[0][0].set_ylim(0, 1.15 * max(top, default=1.0))
    for k in range(len(groups), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    if groups:
        axes[0][0].legend(frameon=False, fontsize=7, loc="lower left")
    if title is None and first:
        t = first[0]["task"]
        title = (f"{t['id']} ({t['preset']}, {first[0]['steps']:,} steps): learning curves\n"
                 "mean and 95% CI over seeds; each run averaged over a trailing 1/20 of its length")
    fig.suptitle(title or "learning curves", fontsize=10)
    fig.tight_layout()
    return fig
