"""Result records: one JSON file per run. **This module and ``record.schema.json`` are the contract.**

Everything that reads results -- ``oscbench results validate``, the leaderboard, notebooks -- reads
these records and nothing else. A record describes one run (one learner, task, preset and seed)::

    schema_version  2 (SCHEMA_VERSION; version-1 records, whose curve bins start at step 0, still read)
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
    provenance      {oscbench_version, git_commit, python, numpy, numba, platform, learner_source_sha256,
                     cpu, compiled_target, cpu_features}  (see :func:`compiled_target`)
    created         ISO 8601 UTC time the record was written

Errors are mean squared errors (V_t − G_t)² of the learner's prediction against the task's target
(``task.target``); ``*_full_return`` is the same against the full discounted return. ``final_error``
is the mean over the last ``metrics.window_steps`` steps, ``nmse`` = final_error / target_variance over
the same window (0 = perfect, 1 = the best constant predictor), ``lifetime_error`` the mean over the
whole run. The learning curve's bins are anchored at the run's end: with n = ceil(steps / bin_steps)
bins, bin i covers steps ``[max(0, steps − (n−i)·bin_steps), steps − (n−1−i)·bin_steps)`` (only the
first bin may be shorter; schema 1 put the short bin last), and the task's ``bin_steps`` always make
the scoring window whole bins, so the final error is the mean of the last ``window / bin_steps`` bins.

A record is checked (:func:`validate_record`) before anything reads it: the file's size and nesting
depth before parsing, no NaN/Infinity tokens or non-finite numbers, bounded strings and arrays
(:mod:`oscbench._safe_json`), the JSON Schema, then every figure that can be recomputed from the record
itself (nmse, relative error, the lifetime and final errors from the curve, the bin count, the running
log's steps, steps/CPU-second, FLOPs within the budget), the run length, bin width and window the task
and preset define, and a creation time not in the future. :func:`stream_problems` recomputes the
stream-derived figures (target mean and variance, dataset digest) by regenerating the stream.

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
from typing import Any, TypedDict

from oscbench.errors import DataError

SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
SCHEMA_FILE = "record.schema.json"
MAX_RECORD_BYTES = 1 << 20      # a committed 5M-step record is 13 kB (100 bins, 100 running-log entries)
MAX_DEPTH = 8                   # records nest at most 5 levels (hyper-parameter lists included)
MAX_CUSTOM_STEPS = 10**10       # --steps runs (preset "custom"); presets fix their own length
FUTURE_SLACK_SECONDS = 300      # clock skew allowed for ``created``
MAX_BINS = 10_000               # learning-curve bins (presets use 100-250)
_REL_TOL = 1e-7     # recomputed figures must agree to this relative tolerance
_ABS_TOL = 1e-12


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of a record (shipped in the package as ``record.schema.json``)."""
    text = resources.files("oscbench.benchmark").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


# -- the typed record -------------------------------------------------------------------------------
class TaskBlock(TypedDict):
    id: str
    version: int
    preset: str
    game: str | None
    budget_flops: int
    gamma: float
    target: str
    window_steps: int


class LearnerBlock(TypedDict):
    spec: str
    name: str
    hyperparameters: dict[str, Any]
    flops_per_step: int
    source_sha256: str | None


class RunRecord(TypedDict):
    """One run's result record, as JSON holds it (``record.schema.json`` is the same contract).
    Build one only with :func:`new_record`."""

    schema_version: int
    task: TaskBlock
    dataset: dict[str, Any]          # {id, sha256, sha256_kind, params, seed, path}
    learner: LearnerBlock
    seed: int
    steps: int
    status: str                      # "ok" | "failed"
    failure: dict[str, Any] | None   # {step, stage, message, log}
    metrics: dict[str, Any] | None   # see oscbench.benchmark.metrics.RunScorer.finalize
    curve: dict[str, Any] | None     # {bin_steps, mse, mse_full_return}
    audit: dict[str, Any]
    timing: dict[str, Any]
    provenance: dict[str, Any]
    created: str


