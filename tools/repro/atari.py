"""Atari boards: A1 (Fig. 7), A2 (Fig. 8), and the T-BPTT sweep that chose the Atari reference shape."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import ATARI, LABEL, LEARNERS, Verdict, figure, fmt, seeds_text, steps_text, verification_line


def largest_atari_board(boards: Mapping[tuple[str, str], Mapping[str, Any]],
                         need: Sequence[str]) -> tuple[str, Mapping[str, Any]] | None:
    best = None
    for (task, preset), by in boards.items():
        if task != ATARI or not all(k in by for k in need):
            continue
        steps = board_steps(by)
        if best is None or steps > best[0]:
            best = (steps, preset, by)
    return None if best is None else (best[1], best[2])


def relative_errors(by: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """learner -> game -> the learner's mean final error ÷ the T-BPTT entry's on that game (Fig. 7's ratio)."""
    tb = by["tbptt"]["aggregate"]["games"]
    out = {}
    for k in LEARNERS:
        if k not in by:
            continue
        gs = by[k]["aggregate"]["games"]
        out[k] = {g: gs[g]["final_error"]["mean"] / tb[g]["final_error"]["mean"] for g in sorted(gs)
                  if g in tb and tb[g]["final_error"]["mean"]}
    return out


def board_steps(by: Mapping[str, Any]) -> int:
    """The run length of an Atari board (its T-BPTT entry's: every entry of a board has the preset's)."""
    return by["tbptt"]["records"][0]["steps"]


def hybrid_standing(rho: Mapping[str, float]) -> tuple[int, int, float]:
    """From the per-game hybrid ÷ T-BPTT ratios: (games where hybrid is lower, games, median ratio)."""
    return sum(1 for x in rho.values() if x < 1), len(rho), float(np.median(list(rho.values())))


def hybrid_by_length(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[tuple[int, int, int, float]]:
    """(steps, games where hybrid is below T-BPTT, games, median hybrid ÷ T-BPTT ratio) for every Atari
    board with both entries, shortest first: how the hybrid's standing moves with the run length."""
    return [(steps, *hybrid_standing(relative_errors(by)["hybrid"]))
            for steps, _preset, by in atari_boards_by_length(boards) if "hybrid" in by]


def atari_boards_by_length(boards: Mapping[tuple[str, str], Mapping[str, Any]]
                           ) -> list[tuple[int, str, Mapping[str, Any]]]:
    """(steps, preset, board) for every Atari board with a T-BPTT entry (the ratios' denominator), shortest
    first."""
    return sorted(((board_steps(by), preset, by) for (task, preset), by in boards.items()
                   if task == ATARI and "tbptt" in by), key=lambda x: x[0])


def mean_relative_by_length(boards: Mapping[tuple[str, str], Mapping[str, Any]]
                            ) -> dict[str, list[tuple[int, float, int]]]:
    """learner -> [(steps, mean relative error over games, steps per stage)] for every Atari board with a
    T-BPTT entry, shortest first: how each column learner's Fig. 8 number moves with the run length."""
    out: dict[str, list[tuple[int, float, int]]] = {}
    for steps, _preset, by in atari_boards_by_length(boards):
        for k, rho in relative_errors(by).items():
            if k != "tbptt":
                stage = by[k]["learner"]["hyperparameters"].get("steps_per_stage", 0)
                out.setdefault(k, []).append((steps, float(np.mean(list(rho.values()))), stage))
    return out


def atari_scale(by: Mapping[str, Any]) -> str:
    r = by["tbptt"]["records"]
    return f"{steps_text(r[0]['steps'])} steps, seeds {seeds_text(sorted({x['seed'] for x in r}))}, {len(by['tbptt']['aggregate']['games'])} games"


def atari_verdicts(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Verdict]:
    out = []
    found = largest_atari_board(boards, ("hybrid", "tbptt"))
    if found is None:
        out.append(Verdict("A1", "not tested at this scale", "–", "no Atari board with both the hybrid and the "
                           "T-BPTT reference entries", "–"))
    else:
        preset, by = found
        rho = relative_errors(by)["hybrid"]
        lower, n, median = hybrid_standing(rho)
        worst = max(rho, key=lambda g: rho[g])
        five = sum(1 for v in rho.values() if v <= 0.2)
        # A1. Rule: hybrid below T-BPTT on all but at most two games with the worst ratio under 2.5:
        # reproduced; below on more than half the games: partly; otherwise not reproduced.
        v = ("reproduced" if lower >= n - 2 and rho[worst] < 2.5 else "partly" if lower * 2 > n else "not reproduced")
        out.append(Verdict("A1", v, atari_scale(by), f"Hybrid's mean final error below T-BPTT's on {lower} of {n} "
                           f"games; median ratio {median:.2f}; 5x lower or better on {five}; "
                           f"worst {worst} ({rho[worst]:.2f}x). Paper: all but two, many about 5x, worst ≈ 2x.",
                           f"oscbench evaluate LEARNER --task {ATARI} --preset {preset}"))
    found = largest_atari_board(boards, LEARNERS)
    if found is None:
        out.append(Verdict("A2", "not tested at this scale", "–", "no Atari board with all four reference "
                           "learners yet", "–"))
    else:
        preset, by = found
        rel = relative_errors(by)
        mean = {k: float(np.mean(list(rel[k].values()))) for k in ("hybrid", "constructive", "columnar")}
        # A2. Rule: columnar and constructive below 1, hybrid below 0.5 and the lowest: all four ->
        # reproduced; some -> partly; none -> not reproduced.
        parts = [mean["columnar"] < 1, mean["constructive"] < 1, mean["hybrid"] < 0.5,
                 mean["hybrid"] <= min(mean.values())]
        v = "reproduced" if all(parts) else "partly" if any(parts) else "not reproduced"
        out.append(Verdict("A2", v, atari_scale(by), "Mean relative error over games: " + ", ".join(
            f"{LABEL[k]} {mean[k]:.2f}" for k in mean) + ". Paper: columnar and constructive < 1, hybrid < 0.5 "
            "and best.", f"oscbench evaluate LEARNER --task {ATARI} --preset {preset}"))
    return out


def atari_section(boards: Mapping[tuple[str, str], Mapping[str, Any]], figures_dir: Path | None) -> list[str]:
    from oscbench.benchmark.metrics import bootstrap_ci

    lines: list[str] = []
    for _steps, preset, by in atari_boards_by_length(boards):
        rel = relative_errors(by)
        lines += [f"## Atari, `{preset}` preset ({atari_scale(by)})", "",
                  "| learner | FLOPs/step | mean relative error (95% CI over games) | median | games below T-BPTT "
                  "| IQM NMSE | learner CPU-hours |", "|---|---|---|---|---|---|---|"]
        for k in LEARNERS:
            if k not in rel:
                continue
            v = list(rel[k].values())
            lo, hi = bootstrap_ci(v)
            iq = by[k]["aggregate"].get("iqm") or {}
            cpu = sum(r["timing"]["cpu_seconds"] for r in by[k]["records"]) / 3600
            lines.append(f"| {LABEL[k]} | {by[k]['learner']['flops_per_step']:,} | {np.mean(v):.3f} [{lo:.3f}, {hi:.3f}] | "
                         f"{np.median(v):.3f} | {sum(1 for x in v if x < 1)} of {len(v)} | "
                         f"{fmt(iq.get('iqm'), 3)} | {cpu:.2f} |")
        lines += ["", "Relative error: per game, the learner's mean final error ÷ the T-BPTT entry's; the mean is "
                  "over games (Fig. 8), the CI a bootstrap over games. IQM NMSE: interquartile mean over all runs of "
                  "all games (rliable's stratified bootstrap on the board).", "", verification_line(by), ""]
        if figures_dir is not None:
            figure_per_game(rel, figures_dir / f"fig7-atari-{preset}.png", preset)
        lines += [f"![Per-game relative error, {preset}](reproduction/fig7-atari-{preset}.png)", ""]
    return lines


def figure_per_game(rel: Mapping[str, Mapping[str, float]], path: Path, preset: str) -> None:
    h = rel["hybrid"] if "hybrid" in rel else next(iter(rel.values()))
    games = sorted(h, key=lambda g: h[g])
    with figure(path, figsize=(11, 4), dpi=100) as (fig, ax):
        x = np.arange(len(games))
        ax.bar(x, [h[g] - 1 for g in games], bottom=1, color="#4c72b0", label="Hybrid")   # bars grow from 1
        for k, m in (("constructive", "^"), ("columnar", "s")):
            if k in rel:
                ax.scatter(x, [rel[k].get(g, np.nan) for g in games], marker=m, s=12, zorder=3, label=LABEL[k])
        ax.axhline(1.0, color="k", lw=1, ls="--", label="T-BPTT")
        ax.set_yscale("log")
        from matplotlib.ticker import FormatStrFormatter

        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.set_xticks(x, games, rotation=90, fontsize=7)
        ax.set_ylabel("final error ÷ T-BPTT's")
        ax.set_title(f"Atari, {preset}: per-game error relative to T-BPTT (Fig. 7 analogue)")
        ax.legend(fontsize=8)
ATARI_SWEEP_STUDY = "tbptt-shapes-atari"
ATARI_SWEEP_COMMAND = ("for g in Pong Breakout Seaquest SpaceInvaders Qbert; do oscbench sweep tbptt --file "
                       "tools/reference/tbptt-shapes-atari.toml --task atari-v1/$g --out runs/studies/tbptt-shapes-atari/$g "
                       "--workers 2; done")


def atari_sweep_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Atari T-BPTT sweep: per (hidden, truncation, step size), the mean NMSE over the games it ran on."""
    groups: dict[tuple[int, int, float], dict[str, float]] = {}
    cpu: dict[tuple[int, int, float], float] = {}
    flops: dict[tuple[int, int, float], int] = {}
    for r in records:
        hp = r["learner"]["hyperparameters"]
        key = (hp["hidden"], hp["truncation"], hp["step_size"])
        groups.setdefault(key, {})[r["task"]["game"]] = r["metrics"]["nmse"]
        cpu[key] = cpu.get(key, 0.0) + r["timing"]["cpu_seconds"]
        flops[key] = r["learner"]["flops_per_step"]
    n_games = max((len(v) for v in groups.values()), default=0)
    rows = [{"hidden": h, "truncation": k, "step_size": a, "nmse": float(np.mean(list(v.values()))),
             "games": sorted(v), "per_game": v, "cpu": cpu[(h, k, a)], "flops": flops[(h, k, a)]}
            for (h, k, a), v in groups.items() if len(v) == n_games]
    return sorted(rows, key=lambda r: r["nmse"])


def atari_sweep_section(atari_sweep: Sequence[Mapping[str, Any]]) -> list[str]:
    if not atari_sweep:
        return []
    best = atari_sweep[0]
    lines = ["## The Atari T-BPTT sweep", "",
             "| hidden:truncation | step size | FLOPs/step | mean NMSE over games | " + " | ".join(best["games"]) + " |",
             "|---|---|---|---|" + "---|" * len(best["games"])]
    for r in atari_sweep:
        lines.append(f"| {r['hidden']}:{r['truncation']} | {r['step_size']:g} | {r['flops']:,} | {r['nmse']:.4f} | "
                     + " | ".join(f"{r['per_game'][g]:.4f}" for g in best["games"]) + " |")
    return lines + ["", f"Rule: the lowest mean NMSE over the games is the Atari T-BPTT reference; here "
                    f"{best['hidden']}:{best['truncation']} at step size {best['step_size']:g} "
                    f"({sum(r['cpu'] for r in atari_sweep):,.0f} learner CPU-s in all). Records: "
                    f"`leaderboard/studies/{ATARI_SWEEP_STUDY}/`. Command: `{ATARI_SWEEP_COMMAND}`.", ""]
