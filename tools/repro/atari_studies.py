"""Atari studies outside the board: the T-BPTT width/truncation ablation (A3, Fig. 9) and predictions
against returns (A4, Fig. 11)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import ATARI, Verdict, figure, steps_text


ABLATION_COMMAND = "python tools/studies.py ablation"


def ablation_table(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A3: per game, each (hidden, truncation)'s final error over 15:15's; the geometric mean over games."""
    by: dict[str, dict[tuple[int, int], float]] = {}
    steps = set()
    for r in records:
        hp = r["learner"]["hyperparameters"]
        by.setdefault(r["dataset"]["params"]["game"], {})[(hp["hidden"], hp["truncation"])] = r["metrics"]["final_error"]
        steps.add(r["steps"])
    games = sorted(g for g, d in by.items() if (15, 15) in d and len(d) >= 8)
    if not games:
        return None
    shapes = sorted({s for g in games for s in by[g]})
    rel = {s: [by[g][s] / by[g][(15, 15)] for g in games if s in by[g]] for s in shapes}
    return {"games": games, "steps": sorted(steps), "rel": {s: float(np.exp(np.mean(np.log(v)))) for s, v in rel.items()},
            "per_game": {g: {s: by[g][s] / by[g][(15, 15)] for s in by[g]} for g in games}}


def ablation_verdict(a: Mapping[str, Any] | None) -> Verdict:
    """A3. Rule, on the geometric mean over games of error ratios: (a) at truncation 8, 15 units end below
    3/4 of 2 units' error (the paper: half); (b) with 8 units, truncation 15 ends below truncation 2;
    (c) width matters more than truncation (ratio (a) below ratio (b)). All: reproduced; some: partly."""
    if a is None:
        return Verdict("A3", "not tested at this scale", "–", "the T-BPTT ablation has no committed records",
                       ABLATION_COMMAND)
    r = a["rel"]
    width = r[(15, 8)] / r[(2, 8)]
    trunc = r[(8, 15)] / r[(8, 2)]
    parts = [width < 0.75, trunc < 1.0, width < trunc]
    v = "reproduced" if all(parts) else "partly" if any(parts) else "not reproduced"
    scale = f"{'/'.join(steps_text(x) for x in a['steps'])} steps, seed 0, {len(a['games'])} games, no budget"
    ev = (f"Geometric mean over {', '.join(a['games'])} of final error ÷ 15:15's. Truncation 8, hidden 2 → 15: "
          f"error × {width:.2f} (paper ≈ 0.5); hidden 8, truncation 2 → 15: × {trunc:.2f} (paper ≈ 0.77). "
          f"(a) {'yes' if parts[0] else 'no'}; (b) {'yes' if parts[1] else 'no'}; (c) width matters more: "
          f"{'yes' if parts[2] else 'no'}.")
    return Verdict("A3", v, scale, ev, ABLATION_COMMAND)
PREDICTIONS_COMMAND = "python tools/studies.py predictions"


def load_predictions(root: Path) -> dict[str, dict[str, Any]]:
    import json

    folder = root / "studies" / "predictions"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def _board_seed0(boards: Mapping[tuple[str, str], Mapping[str, Any]], learner: str, game: str,
                 steps: int) -> tuple[float, str | None] | None:
    """The final error of seed 0 of the ``learner`` reference entry on ``game`` with ``steps`` steps, and the
    compiled target that computed it, if there is such a record."""
    for (task, _preset), by in boards.items():
        e = by.get(learner) if task == ATARI else None
        if e is None:
            continue
        for r in e["records"]:
            if r["task"]["game"] == game and r["seed"] == 0 and r["steps"] == steps:
                return float(r["metrics"]["final_error"]), r.get("provenance", {}).get("compiled_target")
    return None


def _same_as_board(board: tuple[float, str | None] | None, final_error: float, target: str | None) -> str:
    """"same" when the study's run and the board's seed 0 agree to 1e-9 relative; otherwise the board's
    value, and the two compiled targets when they differ (float32 results depend on the target's vector
    width, docs/performance.md, so only one target's results are bit-reproducible)."""
    if board is None:
        return "–"
    b, board_target = board
    if abs(b - final_error) <= 1e-9 * max(abs(b), 1e-12):
        return "same"
    why = "" if target == board_target else f"; computed on {target or 'an unrecorded target'}, the board on {board_target}"
    return f"differs ({b:.5g}{why})"


