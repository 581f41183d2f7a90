"""The reproduction report: every claim of the paper (CLAIMS.md T1-T6, A1-A4) against the committed results.

    python tools/reproduction.py                    # writes docs/reproduction.md and docs/reproduction/*.png
    python tools/reproduction.py --no-figures       # tables and verdicts only

Everything is recomputed from committed records: the leaderboard's reference entries
(``leaderboard/submissions``, read through ``--leaderboard leaderboard``) and the study records outside the leaderboard
(``leaderboard/studies/<study>/*.json``: the T-BPTT shape sweep ``tbptt-shapes``, ...). A claim with
no results at any scale reads "not tested at this scale" with what it would take. The verdict rules are
stated next to each claim, and are code here, not editorial judgement: re-running this script on the same
records gives the same text (``tests/test_reproduction.py`` checks the committed report against it).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LEARNERS = ("hybrid", "constructive", "columnar", "tbptt")
LABEL = {"hybrid": "Hybrid", "constructive": "Constructive", "columnar": "Columnar", "tbptt": "T-BPTT"}
TRACE = "trace-patterning-v1"
ATARI = "atari-v1"


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str          # reproduced / partly / not reproduced / not tested at this scale
    scale: str            # e.g. "5M steps, seeds 0-4"
    evidence: str         # one paragraph, figures computed from the records
    command: str          # what produced the figures


def _fmt(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def _seeds(seeds: Sequence[int]) -> str:
    s = sorted(seeds)
    return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) and len(s) > 1 else ",".join(map(str, s))


def _steps(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def load_reference_entries(root: Path) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(task id, preset) -> learner -> the active reference entry of that learner on that board."""
    from oscbench.leaderboard import entries, ranking

    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for _path, entry in entries.iter_entries(root):
        if not entries.is_active(entry):
            continue
        kind = ranking.reference_kind(entry)
        if kind is None:
            continue
        out.setdefault((entry["task"]["id"], entry["task"]["preset"]), {})[kind] = entry
    return out


def _game(entry: Mapping[str, Any], game: str = "") -> Mapping[str, Any]:
    return entry["aggregate"]["games"][game]


