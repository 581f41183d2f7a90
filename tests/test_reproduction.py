"""The reproduction report (tools/reproduction.py): regenerated exactly from the committed records."""
from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("reproduction", REPO / "tools" / "reproduction.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["reproduction"] = mod
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_committed_report_is_what_the_records_give():
    tool = _tool()
    fresh = tool.build(REPO / "leaderboard", None)
    committed = (REPO / "docs" / "reproduction.md").read_text()
    assert fresh == committed, "docs/reproduction.md is stale: run `python tools/reproduction.py`"


def test_every_claim_has_a_verdict():
    text = (REPO / "docs" / "reproduction.md").read_text()
    verdicts = dict(re.findall(r"^\| (T[1-6]|A[1-4]) \| ([a-z ]+) \|", text, flags=re.M))
    assert sorted(verdicts) == sorted([f"T{i}" for i in range(1, 7)] + [f"A{i}" for i in range(1, 5)])
    assert set(verdicts.values()) <= {"reproduced", "partly", "not reproduced", "not tested at this scale"}


def test_table_figures_recomputed_from_records():
    """Independent of the report code: the NMSE mean of each reference entry from its per-seed records."""
    tool = _tool()
    boards = tool.load_reference_entries(REPO / "leaderboard")
    preset, by = tool._largest_trace_board(boards)
    table = tool.trace_table(by)
    for k, label in tool.LABEL.items():
        nmse = [r["metrics"]["nmse"] for r in by[k]["records"]]
        mean = sum(nmse) / len(nmse)
        row = next(line for line in table.splitlines() if line.startswith(f"| {label} |"))
        assert f"| {mean:.3g} [" in row


def test_stage_drop_rule_sees_a_synthetic_drop():
    """T4's rule on a curve built to have (and not to have) steep drops after every stage boundary."""
    tool = _tool()
    boards = tool.load_reference_entries(REPO / "leaderboard")
    _preset, by = tool._largest_trace_board(boards)
    entry = copy.deepcopy(by["hybrid"])
    g = entry["aggregate"]["games"][""]
    n, bin_steps = len(g["curve"]["mean"]), g["curve"]["bin_steps"]
    per_stage = entry["learner"]["hyperparameters"]["steps_per_stage"] // bin_steps
    stairs = [1.0 / (1 + (i // per_stage)) for i in range(n)]        # flat within a stage, drop at its start
    g["curve"]["mean"] = stairs
    drops = tool.stage_drops(entry)
    assert drops and all(after > before for _s, after, before in drops)
    g["curve"]["mean"] = [1.0 - 0.001 * i for i in range(n)]        # a steady slope: no boundary effect
    assert all(abs(after - before) < 1e-9 for _s, after, before in tool.stage_drops(entry))
