"""The reference configurations of the baselines per task (SPEC §8, §11.9-11.10).

Structures follow the paper (P) where it states them, the reference code (C) otherwise; step sizes and
variance floors come from the sweeps recorded in docs/baselines.md (``oscbench sweep``).

============  ==========================================  ===========================================
learner       trace patterning (n = 12, budget 4,400)     Atari (n = 275, budget 55,000)
============  ==========================================  ===========================================
hybrid        20 columns, 4 per stage, S = n_steps/5      15 columns, 5 per stage, S = n_steps/3
              (4,048 FLOPs)                               (51,030 FLOPs)
columnar      5 columns, one stage (1,960; C used 7)      7 columns (54,292; C used 6)
constructive  10 columns, S = n_steps/10 (1,152)          10 columns, S = n_steps/10 (17,984; C also 30)
tbptt         runs shorter than 50M: hidden 13,           hidden 5, truncation 8 (50,580)
              truncation 2 (4,056); 50M steps and longer
              (the full preset): hidden 3, truncation 20
              (4,032)
============  ==========================================  ===========================================

Trace T-BPTT: SPEC §8's eight equal-FLOP shapes in two rounds, seeds 0-4, rule: the
lowest mean final NMSE. First round (tools/reference/tbptt-shapes-trace.toml; records in
leaderboard/studies/tbptt-shapes): the eight shapes x step sizes {1e-3, 3e-4, 1e-4} at 5M steps; it picks
truncation 2, hidden 13, α 1e-4 (0.106; runner-up 5:8, 0.109, within one standard error), the reference for
runs shorter than the full preset. Second round (tools/reference/tbptt-shapes-trace-full.toml; records in
leaderboard/studies/tbptt-shapes-full): each shape at its first-round step size for 50M steps; it picks
truncation 20, hidden 3, α 1e-4 (0.125, SE 0.013), the reference for runs of 50M steps and more. Over
50M steps most shapes' runs collapse back towards the best constant prediction now and then (2:13 ended at
0.355; float64 collapses too), the long-truncation, small-step shape least. The paper's truncation 30,
hidden 2 (the learner's default, hparams.TBPTT_DEFAULTS) ranks last in the first round and sixth in the
second.

Atari T-BPTT: P's list "15:2, 8:5, 5:8, 4:10, 2:25" read as hidden:truncation (SPEC §11.10); 2:25
costs 57,824 FLOPs, over the budget, and of the other four 5:8 had the lowest error in the sweep.
"""
from __future__ import annotations

from typing import Any

from oscbench.errors import ConfigError

TASKS = ("trace-patterning", "atari")

_TRACE: dict[str, dict[str, Any]] = {
    "hybrid": {"n_columns": 20, "columns_per_stage": 4, "step_size": 3e-4, "var_floor": 0.1, "beta": 0.99999},
    "columnar": {"n_columns": 5, "step_size": 3e-4, "var_floor": 0.1, "beta": 0.99999},
    "constructive": {"n_columns": 10, "step_size": 1e-4, "var_floor": 0.01, "beta": 0.99999},
    "tbptt": {"hidden": 13, "truncation": 2, "step_size": 1e-4},
}
FULL_STEPS = 50_000_000     # runs this long and longer take the second sweep round's T-BPTT (module docs)
_TRACE_FULL: dict[str, dict[str, Any]] = {"tbptt": {"hidden": 3, "truncation": 20, "step_size": 1e-4}}
_ATARI: dict[str, dict[str, Any]] = {   # β, var_floor: C's Atari configs (SPEC §8)
    "hybrid": {"n_columns": 15, "columns_per_stage": 5, "step_size": 3e-4, "var_floor": 0.001, "beta": 0.999998},
    "columnar": {"n_columns": 7, "step_size": 3e-4, "var_floor": 0.001, "beta": 0.999998},
    "constructive": {"n_columns": 10, "step_size": 3e-4, "var_floor": 0.001, "beta": 0.999998},
    "tbptt": {"hidden": 5, "truncation": 8, "step_size": 1e-4},
}


def reference_config(name: str, task: str, n_steps: int) -> dict[str, Any]:
    """Hyper-parameters of baseline ``name`` for ``task`` ("trace-patterning" | "atari") and a run of
    ``n_steps`` steps: the structure, the stage length that visits every stage, step size, λ and (column
    networks) β and var_floor. Pass them to the factory: ``make_learner(name, n, seed=s, **cfg)``."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    table = _TRACE if task == "trace-patterning" else _ATARI
    if name not in table:
        raise ConfigError(f"unknown reference learner {name!r}; choose one of {', '.join(table)}.")
    try:
        n = int(n_steps)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"n_steps {n_steps!r} is invalid; give a run length >= 1.")
    cfg = {**table[name], "lam": 0.99}
    if table is _TRACE and n >= FULL_STEPS:
        cfg.update(_TRACE_FULL.get(name, {}))
    if name in ("hybrid", "constructive"):
        stages = -(-cfg["n_columns"] // cfg.get("columns_per_stage", 1))
        cfg["steps_per_stage"] = max(n // stages, 1)     # every stage is visited within the run
    return cfg