def _largest_trace_board(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> tuple[str, Mapping[str, Any]] | None:
    """The trace-patterning board with the longest runs that has all four reference learners."""
    best = None
    for (task, preset), by in boards.items():
        if task != TRACE or not all(k in by for k in LEARNERS):
            continue
        steps = _game(by["hybrid"])["steps"]
        if best is None or steps > best[0]:
            best = (steps, preset, by)
    return None if best is None else (best[1], best[2])


def _scale(by: Mapping[str, Any]) -> str:
    g = _game(by["hybrid"])
    return f"{_steps(g['steps'])} steps, seeds {_seeds(g['seeds'])}"


def _ci_text(s: Mapping[str, Any]) -> str:
    return f"{_fmt(s['mean'], 3)} [{_fmt(s['ci_low'], 3)}, {_fmt(s['ci_high'], 3)}]"


def trace_table(by: Mapping[str, Any]) -> str:
    from oscbench.leaderboard.floor import entry_floor

    rows = ["| learner | FLOPs/step | NMSE (95% CI) | excess over the Bayes floor | final error | relative error "
            "| CPU s per run |", "|---|---|---|---|---|---|---|"]
    tb = _game(by["tbptt"])["final_error"]["mean"]
    for k in LEARNERS:
        e = by[k]
        g = _game(e)
        fl = entry_floor(e)
        excess = "–" if fl is None else f"{g['nmse']['mean'] - fl['nmse']:+.3f}"
        cpu = np.mean([r["timing"]["cpu_seconds"] for r in e["records"]])
        rows.append(f"| {LABEL[k]} | {e['learner']['flops_per_step']:,} | {_ci_text(g['nmse'])} | {excess} | "
                    f"{_fmt(g['final_error']['mean'])} | {_fmt(g['final_error']['mean'] / tb, 3)} | {cpu:.1f} |")
    fl = entry_floor(by["hybrid"])
    if fl is not None:
        rows.append(f"| Bayes floor (no learner can do better) | – | {fl['nmse']:.3f} | 0 | {_fmt(fl['final_error'])} "
                    f"| {_fmt(fl['final_error'] / tb, 3)} | – |")
    return "\n".join(rows)


def stage_drops(entry: Mapping[str, Any], k_bins: int = 4) -> list[tuple[int, float, float]]:
    """Per stage boundary: (step, error drop in the k bins after it, drop in the k bins before it).

    A drop is curve[start] − curve[end] of the mean learning curve (positive = error falls)."""
    hp = entry["learner"]["hyperparameters"]
    per_stage = hp.get("steps_per_stage")
    curve = _game(entry)["curve"]
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
    found = _largest_trace_board(boards)
    if found is None:
        return [Verdict(c, "not tested at this scale", "–", "no trace-patterning reference entries", "–")
                for c in ("T1", "T2", "T3", "T4")]
    preset, by = found
    scale = _scale(by)
    cmd = f"oscbench evaluate LEARNER --task {TRACE} --preset {preset} --seeds {_seeds(_game(by['hybrid'])['seeds'])}"
    nmse = {k: _game(by[k])["nmse"] for k in LEARNERS}
    out = []

    # T1: every learner far below the best-constant error: NMSE < 0.5 (upper CI bound) for all four.
    ok = [k for k in LEARNERS if nmse[k]["ci_high"] < 0.5]
    v = "reproduced" if len(ok) == 4 else "partly" if ok else "not reproduced"
    out.append(Verdict("T1", v, scale, "Final NMSE (upper CI bound < 0.5 counts as 'far below 1'): " + "; ".join(
        f"{LABEL[k]} {_ci_text(nmse[k])}" for k in LEARNERS) + ".", cmd))

    # T2: columnar's final NMSE highest of the four, and its curve lowest early (mean of the first 10% of bins).
    worst = max(LEARNERS, key=lambda k: nmse[k]["mean"])
    early = {k: float(np.mean(_game(by[k])["curve"]["mean"][: max(1, len(_game(by[k])["curve"]["mean"]) // 10)]))
             for k in LEARNERS}
    fastest = min(LEARNERS, key=lambda k: early[k])
    parts = [worst == "columnar", fastest == "columnar"]
    v = "reproduced" if all(parts) else "partly" if any(parts) else "not reproduced"
    out.append(Verdict("T2", v, scale, f"Highest final NMSE: {LABEL[worst]}; lowest mean error over the first "
                       f"10% of the run: {LABEL[fastest]} (" + ", ".join(f"{LABEL[k]} {_fmt(early[k], 3)}"
                                                                     for k in LEARNERS) + ").", cmd))

    # T3: hybrid and constructive each below T-BPTT with non-overlapping CIs.
    below = {k: nmse[k]["ci_high"] < nmse["tbptt"]["ci_low"] for k in ("hybrid", "constructive")}
    v = "reproduced" if all(below.values()) else "partly" if any(below.values()) else "not reproduced"
    out.append(Verdict("T3", v, scale, "Below T-BPTT with non-overlapping 95% CIs: " + ", ".join(
        f"{LABEL[k]} {'yes' if b else 'no'} ({_ci_text(nmse[k])} vs {_ci_text(nmse['tbptt'])})"
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


def load_study(root: Path, study: str) -> list[dict[str, Any]]:
    """The finished records of ``<root>/studies/<study>/*.json`` (a sweep's records, outside the board)."""
    from oscbench.benchmark.records import read_record

    folder = root / "studies" / study
    recs = [read_record(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return [r for r in recs if r.get("status") == "ok" and r.get("metrics", {}).get("nmse") is not None]


def shape_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per T-BPTT shape (truncation, hidden): the best step size at the longest run length any of its
    configurations reached, with its mean NMSE, standard error and seeds (SPEC §8's eight shapes)."""
    groups: dict[tuple[int, int, float, int], list[Mapping[str, Any]]] = {}
    for r in records:
        hp = r["learner"]["hyperparameters"]
        groups.setdefault((hp["truncation"], hp["hidden"], hp["step_size"], r["steps"]), []).append(r)
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for (k, H, a, steps), rs in groups.items():
        v = np.array([x["metrics"]["nmse"] for x in rs], dtype=np.float64)
        row = {"truncation": k, "hidden": H, "step_size": a, "steps": steps, "seeds": sorted(x["seed"] for x in rs),
               "nmse": float(v.mean()), "se": float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None,
               "flops": rs[0]["learner"]["flops_per_step"],
               "cpu": float(np.sum([x["timing"]["cpu_seconds"] for x in rs]))}
        best = rows.get((k, H))
        if best is None or (steps, -row["nmse"]) > (best["steps"], -best["nmse"]):
            rows[(k, H)] = row
    return sorted(rows.values(), key=lambda r: r["truncation"])


def shape_verdict(rows: Sequence[Mapping[str, Any]], command: str) -> Verdict:
    """T5 from the shape table; the rule: (a) the best shape's NMSE is under 2/3 of the worst's
    (performance depends strongly on the shape), (b) the two worst shapes are 2:13 and 3:10 (large
    networks, short truncation), (c) the best shape is the only one whose truncation covers the longest
    dependency, 30:2 (k >= 26). All three: reproduced; one or two: partly."""
    if len(rows) < 8:
        return Verdict("T5", "not tested at this scale", "–", f"{len(rows)} of the 8 shapes have records", command)
    by = sorted(rows, key=lambda r: r["nmse"])
    worst2 = {(r["truncation"], r["hidden"]) for r in by[-2:]}
    parts = [by[0]["nmse"] < by[-1]["nmse"] * 2 / 3, worst2 == {(2, 13), (3, 10)},
             (by[0]["truncation"], by[0]["hidden"]) == (30, 2)]
    v = "reproduced" if all(parts) else "partly" if any(parts) else "not reproduced"
    steps = sorted({r["steps"] for r in rows})
    scale = "/".join(_steps(x) for x in steps) + f" steps, seeds {_seeds(sorted({s for r in rows for s in r['seeds']}))}"
    ev = ("Best step size per shape, mean final NMSE: " + "; ".join(
        f"{r['truncation']}:{r['hidden']} {r['nmse']:.3f}" for r in rows)
        + f". (a) best/worst = {by[0]['nmse'] / by[-1]['nmse']:.2f} ({'<' if parts[0] else '>='} 2/3); "
        f"(b) worst two: {', '.join(f'{k}:{h}' for k, h in sorted(worst2))}; "
        f"(c) best: {by[0]['truncation']}:{by[0]['hidden']}.")
    return Verdict("T5", v, scale, ev, command)


def figure_shapes(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    labels = [f"{r['truncation']}:{r['hidden']}" for r in rows]
    ax.bar(labels, [r["nmse"] for r in rows], yerr=[r["se"] or 0 for r in rows], color="#4c72b0", capsize=3)
    ax.set_xlabel("truncation : hidden units (equal FLOPs, SPEC §8)")
    ax.set_ylabel("final NMSE (best step size)")
    ax.set_title("T-BPTT shapes on trace patterning (Fig. 5 analogue)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


SHAPES_STUDY = "tbptt-shapes"
SHAPES_COMMAND = ("oscbench sweep tbptt --file tools/reference/tbptt-shapes-trace.toml --seeds 0-4 "
                  "--out runs/studies/tbptt-shapes --workers 2")


def untested(boards: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Verdict]:
    atari = any(task == ATARI for task, _ in boards)
    why_atari = "Atari reference entries exist but the per-game comparison is not implemented yet" if atari \
        else "no Atari reference entries yet (issue 12: smoke and a longer preset for all 53 games)"
    return [
        Verdict("T6", "not tested at this scale", "–", "the 10-unit truncation study runs outside the budget; "
                "no committed study records yet", "–"),
        Verdict("A1", "not tested at this scale", "–", why_atari, "–"),
        Verdict("A2", "not tested at this scale", "–", why_atari, "–"),
        Verdict("A3", "not tested at this scale", "–", "the T-BPTT width/truncation ablation has no committed "
                "study records yet", "–"),
        Verdict("A4", "not tested at this scale", "–", why_atari, "–"),
    ]


def figure_curves(by: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for k in LEARNERS:
        c = _game(by[k])["curve"]
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
    ax.set_title(f"Trace patterning, {_scale(by)} (Fig. 4 analogue)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def build(root: Path, figures_dir: Path | None) -> str:
    """The report's markdown; figures are (re)drawn into ``figures_dir`` unless it is None."""
    boards = load_reference_entries(root)
    shapes = shape_table(load_study(root, SHAPES_STUDY))
    verdicts = trace_verdicts(boards) + [shape_verdict(shapes, SHAPES_COMMAND)] + untested(boards)
    lines = ["# Reproduction report", "",
             "Generated by `python tools/reproduction.py` from the committed records (leaderboard reference "
             "entries); do not edit by hand. Claims are those of `CLAIMS.md` (Javed, Shah, Sutton & White). "
             "A reduced-scale result tests a claim *at that scale*: the stage schedule of the column learners "
             "scales with the run length, so the scale is given next to every verdict.", ""]
    found = _largest_trace_board(boards)
    if found is not None:
        preset, by = found
        lines += [f"## Trace patterning, `{preset}` preset ({_scale(by)})", "", trace_table(by), "",
                  "Relative error = mean final error ÷ T-BPTT's on the same board. Excess = mean NMSE minus the "
                  "NMSE of the Bayes-optimal predictor (which knows the trial structure but not the random ISI; "
                  "`oscbench.datasets.trace_patterning.bayes_floor_predictions`) on the same seeds and window. "
                  "CPU seconds: learner CPU time per run as recorded by the evaluator.", ""]
        name = f"fig4-trace-{preset}.png"
        if figures_dir is not None:
            figure_curves(by, figures_dir / name)
        lines += [f"![Learning curves, {preset}](reproduction/{name})", ""]
    if shapes:
        lines += ["## T-BPTT shapes at equal FLOPs (Fig. 5 analogue)", "",
                  "| truncation:hidden | FLOPs/step | best step size | steps | seeds | final NMSE | SE | CPU s (all seeds) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in shapes:
            lines.append(f"| {r['truncation']}:{r['hidden']} | {r['flops']:,} | {r['step_size']:g} | {_steps(r['steps'])} | "
                         f"{_seeds(r['seeds'])} | {r['nmse']:.4f} | {_fmt(r['se'], 2)} | {r['cpu']:.0f} |")
        lines += ["", f"Records: `leaderboard/studies/{SHAPES_STUDY}/`; each shape's step size with the lowest mean final "
                  f"NMSE (of 1e-3, 3e-4, 1e-4) at the longest run length it was run for. SE: standard error over "
                  f"seeds. Command: `{SHAPES_COMMAND}`.", ""]
        if figures_dir is not None:
            figure_shapes(shapes, figures_dir / "fig5-tbptt-shapes.png")
        lines += ["![T-BPTT shapes](reproduction/fig5-tbptt-shapes.png)", ""]

    lines += ["## Claims", "", "| claim | verdict | scale | evidence |", "|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v.claim} | {v.verdict} | {v.scale} | {v.evidence} |")
    lines += ["", "## Commands", ""]
    for v in verdicts:
        if v.command != "–":
            lines.append(f"- {v.claim}: `{v.command}`")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaderboard", type=Path, default=REPO / "leaderboard")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "reproduction.md")
    ap.add_argument("--no-figures", action="store_true")
    a = ap.parse_args(argv)
    text = build(a.leaderboard, None if a.no_figures else a.out.parent / "reproduction")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
