"""The standard evaluator: any learner in, a comparable score with its provenance out.

:func:`plan` turns an evaluation into one picklable :class:`RunSpec` per (game, seed), after every
up-front refusal (unknown task, preset or learner, bad hyper-parameters, a declared FLOP count over
the task's budget: nothing runs then). :func:`run_one` executes one spec anywhere (this process, a
Dask worker); :func:`evaluate` plans and runs the specs one after another. One run:

1. open the run's stream (:func:`oscbench.benchmark.streams.open_stream`; trace patterning: the stream
   of seed s, Atari: the fixed recorded pass, looped);
2. start the learner's host (:mod:`oscbench.benchmark.isolation`): by default a child process that
   sees only observations, cumulants and continuations; targets and scoring stay here;
3. audit causality and determinism on the stream's prefix (:mod:`oscbench.benchmark.audit`);
4. run the learner over every step in chunks, scoring (V_t − G_t)² against the task target on every
   step (:class:`~oscbench.benchmark.metrics.RunScorer`), with the whole-run causality check on
   snapshots taken before every chunk (:class:`~oscbench.benchmark.audit.WholeRunCheck`) and a
   checkpoint every ``checkpoint_every`` steps (:mod:`oscbench.benchmark.checkpoint`);
5. write one result record per run (:mod:`oscbench.benchmark.records`), atomically, as soon as the
   run finishes -- so an interrupted evaluation keeps every finished run and checkpoint, and the same
   command continues it.

A learner that raises, exits, is killed, hangs, runs out of memory, looks ahead or returns bad
predictions fails only its own run: the record says ``status: failed`` with the stage, the step, the
message and a ``.log`` file beside it; the other runs go on. See docs/isolation.md.
"""
from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from oscbench.benchmark import checkpoint, isolation, loading, metrics, records, streams, tasks
from oscbench.benchmark.audit import WholeRunCheck, run_audit
from oscbench.benchmark.guard import LearnerFault, check_predictions
from oscbench.benchmark.seeds import resolve_seeds
from oscbench.errors import ConfigError, DataError, OscbenchError

CHUNK_STEPS = 4096          # steps handed to the learner per call of run() (snapshotted before each)
LONG_RUN_CHUNK_STEPS = 16384   # ... in runs of LONG_RUN_STEPS or more (fewer snapshots; replays stay ~1%)
LONG_RUN_STEPS = 2_000_000


def default_chunk_steps(steps: int) -> int:
    """Chunk size of a run of ``steps``: small chunks keep the whole-run check's replays cheap in short
    runs, larger ones keep the per-chunk snapshot cheap in long runs (docs/isolation.md)."""
    return LONG_RUN_CHUNK_STEPS if steps >= LONG_RUN_STEPS else CHUNK_STEPS
ProgressFn = Callable[[int, float], None]   # progress(steps just scored, running error)


@dataclass
class EvaluationResults:
    """What :func:`evaluate` returns: one record per run (dicts in the record schema) and their files."""

    task: str
    preset: str
    records: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)   # run name -> traceback / message log text
    execution: dict[str, Any] = field(default_factory=dict)  # workers, wall seconds, steps/s (run_batch)

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
                "failed": [run_name(r) for r in self.failed], "execution": self.execution}


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


