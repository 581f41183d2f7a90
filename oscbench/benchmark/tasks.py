"""Standard tasks: versioned definitions shipped as TOML in ``oscbench/benchmark/tasks/``.

A task names the stream (dataset id and parameters), γ, the FLOP budget per step, the scoring target,
the scoring window, the learning-curve bins, the causality-audit prefix and its presets of run length
(each with the number of seeds a complete result needs). Ids:

* ``trace-patterning-v1`` -- the trace-patterning task; seed s drives the stream *and* the learner.
* ``atari-v1/<Game>`` -- one Atari game; the stream is the fixed recorded pass (looped), only the
  learner seed varies. ``atari-v1`` alone is the suite: every game in the task's ``games`` list.
* ``custom-v1`` -- not shipped and never on the leaderboard: a dataset file of one's own (e.g. from
  ``oscbench datasets record``) scored as it is (:func:`custom_task`).

Opening a task's stream for a run is :mod:`oscbench.benchmark.streams`.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


from oscbench.errors import ConfigError, DataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TASK_DIR = "tasks"


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
    for p in presets.values():
        _check_reference(p, task, source)
    if task.target not in ("returns", "returns_truncated") or task.seed_policy not in ("shared", "learner-only"):
        raise ConfigError(f"task file {source}: unknown target {task.target!r} or seed_policy {task.seed_policy!r}.")
    return task


def _check_reference(p: Preset, task: Task, source: str) -> None:
    """A preset's reference errors: positive numbers, per game only for the suite's own games (a misspelt
    game would silently leave its records without a relative error)."""
    ref = p.reference
    if not ref:
        return
    values = dict(ref.get("games") or {})
    unknown = sorted(set(values) - set(task.games))
    if unknown:
        raise ConfigError(f"task file {source}: [presets.{p.name}.reference.games] names {', '.join(unknown)}, "
                          f"not games of {task.id}; fix the names.")
    if "final_error" in ref:
        values[""] = ref["final_error"]
    bad = sorted(k or "final_error" for k, v in values.items()
                 if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v == float("inf"))
    if bad:
        raise ConfigError(f"task file {source}: [presets.{p.name}.reference] {', '.join(bad)} must be positive "
                          "finite errors; fix them.")


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
    ``budget_flops`` (None: none), the run is the whole file once (one preset, ``custom``; a longer
    ``n_steps`` loops over a recorded Atari pass as the Atari task does, and is refused for a generated
    stream), seeds vary the learner only. Scoring window, curve bins and the audit are the standard tasks' (200k-step window).
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
