"""The reproduction report (tools/reproduction.py): regenerated exactly from the committed records."""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))      # the report is maintainer code under tools/, not installed

import repro.atari  # noqa: E402
import repro.atari_studies  # noqa: E402
import repro.common  # noqa: E402
import repro.trace  # noqa: E402
import repro.trace_studies  # noqa: E402
import reproduction  # noqa: E402


def test_committed_report_is_what_the_records_give():
    fresh = reproduction.build(REPO / "leaderboard", None)
    committed = (REPO / "docs" / "reproduction.md").read_text()
    assert fresh == committed, "docs/reproduction.md is stale: run `python tools/reproduction.py`"


def test_every_claim_has_a_verdict():
    text = (REPO / "docs" / "reproduction.md").read_text()
    verdicts = dict(re.findall(r"^\| (T[1-6]|A[1-4]) \| ([a-z ]+) \|", text, flags=re.M))
    assert sorted(verdicts) == sorted([f"T{i}" for i in range(1, 7)] + [f"A{i}" for i in range(1, 5)])
    assert set(verdicts.values()) <= {"reproduced", "partly", "not reproduced", "not tested at this scale"}


def test_table_figures_recomputed_from_records():
    """Independent of the report code: the NMSE mean of each reference entry from its per-seed records."""
    boards = repro.common.load_reference_entries(REPO / "leaderboard")
    preset, by = repro.trace.largest_trace_board(boards)
    table = repro.trace.trace_table(by)
    for k, label in repro.common.LABEL.items():
        nmse = [r["metrics"]["nmse"] for r in by[k]["records"]]
        mean = sum(nmse) / len(nmse)
        row = next(line for line in table.splitlines() if line.startswith(f"| {label} |"))
        assert f"| {mean:.3g} [" in row


def test_the_report_states_each_entrys_verification_and_keeps_a_failed_one():
    """An entry whose verification by re-execution failed stays in the report (the project's own runs),
    marked failed, with what that means on the board."""
    boards = repro.common.load_reference_entries(REPO / "leaderboard")
    _preset, by = repro.trace.largest_trace_board(boards)
    by = copy.deepcopy(dict(by))
    for k in by:
        by[k]["verification"] = {"status": "verified"}
    assert "failed" not in repro.common.verification_line(by)
    by["tbptt"]["verification"] = {"status": "failed"}
    line = repro.common.verification_line(by)
    assert "T-BPTT **failed**" in line and "Hybrid verified" in line and "no reference status" in line