@dataclass(frozen=True)
class RunSpec:
    """One run, everything needed to execute it anywhere (picklable; the unit of work of :func:`run_one`).

    ``learner`` is the spec string (baseline name, ``file.py[:factory]``, ``module:factory``) or, for a
    factory callable, ``None`` with the resolved learner (factory and its source digest, as the
    submitting process saw them) cloudpickled in ``learner_pickle`` (so factories defined in
    ``__main__`` or as closures travel too). ``task`` is the task id without game (e.g.
    ``atari-v1``), ``preset`` the preset's name and ``preset_label`` what the record says (``custom``
    when ``steps`` overrides the preset's length).
    """

    learner: str | None
    task: str
    game: str | None
    preset: str
    preset_label: str
    steps: int
    seed: int
    hyperparameters: Mapping[str, Any]
    dataset: str | None
    out: str | None
    chunk_steps: int = CHUNK_STEPS
    learner_pickle: bytes | None = field(default=None, repr=False)
    isolate: bool = True
    timeout: float | None = isolation.DEFAULT_TIMEOUT
    memory_limit: int | None = isolation.DEFAULT_MEMORY_LIMIT
    learner_object: Any = field(default=None, repr=False, compare=False)   # unisolated callables only (unpickled)
    checkpoint_every: int | None = checkpoint.DEFAULT_EVERY
    resume: bool = True   # keep a finished run / continue a checkpoint of the same key found under ``out``
    name: str | None = None   # the learner's name in records when the user chose one (``--name``)
    stream_seed: int | None = None   # the stream's seed when it differs from the learner's (held-out verification)
    stream_offset: int = 0   # recorded (looped) streams: the stored step the run starts at
    budget: int | None = None   # custom streams only: FLOPs per step allowed (None: no budget)

    def task_object(self) -> tasks.Task:
        """The run's task (a custom stream's is rebuilt from its file, where the run executes)."""
        if self.task == tasks.CUSTOM_TASK_ID:
            assert self.dataset is not None
            return tasks.custom_task(self.dataset, self.budget)
        return tasks.get_task(self.task)

    def fetch_data(self, t: tasks.Task) -> None:
        """Where the run executes (a Dask worker with a data directory of its own): download and verify
        the recorded dataset of an Atari run when it is not there yet ($OSCBENCH_MIRROR, else upstream;
        the registry's digests decide, as for any download). Generated streams need nothing."""
        if t.kind != "atari" or self.dataset is not None:
            return
        from oscbench.datasets import local, paths

        did = t.dataset_id.format(game=t.check_game(self.game))
        if not paths.dataset_path(did).is_file():
            local.download(did, progress=False)

    def open_stream(self, t: tasks.Task) -> streams.StreamSource:
        """The stream this run scores on."""
        seed = 0 if t.seed_policy == "learner-only" else (self.seed if self.stream_seed is None else self.stream_seed)
        return streams.open_stream(t, game=self.game, seed=seed, n_steps=self.steps, dataset=self.dataset,
                                 offset=self.stream_offset)

    @property
    def limits(self) -> isolation.Limits:
        return isolation.Limits(self.timeout, self.memory_limit)

    def load(self) -> loading.LoadedLearner:
        """The learner, resolved in this process."""
        if self.learner_object is not None:
            assert isinstance(self.learner_object, loading.LoadedLearner)
            return self.learner_object
        if self.learner_pickle is not None:
            import cloudpickle  # type: ignore[import-untyped]

            loaded = cloudpickle.loads(self.learner_pickle)
            assert isinstance(loaded, loading.LoadedLearner)
            return loaded
        assert self.learner is not None
        if self.isolate:
            return loading.locate(self.learner, name=self.name)
        return loading.load_learner(self.learner, name=self.name)


def pickle_learner(loaded: loading.LoadedLearner) -> bytes:
    """A resolved learner as bytes (cloudpickle: closures and ``__main__`` factories included)."""
    import cloudpickle  # type: ignore[import-untyped]

    try:
        return cloudpickle.dumps(loaded)
    except Exception as err:  # noqa: BLE001 - anything a factory may hold
        name = loaded.name
        raise ConfigError(f"the learner factory {name} cannot be pickled ({type(err).__name__}: {err}); "
                          "pass isolate=False (oscbench evaluate --no-isolate) to run it in this process.") from None


@dataclass
class RunOutcome:
    """What one run gives: its record, the failure log text (None when it did not fail), and whether
    the record is an earlier one kept (``reused``: a finished run of the same key under ``out``)."""

    record: dict[str, Any]
    log: str | None = None
    reused: bool = False


