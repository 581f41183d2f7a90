"""Result records: one JSON file per run. **This module and ``record.schema.json`` are the contract.**

Everything that reads results -- ``oscbench results validate``, the leaderboard, notebooks -- reads
these records and nothing else. A record describes one run (one learner, task, preset and seed)::

    schema_version  1 (SCHEMA_VERSION)
    task            {id, version, preset, game, budget_flops, gamma, target, window_steps}
    dataset         {id, sha256, sha256_kind, params, seed, path}
    learner         {spec, name, hyperparameters, flops_per_step, source_sha256}
    seed, steps     the run's seed and length in steps
    status          "ok" | "failed"
    failure         null | {step, stage, message, log}     (log: file name next to the record)
    metrics         null | {final_error, lifetime_error, nmse, target_variance, target_mean,
                            relative_error, reference_final_error,
                            final_error_full_return, lifetime_error_full_return, nmse_full_return,
                            target_variance_full_return, window_steps,
                            running_window {window, steps[], mse[]}}
    curve           null | {bin_steps, mse[], mse_full_return[]}
    audit           {causality, determinism, prefix_steps, chunk_sizes, first_mismatch_step, ...}
    timing          {wall_seconds, cpu_seconds (inside the learner), total_cpu_seconds,
                     steps_per_cpu_second = steps / cpu_seconds, audit_cpu_seconds}
    provenance      {oscbench_version, git_commit, python, numpy, numba, platform, learner_source_sha256}
    created         ISO 8601 UTC time the record was written

Errors are mean squared errors (V_t − G_t)² of the learner's prediction against the task's target
(``task.target``); ``*_full_return`` is the same against the full discounted return. ``final_error``
is the mean over the last ``metrics.window_steps`` steps, ``nmse`` = final_error / target_variance over
the same window (0 = perfect, 1 = the best constant predictor), ``lifetime_error`` the mean over the
whole run. The learning curve's bin i covers steps ``[i·bin_steps, min((i+1)·bin_steps, steps))``.

The schema only grows within a version: readers must ignore fields they do not know in ``audit`` and
``provenance``; every other object is closed (``additionalProperties: false``), so a change there
bumps :data:`SCHEMA_VERSION`.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from oscbench.errors import DataError

SCHEMA_VERSION = 1
SCHEMA_FILE = "record.schema.json"
_REL_TOL = 1e-7     # recomputed figures must agree to this relative tolerance
_ABS_TOL = 1e-12


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of a record (shipped in the package as ``record.schema.json``)."""
    text = resources.files("oscbench.benchmark").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