def predictions_verdict(preds: Mapping[str, Mapping[str, Any]],
                        boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> tuple[Verdict, list[str]]:
    """A4. Rule: hybrid's final-window error is below T-BPTT's on Pong and on at least 3 of the games,
    and hybrid's Pong NMSE is under 0.1 ("nearly perfect"). All: reproduced; some: partly. Also: each run
    against seed 0 of the matching board entry (the same computation, so the same final error)."""
    if not preds:
        return Verdict("A4", "not tested at this scale", "–", "no committed prediction traces", PREDICTIONS_COMMAND), []
    rows = ["| game | hybrid NMSE | T-BPTT NMSE | hybrid lower | seed 0 on the board (hybrid / T-BPTT) |",
            "|---|---|---|---|---|"]
    lower, pong = [], None
    for game, d in preds.items():
        tv = d["target_variance"]
        h, t = d["learners"]["hybrid"]["final_error"], d["learners"]["tbptt"]["final_error"]
        lower.append(h < t)
        if game == "Pong":
            pong = (h / tv, h < t)
        checks = []
        for name in ("hybrid", "tbptt"):
            checks.append(_same_as_board(_board_seed0(boards, name, game, d["steps"]), d["learners"][name]["final_error"],
                                         (d.get("host") or {}).get("compiled_target")))
        rows.append(f"| {game} | {h / tv:.3f} | {t / tv:.3f} | {'yes' if h < t else 'no'} | {' / '.join(checks)} |")
    parts = [pong is not None and pong[1], sum(lower) >= 3, pong is not None and pong[0] < 0.1]
    v = "reproduced" if all(parts) else "partly" if any(parts) else "not reproduced"
    d0 = next(iter(preds.values()))
    scale = f"{steps_text(d0['steps'])} steps, seed {d0['seed']}, {len(preds)} games"
    ev = (f"Hybrid's final-window error below T-BPTT's on {sum(lower)} of {len(preds)} games"
          + ("" if pong is None else f"; Pong: hybrid NMSE {pong[0]:.3f}, {'below' if pong[1] else 'not below'} T-BPTT's")
          + ". (Fig. 11 analogue below.)")
    return Verdict("A4", v, scale, ev, PREDICTIONS_COMMAND), rows


def figure_predictions(preds: Mapping[str, Mapping[str, Any]], path: Path, last: int = 1500) -> None:
    with figure(path, len(preds), 1, figsize=(8, 1.8 * len(preds)), dpi=100, squeeze=False) as (fig, axes):
        for ax, (game, d) in zip(axes[:, 0], preds.items()):
            g = np.asarray(d["returns"][-last:])
            x = np.arange(d["steps"] - len(g), d["steps"])
            ax.plot(x, g, color="k", lw=1.4, label="return")
            ax.plot(x, d["learners"]["hybrid"]["predictions"][-last:], lw=0.9, label="hybrid")
            ax.plot(x, d["learners"]["tbptt"]["predictions"][-last:], lw=0.9, label="T-BPTT")
            ax.set_title(game, fontsize=9, loc="left")
        axes[0, 0].legend(fontsize=7, ncol=3, loc="upper right")
        axes[-1, 0].set_xlabel("step")
        fig.suptitle("Predictions against the return at the end of learning (Fig. 11 analogue)", fontsize=10)


def ablation_section(abl: Mapping[str, Any] | None) -> list[str]:
    if abl is None:
        return []
    lines = ["## T-BPTT width and truncation on Atari (Fig. 9 analogue)", "",
             "| hidden:truncation | " + " | ".join(abl["games"]) + " | geometric mean |",
             "|---|" + "---|" * (len(abl["games"]) + 1)]
    for s in sorted(abl["rel"]):
        lines.append(f"| {s[0]}:{s[1]} | " + " | ".join(f"{abl['per_game'][g].get(s, float('nan')):.3f}"
                                                     for g in abl["games"]) + f" | {abl['rel'][s]:.3f} |")
    return lines + ["", "Final error ÷ the 15:15 network's (the paper's normaliser), step size 1e-4, seed 0, on each "
                    "game's recording looped as a custom stream (these networks leave the budget). Records: "
                    f"`leaderboard/studies/ablation/`. Command: `{ABLATION_COMMAND}`.", ""]


def predictions_section(preds: Mapping[str, Mapping[str, Any]], pred_rows: Sequence[str],
                        figures_dir: Path | None) -> list[str]:
    if not preds:
        return []
    lines = ["## Predictions against returns (Fig. 11 analogue)", "", *pred_rows,
             "", "Seed 0 of the Atari reference hybrid and T-BPTT, re-run through the library with the same stream "
             "and configuration as the board's runs: the last column says whether the final error equals that of "
             "seed 0 of the board's entry of the same length. Records: `leaderboard/studies/predictions/`. "
             f"Command: `{PREDICTIONS_COMMAND}`.", ""]
    if figures_dir is not None:
        figure_predictions(preds, figures_dir / "fig11-predictions.png")
    return lines + ["![Predictions](reproduction/fig11-predictions.png)", ""]
