"""The reference configurations of the baselines per task (SPEC §8, §11.9-11.10)."""
from __future__ import annotations

from typing import Any

from oscbench.errors import ConfigError

TASKS = ("trace-patterning", "atari")


def reference_config(name: str, task: str, n_steps: int) -> dict[str, Any]:
    """Hyper-parameters of baseline ``name`` for ``task`` and a run of ``n_steps`` steps."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    if int(n_steps) < 1:
        raise ConfigError(f"n_steps {n_steps!r} is invalid; give a run length >= 1.")
    n = int(n_steps)
    trace = task == "trace-patterning"
    if name == "hybrid":
        T, U = (20, 4) if trace else (15, 5)
        return {"n_columns": T, "columns_per_stage": U, "steps_per_stage": max(n // (T // U), 1)}
    if name == "columnar":
        return {"n_columns": 5 if trace else 7}
    if name == "constructive":
        return {"n_columns": 10, "steps_per_stage": max(n // 10, 1)}
    if name == "tbptt":
        return {"hidden": 2, "truncation": 30} if trace else {"hidden": 4, "truncation": 10}
    raise ConfigError(f"unknown reference learner {name!r}; choose one of hybrid, columnar, constructive, tbptt.")
