"""Fixture result records and entries for the leaderboard tests (shared by the browser test).

Records are built to the evaluator's contract (``oscbench.benchmark.records``): they pass its schema
and its recomputations, and carry the real dataset block of the trace-patterning stream, so that the
leaderboard's checks run on records exactly as the evaluator writes them.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from oscbench.benchmark import metrics, streams, tasks
from oscbench.benchmark.records import new_record, stream_figures, write_record
from oscbench.errors import DataError

TRACE = "trace-patterning-v1"
SOURCE = hashlib.sha256(b"fixture learner source").hexdigest()


def _dataset_block(task_id: str, seed: int, steps: int, game: str | None) -> dict[str, Any]:
    task = tasks.get_task(task_id)
    if task.kind == "trace-patterning":
        return dict(streams.open_stream(task, game=None, seed=seed, n_steps=steps).dataset)
    from oscbench.leaderboard.validation import registry_digest

    ds_id = task.dataset_id.format(game=game)
    digest = registry_digest(ds_id) or "0" * 64
    return {"id": ds_id, "sha256": digest, "sha256_kind": "file-content", "params": {"loop": True}, "seed": None,
            "path": None}


def make_record(*, seed: int, level: float, task_id: str = TRACE, preset: str = "smoke", name: str = "fixture",
                spec: str | None = None, hyperparameters: dict[str, Any] | None = None, flops: int = 1000,
                game: str | None = None, source_sha256: str = SOURCE, noise: float = 0.05,
                target_variance: float = 0.02, key: int | None = None) -> dict[str, Any]:
    """An ok record whose final error is about ``level`` × ``target_variance`` (so NMSE ≈ level).

    ``key`` fixes the random wobble: records with the same key and seed differ only by ``level``.
    """
    task = tasks.get_task(task_id)
    p = task.presets[preset]
    steps, b = p.steps, task.bin_steps(p, p.steps)
    window = task.window(steps)
    n_bins = metrics.n_bins(steps, b)
    lengths = metrics.bin_lengths(steps, b).astype(np.float64)
    rng = np.random.default_rng([seed, int(level * 1e6) + len(name) if key is None else key])
    decay = 1.0 + 3.0 * np.exp(-np.arange(n_bins) / (n_bins / 8))
    wobble = np.exp(noise * rng.standard_normal(n_bins) + noise * rng.standard_normal())
    k = window // b  # the window as whole bins (the task's bins always tile it; they end at the run's end)
    # stream-derived figures are the stream's own (validation recomputes them) where it is available here
    target_mean, var_full = 0.1, target_variance * 1.5
    try:
        fig = stream_figures(task.id, game, seed if task.seed_policy == "shared" else 0, steps)
        target_variance, target_mean, var_full = (fig["target_variance"], fig["target_mean"],
                                                  fig["target_variance_full_return"])
    except DataError:
        pass
    curve = level * target_variance * decay * wobble
    full = curve * 1.3
    final, final_full = math.fsum(curve[-k:]) / k, math.fsum(full[-k:]) / k
    life = math.fsum(curve * lengths) / steps
    life_full = math.fsum(full * lengths) / steps
    # the running window log at the task's cadence (mean of the bins it covers, approximately)
    r_steps = metrics.running_log_steps(steps, task.running_window, task.running_every, task.running_offset)
    r_mse = [float(np.mean(curve[max(0, (s - task.running_window) // b): max(1, s // b)])) for s in r_steps]
    if r_steps and r_steps[-1] == steps and task.running_window == window:
        r_mse[-1] = final
    cpu = 2.0 + 0.1 * seed
    hp = hyperparameters if hyperparameters is not None else {"step_size": 0.01, "width": 4}
    record = new_record(task, preset=preset, game=game, dataset=_dataset_block(task_id, seed, steps, game), seed=seed,
                        steps=steps, learner_spec=spec or f"fixture_{name}.py:make", learner_name=name,
                        hyperparameters=hp, flops_per_step=flops, source_sha256=source_sha256,
                        provenance_block={"oscbench_version": "0.1.0", "git_commit": None, "python": "3.11.2",
                                          "numpy": "2.4.6", "numba": "0.61.0", "platform": "Linux-fixture",
                                          "learner_source_sha256": source_sha256})
    record.update(
        metrics={
            "final_error": final, "lifetime_error": life, "nmse": final / target_variance,
            "target_variance": target_variance, "target_mean": target_mean, "relative_error": None,
            "reference_final_error": None, "final_error_full_return": final_full,
            "lifetime_error_full_return": life_full, "nmse_full_return": final_full / var_full,
            "target_variance_full_return": var_full, "window_steps": window,
            "running_window": {"window": task.running_window, "steps": r_steps, "mse": r_mse},
        },
        curve={"bin_steps": b, "mse": curve.tolist(), "mse_full_return": full.tolist()},
        audit={"causality": "passed", "determinism": "passed", "prefix_steps": task.audit_prefix_steps,
               "chunk_sizes": [1, 7, 16], "first_mismatch_step": None, "max_abs_difference": 0.0},
        timing={"wall_seconds": cpu * 1.1, "cpu_seconds": cpu, "steps_per_cpu_second": steps / cpu,
                "audit_cpu_seconds": 0.1},
        created="2025-01-02T03:04:05Z")
    return dict(record)


def make_records(n_seeds: int, level: float, **kw: Any) -> list[dict[str, Any]]:
    return [make_record(seed=s, level=level, **kw) for s in range(n_seeds)]


def write_records(records: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write records as the evaluator does; return their paths."""
    return [write_record(r, out) for r in records]


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)
