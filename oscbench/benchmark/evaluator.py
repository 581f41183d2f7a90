"""The standard evaluator: any learner in, a comparable score with its provenance out.

For each requested (game, seed) of a task and preset:

1. build the stream of the run (:func:`oscbench.benchmark.tasks.open_stream`; trace patterning: the
   stream of seed s, Atari: the fixed recorded pass, looped);
2. refuse, before anything runs, a learner whose declared ``flops_per_step()`` exceeds the task's
   budget (:class:`~oscbench.errors.ConfigError` naming both numbers);
3. audit causality and determinism on the stream's prefix (:mod:`oscbench.benchmark.audit`); a learner
   that fails is recorded as failed and not scored;
4. run a fresh learner over every step (its ``run`` fast path when it has one), scoring
   (V_t − G_t)² against the task target on every step (:class:`~oscbench.benchmark.metrics.RunScorer`);
5. write one result record per run (:mod:`oscbench.benchmark.records`), atomically, as soon as the
   run finishes -- so an interrupted evaluation keeps every finished run.

A learner that raises, returns NaN/inf or a wrong shape fails only its own run: the record says
``status: failed`` with the step, the message and a ``.log`` file (traceback) beside it; the other
runs go on.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from oscbench.benchmark import loading, metrics, records, tasks
from oscbench.benchmark.audit import _flops_value, run_audit
from oscbench.benchmark.guard import LearnerFault, call, run_checked
from oscbench.benchmark.seeds import resolve_seeds
from oscbench.errors import ConfigError, DataError, OscbenchError

CHUNK_STEPS = 32768   # steps handed to the learner per call of run()


@dataclass
class EvaluationResults:
    """What :func:`evaluate` returns: one record per run (dicts in the record schema) and their files."""

    task: str
    preset: str
    records: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)   # run name -> traceback / message log text

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] != "ok"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> list[dict[str, Any]]:
        """Per learner (and game): mean and 95% bootstrap CI over seeds (:func:`metrics.aggregate`)."""
        return metrics.aggregate(self.records)

    def suite(self) -> list[dict[str, Any]]:
        """Across games (Atari suite): IQM of NMSE with a stratified bootstrap CI."""
        return metrics.suite_summary(self.records)

    def table(self) -> str:
        return format_table(self.summary())

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "preset": self.preset, "ok": self.ok, "summary": self.summary(),
                "suite": self.suite(), "records": [str(p) for p in self.paths],
                "failed": [run_name(r) for r in self.failed]}


def run_name(record: Mapping[str, Any]) -> str:
    """``<learner> on <task>[/<game>] seed <s>``."""
    t = record["task"]
    game = f"/{t['game']}" if t.get("game") else ""
    return f"{record['learner']['name']} on {t['id']}{game} seed {record['seed']}"


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def format_table(summary: list[dict[str, Any]]) -> str:
    """The comparison table printed by ``oscbench evaluate`` and the quickstart."""
    w = max([14] + [len(g["learner"]) + 2 for g in summary])
    head = (f"{'learner':<{w}}{'task':<22}{'seeds':>6}  {'final error':>11}  {'NMSE [95% CI]':<26}"
            f"{'lifetime':>10}{'FLOPs/step':>12}{'steps/CPU-s':>13}")
    rows = [head, "-" * len(head)]
    for g in summary:
        task = g["task"] + (f"/{g['game']}" if g["game"] else "")
        n = g["nmse"]
        ci = f"[{_fmt(n['ci_low'], 4)}, {_fmt(n['ci_high'], 4)}]" if n["ci_low"] is not None else ""
        seeds = f"{len(g['seeds'])}" + (f"+{len(g['failed_seeds'])}F" if g["failed_seeds"] else "")
        rate = g["steps_per_cpu_second"]["mean"]
        rows.append(f"{g['learner']:<{w}}{task:<22}{seeds:>6}  {_fmt(g['final_error']['mean']):>11}  "
                    f"{(_fmt(n['mean'], 4) + ' ' + ci):<26}{_fmt(g['lifetime_error']['mean']):>10}"
                    f"{g['flops_per_step']:>12,}{(f'{rate:,.0f}' if rate else '-'):>13}")
    return "\n".join(rows)


def _pick_dataset(dataset: Any, task: tasks.Task, game: str | None, seed: int) -> Any:
    if dataset is None or isinstance(dataset, (str, Path)):
        return dataset
    key = game if task.games else seed
    if key not in dataset:
        raise ConfigError(f"no dataset file given for {'game ' + str(game) if task.games else 'seed ' + str(seed)}; "
                          "give one file per run.")
    return dataset[key]


def _reference(preset: tasks.Preset, steps: int, game: str | None) -> float | None:
    ref = preset.reference
    if not ref or steps != preset.steps:
        return None
    if game is not None:
        v = (ref.get("games") or {}).get(game)
        return float(v) if v else None
    v = ref.get("final_error")
    return float(v) if v else None


def _write_log(out_dir: Path | None, stem: str, text: str) -> str | None:
    if out_dir is None:
        return None
    from oscbench._atomic import write_text_atomic

    path = write_text_atomic(out_dir / f"{stem}.log", text)
    return path.name


def evaluate(learner: str | Callable[..., Any], task: str | None = "trace-patterning-v1", preset: str = "smoke",
             seeds: str | Iterable[int] | None = None, hyperparameters: Mapping[str, Any] | None = None,
             out_dir: str | Path | None = None, n_steps: int | None = None, progress: bool = True,
             dataset: str | Path | Mapping[Any, str | Path] | None = None,
             chunk_steps: int = CHUNK_STEPS, budget: int | None = None, *, n_seeds: int | None = None,
             name: str | None = None, stream_seeds: Mapping[int, int] | None = None,
             stream_offset: int = 0) -> EvaluationResults:
    """Evaluate a learner on a standard task; return the result records (and write them to ``out_dir``).

    Args:
        learner: a baseline name (``hybrid``, ``columnar``, ``constructive``, ``tbptt``), a spec
            ``path/to/file.py[:factory]`` or ``package.module:factory``, or a factory callable
            ``make_learner(n_features, *, seed, **hyperparameters)``.
        task: ``trace-patterning-v1``, ``atari-v1/<Game>`` or ``atari-v1`` (every game of the suite).
        preset: run length: ``smoke``, ``short`` or ``full`` (see ``oscbench tasks show``).
        seeds: which seeds: a list (``[0, 3, 7]``) or the CLI's text (``"0-4"``, ``"0,3,7"``, ``"5"``);
            a bare integer is refused (see :mod:`oscbench.benchmark.seeds`).
        n_seeds: how many seeds (seeds 0..n−1) instead; default: the preset's number of seeds.
        name: the learner's name in records and on the board (default: the baseline, the file's stem,
            or a callable's function/module name).
        hyperparameters: passed to the factory (baselines: on top of their reference config).
        out_dir: directory for the records (``<stem>.json``) and failure logs (``<stem>.log``);
            None writes nothing.
        n_steps: override the preset's run length (the record's preset then reads ``custom``).
        progress: show tqdm progress bars (steps, steps/s, running error).
        dataset: read the stream from this dataset file (or a mapping seed -> file for trace
            patterning, game -> file for Atari) instead of generating/locating it. With ``task=None``
            the file is a *custom stream* (:func:`oscbench.benchmark.tasks.custom_task`: γ from the file,
            the full return as target, the whole file once unless ``n_steps``); its records have the
            task id ``custom-v1`` and are never leaderboard-eligible.
        budget: FLOPs per step allowed on a custom stream (default: no budget); standard tasks fix theirs.
        stream_seeds: learner seed -> stream seed, for tasks whose stream is generated per seed
            (trace patterning): run the learner seeded with s on the stream of ``stream_seeds[s]``
            instead of the stream of s (held-out verification; the record's ``dataset.seed`` names
            the stream seed). Default: stream seed = learner seed.
        stream_offset: recorded (looped) streams: start at this stored step instead of step 0.

    Raises:
        ConfigError: unknown task, preset or learner, rejected hyper-parameters, or a declared
            FLOP count over the task's budget (nothing runs then).
    """
    if task is None and dataset is not None:     # a custom stream: the file as it is
        if not isinstance(dataset, (str, Path)):
            raise ConfigError("a custom stream is one dataset file; give --task to map seeds or games to files.")
        games: list[str | None] = [None]
        t, preset = tasks.custom_task(dataset, budget), tasks.CUSTOM_PRESET
    elif budget is not None:
        raise ConfigError("--budget applies to custom streams only (--dataset FILE without --task); "
                          "a standard task fixes its own budget.")
    else:
        t, games = tasks.resolve(task or "trace-patterning-v1")
    task = task or t.id
    p = t.preset(preset)
    steps = int(n_steps) if n_steps is not None else p.steps
    if steps <= 0:
        raise ConfigError(f"--steps {steps} must be positive.")
    preset_label = p.name if steps == p.steps else "custom"
    seed_list = resolve_seeds(seeds, n_seeds, default=p.seeds)
    loaded = loading.load_learner(learner, name=name)
    # a baseline on a custom stream starts from its Atari configuration (the general-purpose one)
    hp = loaded.hyperparameters("atari" if t.kind == "custom" else t.kind, steps, hyperparameters or {})
    try:
        json.dumps(hp, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"hyper-parameters must be JSON numbers, strings, booleans or lists ({err}).") from None
    out = Path(out_dir).expanduser() if out_dir is not None else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OscbenchError(f"cannot create the output directory {out} ({err.strerror}); choose another --out.") from None

    results = EvaluationResults(task, preset_label)
    window = t.window(steps)
    bin_steps = t.bin_steps(p, steps)
    budget_checked = False
    # fixed (recorded) streams: open and verify every game's file before anything runs
    if stream_seeds is not None and (t.seed_policy != "shared" or set(stream_seeds) != set(seed_list)):
        raise ConfigError("stream_seeds must map every run seed to a stream seed, for a task whose stream "
                          f"is generated per seed ({t.id} has seed policy {t.seed_policy!r}).")
    fixed = {g: tasks.open_stream(t, game=g, seed=0, n_steps=steps, dataset=_pick_dataset(dataset, t, g, 0),
                                  offset=stream_offset)
             for g in games} if t.seed_policy == "learner-only" else {}
    for game in games:
        for seed in seed_list:
            if t.seed_policy == "shared":
                stream_seed = int(stream_seeds[seed]) if stream_seeds is not None else seed
                source = tasks.open_stream(t, game=game, seed=stream_seed, n_steps=steps,
                                           dataset=_pick_dataset(dataset, t, game, stream_seed),
                                           offset=stream_offset)
            else:
                source = fixed[game]

            def build(seed: int = seed, source: tasks.StreamSource = source) -> Any:
                return loaded.build(source.n_features, seed, hp)

            if not budget_checked:   # refuse before anything runs
                try:
                    first = build()
                except OscbenchError:
                    raise
                except Exception as err:  # noqa: BLE001
                    raise ConfigError(f"learner {loaded.name} could not be built: {type(err).__name__}: {err}; "
                                      "fix the factory or its hyper-parameters.") from None
                flops, why = _flops_value(first)
                if flops is None:
                    raise ConfigError(f"learner {loaded.name}: {why}; declare the FLOPs of one step.")
                if t.over_budget(flops):
                    raise ConfigError(f"learner {loaded.name} declares {flops:,} FLOPs/step, over the budget of "
                                      f"{t.budget_flops:,} FLOPs/step of {t.id}; shrink it to fit.")
                budget_checked = True
            rec = _run_one(t, game, preset_label, p, steps, window, bin_steps, seed, loaded, hp, build, source,
                           out, results, progress, chunk_steps)
            results.records.append(rec)
            if out is not None:
                results.paths.append(records.write_record(rec, out))
    return results


def _run_one(t: tasks.Task, game: str | None, preset_label: str, p: tasks.Preset, steps: int, window: int,
             bin_steps: int, seed: int, loaded: loading.LoadedLearner, hp: dict[str, Any],
             build: Callable[[], Any], source: tasks.StreamSource, out: Path | None,
             results: EvaluationResults, progress: bool, chunk_steps: int) -> dict[str, Any]:
    ref = _reference(p, steps, game)
    record: Any = records.new_record(t, preset=preset_label, game=game, dataset=source.dataset, seed=seed,
                                     steps=steps, learner_spec=loaded.spec, learner_name=loaded.name,
                                     hyperparameters=hp, source_sha256=loaded.source_sha256)
    stem = records.record_stem(record)
    name = run_name(record)

    def fail(stage: str, step: int | None, message: str, log: str | None) -> dict[str, Any]:
        text = f"{name}\nstage: {stage}\nstep: {step}\n{message}\n" + (f"\n{log}" if log else "")
        results.logs[name] = text
        record["status"] = "failed"
        record["failure"] = {"step": step, "stage": stage, "message": message, "log": _write_log(out, stem, text)}
        record["metrics"] = record["curve"] = None
        record["created"] = records.now_iso()
        if progress:
            tqdm.write(f"FAILED {name}: {message}")
        return record

    # the declared cost of this run's learner
    try:
        learner = call("the factory", 0, "building the learner", build)
    except LearnerFault as f:
        return fail("load", None, f.message, f.log)
    flops, why = _flops_value(learner)
    if flops is None or t.over_budget(flops):
        return fail("load", None, why or f"declares {flops:,} FLOPs/step, over the budget of {t.budget_flops:,}", None)
    record["learner"]["flops_per_step"] = flops

    # causality and determinism audit on the prefix
    n_audit = min(t.audit_prefix_steps, steps)
    try:
        prefix = next(iter(source.chunks(n_audit, n_audit)))
        _check_features(prefix, source)
        audit = run_audit(build, prefix, max_chunk=t.audit_max_chunk)
    except LearnerFault as f:
        record["audit"] = {"causality": "not run", "determinism": "not run", "prefix_steps": n_audit}
        return fail("audit", f.step, f.message, f.log)
    record["audit"] = audit.to_dict()
    record["timing"]["audit_cpu_seconds"] = audit.cpu_seconds
    if not audit.passed:
        return fail("audit", audit.first_mismatch_step, audit.message, None)

    # the scored run
    scorer = metrics.RunScorer(steps, window, bin_steps, t.running_window, t.running_every, t.running_offset)
    bar = tqdm(total=steps, unit="step", unit_scale=True, desc=name, disable=not progress, dynamic_ncols=True,
               leave=True)
    c0, w0 = time.process_time(), time.perf_counter()
    learner_cpu = 0.0
    try:
        for chunk in source.chunks(steps, chunk_steps):
            target = chunk.returns_truncated if t.target == "returns_truncated" else chunk.returns
            if target is None:
                raise DataError(f"dataset {source.dataset['id']} has no {t.target} array, which {t.id} scores; "
                                "regenerate the dataset.")
            l0 = time.process_time()
            preds = run_checked(learner, chunk.start, chunk.observations, chunk.cumulants, chunk.continuations)
            learner_cpu += time.process_time() - l0
            err = scorer.update(chunk.start, preds, target, chunk.returns)
            bar.update(len(chunk))
            bar.set_postfix_str(f"mse {err.mean():.4g} (run {scorer.running_error:.4g})", refresh=False)
    except LearnerFault as f:
        record["timing"].update(wall_seconds=time.perf_counter() - w0, cpu_seconds=learner_cpu,
                                total_cpu_seconds=time.process_time() - c0)
        bar.close()
        return fail("run", f.step, f.message, f.log)
    finally:
        bar.close()
    total, wall = time.process_time() - c0, time.perf_counter() - w0
    record["metrics"], record["curve"] = scorer.finalize(ref)
    record["timing"].update(wall_seconds=wall, cpu_seconds=learner_cpu, total_cpu_seconds=total,
                            steps_per_cpu_second=steps / learner_cpu if learner_cpu > 0 else None)
    record["created"] = records.now_iso()
    return record


def _check_features(chunk: Any, source: tasks.StreamSource) -> None:
    if chunk.observations.shape[1] != source.n_features:
        raise DataError(f"the stream yields {chunk.observations.shape[1]} features but declares {source.n_features}; "
                        "regenerate the dataset.")
