"""Standard tasks: versioned definitions shipped as TOML in ``oscbench/benchmark/tasks/``.

A task names the stream (dataset id and parameters), γ, the FLOP budget per step, the scoring target,
the scoring window, the learning-curve bins, the causality-audit prefix and its presets of run length
(each with the number of seeds a complete result needs). Ids:

* ``trace-patterning-v1`` -- the trace-patterning task; seed s drives the stream *and* the learner.
* ``atari-v1/<Game>`` -- one Atari game; the stream is the fixed recorded pass (looped), only the
  learner seed varies. ``atari-v1`` alone is the suite: every game in the task's ``games`` list.
* ``custom-v1`` -- not shipped and never on the leaderboard: a dataset file of one's own (e.g. from
  ``oscbench datasets record``) scored as it is (:func:`custom_task`).

:func:`open_stream` turns (task, game, seed) into the chunks the evaluator scores, plus the
``dataset`` block of the result record (id, content digest, parameters, seed).
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


from oscbench.datasets.format import array_digest_line
from oscbench.datasets.stream import StepChunk, rechunk
from oscbench.errors import ConfigError, DataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TASK_DIR = "tasks"
DIGEST_STEPS = 65536  # a generated stream's digest covers its first DIGEST_STEPS steps (see stream_digest)


@dataclass(frozen=True)
class Preset:
    """A run length: ``steps`` per run, ``seeds`` runs for a complete result, learning-curve ``bin_steps``.

    ``reference`` (optional) holds a measured T-BPTT final error for the preset (``final_error``,
    ``learner``), which gives records their ``relative_error``.
    """

    name: str
    steps: int
    seeds: int
    bin_steps: int | None = None
    reference: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Task:
    """One task definition (see the TOML files for the meaning of each field)."""

    id: str
    version: int
    kind: str
    description: str
    gamma: float
    budget_flops: int | None              # None: no budget (custom streams without --budget)
    target: str
    seed_policy: str                      # "shared" (stream seed = learner seed) or "learner-only"
    dataset_id: str
    stream_params: Mapping[str, Any]
    window_steps: int
    running_window: int
    running_every: int
    running_offset: int
    curve_bins: int
    audit_prefix_steps: int
    audit_max_chunk: int
    presets: Mapping[str, Preset]
    games: tuple[str, ...] = ()
    excluded_games: tuple[str, ...] = ()
    source: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_suite(self) -> bool:
        return bool(self.games)

    def over_budget(self, flops: int) -> bool:
        """True if a learner declaring ``flops`` per step exceeds this task's budget (never without one)."""
        return self.budget_flops is not None and flops > self.budget_flops

    def preset(self, name: str) -> Preset:
        """The named preset, or ConfigError listing the choices."""
        try:
            return self.presets[name]
        except KeyError:
            raise ConfigError(f"task {self.id} has no preset {name!r}; choose from {', '.join(self.presets)}.") from None

    def check_game(self, game: str | None) -> str | None:
        """Validate ``game`` for this task (None for tasks without games)."""
        if not self.games:
            if game is not None:
                raise ConfigError(f"task {self.id} has no games; use --task {self.id}.")
            return None
        if game is None:
            raise ConfigError(f"task {self.id} is a suite of {len(self.games)} games; name one as {self.id}/<Game> "
                              f"(e.g. {self.id}/Pong).")
        if game not in self.games:
            why = " (excluded from the suite: its returns are constant)" if game in self.excluded_games else ""
            raise ConfigError(f"{game!r} is not a game of {self.id}{why}; choose from {', '.join(self.games)}.")
        return game

    def bin_steps(self, preset: Preset, steps: int) -> int:
        """Learning-curve bin width for a run of ``steps`` steps: the preset's, unless --steps changed the
        length; then about ``steps / curve_bins``, chosen so the scoring window is whole bins (the bins
        are anchored at the run's end, so the final error is the mean of the last window/bin bins)."""
        if preset.bin_steps and steps == preset.steps:
            return preset.bin_steps
        want = max(1, -(-steps // self.curve_bins))
        window = self.window(steps)
        if window == steps:   # the window is the whole run: any width tiles it
            return want
        # the largest divisor of the window not above ``want`` (the window is a few hundred thousand steps)
        divisors = {d for i in range(1, math.isqrt(window) + 1) if window % i == 0 for d in (i, window // i)}
        return max(d for d in divisors if d <= want) if want < window else window

    def window(self, steps: int) -> int:
        """The scoring window for a run of ``steps`` steps: min(window_steps, steps)."""
        return min(self.window_steps, steps)

    def summary(self) -> dict[str, Any]:
        """A JSON-able description (``oscbench tasks show``)."""
        return {
            "id": self.id, "version": self.version, "kind": self.kind, "description": self.description,
            "gamma": self.gamma, "budget_flops": self.budget_flops, "target": self.target,
            "seed_policy": self.seed_policy, "dataset_id": self.dataset_id, "stream_params": dict(self.stream_params),
            "window_steps": self.window_steps, "running_window": self.running_window,
            "curve_bins": self.curve_bins, "audit_prefix_steps": self.audit_prefix_steps,
            "presets": {k: {"steps": p.steps, "seeds": p.seeds, "bin_steps": p.bin_steps,
                            "reference": dict(p.reference) if p.reference else None} for k, p in self.presets.items()},
            "games": list(self.games), "excluded_games": list(self.excluded_games),
        }


def _parse(text: str, source: str) -> Task:
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"task file {source} is not valid TOML ({err}); fix or reinstall it.") from None
    try:
        sc, au, st = d["scoring"], d["audit"], d["stream"]
        presets = {name: Preset(name, int(p["steps"]), int(p["seeds"]), p.get("bin_steps"), p.get("reference"))
                   for name, p in d["presets"].items()}
        task = Task(
            id=d["id"], version=int(d["version"]), kind=d["kind"], description=d.get("description", ""),
            gamma=float(d["gamma"]), budget_flops=int(d["budget_flops"]), target=d["target"],
            seed_policy=d["seed_policy"], dataset_id=st["dataset_id"], stream_params=dict(st.get("params", {})),
            window_steps=int(sc["window_steps"]), running_window=int(sc["running_window"]),
            running_every=int(sc["running_every"]), running_offset=int(sc["running_offset"]),
            curve_bins=int(sc["curve_bins"]), audit_prefix_steps=int(au["prefix_steps"]),
            audit_max_chunk=int(au["max_chunk"]), presets=presets, games=tuple(d.get("games", ())),
            excluded_games=tuple(d.get("excluded_games", ())), source=source, raw=d)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"task file {source} is missing or has a bad field ({err}); fix or reinstall it.") from None
    for p in presets.values():   # the final error must be recomputable from the curve (whole bins at the end)
        w = task.window(p.steps)
        if p.bin_steps is not None and (p.bin_steps <= 0 or (w != p.steps and w % p.bin_steps)):
            raise ConfigError(f"task file {source}: preset {p.name}'s bin_steps {p.bin_steps} does not divide its "
                              f"scoring window of {w} steps; fix or reinstall it.")
    if task.target not in ("returns", "returns_truncated") or task.seed_policy not in ("shared", "learner-only"):
        raise ConfigError(f"task file {source}: unknown target {task.target!r} or seed_policy {task.seed_policy!r}.")
    return task


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Task]:
    out = {}
    for entry in resources.files("oscbench.benchmark").joinpath(TASK_DIR).iterdir():
        if entry.name.endswith(".toml"):
            task = _parse(entry.read_text(encoding="utf-8"), entry.name)
            out[task.id] = task
    return out


def list_tasks() -> list[Task]:
    """Every shipped task, sorted by id."""
    return [t for _, t in sorted(_shipped().items())]


def split_task_id(task_id: str) -> tuple[str, str | None]:
    """``atari-v1/Pong`` -> (``atari-v1``, ``Pong``); ``trace-patterning-v1`` -> (..., None)."""
    base, _, game = task_id.partition("/")
    return base, (game or None)


def get_task(task_id: str) -> Task:
    """The task definition for ``task_id`` (a per-game id such as ``atari-v1/Pong`` gives its suite's task)."""
    base, _ = split_task_id(task_id)
    tasks = _shipped()
    if base not in tasks:
        raise ConfigError(f"unknown task {task_id!r}; choose from {', '.join(sorted(tasks))} "
                          "(see `oscbench tasks list`).")
    return tasks[base]


def resolve(task_id: str) -> tuple[Task, list[str | None]]:
    """(task, games to run): ``[None]`` for trace patterning, ``[game]`` for ``atari-v1/<Game>``, every game for the suite."""
    task = get_task(task_id)
    _, game = split_task_id(task_id)
    if task.games and game is None:
        return task, list(task.games)
    return task, [task.check_game(game)]


CUSTOM_TASK_ID = "custom-v1"
CUSTOM_PRESET = "custom"


def custom_task(dataset: str | Path, budget_flops: int | None = None) -> Task:
    """The task of scoring a learner on a dataset file of one's own, as it is.

    γ comes from the file, the target is the full return (``returns``), the FLOP budget is
    ``budget_flops`` (None: none), the run is the whole file once (one preset, ``custom``), seeds vary the
    learner only. Scoring window, curve bins and the audit are the standard tasks' (200k-step window).
    Records carry the task id :data:`CUSTOM_TASK_ID`, which the leaderboard refuses.
    """
    from oscbench.datasets.format import DatasetFile

    if budget_flops is not None and budget_flops < 1:
        raise ConfigError(f"--budget {budget_flops} must be a positive number of FLOPs per step.")
    with DatasetFile(dataset, verify=True) as ds:
        if not 0.0 <= ds.gamma < 1.0:
            raise DataError(f"{dataset} declares gamma {ds.gamma}, outside [0, 1); it cannot be scored.")
        return Task(id=CUSTOM_TASK_ID, version=1, kind="custom", description=f"custom stream {ds.dataset_id}",
                    gamma=ds.gamma, budget_flops=budget_flops, target="returns", seed_policy="learner-only",
                    dataset_id=ds.dataset_id, stream_params=dict(ds.params), window_steps=200_000,
                    running_window=100_000, running_every=50_000, running_offset=0, curve_bins=100,
                    audit_prefix_steps=3000, audit_max_chunk=16,
                    presets={CUSTOM_PRESET: Preset(CUSTOM_PRESET, ds.n_steps, 1)}, source=str(dataset))


# -- streams ---------------------------------------------------------------------------------------
@dataclass
class StreamSource:
    """What the evaluator needs from a stream: features, chunk iterator and the record's dataset block."""

    n_features: int
    chunks: Callable[[int, int], Iterator[StepChunk]]   # (n_steps, chunk_size) -> StepChunks from step 0
    dataset: dict[str, Any]                              # {id, sha256, sha256_kind, params, seed, path}


def stream_digest(dataset_id: str, params: Mapping[str, Any], seed: int | None, n_steps: int,
                  first: StepChunk) -> str:
    """Digest of a generated stream as a run used it.

    sha256 over the text ``oscbench-stream-digest-v1``, the dataset id, the JSON parameters (sorted
    keys), the seed and the run length (the full return near the end depends on it), one per line,
    followed by ``name|dtype|shape|sha256`` lines for the arrays of the first chunk (``first``: steps
    0..min(65,536, n_steps)−1) in the order observations, cumulants, continuations, returns,
    returns_truncated. Equal digests mean the same generator produced the same data.
    """
    h = hashlib.sha256()
    h.update(f"oscbench-stream-digest-v1\n{dataset_id}\n{json.dumps(dict(params), sort_keys=True)}\n"
             f"{seed}\n{n_steps}\n".encode())
    for name in ("observations", "cumulants", "continuations", "returns", "returns_truncated"):
        a = getattr(first, name)
        if a is not None:
            h.update(array_digest_line(name, a).encode())
    return h.hexdigest()


def _trace_source(task: Task, seed: int, n_steps: int, dataset: str | Path | None) -> StreamSource:
    from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream

    config = TracePatterningConfig.from_dict(dict(task.stream_params))
    if dataset is not None:
        return _file_source(dataset, n_steps, loop=False, want_params=config.to_dict(), want_seed=seed)
    stream = TracePatterningStream(config, seed)
    if stream.dataset_id != task.dataset_id:  # the TOML and the stream module disagree: a packaging bug
        raise ConfigError(f"task {task.id} names dataset {task.dataset_id} but its parameters give "
                          f"{stream.dataset_id}; reinstall oscbench.")
    first = next(iter(stream.chunks(n_steps, DIGEST_STEPS)))  # the run's own first chunk (lazy: one block)
    digest = stream_digest(stream.dataset_id, config.to_dict(), seed, n_steps, first)
    return StreamSource(config.n_features, stream.chunks,
                        {"id": stream.dataset_id, "sha256": digest, "sha256_kind": "generated-stream",
                         "params": config.to_dict(), "seed": seed, "path": None})


def _file_source(path: str | Path, n_steps: int, *, loop: bool, want_params: Mapping[str, Any] | None = None,
                 want_seed: int | None = None, want_id: str | None = None) -> StreamSource:
    from oscbench.datasets.format import DatasetFile

    ds = DatasetFile(path, verify=True)
    ds.close()
    if want_id is not None and ds.dataset_id != want_id:
        raise DataError(f"{path} holds dataset {ds.dataset_id}, but the task needs {want_id}; give the right file.")
    if want_params is not None and {k: ds.params.get(k) for k in want_params} != dict(want_params):
        raise DataError(f"{path} was generated with parameters {ds.params}, but the task needs {dict(want_params)}; "
                        "generate the file with the task's parameters.")
    if want_seed is not None and ds.seed != want_seed:
        raise DataError(f"{path} holds the stream of seed {ds.seed}, but this run needs seed {want_seed}; "
                        "give one file per seed.")
    if n_steps > ds.n_steps and not loop:
        raise DataError(f"{path} holds {ds.n_steps:,} steps but the run needs {n_steps:,}; generate a longer file "
                        "or pass fewer --steps.")

    def chunks(n: int, chunk_size: int) -> Iterator[StepChunk]:
        with DatasetFile(path, verify=False) as f:
            yield from f.chunks(n, chunk_size, loop=loop)

    return StreamSource(ds.n_features, chunks,
                        {"id": ds.dataset_id, "sha256": ds.content_sha256, "sha256_kind": "file-content",
                         "params": dict(ds.params), "seed": ds.seed if ds.seed >= 0 else None,
                         "path": str(Path(path).resolve())})


def _atari_source(task: Task, game: str | None, n_steps: int, dataset: str | Path | None,
                  offset: int = 0) -> StreamSource:
    """The recorded pass of ``game`` (``oscbench.datasets.atari.AtariStream``), looped from stored step
    ``offset``; verified on open."""
    game = task.check_game(game)
    want_id = task.dataset_id.format(game=game)
    from oscbench.datasets.atari import AtariStream

    with AtariStream(dataset if dataset is not None else want_id, verify=True) as stream:
        if stream.game and stream.game != game:
            raise DataError(f"{stream.path} holds the game {stream.game}, but the task needs {game}; "
                            "give the right file.")
        path, info = stream.path, stream.file
        block = {"id": stream.dataset_id, "sha256": stream.digest, "sha256_kind": "file-content",
                 "params": dict(info.params), "seed": None, "path": str(Path(path).resolve())}
        n_features = stream.n_features
        offset %= stream.n_steps_per_pass

    def chunks(n: int, chunk_size: int) -> Iterator[StepChunk]:
        with AtariStream(path, verify=False) as s:
            yield from (s.chunks(n, chunk_size) if not offset else
                        rechunk(_shifted(s.chunks(n + offset, chunk_size), offset), chunk_size, n))

    return StreamSource(n_features, chunks, block)


def _shifted(chunks: Iterator[StepChunk], offset: int) -> Iterator[StepChunk]:
    """The steps of ``chunks`` from global step ``offset`` on, renumbered from 0; step 0 gets c = γ = 0."""
    for c in chunks:
        end = c.start + len(c)
        if end <= offset:
            continue
        a = max(0, offset - c.start)
        part = StepChunk(c.start + a - offset, c.observations[a:], c.cumulants[a:], c.continuations[a:],
                         c.returns[a:], None if c.returns_truncated is None else c.returns_truncated[a:])
        if part.start == 0:  # a run starts here: no transition into its first step
            cum, cont = part.cumulants.copy(), part.continuations.copy()
            cum[0] = cont[0] = 0
            part = StepChunk(0, part.observations, cum, cont, part.returns, part.returns_truncated)
        yield part


#: task kind -> opener(task, game, seed, n_steps, dataset[, offset=]) (new kinds plug in here)
STREAM_OPENERS: dict[str, Callable[..., StreamSource]] = {
    "trace-patterning": lambda task, game, seed, n_steps, dataset: _trace_source(task, seed, n_steps, dataset),
    "atari": lambda task, game, seed, n_steps, dataset, offset=0: _atari_source(task, game, n_steps, dataset, offset),
    "custom": lambda task, game, seed, n_steps, dataset: _file_source(task.source, n_steps, loop=False,
                                                                      want_id=task.dataset_id),
}


def open_stream(task: Task, *, game: str | None, seed: int, n_steps: int,
                dataset: str | Path | None = None, offset: int = 0) -> StreamSource:
    """The stream a run of ``task`` (and ``game``) with ``seed`` scores on.

    ``seed`` is the *stream* seed (generated streams); the evaluator passes the run's seed unless it
    is told a separate stream seed (``evaluate(stream_seeds=...)``, used by held-out verification).
    ``dataset``: read the stream from this dataset file instead (verified against its digest; for
    trace patterning its parameters and seed must match the task and the run). Atari streams loop
    over the recorded pass; ``offset`` starts them at that stored step instead of step 0 (the first
    step's cumulant and continuation are 0, as at any run's start; ``oscbench leaderboard verify``).
    """
    if n_steps <= 0:
        raise ConfigError(f"--steps {n_steps} must be positive.")
    try:
        opener = STREAM_OPENERS[task.kind]
    except KeyError:
        raise ConfigError(f"task kind {task.kind!r} has no stream opener; upgrade oscbench.") from None
    if offset and task.kind != "atari":
        raise ConfigError(f"a stream offset applies to recorded (looped) streams, not to {task.kind}.")
    if offset < 0:
        raise ConfigError(f"stream offset {offset} is negative.")
    if offset:
        return opener(task, game, seed, n_steps, dataset, offset=offset)
    return opener(task, game, seed, n_steps, dataset)