def test_stage_drop_rule_sees_a_synthetic_drop():
    """T4's rule on a curve built to have (and not to have) steep drops after every stage boundary."""
    boards = repro.common.load_reference_entries(REPO / "leaderboard")
    _preset, by = repro.trace.largest_trace_board(boards)
    entry = copy.deepcopy(by["hybrid"])
    g = entry["aggregate"]["games"][""]
    n, bin_steps = len(g["curve"]["mean"]), g["curve"]["bin_steps"]
    per_stage = entry["learner"]["hyperparameters"]["steps_per_stage"] // bin_steps
    stairs = [1.0 / (1 + (i // per_stage)) for i in range(n)]        # flat within a stage, drop at its start
    g["curve"]["mean"] = stairs
    drops = repro.trace.stage_drops(entry)
    assert drops and all(after > before for _s, after, before in drops)
    g["curve"]["mean"] = [1.0 - 0.001 * i for i in range(n)]        # a steady slope: no boundary effect
    assert all(abs(after - before) < 1e-9 for _s, after, before in repro.trace.stage_drops(entry))


def _rec(name, hp, nmse, seed=0, steps=1000, params=None, final_error=None, cpu=1.0, flops=100, game=None):
    return {"learner": {"name": name, "hyperparameters": hp, "flops_per_step": flops}, "seed": seed, "steps": steps,
            "metrics": {"nmse": nmse, "final_error": nmse if final_error is None else final_error},
            "timing": {"cpu_seconds": cpu}, "dataset": {"params": params or {}}, "task": {"game": game}}


def test_truncation_rule_on_synthetic_studies():
    """T6: the best step size per truncation is picked, and the two parts of the rule are each decisive."""

    def study(errors, hybrid):
        recs = [_rec("hybrid", {}, hybrid, seed=s, flops=4048) for s in (0, 1)]
        for k, e in zip((2, 3, 5, 10, 20), errors):
            for s in (0, 1):
                recs.append(_rec("tbptt", {"hidden": 10, "truncation": k, "step_size": 1e-3}, e, seed=s, flops=1000 * k))
                recs.append(_rec("tbptt", {"hidden": 10, "truncation": k, "step_size": 1e-4}, e * 2, seed=s, flops=1000 * k))
        return repro.trace_studies.truncation_table(recs)

    t = study([0.5, 0.4, 0.3, 0.2, 0.11], 0.1)
    assert [r["step_size"] for r in t["rows"]] == [1e-3] * 5 and t["rows"][-1]["nmse"] == 0.11
    assert repro.trace_studies.truncation_verdict(t).verdict == "reproduced"
    assert repro.trace_studies.truncation_verdict(study([0.5, 0.4, 0.3, 0.2, 0.2], 0.1)).verdict == "partly"     # not near hybrid
    assert repro.trace_studies.truncation_verdict(study([0.5, 0.6, 0.3, 0.2, 0.11], 0.1)).verdict == "partly"    # not steady
    assert repro.trace_studies.truncation_verdict(study([0.2, 0.3, 0.3, 0.3, 0.3], 0.1)).verdict == "not reproduced"
    assert repro.trace_studies.truncation_verdict(None).verdict == "not tested at this scale"


def test_isi_table_groups_by_range_and_learner():
    recs = [_rec(n, {"hidden": 4, "truncation": 15, "step_size": 1e-4} if n == "tbptt" else {}, v, seed=s,
                 params={"isi": list(isi)})
            for isi, n, vs in (((14, 26), "hybrid", (0.1, 0.3)), ((14, 26), "tbptt", (0.2, 0.4)),
                               ((34, 46), "hybrid", (0.5, 0.7)))
            for s, v in enumerate(vs)]
    rows = repro.trace_studies.isi_table(recs)
    assert [r["isi"] for r in rows] == [(14, 26), (34, 46)]
    assert rows[0]["hybrid"][0] == 0.2 and abs(rows[0]["tbptt"][0] - 0.3) < 1e-12 and rows[1]["tbptt"] is None
    assert abs(rows[0]["hybrid"][1] - 0.1) < 1e-12        # SE of (0.1, 0.3): std 0.1414 / sqrt 2


def test_ablation_rule_normalises_by_15_15():

    def study(errs):
        return repro.atari_studies.ablation_table([_rec("tbptt", {"hidden": h, "truncation": k}, 1.0, final_error=e * scale,
                                         params={"game": g})
                                    for g, scale in (("Pong", 1.0), ("Qbert", 10.0)) for (h, k), e in errs.items()])

    paper = {(2, 8): 2.0, (5, 8): 1.5, (8, 8): 1.2, (15, 8): 1.0, (8, 2): 1.3, (8, 5): 1.2, (8, 15): 1.0, (15, 15): 0.9}
    a = study(paper)
    assert a["games"] == ["Pong", "Qbert"] and abs(a["rel"][(2, 8)] - 2.0 / 0.9) < 1e-12
    assert repro.atari_studies.ablation_verdict(a).verdict == "reproduced"
    flat = {s: 1.0 for s in paper}
    assert repro.atari_studies.ablation_verdict(study(flat)).verdict == "not reproduced"
    assert repro.atari_studies.ablation_verdict(None).verdict == "not tested at this scale"


def test_predictions_rule_and_board_cross_check():
    """A4: hybrid lower on Pong and on 3 of the games, Pong NMSE < 0.1; the board's seed-0 record must equal
    the re-run's final error to be reported 'same'."""

    def doc(h, t, tv=1.0):
        return {"target_variance": tv, "steps": 2000, "seed": 0,
                "learners": {"hybrid": {"final_error": h}, "tbptt": {"final_error": t}}}

    preds = {"Pong": doc(0.05, 0.2), "Breakout": doc(0.3, 0.4), "Qbert": doc(0.3, 0.5), "Seaquest": doc(0.6, 0.5)}
    board = {("atari-v1", "short"): {"hybrid": {"records": [
        {"task": {"game": "Pong"}, "seed": 0, "steps": 2000, "metrics": {"final_error": 0.05}},
        {"task": {"game": "Qbert"}, "seed": 0, "steps": 2000, "metrics": {"final_error": 0.31}}]}}}
    v, rows = repro.atari_studies.predictions_verdict(preds, board)
    assert v.verdict == "reproduced"
    pong = next(r for r in rows if r.startswith("| Pong |"))
    qbert = next(r for r in rows if r.startswith("| Qbert |"))
    assert "same / –" in pong and "differs (0.31) / –" in qbert
    # computed on another compiled target than the board's record: the report says so
    board[("atari-v1", "short")]["hybrid"]["records"][1]["provenance"] = {"compiled_target": "znver3"}
    preds["Qbert"]["host"] = {"compiled_target": "znver4"}
    qbert = next(r for r in repro.atari_studies.predictions_verdict(preds, board)[1] if r.startswith("| Qbert |"))
    assert "differs (0.31; computed on znver4, the board on znver3) / –" in qbert
    preds["Pong"] = doc(0.3, 0.2)          # Pong lost: 2 of 4 lower, Pong not near-perfect
    assert repro.atari_studies.predictions_verdict(preds, board)[0].verdict == "not reproduced"
    preds["Seaquest"] = doc(0.4, 0.5)      # 3 of 4 lower, Pong still lost
    assert repro.atari_studies.predictions_verdict(preds, board)[0].verdict == "partly"


def test_relative_errors_are_per_game_ratios_of_means():

    def entry(means):
        return {"aggregate": {"games": {g: {"final_error": {"mean": m}} for g, m in means.items()}}}

    by = {"tbptt": entry({"Pong": 0.2, "Qbert": 0.5}), "hybrid": entry({"Pong": 0.05, "Qbert": 1.0})}
    rel = repro.atari.relative_errors(by)
    assert rel["hybrid"] == {"Pong": 0.25, "Qbert": 2.0} and rel["tbptt"] == {"Pong": 1.0, "Qbert": 1.0}


def test_a_longer_board_missing_learners_is_named_and_not_used():
    """While a longer board is being regenerated, the verdicts stay on the largest complete board and the
    report names what the longer one lacks."""
    boards = repro.common.load_reference_entries(REPO / "leaderboard")
    preset, by = repro.trace.largest_trace_board(boards)
    longer = copy.deepcopy(dict(by))
    for entry in longer.values():
        entry["aggregate"]["games"][""]["steps"] *= 10
    del longer["columnar"]
    boards = dict(boards)
    boards[(repro.common.TRACE, "longer")] = longer
    assert repro.trace.largest_trace_board(boards)[0] == preset
    (line,) = [x for x in repro.trace.incomplete_trace_boards(boards) if "`longer`" in x]   # the committed ones may be listed too
    assert "not Columnar" in line and f"(`{preset}`)" in line
    del boards[(repro.common.TRACE, "longer")]["hybrid"]
    (line,) = [x for x in repro.trace.incomplete_trace_boards(boards) if "`longer`" in x]
    assert "not Hybrid, Columnar" in line


def test_hybrid_standing_is_compared_across_atari_lengths():
    """The report tests its own belief (column learners gain with the run length) against the Atari boards
    of different lengths, from the entries' per-game means."""

    def entry(steps, means):
        return {"records": [{"steps": steps}],
                "aggregate": {"games": {g: {"final_error": {"mean": m}} for g, m in means.items()}}}

    tb = {"Pong": 1.0, "Qbert": 1.0, "Alien": 1.0}
    boards = {("atari-v1", "smoke"): {"tbptt": entry(250, tb), "hybrid": entry(250, {"Pong": 0.5, "Qbert": 2.0, "Alien": 3.0})},
              ("atari-v1", "short"): {"tbptt": entry(2000, tb), "hybrid": entry(2000, {"Pong": 0.5, "Qbert": 0.8, "Alien": 1.5})},
              ("atari-v1", "full"): {"tbptt": entry(9000, tb)}}           # no hybrid: not a length of the trend
    rows = repro.atari.hybrid_by_length(boards)
    assert rows == [(250, 1, 3, 2.0), (2000, 2, 3, 0.8)]
    text = repro.differences._length_trend(rows)
    assert "1 of 3 games at 0.25k steps (median ratio 2.00); 2 of 3 games at 2k steps (median ratio 0.80)" in text \
        and "which supports the belief above" in text
    worse = [(250, 2, 3, 0.8), (2000, 1, 3, 2.0)]
    assert "does not support the belief above" in repro.differences._length_trend(worse)
    assert repro.differences._length_trend(rows[:1]) == ""              # one length: no trend to state


def test_each_column_learners_relative_error_is_followed_across_atari_lengths():
    """A2's trend: per column learner, the mean over games of its error ÷ T-BPTT's at each board length; a
    learner that does not gain is named with its stage length, set against the paper's."""

    def entry(steps, means, stage=None):
        hp = {} if stage is None else {"steps_per_stage": stage}
        return {"records": [{"steps": steps}], "learner": {"hyperparameters": hp},
                "aggregate": {"games": {g: {"final_error": {"mean": m}} for g, m in means.items()}}}

    tb = {"Pong": 1.0, "Qbert": 2.0}
    boards = {("atari-v1", "short"): {"tbptt": entry(2_000_000, tb),
                                      "hybrid": entry(2_000_000, {"Pong": 0.5, "Qbert": 1.0}, 666_667),
                                      "constructive": entry(2_000_000, {"Pong": 1.5, "Qbert": 3.0}, 200_000)},
              ("atari-v1", "smoke"): {"tbptt": entry(250_000, tb),
                                      "hybrid": entry(250_000, {"Pong": 1.0, "Qbert": 3.0}, 83_333),
                                      "constructive": entry(250_000, {"Pong": 1.2, "Qbert": 2.0}, 25_000)}}
    rows = repro.atari.mean_relative_by_length(boards)
    assert rows["hybrid"] == [(250_000, 1.25, 83_333), (2_000_000, 0.5, 666_667)]      # (1 + 1.5)/2, (0.5 + 0.5)/2
    assert rows["constructive"] == [(250_000, 1.1, 25_000), (2_000_000, 1.5, 200_000)]
    (text,) = repro.differences._a2_trend(rows)
    assert "Hybrid 1.25 at 250k → 0.50 at 2M; Constructive 1.10 at 250k → 1.50 at 2M." in text
    assert "Constructive does not gain" in text and "Hybrid does" not in text
    assert "200k steps against 5M in the paper" in text and "less than one pass" in text
    del rows["constructive"]
    assert repro.differences._a2_trend(rows)[0].endswith("Every column learner gains on T-BPTT as the runs grow.")
    assert repro.differences._a2_trend({"hybrid": rows["hybrid"][:1]}) == []        # one length: no trend


def test_truncation_difference_says_where_the_error_is_lowest_and_what_follows():

    def row(k, nmse, se=0.01):
        return {"k": k, "nmse": nmse, "se": se, "seeds": [0, 1], "steps": 5_000_000}

    text = repro.differences._truncation_text([row(2, 0.2), row(3, 0.12, 0.03), row(5, 0.125), row(10, 0.17)])
    assert "beyond 3 buys nothing" in text and "from k 2 (0.200) to k 3 (0.120), then rises again (k 5 0.125, k 10 0.170)" in text
    assert "standard error up to 25% of the mean" in text                  # 0.03 / 0.12
    flat = repro.differences._truncation_text([row(2, 0.2), row(5, 0.12), row(10, 0.125)])
    assert "beyond 5 buys little" in flat and "then stays flat (k 10 0.125)" in flat
    assert "from k 2 (0.200) to k 20 (0.100). With 2 seeds" in repro.differences._truncation_text([row(2, 0.2), row(20, 0.1)])


def test_reference_tbptt_configurations_are_the_committed_sweeps_picks():
    """The reference T-BPTT of each task and run length is what its committed shape sweep picks by the
    documented rule (docs/baselines.md). Trace: the first round (8 shapes x 3 step sizes, 5M steps, seeds 0-4)
    picks the lowest mean final NMSE for runs shorter than the full preset; the second round (each shape at
    its first-round step size, 50M steps, seeds 0-4) picks for the full preset, and the third (its pick at
    a 3e-5) does not change that. Atari: the lowest mean NMSE
    over the five games."""
    from oscbench.baselines import reference_config
    from oscbench.benchmark import tasks

    first = repro.trace_studies.shape_table(repro.common.load_study(REPO / "leaderboard", "tbptt-shapes"))
    assert len(first) == 8 and all(r["seeds"] == [0, 1, 2, 3, 4] and r["steps"] == 5_000_000 for r in first)
    second = repro.trace_studies.shape_table(repro.common.load_study(REPO / "leaderboard", "tbptt-shapes-full"))
    full = tasks.get_task("trace-patterning-v1").preset("full").steps
    assert len(second) == 8 and all(r["seeds"] == [0, 1, 2, 3, 4] and r["steps"] == full for r in second)
    step_of = {(r["truncation"], r["hidden"]): r["step_size"] for r in first}
    assert all(r["step_size"] == step_of[(r["truncation"], r["hidden"])] for r in second)   # the rule's round 2
    third_records = repro.common.load_study(REPO / "leaderboard", "tbptt-step-full")   # round 3: 20:3 at a 3e-5
    third = repro.trace_studies.shape_table(third_records)
    assert [(r["truncation"], r["hidden"], r["step_size"], r["seeds"], r["steps"]) for r in third] == \
        [(20, 3, 3e-5, [0, 1, 2, 3, 4], full)]
    rounds_2_3 = repro.trace_studies.shape_table(
        list(repro.common.load_study(REPO / "leaderboard", "tbptt-shapes-full")) + list(third_records))
    for rows, n_steps in ((first, 5_000_000), (first, full - 1), (second, full), (rounds_2_3, full)):
        best = min(rows, key=lambda r: r["nmse"])
        hp = reference_config("tbptt", "trace-patterning", n_steps)
        assert (hp["truncation"], hp["hidden"], hp["step_size"]) == (best["truncation"], best["hidden"],
                                                                     best["step_size"]), n_steps
    atari = repro.atari.atari_sweep_table(repro.common.load_study(REPO / "leaderboard", "tbptt-shapes-atari"))
    assert len(atari) == 8 and all(len(r["games"]) == 5 for r in atari)
    hp = reference_config("tbptt", "atari", 2_000_000)
    assert (hp["hidden"], hp["truncation"], hp["step_size"]) == (atari[0]["hidden"], atari[0]["truncation"],
                                                                 atari[0]["step_size"])
