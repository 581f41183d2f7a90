"""Trace patterning boards: T1-T4 verdicts, the board table with the Bayes floor, the learning curves (Fig. 4)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .common import LABEL, LEARNERS, TRACE, Verdict, ci_text, figure, fmt, game_aggregate, seeds_text, steps_text, verification_line


def largest_trace_board(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> tuple[str, Mapping[str, Any]] | None:
    """The trace-patterning board with the longest runs that has all four reference learners."""
    best = None
    for (task, preset), by in boards.items():
        if task != TRACE or not all(k in by for k in LEARNERS):
            continue
        steps = game_aggregate(by["hybrid"])["steps"]
        if best is None or steps > best[0]:
            best = (steps, preset, by)
    return None if best is None else (best[1], best[2])


def incomplete_trace_boards(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[str]:
    """One line per trace board with longer runs than the largest complete one that lacks reference
    learners (e.g. while its entries are being regenerated): which it has and which it lacks."""
    found = largest_trace_board(boards)
    floor = game_aggregate(found[1]["hybrid"])["steps"] if found else 0
    lines = []
    for (task, preset), by in sorted(boards.items()):
        if task != TRACE or all(k in by for k in LEARNERS) or not by:
            continue
        steps = game_aggregate(next(iter(by.values())))["steps"]
        if steps > floor:
            has = ", ".join(LABEL[k] for k in LEARNERS if k in by)
            lacks = ", ".join(LABEL[k] for k in LEARNERS if k not in by)
            lines.append(f"- {task} `{preset}` ({steps_text(steps)} steps) has {has} but not {lacks}; the trace verdicts "
                         f"use the largest board that has all four learners{f' (`{found[0]}`)' if found else ''}.")
    return lines


def trace_scale(by: Mapping[str, Any]) -> str:
    g = game_aggregate(by["hybrid"])
    return f"{steps_text(g['steps'])} steps, seeds {seeds_text(g['seeds'])}"


def trace_table(by: Mapping[str, Any]) -> str:
    from oscbench.leaderboard.floor import entry_floor

    rows = ["| learner | FLOPs/step | NMSE (95% CI) | excess over the Bayes floor | final error | relative error "
            "| CPU s per run |", "|---|---|---|---|---|---|---|"]
    tb = game_aggregate(by["tbptt"])["final_error"]["mean"]
    for k in LEARNERS:
        e = by[k]
        g = game_aggregate(e)
        fl = entry_floor(e)
        excess = "–" if fl is None else f"{g['nmse']['mean'] - fl['nmse']:+.3f}"
        cpu = np.mean([r["timing"]["cpu_seconds"] for r in e["records"]])
        rows.append(f"| {LABEL[k]} | {e['learner']['flops_per_step']:,} | {ci_text(g['nmse'])} | {excess} | "
                    f"{fmt(g['final_error']['mean'])} | {fmt(g['final_error']['mean'] / tb, 3)} | {cpu:.1f} |")
    fl = entry_floor(by["hybrid"])
    if fl is not None:
        rows.append(f"| Bayes floor (no learner can do better) | – | {fl['nmse']:.3f} | 0 | {fmt(fl['final_error'])} "
                    f"| {fmt(fl['final_error'] / tb, 3)} | – |")
    return "\n".join(rows)


def stage_drops(entry: Mapping[str, Any], k_bins: int = 4) -> list[tuple[int, float, float]]:
    """Per stage boundary: (step, error drop in the k bins after it, drop in the k bins before it).

    A drop is curve[start] − curve[end] of the mean learning curve (positive = error falls)."""
    hp = entry["learner"]["hyperparameters"]
    per_stage = hp.get("steps_per_stage")
    curve = game_aggregate(entry)["curve"]
    y, bin_steps = np.asarray(curve["mean"], dtype=np.float64), int(curve["bin_steps"])
    if not per_stage or per_stage % bin_steps:
        return []
    out = []
    n_stages = hp.get("n_columns", 0) // max(1, hp.get("columns_per_stage", 1)) if "columns_per_stage" in hp \
        else hp.get("n_columns", 0)
    for s in range(1, n_stages):
        b = s * per_stage // bin_steps
        if b - k_bins - 1 < 0 or b + k_bins - 1 >= len(y):
            continue
        after = y[b - 1] - y[b + k_bins - 1]
        before = y[b - k_bins - 1] - y[b - 1]
        out.append((s * per_stage, float(after), float(before)))
    return out


def trace_verdicts(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Verdict]:
    found = largest_trace_board(boards)
    if found is None:
        return [Verdict(c, "not tested at this scale", "–", "no trace-patterning reference entries", "–")
                for c in ("T1", "T2", "T3", "T4")]
    preset, by = found
    scale = trace_scale(by)
    cmd = f"oscbench evaluate LEARNER --task {TRACE} --preset {preset} --seeds {seeds_text(game_aggregate(by['hybrid'])['seeds'])}"
    nmse = {k: game_aggregate(by[k])["nmse"] for k in LEARNERS}
    out = []

    # T1: every learner far below the best-constant error: NMSE < 0.5 (upper CI bound) for all four.
    ok = [k for k in LEARNERS if nmse[k]["ci_high"] < 0.5]
    v = "reproduced" if len(ok) == 4 else "partly" if ok else "not reproduced"
    out.append(Verdict("T1", v, scale, "Final NMSE (upper CI bound < 0.5 counts as 'far below 1'): " + "; ".join(
        f"{LABEL[k]} {ci_text(nmse[k])}" for k in LEARNERS) + ".", cmd))

    # T2: columnar's final NMSE highest of the four, and its curve lowest early (mean of the first 10% of bins).
    worst = max(LEARNERS, key=lambda k: nmse[k]["mean"])
    early = {k: float(np.mean(game_aggregate(by[k])["curve"]["mean"][: max(1, len(game_aggregate(by[k])["curve"]["mean"]) // 10)]))
             for k in LEARNERS}
    fastest = min(LEARNERS, key=lambda k: early[k])
    parts = [worst == "columnar", fastest == "columnar"]
    v = "reproduced" if all(parts) else "partly" if any(parts) else "not reproduced"
    out.append(Verdict("T2", v, scale, f"Highest final NMSE: {LABEL[worst]}; lowest mean error over the first "
                       f"10% of the run: {LABEL[fastest]} (" + ", ".join(f"{LABEL[k]} {fmt(early[k], 3)}"
                                                                     for k in LEARNERS) + ").", cmd))

    # T3: hybrid and constructive each below T-BPTT with non-overlapping CIs.
    below = {k: nmse[k]["ci_high"] < nmse["tbptt"]["ci_low"] for k in ("hybrid", "constructive")}
    v = "reproduced" if all(below.values()) else "partly" if any(below.values()) else "not reproduced"
    out.append(Verdict("T3", v, scale, "Below T-BPTT with non-overlapping 95% CIs: " + ", ".join(
        f"{LABEL[k]} {'yes' if b else 'no'} ({ci_text(nmse[k])} vs {ci_text(nmse['tbptt'])})"
        for k, b in below.items()) + ".", cmd))

    # T4: at most stage boundaries, the error falls faster in the 4 bins after the boundary than in the 4 before.
    texts, votes = [], []
    for k in ("hybrid", "constructive"):
        d = stage_drops(by[k])
        steeper = sum(1 for _s, a, b in d if a > b and a > 0)
        votes.append(bool(d) and steeper * 2 > len(d))
        texts.append(f"{LABEL[k]}: steeper drop after {steeper} of {len(d)} boundaries")
    v = "reproduced" if all(votes) else "partly" if any(votes) else "not reproduced"
    out.append(Verdict("T4", v, scale, "; ".join(texts) + " (mean curve, 4 bins after vs 4 bins before).", cmd))
    return out


def figure_curves(by: Mapping[str, Any], path: Path) -> None:
    with figure(path, figsize=(7, 4), dpi=110) as (fig, ax):
        for k in LEARNERS:
            c = game_aggregate(by[k])["curve"]
            x = (np.arange(len(c["mean"])) + 1) * c["bin_steps"]
            ax.plot(x, c["mean"], label=LABEL[k], lw=1.2)
            ax.fill_between(x, c["ci_low"], c["ci_high"], alpha=0.2)
        from oscbench.leaderboard.floor import entry_floor

        g = by["hybrid"]["records"][0]["metrics"]
        ax.axhline(g["target_variance"], color="0.4", ls="--", lw=1, label="best constant")
        fl = entry_floor(by["hybrid"])
        if fl is not None:
            ax.axhline(fl["final_error"], color="k", ls=":", lw=1, label="Bayes floor (final window)")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("mean squared return error")
        ax.set_title(f"Trace patterning, {trace_scale(by)} (Fig. 4 analogue)")
        ax.legend(fontsize=8)


def trace_section(preset: str, by: Mapping[str, Any], figures_dir: Path | None) -> list[str]:
    """The largest complete trace board: its table against the Bayes floor and its learning curves."""
    lines = [f"## Trace patterning, `{preset}` preset ({trace_scale(by)})", "", trace_table(by), "",
             "Relative error = mean final error ÷ T-BPTT's on the same board. Excess = mean NMSE minus the "
             "NMSE of the Bayes-optimal predictor (which knows the trial structure but not the random ISI; "
             "`oscbench.datasets.trace_patterning.bayes_floor_predictions`) on the same seeds and window. "
             "CPU seconds: learner CPU time per run as recorded by the evaluator.", "", verification_line(by), ""]
    name = f"fig4-trace-{preset}.png"
    if figures_dir is not None:
        figure_curves(by, figures_dir / name)
    return lines + [f"![Learning curves, {preset}](reproduction/{name})", ""]
