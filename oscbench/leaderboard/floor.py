"""The Bayes floor of trace-patterning boards: the error no learner can beat, as a reference line.

For a trace-patterning task scored on G* (``returns_truncated``), the floor of one run is the error of
the Bayes-optimal prediction (:func:`oscbench.datasets.trace_patterning.bayes_floor_predictions`) on
that run's stream and scoring window, scored as the evaluator scores a learner. Over seeds it is
summarised as entries are: the mean of per-seed NMSE. An entry's *excess* NMSE is its mean NMSE minus
the floor's mean NMSE on the entry's own seeds and run length (both means over the same seeds, so the
excess is the mean of per-seed excesses).

Other tasks (Atari, or a trace task scored on the full return) have no floor here: ``None``.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from oscbench.benchmark import tasks
from oscbench.datasets import trace_patterning as tp


def _config(task: tasks.Task) -> tp.TracePatterningConfig | None:
    if task.kind != tp.KIND or task.target != "returns_truncated":
        return None
    return tp.TracePatterningConfig.from_dict(dict(task.stream_params))


@functools.lru_cache(maxsize=1024)
def _seed_score(params: str, seed: int, steps: int, window: int) -> tp.FloorScore:
    return tp.bayes_floor_score(tp.TracePatterningConfig.from_dict(json.loads(params)), seed, steps, window)


def floor(task_id: str, steps: int, seeds: Iterable[int]) -> dict[str, Any] | None:
    """The floor of ``task_id`` for runs of ``steps`` steps on stream seeds ``seeds``.

    Returns ``{"nmse", "final_error", "seeds", "steps", "window", "stationary_nmse"}`` (NMSE and final
    error: means over the seeds; ``stationary_nmse``: the long-run value), or None where the task has no
    floor (or the target is constant, so NMSE is undefined).
    """
    try:
        task = tasks.get_task(task_id)
    except Exception:  # noqa: BLE001 - an unknown task simply has no floor
        return None
    cfg = _config(task)
    seeds = sorted({int(s) for s in seeds})
    if cfg is None or not seeds or steps <= 0:
        return None
    window = task.window(steps)
    params = json.dumps(cfg.to_dict(), sort_keys=True)
    scores = [_seed_score(params, s, int(steps), window) for s in seeds]
    if any(s.nmse is None for s in scores):
        return None
    return {"nmse": sum(s.nmse for s in scores) / len(scores),  # type: ignore[misc]
            "final_error": sum(s.final_error for s in scores) / len(scores),
            "seeds": seeds, "steps": int(steps), "window": window,
            "stationary_nmse": tp.bayes_floor_nmse_stationary(cfg)}


def entry_floor(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The floor on an entry's own stream seeds and run length (None for tasks without a floor)."""
    recs = entry["records"]
    seeds = [r["dataset"].get("seed") for r in recs]
    if not recs or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        return None
    return floor(entry["task"]["id"], int(recs[0]["steps"]), seeds)


def preset_floor(task_id: str, preset: str) -> dict[str, Any] | None:
    """The floor of a preset on its standard seeds 0..N−1 at its run length (a board's reference line)."""
    try:
        p = tasks.get_task(task_id).presets[preset]
    except Exception:  # noqa: BLE001
        return None
    return floor(task_id, p.steps, range(p.seeds))


def stationary_floor(task_id: str) -> dict[str, Any] | None:
    """Only the long-run floor (``{"nmse": None, "stationary_nmse"}``): for boards without entries, where
    no seeds are chosen. None where the task has no floor."""
    try:
        cfg = _config(tasks.get_task(task_id))
    except Exception:  # noqa: BLE001
        return None
    return None if cfg is None else {"nmse": None, "stationary_nmse": tp.bayes_floor_nmse_stationary(cfg)}