def new_record(task: Any, *, preset: str, game: str | None, dataset: Mapping[str, Any], seed: int, steps: int,
               learner_spec: str, learner_name: str, hyperparameters: Mapping[str, Any], flops_per_step: int = 1,
               source_sha256: str | None = None, provenance_block: Mapping[str, Any] | None = None) -> RunRecord:
    """The one constructor of a run record: a run of ``task`` (a :class:`~oscbench.benchmark.tasks.Task`)
    not yet scored (status ``ok``, no metrics, audits ``not run``, ``created`` empty until it is written).
    ``provenance_block`` defaults to this process's :func:`provenance`."""
    return RunRecord(
        schema_version=SCHEMA_VERSION,
        task=TaskBlock(id=task.id, version=task.version, preset=preset, game=game, budget_flops=task.budget_flops,
                       gamma=task.gamma, target=task.target, window_steps=task.window_steps),
        dataset=dict(dataset),
        learner=LearnerBlock(spec=learner_spec, name=learner_name, hyperparameters=dict(hyperparameters),
                             flops_per_step=int(flops_per_step), source_sha256=source_sha256),
        seed=int(seed), steps=int(steps), status="ok", failure=None, metrics=None, curve=None,
        audit={"causality": "not run", "determinism": "not run", "prefix_steps": 0},
        timing={"wall_seconds": 0.0, "cpu_seconds": 0.0, "steps_per_cpu_second": None},
        provenance=dict(provenance_block) if provenance_block is not None else provenance(source_sha256),
        created="")


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

    from oscbench._version import __version__

    try:
        import numba
        numba_version: str | None = numba.__version__
    except ImportError:  # pragma: no cover - numba is a dependency
        numba_version = None
    return {
        "oscbench_version": __version__, "git_commit": git_commit(),
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba_version,
        "platform": platform.platform(), "machine": platform.machine(),
        "learner_source_sha256": learner_source_sha256, **compiled_target(),
    }


@lru_cache(maxsize=1)
def compiled_target() -> dict[str, str | None]:
    """The processor and the instruction set numba compiles for, for a record's ``provenance``.

    ``cpu``: the CPU model (``/proc/cpuinfo`` model name, else :func:`platform.processor`);
    ``compiled_target``: numba's target CPU name (``NUMBA_CPU_NAME`` if set, else LLVM's host CPU name,
    e.g. ``skylake-avx512``); ``cpu_features``: sha256 (16 hex digits) of the target's feature string
    (``NUMBA_CPU_FEATURES`` or LLVM's host features). Two runs on equal targets execute the same
    compiled instructions, so their records must agree bitwise (``oscbench leaderboard verify``).
    """
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    cpu = cpu or platform.processor() or None
    try:
        import llvmlite.binding as ll
        from numba.core import config

        name = getattr(config, "CPU_NAME", None) or ll.get_host_cpu_name()
        features = getattr(config, "CPU_FEATURES", None)
        if features is None:
            features = ll.get_host_cpu_features().flatten()
        digest = hashlib.sha256(features.encode()).hexdigest()[:16]
    except Exception:  # noqa: BLE001 - no numba/llvmlite: nothing compiled, no target to name
        name, digest = None, None
    return {"cpu": cpu, "compiled_target": name, "cpu_features": digest}


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
    """Load one record file within the limits (size, depth, no NaN; use :func:`validate_record` to check it)."""
    from oscbench import _safe_json

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise DataError(f"{path} is {size:,} bytes, more than a result record can be ({MAX_RECORD_BYTES:,}); "
                            "it is not an oscbench result record.")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"no result record at {path}; give the path of a .json record.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read result record {path} ({err}); give a readable .json record.") from None
    data = _safe_json.loads(text, path, max_bytes=MAX_RECORD_BYTES, max_depth=MAX_DEPTH)
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
    from oscbench.benchmark import metrics as M

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
    errors += _check_created(rec["created"])
    spec = _known_task(task)
    errors += _check_task(task, spec, steps, rec["curve"])
    fail = rec["failure"]
    if fail is not None and fail["step"] is not None and fail["step"] > steps:
        errors.append(f"failure.step {fail['step']} is beyond the run's {steps} steps")
    if rec["status"] != "ok" or errors:
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
    n = M.n_bins(steps, b)
    anchored_at_end = rec["schema_version"] >= 2
    if n > MAX_BINS:
        return errors + [f"{steps} steps in curve bins of {b} make {n:,} bins, more than {MAX_BINS:,}"]
    if window != steps and (window % b or (not anchored_at_end and steps % b)):
        errors.append(f"the scoring window of {window} steps is not whole curve bins of {b} steps, so the final "
                      "error cannot be checked against the curve; rerun with this oscbench")
    lengths = M.bin_lengths(steps, b, anchored_at_end=anchored_at_end)
    for key, life, final in (("mse", "lifetime_error", "final_error"),
                             ("mse_full_return", "lifetime_error_full_return", "final_error_full_return")):
        bins = curve.get(key)
        if bins is None:
            continue
        if len(bins) != n:
            errors.append(f"curve.{key} has {len(bins)} bins; {steps} steps in bins of {b} need {n}")
            continue
        mean = math.fsum(v * int(k) for v, k in zip(bins, lengths)) / steps
        if life in m and not _close(m[life], mean):
            errors.append(f"metrics.{life} {m[life]!r} differs from the curve's mean {mean!r}")
        if window == steps:   # the window is the whole run
            if final in m and not _close(m[final], mean):
                errors.append(f"metrics.{final} {m[final]!r} differs from the curve's mean {mean!r} (the window "
                              "is the whole run)")
        elif window % b == 0 and (anchored_at_end or steps % b == 0):   # the window is whole bins at the end
            k = window // b
            last = math.fsum(bins[-k:]) / k
            if final in m and not _close(m[final], last):
                errors.append(f"metrics.{final} {m[final]!r} differs from the mean of the curve's last "
                              f"{k} bins {last!r}")

    rw = m["running_window"]
    if len(rw["steps"]) != len(rw["mse"]):
        errors.append("metrics.running_window.steps and .mse differ in length")
    if any(s > steps or s < rw["window"] for s in rw["steps"]):
        errors.append("metrics.running_window.steps has entries outside [window, steps]")
    if spec is not None:
        want = M.running_log_steps(steps, spec.running_window, spec.running_every, spec.running_offset)
        if rw["window"] != spec.running_window or rw["steps"] != want:
            errors.append(f"metrics.running_window is not logged at the steps {task['id']} defines "
                          f"(window {spec.running_window}, every {spec.running_every})")
    if rw["steps"] and rw["steps"][-1] == steps and rw["window"] == window and not _close(rw["mse"][-1], m["final_error"]):
        errors.append("metrics.running_window ends on the scoring window but differs from final_error")

    cpu, rate = timing["cpu_seconds"], timing["steps_per_cpu_second"]
    if cpu > 0 and (rate is None or not _close(rate, steps / cpu)):
        errors.append(f"timing.steps_per_cpu_second {rate!r} is not steps / cpu_seconds = {steps / cpu!r}")
    return errors


