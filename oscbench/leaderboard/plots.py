"""The leaderboard's plots as SVG text (matplotlib, no pyplot, no display needed).

Deterministic: a fixed ``svg.hashsalt``, no creation date in the metadata, glyphs as paths, so the
same boards always give byte-identical files. Submission names are drawn as text (``$`` escaped so
mathtext never parses them); SVGs are shown through ``<img>``, where no script can run.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter


RC: dict[str, Any] = {"svg.hashsalt": "oscbench-leaderboard", "svg.fonttype": "path", "font.size": 9, "axes.titlesize": 10,
      "legend.fontsize": 8, "font.family": "DejaVu Sans", "path.simplify": True}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def label(text: str, limit: int = 40) -> str:
    """Submission text safe for a matplotlib label: one line, no mathtext, not hidden by a leading '_'."""
    s = " ".join(str(text).split())
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    s = s.replace("\\", "\\\\").replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def _steps_tick(x: float, _pos: int) -> str:
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:g}{unit}"
    return f"{x:g}"


def to_svg(fig: Figure) -> str:
    """Render ``fig`` as deterministic SVG text."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # matplotlib types rc keys as literals
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "oscbench"}, bbox_inches="tight")
    return buf.getvalue()


@contextlib.contextmanager
def _axes(w: float, h: float) -> Iterator[tuple[Figure, Any]]:
    """A (figure, axes) pair drawn under :data:`RC`."""
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # matplotlib types rc keys as literals
        fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
        yield fig, fig.add_subplot()


def _active(board: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in board["rows"] if not r["superseded"]]


def learning_curves(board: Mapping[str, Any]) -> str | None:
    """Mean learning curve of each active entry with its 95% bootstrap band (log MSE against steps), and
    the Bayes floor's mean squared error on the final window where the board has one."""
    rows = [r for r in _active(board) if r.get("curve")]
    if not rows:
        return None
    with _axes(7.0, 3.6) as (fig, ax):
        for i, r in enumerate(rows):
            c = r["curve"]
            color = COLORS[i % len(COLORS)]
            ax.fill_between(c["steps"], c["ci_low"], c["ci_high"], color=color, alpha=0.2, linewidth=0)
            ax.plot(c["steps"], c["mean"], color=color, linewidth=1.3, label=label(r["name"]))
        fl = board.get("floor")
        if fl and fl.get("final_error"):
            ax.axhline(fl["final_error"], color="#222222", linestyle="--", linewidth=0.9,
                       label=f"Bayes floor (final window, seeds {fl['seeds'][0]}–{fl['seeds'][-1]})")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("mean squared return error per bin")
        ax.xaxis.set_major_formatter(FuncFormatter(_steps_tick))
        ax.set_title("learning curves (mean over seeds, 95% bootstrap bands)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="upper right", frameon=False)
        return to_svg(fig)


def pareto(board: Mapping[str, Any]) -> str | None:
    """Error (mean NMSE, or the suite's IQM NMSE, with 95% CI) against declared FLOPs/step; the Pareto
    front, the budget line and (trace boards) the Bayes floor."""
    key = "iqm" if board["kind"] == "suite" else "nmse"
    rows = [r for r in _active(board) if r.get(key)]
    if not rows:
        return None
    with _axes(7.0, 3.6) as (fig, ax):
        for i, r in enumerate(rows):
            m, lo, hi = r[key]
            ax.errorbar([r["flops_per_step"]], [m], yerr=[[m - lo], [hi - m]], fmt="o", capsize=3,
                        color=COLORS[i % len(COLORS)], label=label(r["name"]))
        front, best = [], float("inf")
        for r in sorted(rows, key=lambda r: (r["flops_per_step"], r[key][0])):
            if r[key][0] < best:
                best = r[key][0]
                front.append((r["flops_per_step"], best))
        if len(front) > 1:
            ax.step([f for f, _ in front], [v for _, v in front], where="post", color="#555555", linewidth=0.8,
                    linestyle=":", label="Pareto front")
        ax.axvline(board["budget_flops"], color="#999999", linestyle="--", linewidth=0.8, label="budget")
        fl = board.get("floor")
        if key == "nmse" and fl and fl.get("nmse") is not None:
            ax.axhline(fl["nmse"], color="#222222", linestyle="--", linewidth=0.9, label="Bayes floor")
        ax.set_xlabel("declared FLOPs per step")
        ax.set_ylabel("IQM NMSE over games (95% CI)" if key == "iqm" else "NMSE (mean, 95% CI)")
        ax.set_xlim(0, board["budget_flops"] * 1.08)
        ax.set_title("error against compute")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", frameon=False)
        return to_svg(fig)


def atari_bars(board: Mapping[str, Any]) -> str | None:
    """Per-game error of each complete entry, ÷ the reference T-BPTT's on that game (the paper's Fig. 7).

    Without a reference T-BPTT entry the bars show per-game NMSE instead.
    """
    rows = [r for r in _active(board) if r.get("complete")]
    if not rows:
        return None
    normalised = all(r.get("normalised") for r in rows)
    games = board["games"]
    with _axes(7.0, max(3.0, 0.16 * len(games) * max(1, len(rows)) ** 0.5 + 1.2)) as (fig, ax):
        h = 0.8 / len(rows)
        for i, r in enumerate(rows):
            vals = [(r["normalised"] if normalised else r["per_game"]).get(g, float("nan")) for g in games]
            ax.barh([k + (i - (len(rows) - 1) / 2) * h for k in range(len(games))], vals, height=h,
                    color=COLORS[i % len(COLORS)], label=label(r["name"]))
        ax.set_yticks(range(len(games)), [label(g) for g in games])
        ax.set_ylim(len(games) - 0.5, -0.5)
        top = max((v for r in rows for v in (r["normalised"] if normalised else r["per_game"]).values()), default=1.0)
        ax.set_xlim(0, 1.05 * max(top, 1.0 if normalised else 0.0))
        if normalised:
            ax.axvline(1.0, color="#333333", linewidth=0.8)
        ax.set_xlabel("final error ÷ reference T-BPTT's (lower is better)" if normalised else "NMSE (lower is better)")
        ax.set_title("per-game error" + (" relative to T-BPTT (Fig. 7 of the paper)" if normalised else ""))
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(loc="lower right", frameon=False)
        return to_svg(fig)
