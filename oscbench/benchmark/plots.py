"""Learning-curve plots from result records (matplotlib Agg, drawn off-screen; no global backend change).

Each learner (runs grouped by :func:`oscbench.benchmark.metrics.group_key`) is drawn as its mean
learning curve over seeds with a 95% percentile bootstrap band (:func:`metrics.mean_curve`, the band
the leaderboard draws). A dashed line marks the **best constant predictor**: its mean squared error is
the target's variance over the scoring window (``metrics.target_variance``), i.e. NMSE = 1; a curve
below it predicts better than any constant. With several tasks or games in one plot there is one such
line for each.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from oscbench._atomic import atomic_path
from oscbench.benchmark import metrics

BEST_CONSTANT = "best constant"


def best_constant(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str | None], float]:
    """(task id, game) -> the mean over seeds of ``metrics.target_variance`` of the ok runs.

    Each seed counts once (several learners scored on the same stream share its variance).
    """
    by: dict[tuple[str, str | None], dict[Any, float]] = {}
    for r in records:
        m = r.get("metrics") or {}
        if r["status"] == "ok" and m.get("target_variance") is not None:
            by.setdefault((r["task"]["id"], r["task"].get("game")), {})[(r["seed"], r["steps"])] = m["target_variance"]
    return {k: sum(v.values()) / len(v) for k, v in by.items()}


def learning_curve_figure(records: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Any:
    """The matplotlib Figure of :func:`plot_learning_curves` (for saving elsewhere or inspecting)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in records:
        if r["status"] == "ok":
            groups.setdefault(metrics.group_key(r), []).append(r)
    fig = Figure(figsize=(7.5, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for (task, game, preset, name, _), runs in groups.items():
        x, mean, lo, hi = metrics.mean_curve(runs)
        label = f"{name}" + (f" ({game})" if game else "") + f", {len(runs)} seed{'s' if len(runs) > 1 else ''}"
        line, = ax.plot(x, mean, label=label, linewidth=1.5)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
    consts = best_constant(records)
    for (task, game), v in consts.items():
        where = f" ({task}{'/' + game if game else ''})" if len(consts) > 1 else ""
        ax.axhline(v, color="#444444", linestyle="--", linewidth=1.0, label=f"{BEST_CONSTANT}{where}")
    first = next(iter(groups.values()), None)
    target = first[0]["task"]["target"] if first else "returns"
    ax.set_xlabel("step")
    ax.set_ylabel(f"mean squared error vs {'G*' if target == 'returns_truncated' else 'G'} (per bin)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    if groups:
        ax.legend(frameon=False, fontsize=8)
    if title is None and first:
        t = first[0]["task"]
        title = f"{t['id']} ({t['preset']}, {first[0]['steps']:,} steps): mean over seeds, 95% bootstrap band"
    ax.set_title(title or "learning curves", fontsize=10)
    fig.tight_layout()
    return fig


def plot_learning_curves(records: Sequence[Mapping[str, Any]], path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG of the learning curves (see the module docs); failed runs are left out.

    Returns the path written (atomically).
    """
    fig = learning_curve_figure(records, title=title)
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    return path