def _check_created(created: str) -> list[str]:
    try:
        when = _dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return [f"created {created!r} is not an ISO 8601 time"]
    if when.tzinfo is None:
        return [f"created {created!r} has no time zone; write UTC with a Z suffix"]
    now = _dt.datetime.now(_dt.timezone.utc)
    if (when - now).total_seconds() > FUTURE_SLACK_SECONDS:
        return [f"created {created} is in the future (now {now.replace(microsecond=0).isoformat()})"]
    return []


def _known_task(task: Mapping[str, Any]) -> Any:
    """The shipped task definition of the record's task id and version, or None."""
    from oscbench.benchmark import tasks

    try:
        spec = tasks.get_task(task["id"])
    except Exception:  # unknown task id: nothing to compare with (a newer oscbench may know it)
        return None
    return spec if spec.version == task["version"] else None


def _check_task(task: Mapping[str, Any], spec: Any, steps: int, curve: Mapping[str, Any] | None) -> list[str]:
    """Compare a record's task block, length and curve bins with the shipped task definition."""
    if steps > MAX_CUSTOM_STEPS:
        return [f"steps {steps:,} is more than any run can have ({MAX_CUSTOM_STEPS:,})"]
    if spec is None:
        return []
    errors = []
    for key, want in (("budget_flops", spec.budget_flops), ("gamma", spec.gamma), ("target", spec.target),
                      ("window_steps", spec.window_steps)):
        if task.get(key) != want:
            errors.append(f"task.{key} is {task.get(key)!r} but {spec.id} defines {want!r}")
    preset = spec.presets.get(task["preset"])
    if task["preset"] != "custom" and preset is None:
        errors.append(f"task.preset {task['preset']!r} is not a preset of {spec.id} (nor 'custom')")
    elif preset is not None and steps != preset.steps:
        errors.append(f"steps {steps:,} is not the {preset.steps:,} steps of preset {preset.name}")
    if errors or curve is None:
        return errors
    length_of = preset or next(iter(spec.presets.values()))
    want_bins = spec.bin_steps(length_of if preset is not None else _custom(length_of), steps)
    if curve["bin_steps"] != want_bins:
        errors.append(f"curve.bin_steps {curve['bin_steps']} is not the {want_bins} {spec.id} uses for "
                      f"{steps:,} steps")
    return errors


def _custom(preset: Any) -> Any:
    from dataclasses import replace

    return replace(preset, name="custom", bin_steps=None)