# -- writing -------------------------------------------------------------------------------------
def now_iso() -> str:
    """The current UTC time, ISO 8601 with a ``Z`` suffix."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the oscbench checkout this code runs from, or None (installed wheel, no git)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def provenance(learner_source_sha256: str | None) -> dict[str, Any]:
    """Versions and platform of this process, for a record's ``provenance``."""
    import numpy as np

    from oscbench import __version__

    try:
        import numba
        numba_version: str | None = numba.__version__
    except ImportError:  # pragma: no cover - numba is a dependency
        numba_version = None
    return {
        "oscbench_version": __version__, "git_commit": git_commit(),
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba_version,
        "platform": platform.platform(), "machine": platform.machine(),
        "learner_source_sha256": learner_source_sha256,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def hyperparameter_digest(hp: Mapping[str, Any]) -> str:
    """8 hex digits identifying a hyper-parameter set (part of record file names)."""
    return hashlib.sha256(json.dumps(dict(hp), sort_keys=True, default=str).encode()).hexdigest()[:8]


def record_stem(record: Mapping[str, Any]) -> str:
    """``<task>[-<game>]_<preset>_<learner>_<hp digest>_seed-<s>``: the file name without extension."""
    t, lr = record["task"], record["learner"]
    task = t["id"] + (f"-{t['game']}" if t.get("game") else "")
    return "_".join([_slug(task), _slug(t["preset"]), _slug(lr["name"]),
                     hyperparameter_digest(lr["hyperparameters"]), f"seed-{record['seed']}"])


def dumps(record: Mapping[str, Any]) -> str:
    """The record as JSON text (sorted keys, no NaN/inf: those are errors)."""
    return json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_record(record: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``record`` atomically to ``out_dir/<record_stem>.json`` (replacing an older one)."""
    from oscbench._atomic import write_text_atomic

    path = Path(out_dir) / f"{record_stem(record)}.json"
    return write_text_atomic(path, dumps(record), overwrite=True)


# -- reading -------------------------------------------------------------------------------------
def read_record(path: str | Path) -> dict[str, Any]:
    """Load one record file (JSON only; use :func:`validate_record` to check it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"no result record at {path}; give the path of a .json record.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read result record {path} ({err}); give a readable .json record.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}); "
                        "it is not an oscbench result record.") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} holds a JSON {type(data).__name__}, not a result record object.")
    return data


def iter_record_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into the ``*.json`` records anywhere below them (sorted; names starting with a
    dot, and everything inside such folders, are skipped); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            out.append(p)
            continue
        out.extend(sorted(q for q in p.rglob("*.json")
                          if not any(part.startswith(".") for part in q.relative_to(p).parts)))
    return out


def load_records(paths: Iterable[str | Path], *, validate: bool = True) -> list[dict[str, Any]]:
    """Read records from files and directories; with ``validate`` raise DataError on the first invalid one."""
    records = []
    for p in iter_record_paths(paths):
        rec = read_record(p)
        if validate:
            rep = validate_record(rec)
            if not rep.ok:
                raise DataError(f"{p} is not a valid result record: {rep.errors[0]}; "
                                "run `oscbench results validate` for every problem.")
        records.append(rec)
    return records


# -- validation ------------------------------------------------------------------------------------
@dataclass
class ValidationReport:
    """Outcome of :func:`validate_record`: ``ok`` and a list of one-line problems."""

    source: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.source, "ok": self.ok, "errors": list(self.errors)}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)


