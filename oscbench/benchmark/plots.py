"""Learning-curve plots from result records (matplotlib, drawn off-screen; no global backend change)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from oscbench._atomic import atomic_path
from oscbench.benchmark import metrics


def plot_learning_curves(records: Sequence[Mapping[str, Any]], path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG of the mean learning curve (± one standard error over seeds) of each learner.

    Runs are grouped by :func:`oscbench.benchmark.metrics.group_key`; failed runs are left out.
    Returns the path written (atomically).
    """
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
        x, mean, sem = metrics.mean_curve(runs)
        label = f"{name}" + (f" ({game})" if game else "") + f", {len(runs)} seed{'s' if len(runs) > 1 else ''}"
        line, = ax.plot(x, mean, label=label, linewidth=1.5)
        ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, linewidth=0)
    first = next(iter(groups.values()), None)
    target = first[0]["task"]["target"] if first else "returns"
    ax.set_xlabel("step")
    ax.set_ylabel(f"mean squared error vs {'G*' if target == 'returns_truncated' else 'G'} (per bin)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    if groups:
        ax.legend(frameon=False)
    if title is None and first:
        t = first[0]["task"]
        title = f"{t['id']} ({t['preset']}, {first[0]['steps']:,} steps): learning curves, mean ± s.e."
    ax.set_title(title or "learning curves", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    return path
