"""Where a verdict is not "reproduced": what differs from the paper and what we believe explains it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .atari import board_steps, hybrid_by_length, largest_atari_board, mean_relative_by_length
from .common import ATARI, LABEL, LEARNERS, TRACE, Verdict, fmt, game_aggregate, steps_text
from .trace import largest_trace_board


def differences(boards: Mapping[tuple[str, str], Mapping[str, Any]], verdicts: Sequence[Verdict],
                shapes: Sequence[Mapping[str, Any]], trunc: Mapping[str, Any] | None,
                isi_rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where a verdict is not "reproduced": what differs, in the records' own numbers, and what we believe
    explains it. Beliefs are marked as such; each names the run that would settle it."""
    from oscbench.leaderboard.floor import entry_floor

    v = {x.claim: x.verdict for x in verdicts}
    out: list[str] = []
    found = largest_trace_board(boards)
    if found is not None:
        preset, by = found
        nm = {k: game_aggregate(by[k])["nmse"]["mean"] for k in LEARNERS}
        fl = entry_floor(by["hybrid"])
        if fl is not None:
            out.append(f"- **Every learner ends near the floor** (trace patterning, `{preset}`). Final NMSE runs from "
                       f"{min(nm.values()):.3f} to {max(nm.values()):.3f}; the Bayes floor is {fl['nmse']:.3f}. The "
                       "paper plots raw error without a floor, so its gaps look larger than the learnable part. "
                       "Orderings here turn on margins of a few hundredths, and the CIs over seeds decide them.")
        tb = next((r for r in shapes if (r["truncation"], r["hidden"]) == (30, 2)), None)
        best = min(shapes, key=lambda r: r["nmse"]) if shapes else None
        if best is not None and tb is not None and v.get("T5") != "reproduced":
            short = best["truncation"] < 26
            out.append(f"- **The best T-BPTT is not the paper's** (T5). The paper's rule (the eight equal-FLOP shapes, "
                       f"their best step sizes, seeds 0–4) picks truncation {best['truncation']}, hidden "
                       f"{best['hidden']} here (NMSE {best['nmse']:.3f} at {steps_text(best['steps'])}); the paper's "
                       f"30:2 scores {tb['nmse']:.3f}."
                       + (" Truncation shorter than the longest dependency (26 steps) is enough." if short else "")
                       + " At 5M steps the wide, short-truncation shapes learn fastest; over 50M steps runs of most "
                       "shapes collapse towards the best constant prediction now and then, and only partly recover "
                       "(their learning curves in `leaderboard/studies/tbptt-shapes-full/`), which decides the ranking "
                       "there; it happens in float64 too. We believe one cause of the paper's order is a bug in the "
                       "authors' T-BPTT that we fixed (SPEC §6): their ring buffer of k steps feeds the oldest step "
                       "of every window h_t in place of h_(t−k), corrupting 1 in k recurrent-gradient terms: half of "
                       "them at k = 2, 1 in 30 at k = 30, a handicap for exactly the short-truncation shapes the paper "
                       "ranks worst. Not tested: settling it needs a T-BPTT with the bug emulated, which the reference "
                       "learners do not offer.")
        hp = by["tbptt"]["records"][0]["learner"]["hyperparameters"]
        tb_shape = f"truncation {hp['truncation']}, hidden {hp['hidden']}"
        tv = np.array([r["metrics"]["nmse"] for r in by["tbptt"]["records"]])
        med = float(np.median(tv))
        late = int(np.sum(tv > 1.25 * med))
        if v.get("T3") == "reproduced" and late:
            out.append(f"- **T3 holds, but through T-BPTT's unstable seeds** (`{preset}`). Hybrid "
                       f"({nm['hybrid']:.3f}) and constructive ({nm['constructive']:.3f}) end below T-BPTT's mean "
                       f"({nm['tbptt']:.3f}). But T-BPTT's median seed ends at {med:.3f}, and {late} of its "
                       f"{len(tv)} seeds end above 1.25× that median; their error rises late in the run "
                       "(learning curve above). The typical T-BPTT run is as good as the column learners; its "
                       "mean is not. We have not found why those seeds degrade: step size, RMSProp's β2 = "
                       "0.9999 and the eligibility traces are the suspects.")
        elif v.get("T3") != "reproduced":
            below = [LABEL[k].lower() for k in ("hybrid", "constructive") if nm[k] < nm["tbptt"]]
            out.append(f"- **Not every column learner ends clearly below T-BPTT** (T3, `{preset}`): hybrid "
                       f"{nm['hybrid']:.3f} and constructive {nm['constructive']:.3f} against {nm['tbptt']:.3f}"
                       + (f" ({' and '.join(below)} below it in the mean; the evidence column says which CIs overlap)"
                          if below else "")
                       + f". The reference T-BPTT is the sweep's pick for this run length ({tb_shape}), stronger "
                       "here than the paper's 30:2 (T-BPTT shapes above). On fresh streams (its verification by "
                       "re-execution and the runs since, [baselines.md](baselines.md)) it ended higher, not lower, "
                       "than on the board's, so the board does not flatter the column learners.")
        if v.get("T2") != "reproduced":
            worst = max(LEARNERS, key=lambda k: nm[k])
            if worst == "constructive":
                hp = by["constructive"]["learner"]["hyperparameters"]
                out.append(f"- **Columnar is not the worst** (T2). At `{preset}`, constructive ends highest "
                           f"({nm['constructive']:.3f}, columnar {nm['columnar']:.3f}). The constructive network "
                           f"trains one column at a time, for {steps_text(hp['steps_per_stage'])} steps each here. We "
                           "believe its later columns get too few steps in short runs.")
            else:
                cols = min(nm[k] for k in ("hybrid", "constructive"))
                out.append(f"- **Columnar is not the worst of all four** (T2). At `{preset}`, {LABEL[worst]} "
                           f"ends highest ({nm[worst]:.3f}). Columnar ({nm['columnar']:.3f}) is the worst of the "
                           f"three column learners (the others {cols:.3f} and up), as the paper finds.")
            trace = sorted((b for (t, _p), b in boards.items() if t == TRACE and "hybrid" in b and "constructive" in b),
                           key=lambda b: game_aggregate(b["hybrid"])["steps"])
            out.append("  Constructive against hybrid NMSE by run length: " + "; ".join(
                f"{steps_text(game_aggregate(b['hybrid'])['steps'])} {game_aggregate(b['constructive'])['nmse']['mean']:.3f} vs "
                f"{game_aggregate(b['hybrid'])['nmse']['mean']:.3f}" for b in trace) + ".")
        if v.get("T4") != "reproduced":
            out.append("- **Drops at stage boundaries are not consistent** (T4). The rule compares the mean "
                       "curve's fall in the 4 bins after each boundary with the 4 before; see the evidence column "
                       "for how many boundaries pass. We believe the cause is that a new stage starts from the "
                       "previous stage's features, and its columns first learn slowly under RMSProp from zero "
                       "output weights; the average over seeds also smooths single-seed drops.")
    if trunc is not None and v.get("T6") != "reproduced":
        out.append(_truncation_text(trunc["rows"]))
    if isi_rows:
        last = isi_rows[-1]
        if last.get("hybrid") and last.get("tbptt"):
            out.append(f"- **Long ISIs are not learned in 5M steps** (the ISI study). At ISI {last['isi'][0]}–"
                       f"{last['isi'][1]}, hybrid ends at {last['hybrid'][0]:.3f} and T-BPTT at {last['tbptt'][0]:.3f}, "
                       f"against a floor of {fmt(last['floor'], 3)}. The hybrid keeps its lead, and the lead "
                       "shrinks as both approach the best constant. The paper ran this study for 10M steps, "
                       "with T-BPTT 15:4 as here.")
    abl = [x for x in verdicts if x.claim == "A3" and x.verdict not in ("reproduced", "not tested at this scale")]
    if abl:
        out.append(f"- **Smaller T-BPTT effects on Atari** (A3, {abl[0].scale}). The direction matches the paper: "
                   "width matters more than truncation. The sizes do not: the paper's runs are 50 times longer, and "
                   "we believe wide networks gain more from longer training than these 1M-step runs give them.")
    a4 = [x for x in verdicts if x.claim == "A4" and x.verdict not in ("reproduced", "not tested at this scale")]
    if a4:
        out.append(f"- **Hybrid's predictions are not closer on every game** (A4, {a4[0].scale}). It is near-perfect on "
                   "Pong, as in the paper, but the table above shows where T-BPTT ends lower. These are seed-0 runs "
                   "of 2M steps, a twenty-fifth of the paper's.")
    by_steps: dict[int, list[str]] = {}
    for claim, pick in (("A1", ("hybrid", "tbptt")), ("A2", LEARNERS)):
        f = largest_atari_board(boards, pick)
        if f is not None and v.get(claim) != "reproduced":
            by_steps.setdefault(board_steps(f[1]), []).append(claim)
    trend = _length_trend(hybrid_by_length(boards))
    for steps, claims in sorted(by_steps.items()):
        out.append(f"- **{' and '.join(claims)} at {steps_text(steps)} steps.** The paper's runs are 50M steps (200 passes "
                   f"over each recording), with a hybrid stage of 16M steps; here a stage is {steps_text(steps // 3)} "
                   "steps. We believe the column learners' advantage grows with the run length, as the hybrid's "
                   "standing against T-BPTT does on trace patterning between 5M and 50M (there partly through "
                   "T-BPTT's late degradation)." + ("" if trend else " A longer preset would test that."))
    if by_steps and trend:
        out.append(f"- **The hybrid's standing with the run length.**{trend}")
    if v.get("A2") not in (None, "reproduced"):
        out += _a2_trend(mean_relative_by_length(boards))
    if not out:
        return []
    return ["## Where the results differ from the paper, and what we believe explains it", "", *out, ""]