@lru_cache(maxsize=1)
def _validator() -> Any:
    """The schema validator; JSON integers are ints only (``1e15`` or ``5.0`` is not a step count)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    strict = base.TYPE_CHECKER.redefine("integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    cls = jsonschema.validators.extend(base, type_checker=strict)
    return cls(schema(), format_checker=base.FORMAT_CHECKER)


def validate_record(record: str | Path | Mapping[str, Any], *, stream: bool = False) -> ValidationReport:
    """Check a record (a path or a dict): limits, the JSON Schema, then recompute what can be recomputed.

    Recomputed: nmse = final_error / target_variance (and for the full return), relative_error,
    lifetime error = the curve's step-weighted mean, final error = the mean of the curve's last
    window/bin_steps bins (the bins end at the run's end), the curve's bin count, the running log's
    steps, steps_per_cpu_second = steps / cpu_seconds, declared FLOPs within the budget, the task block,
    run length and bin width against the shipped task definition, a creation time not in the future.
    With ``stream``, also the stream-derived figures (:func:`stream_problems`; regenerates the stream).
    """
    from oscbench import _safe_json

    if isinstance(record, (str, Path)):
        source = str(record)
        try:
            data: Any = read_record(record)
        except DataError as err:
            return ValidationReport(source, [str(err)])
    else:
        source, data = "<record>", record
        try:
            _safe_json.check_values(data, source, max_depth=MAX_DEPTH)
        except DataError as err:
            return ValidationReport(source, [str(err)])
    problems = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if problems:
        return ValidationReport(source, [_describe(e) for e in problems])
    errors = _recompute(data)
    if stream and not errors:
        errors = stream_problems(data)
    return ValidationReport(source, errors)


@lru_cache(maxsize=64)
def stream_figures(task_id: str, game: str | None, seed: int, steps: int) -> dict[str, Any]:
    """What a run of ``task_id`` (``game``) with ``seed`` over ``steps`` steps sees, recomputed from the
    stream: its dataset block and the target's mean and variance (and the full return's variance) over
    the scoring window. Regenerates (trace patterning) or reads (Atari: the local dataset file) every
    step up to ``steps``; DataError when the stream is not available here."""
    import numpy as np

    from oscbench.benchmark import streams, tasks

    task = tasks.get_task(task_id)
    source = streams.open_stream(task, game=game, seed=seed, n_steps=steps)
    window = task.window(steps)
    target = np.empty(window)
    full = np.empty(window)
    w0 = steps - window
    for chunk in source.chunks(steps, 1 << 16):
        a = max(chunk.start, w0)
        end = chunk.start + len(chunk)
        if a < end:
            t = chunk.returns_truncated if task.target == "returns_truncated" else chunk.returns
            if t is None:
                raise DataError(f"the stream of {task_id} has no {task.target} array; regenerate it.")
            target[a - w0:end - w0] = t[a - chunk.start:]
            full[a - w0:end - w0] = chunk.returns[a - chunk.start:]
    return {"dataset": dict(source.dataset), "target_mean": float(target.mean()),
            "target_variance": float(target.var()), "target_variance_full_return": float(full.var())}


def stream_problems(rec: Mapping[str, Any]) -> list[str]:
    """Stream-derived figures of an ok record (target mean and variance over the window, the full
    return's variance, the dataset id, parameters, seed and digest) against the stream regenerated for
    its task, game, seed and length. Records whose stream is not available here (an Atari dataset
    not downloaded) are not checked by this function: the leaderboard checks their dataset digest
    against the registry instead."""
    if rec.get("status") != "ok" or _known_task(rec["task"]) is None:
        return []
    task = _known_task(rec["task"])
    seed = rec["seed"] if task.seed_policy == "shared" else 0
    try:
        want = stream_figures(task.id, rec["task"].get("game"), seed, rec["steps"])
    except DataError:
        return []
    errors = []
    m, ds, wds = rec["metrics"], rec["dataset"], want["dataset"]
    for key in ("target_mean", "target_variance", "target_variance_full_return"):
        if key in m and not _close(m[key], want[key]):
            errors.append(f"metrics.{key} {m[key]!r} is not the stream's {want[key]!r} (recomputed over the window)")
    wrong = [k for k in ("id", "params", "seed") if ds.get(k) != wds.get(k)]
    if wrong:   # another stream: its digest differs too, name the first cause only
        errors.append(f"dataset.{wrong[0]} {ds.get(wrong[0])!r} is not the stream's {wds.get(wrong[0])!r}")
    elif ds.get("sha256_kind") == wds.get("sha256_kind") and ds["sha256"] != wds["sha256"]:
        errors.append(f"dataset.sha256 {ds['sha256'][:12]}… is not the recomputed stream digest {wds['sha256'][:12]}…")
    return errors


def _describe(err: Any) -> str:
    if err.context:   # oneOf (null | object): name the deepest problem, not "not valid under any schema"
        err = max(err.context, key=lambda e: len(e.absolute_path))
    where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
    msg = err.message if len(err.message) < 200 else f"breaks the schema's {err.validator} {err.validator_value!r}"[:200]
    return f"{where}: {msg}"