def evaluate(learner: str | Callable[..., Any], task: str | None = "trace-patterning-v1", preset: str = "smoke",
             seeds: str | Iterable[int] | None = None, hyperparameters: Mapping[str, Any] | None = None,
             out_dir: str | Path | None = None, n_steps: int | None = None, progress: bool | ProgressFn = True,
             dataset: str | Path | Mapping[Any, str | Path] | None = None,
             chunk_steps: int | None = None, *, budget: int | None = None,
             stream_seeds: Mapping[int, int] | None = None, stream_offset: int = 0,
             n_seeds: int | None = None, name: str | None = None,
             isolate: bool = True, timeout: float | None = isolation.DEFAULT_TIMEOUT,
             memory_limit: int | None = isolation.DEFAULT_MEMORY_LIMIT,
             checkpoint_every: int | None = checkpoint.DEFAULT_EVERY, fresh: bool = False,
             workers: int = 1, scheduler: str | None = None, client: Any = None,
             retries: int | None = None) -> EvaluationResults:
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
        progress: show the progress bar (runs done / running / failed, steps/s, ETA); or a callable
            ``progress(n_steps, running_error)`` told the steps every run scores (no bar; on a cluster it
            is called from the client's event thread).
        dataset: read the stream from this dataset file (or a mapping seed -> file for trace
            patterning, game -> file for Atari) instead of generating/locating it. With ``task=None``
            the file is a *custom stream* (:func:`oscbench.benchmark.tasks.custom_task`: γ from the file,
            the full return as target, the whole file once unless ``n_steps``); its records have the
            task id ``custom-v1`` and are never leaderboard-eligible.
        chunk_steps: steps handed to the learner per call (and per causality-check snapshot);
            default :func:`default_chunk_steps`.
        budget: FLOPs per step allowed on a custom stream (default: no budget); standard tasks fix theirs.
        stream_seeds: learner seed -> stream seed, for tasks whose stream is generated per seed
            (trace patterning): run the learner seeded with s on the stream of ``stream_seeds[s]``
            instead of the stream of s (held-out verification; the record's ``dataset.seed`` names
            the stream seed). Default: stream seed = learner seed.
        stream_offset: recorded (looped) streams: start at this stored step instead of step 0.
        isolate: run each learner in its own child process (:mod:`oscbench.benchmark.isolation`);
            False runs it in this process (debugging; factories that cannot be pickled).
        timeout: seconds an isolated learner may take to answer one request (a chunk); None: no limit.
        memory_limit: bytes of address space of an isolated learner process; None: no limit.
        checkpoint_every: steps between checkpoints under ``out_dir`` (rounded up to whole chunks;
            None or 0: none). See :mod:`oscbench.benchmark.checkpoint`.
        fresh: ignore finished records and checkpoints under ``out_dir`` and run everything again
            (by default, runs finished with the same code, hyper-parameters and data are kept and
            checkpointed ones continued).
        workers: 1 runs one run after another in this process; N > 1 starts a local Dask cluster
            of N worker processes for the evaluation (:mod:`oscbench.benchmark.distributed`).
        scheduler: address of an existing Dask scheduler (``tcp://HOST:PORT``) to run on instead.
        client: a ``distributed.Client`` to run on instead (left open).
        retries: how many times a run whose worker died is tried again (local cluster; default 2).

    Raises:
        ConfigError: unknown task, preset or learner, rejected hyper-parameters, or a declared
            FLOP count over the task's budget (nothing runs then).
    """
    specs = plan(learner, task=task, preset=preset, seeds=seeds, hyperparameters=hyperparameters,
                 out_dir=out_dir, n_steps=n_steps, dataset=dataset, chunk_steps=chunk_steps, n_seeds=n_seeds,
                 name=name, isolate=isolate, timeout=timeout, memory_limit=memory_limit,
                 checkpoint_every=checkpoint_every, fresh=fresh, budget=budget, stream_seeds=stream_seeds,
                 stream_offset=stream_offset)
    results = EvaluationResults(task or specs[0].task, specs[0].preset_label)
    for spec, outcome in zip(specs, run_batch(specs, workers=workers, scheduler=scheduler, client=client,
                                              retries=retries, progress=progress, results=results)):
        results.records.append(outcome.record)
        if outcome.log is not None:
            results.logs[run_name(outcome.record)] = outcome.log
        if spec.out is not None:
            results.paths.append(Path(spec.out) / f"{records.record_stem(outcome.record)}.json")
    return results


def run_batch(specs: list[RunSpec], *, workers: int = 1, scheduler: str | None = None, client: Any = None,
              retries: int | None = None, progress: bool | ProgressFn = True,
              results: EvaluationResults | None = None) -> list[RunOutcome]:
    """Execute ``specs`` where asked (:mod:`oscbench.benchmark.distributed`) under one progress bar.

    The outcomes come back in the order of ``specs``; ``results.execution`` gets where and how fast.
    """
    from oscbench.benchmark import distributed
    from oscbench.benchmark.progress import ProgressView

    listener = progress if callable(progress) else None
    show = progress is True
    note = tqdm.write if show else None
    with distributed.connect(workers, scheduler, client, note=note,
                             retries=distributed.DEFAULT_RETRIES if retries is None else retries) as c:
        expected = specs[0].load().source_sha256 if c is not None and specs[0].learner is not None else None
        with ProgressView(len(specs), max(s.steps for s in specs), enabled=show,
                          dashboard=distributed.dashboard_link(c), listener=listener) as view:
            outcomes = distributed.run_specs(specs, client=c, view=view, learner_sha256=expected)
        if results is not None:
            results.execution = {"workers": workers if c is None or (client is None and scheduler is None)
                                 else len(c.scheduler_info().get("workers", {})),
                                 "scheduler": scheduler, **view.summary().to_dict()}
    return outcomes


def plan(learner: str | Callable[..., Any], task: str | None = "trace-patterning-v1", preset: str = "smoke",
         seeds: str | Iterable[int] | None = None, hyperparameters: Mapping[str, Any] | None = None,
         out_dir: str | Path | None = None, n_steps: int | None = None,
         dataset: str | Path | Mapping[Any, str | Path] | None = None,
         chunk_steps: int | None = None, *, n_seeds: int | None = None, name: str | None = None,
         isolate: bool = True, timeout: float | None = isolation.DEFAULT_TIMEOUT,
         memory_limit: int | None = isolation.DEFAULT_MEMORY_LIMIT,
         checkpoint_every: int | None = checkpoint.DEFAULT_EVERY, fresh: bool = False,
         budget: int | None = None, stream_seeds: Mapping[int, int] | None = None,
         stream_offset: int = 0) -> list[RunSpec]:
    """The runs of an evaluation (arguments as :func:`evaluate`), after every up-front refusal.

    Refuses (ConfigError, nothing runs) an unknown task/preset/learner, bad hyper-parameters, an
    uncreatable output directory, a missing or altered fixed-stream dataset file, and a learner whose
    declared FLOPs exceed the task's budget.
    """
    if task is None and dataset is not None:     # a custom stream: the file as it is
        if not isinstance(dataset, (str, Path)):
            raise ConfigError("a custom stream is one dataset file; give --task to map seeds or games to files.")
        games: list[str | None] = [None]
        t, preset = tasks.custom_task(dataset, budget), tasks.CUSTOM_PRESET
        dataset = str(Path(dataset).expanduser().resolve())
    elif budget is not None:
        raise ConfigError("--budget applies to custom streams only (--dataset FILE without --task); "
                          "a standard task fixes its own budget.")
    else:
        t, games = tasks.resolve(task or "trace-patterning-v1")
    p = t.preset(preset)
    steps = int(n_steps) if n_steps is not None else p.steps
    if steps <= 0:
        raise ConfigError(f"--steps {steps} must be positive.")
    if chunk_steps is None:
        chunk_steps = default_chunk_steps(steps)
    if chunk_steps <= 0:
        raise ConfigError(f"chunk_steps={chunk_steps} must be positive.")
    preset_label = p.name if steps == p.steps else "custom"
    seed_list = resolve_seeds(seeds, n_seeds, default=p.seeds)
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"--timeout {timeout} must be a positive number of seconds.")
    if memory_limit is not None and memory_limit <= 0:
        raise ConfigError(f"--memory-limit {memory_limit} must be a positive number of bytes.")
    if checkpoint_every is not None and checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every {checkpoint_every} must be a number of steps >= 0 (0: no checkpoints).")
    # isolated, a learner file's code never runs in this process (it could patch the scoring)
    loaded = loading.locate(learner, name=name) if isolate else loading.load_learner(learner, name=name)
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

    if stream_seeds is not None and (t.seed_policy != "shared" or set(stream_seeds) != set(seed_list)):
        raise ConfigError("stream_seeds must map every run seed to a stream seed, for a task whose stream "
                          f"is generated per seed ({t.id} has seed policy {t.seed_policy!r}).")

    def stream_seed(seed: int) -> int | None:
        return None if stream_seeds is None else int(stream_seeds[seed])

    # fixed (recorded) streams: open and verify every game's file before anything runs
    first_source = None
    for g in (games if t.seed_policy == "learner-only" else []):
        first_source = streams.open_stream(t, game=g, seed=0, n_steps=steps, dataset=_pick_dataset(dataset, t, g, 0),
                                         offset=stream_offset)
    if first_source is None:
        s0 = stream_seed(seed_list[0])
        s0 = seed_list[0] if s0 is None else s0
        first_source = streams.open_stream(t, game=games[0], seed=s0, n_steps=steps,
                                         dataset=_pick_dataset(dataset, t, games[0], s0), offset=stream_offset)
    if isinstance(learner, str):
        learner_spec, blob, obj = learner, None, None
    else:
        learner_spec, blob, obj = None, (pickle_learner(loaded) if isolate else None), (None if isolate else loaded)
    probe = RunSpec(learner_spec, tasks.split_task_id(t.id)[0], games[0], p.name, preset_label, steps, seed_list[0],
                    hp, None, None, chunk_steps, learner_pickle=blob, isolate=isolate, timeout=timeout,
                    memory_limit=memory_limit, learner_object=obj)
    _refuse_over_budget(probe, loaded, t, first_source.n_features)

    task_id = tasks.split_task_id(t.id)[0]
    specs = []
    for game in games:
        for seed in seed_list:
            ss = stream_seed(seed)
            ds = _pick_dataset(dataset, t, game, 0 if t.seed_policy == "learner-only" else (seed if ss is None else ss))
            specs.append(RunSpec(learner_spec, task_id, game, p.name, preset_label, steps, seed, hp,
                                 None if ds is None else str(ds), None if out is None else str(out),
                                 chunk_steps, learner_pickle=blob, isolate=isolate, timeout=timeout,
                                 memory_limit=memory_limit, learner_object=obj,
                                 checkpoint_every=checkpoint_every, resume=not fresh, name=name,
                                 stream_seed=ss, stream_offset=stream_offset, budget=budget))
    return specs


class OverBudgetError(ConfigError):
    """A learner declares more FLOPs per step than the task's budget (``flops``, ``budget``)."""

    def __init__(self, message: str, flops: int, budget: int) -> None:
        super().__init__(message)
        self.flops, self.budget = flops, budget


def _refuse_over_budget(spec: RunSpec, loaded: loading.LoadedLearner, t: tasks.Task, n_features: int) -> None:
    """Build the first run's learner (in a learner process when isolated) and refuse it, before anything
    runs, when it cannot be built or declares more FLOPs per step than the task's budget."""
    host = isolation.start_host(loaded, n_features, spec.seed, dict(spec.hyperparameters), isolate=spec.isolate,
                                limits=spec.limits, learner_ref=_learner_ref(spec))
    try:
        flops = host.build()
    except LearnerFault as f:
        why = f.message.removeprefix("the factory raised building the learner: ").removesuffix(" during build")
        if why.startswith(("ConfigError: ", "DataError: ")):   # oscbench's own one-line refusals, as they are
            raise ConfigError(why.split(": ", 1)[1]) from None
        if f.step is None and "flops_per_step" in why:
            raise ConfigError(f"learner {loaded.name}: {why}; declare the FLOPs of one step.") from None
        raise ConfigError(f"learner {loaded.name} could not be built: {why}; fix the factory or its "
                          "hyper-parameters.") from None
    finally:
        host.close()
    if t.over_budget(flops):
        assert t.budget_flops is not None
        raise OverBudgetError(f"learner {loaded.name} declares {flops:,} FLOPs/step, over the budget of "
                              f"{t.budget_flops:,} FLOPs/step of {t.id}; shrink it to fit.", flops, t.budget_flops)


def run_one(spec: RunSpec, *, progress: bool | ProgressFn = False) -> dict[str, Any]:
    """Execute one run (load the learner, open the stream, audit, run, score) and return its record.

    The record is written atomically to ``spec.out`` (with a ``.log`` beside it when the run failed)
    when ``spec.out`` is set. ``progress``: True for a tqdm bar, or a callable ``progress(n_steps,
    running_error)`` called after every chunk with the steps just scored.
    """
    return execute(spec, progress=progress).record


def execute(spec: RunSpec, *, progress: bool | ProgressFn = False) -> RunOutcome:
    """:func:`run_one`, also returning the failure log text."""
    t = spec.task_object()
    p = t.preset(spec.preset)
    loaded = spec.load()
    spec.fetch_data(t)
    source = spec.open_stream(t)
    out = Path(spec.out) if spec.out is not None else None
    outcome = _run_one(t, spec, p, loaded, dict(spec.hyperparameters), source, out, progress)
    if out is not None and not outcome.reused:
        records.write_record(outcome.record, out)
        if outcome.record["status"] == "ok":
            checkpoint.path_for(out, records.record_stem(outcome.record)).unlink(missing_ok=True)
    return outcome


_NO_RESUME_TOLD: set[str] = set()


def _run_one(t: tasks.Task, spec: RunSpec, p: tasks.Preset, loaded: loading.LoadedLearner, hp: dict[str, Any],
             source: streams.StreamSource, out: Path | None, progress: bool | ProgressFn) -> RunOutcome:
    game, preset_label, steps, seed = spec.game, spec.preset_label, spec.steps, spec.seed
    ref = _reference(p, steps, game)
    record: Any = records.new_record(t, preset=preset_label, game=game, dataset=source.dataset, seed=seed,
                                     steps=steps, learner_spec=loaded.spec, learner_name=loaded.name,
                                     hyperparameters=hp, source_sha256=loaded.source_sha256)
    run = _Run(t, spec, record, source, out, progress, ref, t.bin_steps(p, steps))
    if out is not None and spec.resume:
        done = checkpoint.finished_record(out / f"{run.stem}.json", run.key)
        if done is not None:
            if run.show:
                tqdm.write(f"kept {run.name}: finished earlier with the same code, hyper-parameters and data")
            return RunOutcome(done, reused=True)
    hosts: list[isolation.LocalHost | isolation.ChildHost] = []
    try:
        for _ in range(2):   # the run's learner, and the replays of the whole-run check (a separate process)
            hosts.append(isolation.start_host(loaded, source.n_features, seed, hp, isolate=spec.isolate,
                                              limits=spec.limits, learner_ref=_learner_ref(spec)))
        return run.drive(*hosts)
    except OSError as err:
        return run.fail("load", None, f"could not start a learner process ({err}); free resources, or run "
                                      "with --no-isolate", None)
    finally:
        for h in hosts:
            h.close()


class _Run:
    """One run's drive: build, audit (or resume from a checkpoint), run and score, checkpoint."""

    def __init__(self, t: tasks.Task, spec: RunSpec, record: dict[str, Any], source: streams.StreamSource,
                 out: Path | None, progress: bool | ProgressFn, ref: float | None, bin_steps: int) -> None:
        self.t, self.spec, self.record, self.source, self.out, self.ref = t, spec, record, source, out, ref
        self.bin_steps = bin_steps
        self.stem, self.name = records.record_stem(record), run_name(record)
        self.key = checkpoint.run_key(record)
        self.show = progress is True
        self.report = progress if callable(progress) else None
        self.every = checkpoint.interval(spec.checkpoint_every, spec.chunk_steps) if out is not None else None

    def fail(self, stage: str, step: int | None, message: str, log: str | None) -> RunOutcome:
        record = self.record
        text = f"{self.name}\nstage: {stage}\nstep: {step}\n{message}\n" + (f"\n{log}" if log else "")
        record["status"] = "failed"
        record["failure"] = {"step": step, "stage": stage, "message": message,
                             "log": _write_log(self.out, self.stem, text)}
        record["metrics"] = record["curve"] = None
        record["created"] = records.now_iso()
        if self.show:
            tqdm.write(f"FAILED {self.name}: {message}")
        return RunOutcome(record, text)

    def drive(self, host: isolation.LocalHost | isolation.ChildHost,
              replayer: isolation.LocalHost | isolation.ChildHost) -> RunOutcome:
        t, spec, record, source = self.t, self.spec, self.record, self.source
        steps = spec.steps
        # the declared cost of this run's learner
        try:
            flops = host.build()
        except LearnerFault as f:
            return self.fail("load", f.step, f.message, f.log)
        if t.over_budget(flops):
            return self.fail("load", None, f"declares {flops:,} FLOPs/step, over the budget of {t.budget_flops:,}", None)
        record["learner"]["flops_per_step"] = flops

        ckpt_path = checkpoint.path_for(self.out, self.stem) if self.out is not None else None
        resumed = (checkpoint.load(ckpt_path, self.key, spec.chunk_steps)
                   if ckpt_path is not None and spec.resume else None)
        if resumed is None:   # causality and determinism audit on the prefix
            n_audit = min(t.audit_prefix_steps, steps)
            try:
                prefix = next(iter(source.chunks(n_audit, n_audit)))
                _check_features(prefix, source)
                audit = run_audit(host, prefix, max_chunk=t.audit_max_chunk)
            except LearnerFault as f:
                record["audit"] = {"causality": "not run", "determinism": "not run", "prefix_steps": n_audit}
                return self.fail("audit", f.step, f.message, f.log)
            record["audit"] = audit.to_dict()
            record["timing"]["audit_cpu_seconds"] = host.cpu_seconds()
            if not audit.passed:
                return self.fail("audit", audit.first_mismatch_step, audit.message, None)
        else:
            record["audit"] = dict(resumed.audit)
            record["timing"]["audit_cpu_seconds"] = float(resumed.progress.get("audit_cpu_seconds", 0.0))
        audit_cpu = host.cpu_seconds()

        # the scored run, with the whole-run causality check and checkpoints
        position = resumed.position if resumed else 0
        before = resumed.progress if resumed else {}
        checker = WholeRunCheck(steps, position, int(before.get("checks", 0)), int(before.get("replayed_steps", 0)))
        scorer = metrics.RunScorer(steps, t.window(steps), self.bin_steps, t.running_window,
                                   t.running_every, t.running_offset)
        bar = tqdm(total=steps, initial=position, unit="step", unit_scale=True, desc=self.name,
                   disable=not self.show, dynamic_ncols=True, leave=True)
        c0, w0 = time.process_time(), time.perf_counter()

        def timing() -> dict[str, Any]:
            return {"wall_seconds": float(before.get("wall_seconds", 0.0)) + time.perf_counter() - w0,
                    "cpu_seconds": float(before.get("cpu_seconds", 0.0)) + host.cpu_seconds() - audit_cpu,
                    "total_cpu_seconds": float(before.get("total_cpu_seconds", 0.0)) + time.process_time() - c0}

        try:
            host.build()
            if resumed is not None:
                scorer.load_state(resumed.scorer)
                host.restore(resumed.learner)
            else:
                host.snapshot()       # the state before the first chunk, as every run takes it
            if host.state is not None:
                replayer.build()      # only the template its restored copies are made from
            for chunk in source.chunks(steps, spec.chunk_steps):
                if chunk.start < position:
                    continue
                target = chunk.returns_truncated if t.target == "returns_truncated" else chunk.returns
                if target is None:
                    raise DataError(f"dataset {source.dataset['id']} has no {t.target} array, which {t.id} scores; "
                                    "regenerate the dataset.")
                checker.before_chunk(host, replayer, chunk.start, chunk.observations, chunk.cumulants,
                                     chunk.continuations)
                preds = check_predictions(host.run(chunk.start, chunk.observations, chunk.cumulants,
                                                   chunk.continuations), chunk.start)
                checker.after_chunk(chunk.start, preds)
                err = scorer.update(chunk.start, preds, target, chunk.returns)
                end = chunk.start + len(chunk)
                if ckpt_path is not None and self.every and end % self.every == 0 and end < steps:
                    self.save(host, ckpt_path, end, scorer, checker, timing())
                bar.update(len(chunk))
                if self.report is not None:
                    self.report(len(chunk), scorer.running_error)
                bar.set_postfix_str(f"mse {err.mean():.4g} (run {scorer.running_error:.4g})", refresh=False)
        except LearnerFault as f:
            record["timing"].update(timing())
            record["audit"].update(checker.to_dict(host, spec.isolate))
            return self.fail("run", f.step, f.message, f.log)
        finally:
            bar.close()
        record["metrics"], record["curve"] = scorer.finalize(self.ref)
        record["timing"].update(timing())
        cpu = record["timing"]["cpu_seconds"]
        record["timing"]["steps_per_cpu_second"] = steps / cpu if cpu > 0 else None
        record["audit"].update(checker.to_dict(host, spec.isolate))
        record["created"] = records.now_iso()
        return RunOutcome(record)

    def save(self, host: isolation.LocalHost | isolation.ChildHost, path: Path, position: int,
             scorer: metrics.RunScorer, checker: WholeRunCheck, timing: dict[str, Any]) -> None:
        """Checkpoint after ``position`` steps (or say once that this learner's runs cannot resume)."""
        if self.key is None:
            return
        data = host.state    # taken after the chunk just run
        if data is None:
            name = self.record["learner"]["name"]
            if name not in _NO_RESUME_TOLD:
                _NO_RESUME_TOLD.add(name)
                tqdm.write(f"note: learner {name} cannot be snapshotted ({host.snapshot_error}); "
                           "its runs cannot resume from checkpoints.", file=sys.stderr)
            return
        progress = dict(timing, audit_cpu_seconds=self.record["timing"].get("audit_cpu_seconds", 0.0),
                        checks=checker.done, replayed_steps=checker.replayed_steps)
        checkpoint.save(path, checkpoint.Checkpoint(self.key, self.spec.chunk_steps, position, data, scorer.state(),
                                                    self.record["audit"], progress))


def _learner_ref(spec: RunSpec) -> bytes | str | None:
    """What a learner process loads: the pickled learner, or the spec resolvable from any directory."""
    if not spec.isolate:
        return None
    if spec.learner_pickle is not None:
        return spec.learner_pickle
    assert spec.learner is not None
    m = re.match(r"^(.*\.py)(:[A-Za-z_]\w*)?$", spec.learner)
    return str(Path(m.group(1)).expanduser().resolve()) + (m.group(2) or "") if m else spec.learner


def _check_features(chunk: Any, source: streams.StreamSource) -> None:
    if chunk.observations.shape[1] != source.n_features:
        raise DataError(f"the stream yields {chunk.observations.shape[1]} features but declares {source.n_features}; "
                        "regenerate the dataset.")