def _length_trend(rows: Sequence[tuple[int, int, int, float]]) -> str:
    """The belief above against the Atari boards of different lengths: does the hybrid gain on T-BPTT?"""
    if len(rows) < 2:
        return ""
    said = "; ".join(f"{lower} of {n} games at {steps_text(steps)} steps (median ratio {med:.2f})"
                     for steps, lower, n, med in rows)
    (_, lo0, n0, m0), (_, lo1, n1, m1) = rows[0], rows[-1]
    gains = lo1 / n1 > lo0 / n0 and m1 < m0
    return (f" Measured on the Atari boards run here, hybrid below T-BPTT on {said}: "
            + ("the hybrid gains with the run length, which supports the belief above; whether it gains as far as "
               "the paper's 50M steps only a longer preset can tell." if gains else
               "the hybrid does not gain with the run length here, which does not support the belief above."))


RECORDING_STEPS = 250_000   # every atari-v1 recording: the paper's 50M steps are 200 passes over it


def _a2_trend(by_learner: Mapping[str, Sequence[tuple[int, float, int]]]) -> list[str]:
    """A2 against the Atari boards of different lengths: which column learners gain on T-BPTT as runs grow,
    and, for those that do not, the stage length that we believe explains it."""
    from oscbench.benchmark import tasks

    rows = {k: r for k, r in by_learner.items() if len(r) >= 2}
    if not rows:
        return []
    said = "; ".join(f"{LABEL[k]} " + " → ".join(f"{m:.2f} at {steps_text(s)}" for s, m, _ in r)
                     for k, r in rows.items())
    lag = [k for k, r in rows.items() if r[-1][1] >= r[0][1]]
    text = f"- **Mean relative error with the run length** (A2). {said}."
    if lag:
        who = " and ".join(LABEL[k] for k in lag)
        one = len(lag) == 1
        paper = tasks.get_task(ATARI).preset("full").steps        # the paper's run length
        last = {k: rows[k][-1] for k in lag}                          # (steps, mean, steps per stage)
        stage = "; ".join(f"{LABEL[k]} {steps_text(st)} steps against {steps_text(paper * st // n)} in the paper"
                          for k, (n, _, st) in last.items() if st)
        short = all(0 < st < RECORDING_STEPS for _, _, st in last.values())
        text += (f" {who} {'does' if one else 'do'} not gain on T-BPTT as the runs grow: T-BPTT improves more "
                 f"with the run length than {'it does' if one else 'they do'}. We believe the cause is the stage "
                 f"length ({stage}): each stage trains new columns and then freezes them"
                 + (f", so at this run length a frozen column has seen less than one pass over its game's recording "
                    f"({steps_text(RECORDING_STEPS)} steps)" if short else "")
                 + ". A longer preset would test that.")
    else:
        text += " Every column learner gains on T-BPTT as the runs grow."
    return [text]


def _truncation_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """T6 where the error does not fall steadily with truncation: where it is lowest, and what longer
    truncations do after it, in the study's own numbers."""
    best = min(rows, key=lambda r: r["nmse"])
    first, after = rows[0], [r for r in rows if r["k"] > best["k"]]
    said = ", ".join(f"k {r['k']} {r['nmse']:.3f}" for r in after)
    rises = any(r["nmse"] > 1.1 * best["nmse"] for r in after)
    then = "" if not after else f", then {'rises again' if rises else 'stays flat'} ({said})"
    noise = max((r["se"] or 0) / r["nmse"] for r in rows)
    return (f"- **Truncation beyond {best['k']} buys {'nothing' if rises else 'little'} here** (T6). A 10-unit T-BPTT "
            f"improves from k {first['k']} ({first['nmse']:.3f}) to k {best['k']} ({best['nmse']:.3f}){then}. "
            f"With {len(best['seeds'])} seeds at {steps_text(best['steps'])} steps the study is noisy (standard error up to "
            f"{100 * noise:.0f}% of the mean). The ring-buffer bug of T5 would penalise the paper's small-k runs in "
            "the same way.")