def _bin_lengths(steps: int, bin_steps: int) -> list[int]:
    n = -(-steps // bin_steps)
    return [bin_steps] * (n - 1) + [steps - bin_steps * (n - 1)]


def _check_ratio(errors: list[str], name: str, value: Any, num: Any, den: Any) -> None:
    if num is None or den is None:
        return
    if den > 0:
        if value is None or not _close(value, num / den):
            errors.append(f"{name} is {value} but the numerator/denominator give {num / den!r}")
    elif value is not None:
        errors.append(f"{name} is {value} but its denominator is 0 (it must be null)")


def _recompute(rec: Mapping[str, Any]) -> list[str]:
    """Consistency checks the schema cannot express (assumes the record passed the schema)."""
    errors: list[str] = []
    steps = rec["steps"]
    task, learner = rec["task"], rec["learner"]
    from oscbench.benchmark.tasks import CUSTOM_TASK_ID

    if task["budget_flops"] is None and task["id"] != CUSTOM_TASK_ID:
        errors.append(f"task.budget_flops is null but only custom streams ({CUSTOM_TASK_ID}) run without a budget")
    if task["budget_flops"] is not None and learner["flops_per_step"] > task["budget_flops"]:
        errors.append(f"learner.flops_per_step {learner['flops_per_step']} exceeds task.budget_flops "
                      f"{task['budget_flops']}")
    if learner["source_sha256"] != rec["provenance"]["learner_source_sha256"]:
        errors.append("learner.source_sha256 differs from provenance.learner_source_sha256")
    errors += _check_task(task)
    fail = rec["failure"]
    if fail is not None and fail["step"] is not None and fail["step"] > steps:
        errors.append(f"failure.step {fail['step']} is beyond the run's {steps} steps")
    if rec["status"] != "ok":
        return errors

    m, curve, timing = rec["metrics"], rec["curve"], rec["timing"]
    _check_ratio(errors, "metrics.nmse", m["nmse"], m["final_error"], m["target_variance"])
    if "target_variance_full_return" in m:
        _check_ratio(errors, "metrics.nmse_full_return", m["nmse_full_return"], m["final_error_full_return"],
                     m["target_variance_full_return"])
    ref = m.get("reference_final_error")
    if ref is None and m["relative_error"] is not None:
        errors.append("metrics.relative_error is set but metrics.reference_final_error is null")
    _check_ratio(errors, "metrics.relative_error", m["relative_error"], m["final_error"], ref)

    window = m["window_steps"]
    if window > steps:
        errors.append(f"metrics.window_steps {window} exceeds the run's {steps} steps")
    if task.get("window_steps") is not None and window != min(task["window_steps"], steps):
        errors.append(f"metrics.window_steps {window} is not min(task.window_steps, steps) = "
                      f"{min(task['window_steps'], steps)}")

    b = curve["bin_steps"]
    lengths = _bin_lengths(steps, b)
    for key, life, final in (("mse", "lifetime_error", "final_error"),
                             ("mse_full_return", "lifetime_error_full_return", "final_error_full_return")):
        bins = curve.get(key)
        if bins is None:
            continue
        if len(bins) != len(lengths):
            errors.append(f"curve.{key} has {len(bins)} bins; {steps} steps in bins of {b} need {len(lengths)}")
            continue
        if life in m:
            mean = math.fsum(v * n for v, n in zip(bins, lengths)) / steps
            if not _close(m[life], mean):
                errors.append(f"metrics.{life} {m[life]!r} differs from the curve's mean {mean!r}")
        if window % b == 0 and steps % b == 0:  # the window is whole bins at the end
            k = window // b
            mean = math.fsum(bins[-k:]) / k
            if not _close(m[final], mean):
                errors.append(f"metrics.{final} {m[final]!r} differs from the mean of the curve's last "
                              f"{k} bins {mean!r}")

    rw = m["running_window"]
    if len(rw["steps"]) != len(rw["mse"]):
        errors.append("metrics.running_window.steps and .mse differ in length")
    if any(s > steps or s < rw["window"] for s in rw["steps"]):
        errors.append("metrics.running_window.steps has entries outside [window, steps]")
    if rw["steps"] and rw["steps"][-1] == steps and rw["window"] == window and not _close(rw["mse"][-1], m["final_error"]):
        errors.append("metrics.running_window ends on the scoring window but differs from final_error")

    cpu, rate = timing["cpu_seconds"], timing["steps_per_cpu_second"]
    if cpu > 0 and (rate is None or not _close(rate, steps / cpu)):
        errors.append(f"timing.steps_per_cpu_second {rate!r} is not steps / cpu_seconds = {steps / cpu!r}")
    return errors


def _check_task(task: Mapping[str, Any]) -> list[str]:
    """Compare a record's task block with the shipped task definition of the same id and version."""
    from oscbench.benchmark import tasks

    try:
        spec = tasks.get_task(task["id"])
    except Exception:  # unknown task id: nothing to compare with (a newer oscbench may know it)
        return []
    if spec.version != task["version"]:
        return []
    errors = []
    for key, want in (("budget_flops", spec.budget_flops), ("gamma", spec.gamma), ("target", spec.target)):
        if task[key] != want:
            errors.append(f"task.{key} is {task[key]!r} but {spec.id} defines {want!r}")
    return errors


def validate_record(record: str | Path | Mapping[str, Any]) -> ValidationReport:
    """Check a record (a path or a dict) against the JSON Schema, then recompute what can be recomputed.

    Recomputed: nmse = final_error / target_variance (and for the full return), relative_error,
    lifetime error = the curve's step-weighted mean, final error = the mean of the curve's last bins
    (when the window is whole bins), the curve's bin count, steps_per_cpu_second = steps / cpu_seconds,
    declared FLOPs within the budget, the task block against the shipped task definition.
    """
    import jsonschema

    if isinstance(record, (str, Path)):
        source = str(record)
        try:
            data: Any = read_record(record)
        except DataError as err:
            return ValidationReport(source, [str(err)])
    else:
        source, data = "<record>", record
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if problems:
        return ValidationReport(source, [_describe(e) for e in problems])
    return ValidationReport(source, _recompute(data))


def _describe(err: Any) -> str:
    where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
    msg = err.message if len(err.message) < 200 else err.message[:197] + "..."
    return f"{where}: {msg}"
