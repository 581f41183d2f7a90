"""Hyper-parameter sweeps: a grid of configurations of any learner, evaluated on the evaluator's engine.

A grid is a list of **axes**; the configurations are their Cartesian product (the first axis varies
slowest). An axis is one hyper-parameter and its values, or several hyper-parameters that only make
sense together and move jointly (T-BPTT's equal-FLOP shapes)::

    --grid step_size=1e-3,3e-4,1e-4            # one axis, three points
    --grid hidden,truncation=2:30,13:2         # one joint axis, two points: (2, 30) and (13, 2)

Values are read as ``--hp`` values (TOML scalars: ``1e-4``, ``true``, ``"text"``). Larger grids go in a
TOML sweep file (``--file``), which may also fix the task, preset, seeds, steps and hyper-parameters
(the command line wins over the file, its ``--grid`` axes add to the file's)::

    task = "trace-patterning-v1"
    preset = "short"
    seeds = "0-4"                  # as --seeds; or a list [0, 1, 2]
    [hyperparameters]              # fixed for every configuration
    beta = 0.99999
    [grid]
    step_size = [1e-3, 3e-4, 1e-4]
    "hidden,truncation" = [[2, 30], [13, 2]]

Without any axis, a reference baseline sweeps its default grid (:data:`DEFAULT_GRIDS`: the step sizes
and variance floors of the reference code's sweeps, SPEC §8), which is how its reference
configuration was chosen.

Every configuration is planned like ``oscbench evaluate`` (:func:`oscbench.benchmark.evaluator.plan`):
a point whose learner declares more FLOPs per step than the task's budget is skipped with one line;
the runs of all the others execute as one batch (serially, or on a Dask cluster) under one progress
bar, each writing its record under ``--out`` (file names carry the hyper-parameter digest, so
configurations never overwrite each other).

**The best configuration** (:data:`BEST_RULE`): among configurations with no failed run, the lowest
mean NMSE over runs (the Atari suite: the IQM of NMSE over games and runs); every configuration whose
95% confidence interval overlaps the best one's is tied with it, and of the tied ones the cheapest
(fewest declared FLOPs per step) is marked best -- equal FLOPs keep the lowest mean.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oscbench.benchmark import evaluator, metrics, records, tasks
from oscbench.benchmark.loading import parse_value, read_toml
from oscbench.benchmark.seeds import parse_seeds
from oscbench.errors import ConfigError

BEST_RULE = ("lowest mean NMSE among configurations without failed runs (Atari suite: IQM NMSE); "
             "configurations whose 95% CI overlaps the best's are tied, and the cheapest of them in "
             "FLOPs/step is marked best")

_STEP_SIZES = (0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
#: default grids of the reference baselines per task kind (SPEC §8: the reference code's sweeps)
DEFAULT_GRIDS: dict[str, dict[str, list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]]] = {
    "trace-patterning": {
        **{name: [(("var_floor",), [(0.1,), (0.01,)]), (("step_size",), [(a,) for a in _STEP_SIZES])]
           for name in ("hybrid", "columnar", "constructive")},
        "tbptt": [(("step_size",), [(a,) for a in (1e-3, 3e-4, 1e-4, 3e-5)])],
    },
    "atari": {
        **{name: [(("step_size",), [(a,) for a in (3e-4, 1e-4, 3e-5)])] for name in ("hybrid", "columnar", "constructive")},
        "tbptt": [(("step_size",), [(a,) for a in (1e-3, 3e-4, 1e-4)])],
    },
}
_NAME = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Axis:
    """One axis of a grid: hyper-parameter ``names`` moving together through ``points``."""

    names: tuple[str, ...]
    points: tuple[tuple[Any, ...], ...]

    def __post_init__(self) -> None:
        label = ",".join(self.names)
        if not self.names or any(not _NAME.match(n) for n in self.names):
            raise ConfigError(f"--grid {label!r}: name hyper-parameters like step_size (or a,b for a joint axis).")
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"--grid {label}: a name appears twice in one axis.")
        if not self.points:
            raise ConfigError(f"--grid {label}: give at least one value.")
        for p in self.points:
            if len(p) != len(self.names):
                raise ConfigError(f"--grid {label}: the point {':'.join(map(str, p))} has {len(p)} value(s), the "
                                  f"axis {len(self.names)} name(s); write one value per name, e.g. 2:30.")
        if len(set(map(repr, self.points))) != len(self.points):
            raise ConfigError(f"--grid {label}: a point appears twice.")


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets and quotes (so TOML arrays and strings stay whole)."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_axis(text: str) -> Axis:
    """``NAME=V1,V2,...`` or ``A,B=a1:b1,a2:b2,...`` (a joint axis)."""
    names, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise ConfigError(f"--grid {text!r} is not NAME=V1,V2,...; write e.g. --grid step_size=1e-3,1e-4 "
                          "or --grid hidden,truncation=2:30,13:2.")
    keys = tuple(n.strip() for n in names.split(","))
    points = []
    for item in _split_top(values, ","):
        if not item:
            raise ConfigError(f"--grid {text!r} has an empty value; remove the extra comma.")
        parts = _split_top(item, ":") if len(keys) > 1 else [item]
        points.append(tuple(parse_value(p) for p in parts))
    return Axis(keys, tuple(points))


def configurations(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """The Cartesian product of ``axes`` (first axis slowest), each point a {name: value} dict."""
    seen: dict[str, int] = {}
    for i, a in enumerate(axes):
        for n in a.names:
            if n in seen:
                raise ConfigError(f"hyper-parameter {n!r} is on two --grid axes; put it on one (a joint axis "
                                  "if it moves with another).")
            seen[n] = i
    return [{n: v for a, point in zip(axes, combo) for n, v in zip(a.names, point)}
            for combo in itertools.product(*(a.points for a in axes))]


def default_axes(learner: Any, task_kind: str) -> list[Axis]:
    """A reference baseline's default grid for ``task_kind``; ConfigError for other learners."""
    grids = DEFAULT_GRIDS.get(task_kind, {})
    if not isinstance(learner, str) or learner not in grids:
        raise ConfigError("no --grid given; name at least one axis, e.g. --grid step_size=1e-3,1e-4 "
                          "(only the reference baselines have a default grid).")
    return [Axis(names, tuple(points)) for names, points in grids[learner]]


@dataclass
class SweepFile:
    """What a ``--file`` sweep file gives (None: not set there)."""

    axes: list[Axis] = field(default_factory=list)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    preset: str | None = None
    seeds: Any = None
    steps: int | None = None


def read_sweep_file(path: str | Path) -> SweepFile:
    """Read a TOML sweep file (see the module docstring); one-line ConfigError on anything wrong."""
    path = Path(path)
    data = read_toml(path, "sweep file")
    known = {"grid", "hyperparameters", "task", "preset", "seeds", "steps"}
    extra = sorted(set(data) - known)
    if extra:
        raise ConfigError(f"sweep file {path}: unknown key(s) {', '.join(extra)}; use {', '.join(sorted(known))}.")
    grid, hp = data.get("grid", {}), data.get("hyperparameters", {})
    if not isinstance(grid, dict) or not isinstance(hp, dict):
        raise ConfigError(f"sweep file {path}: [grid] and [hyperparameters] must be tables of name = value.")
    axes = []
    for key, values in grid.items():
        names = tuple(n.strip() for n in key.split(","))
        if not isinstance(values, list):
            raise ConfigError(f"sweep file {path}: grid {key} must be a list of values.")
        if len(names) > 1:
            if not all(isinstance(v, list) for v in values):
                raise ConfigError(f"sweep file {path}: grid \"{key}\" is a joint axis; give a list of "
                                  f"[{', '.join(names)}] lists.")
            axes.append(Axis(names, tuple(tuple(v) for v in values)))
        else:
            axes.append(Axis(names, tuple((v,) for v in values)))
    steps = data.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool)):
        raise ConfigError(f"sweep file {path}: steps must be an integer.")
    for k in ("task", "preset"):
        if k in data and not isinstance(data[k], str):
            raise ConfigError(f"sweep file {path}: {k} must be a string.")
    seeds = data.get("seeds")
    if isinstance(seeds, str) or (isinstance(seeds, list) and all(isinstance(x, int) for x in seeds)):
        seeds = parse_seeds(",".join(map(str, seeds)) if isinstance(seeds, list) else seeds,
                            option=f"sweep file {path}: seeds")
    elif seeds is not None:
        raise ConfigError(f"sweep file {path}: seeds must be text like \"0-4\" or a list of integers.")
    return SweepFile(axes, dict(hp), data.get("task"), data.get("preset"), seeds, steps)


# -- results --------------------------------------------------------------------------------------------
@dataclass
class ConfigResult:
    """One configuration: its grid point, full hyper-parameters, records and score."""

    point: dict[str, Any]
    hyperparameters: dict[str, Any]
    flops_per_step: int | None
    records: list[dict[str, Any]] = field(default_factory=list)
    score: dict[str, Any] = field(default_factory=dict)   # {mean, ci_low, ci_high, n, statistic}
    best: bool = False
    tied: bool = False

    @property
    def failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.records)

    def to_dict(self) -> dict[str, Any]:
        return {"point": self.point, "hyperparameters": self.hyperparameters,
                "hp_digest": records.hyperparameter_digest(self.hyperparameters),
                "flops_per_step": self.flops_per_step, "runs": len(self.records), "failed_runs": self.failed,
                "nmse": self.score, "best": self.best, "tied_with_best": self.tied}


@dataclass
class SweepResult:
    """What :func:`sweep` returns: every configuration's score, the skipped points, the best one."""

    learner: str
    task: str
    preset: str
    steps: int
    seeds: list[int]
    configs: list[ConfigResult]
    skipped: list[dict[str, Any]]
    paths: list[Path] = field(default_factory=list)
    execution: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> ConfigResult | None:
        return next((c for c in self.configs if c.best), None)

    def table(self) -> str:
        return format_table(self)

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {"learner": self.learner, "task": self.task, "preset": self.preset, "steps": self.steps,
                "seeds": self.seeds, "rule": BEST_RULE, "configurations": [c.to_dict() for c in self.configs],
                "best": best.to_dict() if best else None, "skipped": self.skipped,
                "records": [str(p) for p in self.paths], "execution": self.execution}


def _score(recs: list[dict[str, Any]], suite: bool) -> dict[str, Any]:
    ok = [r for r in recs if r["status"] == "ok" and r["metrics"]["nmse"] is not None]
    if suite:
        by_game: dict[str, list[float]] = {}
        for r in ok:
            by_game.setdefault(r["task"]["game"], []).append(r["metrics"]["nmse"])
        s = metrics.iqm_stratified(by_game)
        return {"statistic": "iqm", "mean": s["iqm"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                "n": s["n_runs"]}
    s = metrics.summarize([r["metrics"]["nmse"] for r in ok])
    return {"statistic": "mean", "mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]}


def _interval(c: ConfigResult) -> tuple[float, float]:
    m = c.score["mean"]
    lo, hi = c.score.get("ci_low"), c.score.get("ci_high")
    return (m if lo is None else lo, m if hi is None else hi)


def mark_best(configs: Sequence[ConfigResult]) -> ConfigResult | None:
    """Apply :data:`BEST_RULE`: set ``best`` on one configuration and ``tied`` on those tied with it."""
    eligible = [c for c in configs if c.failed == 0 and c.score.get("mean") is not None]
    if not eligible:
        return None
    top = min(eligible, key=lambda c: c.score["mean"])
    lo, hi = _interval(top)
    tied = [c for c in eligible if _interval(c)[0] <= hi and _interval(c)[1] >= lo]
    best = min(tied, key=lambda c: (c.flops_per_step if c.flops_per_step is not None else float("inf"),
                                    c.score["mean"]))
    for c in tied:
        c.tied = c is not best
    best.best = True
    return best


def _fmt_point(point: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items()) or "(defaults)"


def format_table(res: SweepResult) -> str:
    """One row per configuration: grid point, FLOPs/step, runs, failed, NMSE [95% CI]; * best, = tied."""
    stat = "IQM NMSE" if any(c.score.get("statistic") == "iqm" for c in res.configs) else "mean NMSE"
    width = max([len(_fmt_point(c.point)) for c in res.configs] + [13])
    head = f"  {'configuration':<{width}}  {'FLOPs/step':>10}  {'runs':>4}  {'failed':>6}  {stat + ' [95% CI]'}"
    title = f"{res.learner} on {res.task} ({res.preset}, {res.steps:,} steps, seeds {','.join(map(str, res.seeds))})"
    rows = [title, head, "-" * len(head)]
    for c in res.configs:
        s = c.score
        ci = f" [{s['ci_low']:.4g}, {s['ci_high']:.4g}]" if s.get("ci_low") is not None else ""
        nmse = f"{s['mean']:.4g}{ci}" if s.get("mean") is not None else "-"
        mark = "*" if c.best else ("=" if c.tied else " ")
        flops = f"{c.flops_per_step:,}" if c.flops_per_step is not None else "-"
        rows.append(f"{mark} {_fmt_point(c.point):<{width}}  {flops:>10}  {len(c.records):>4}  {c.failed:>6}  {nmse}")
    rows.append(f"* best: {BEST_RULE}; = tied with the best")
    return "\n".join(rows)


# -- the sweep -------------------------------------------------------------------------------------------
def sweep(learner: str | Callable[..., Any], *, task: str = "trace-patterning-v1", preset: str = "smoke",
          grid: Sequence[Axis] | None = None, hyperparameters: Mapping[str, Any] | None = None,
          seeds: str | Iterable[int] | None = None, n_steps: int | None = None, out_dir: str | Path | None = None,
          workers: int = 1, scheduler: str | None = None, client: Any = None, progress: bool = True,
          note: Callable[[str], None] | None = None, fresh: bool = False, **run_options: Any) -> SweepResult:
    """Evaluate every configuration of ``grid`` (on top of the fixed ``hyperparameters``); see the module doc.

    ``note`` receives the one-line messages (skipped points). Like ``evaluate``, finished runs under
    ``out_dir`` are kept and checkpointed ones continued unless ``fresh``; ``run_options`` go to
    :func:`~oscbench.benchmark.evaluator.plan` (``chunk_steps``, ``isolate``, ``timeout``, ...). Raises
    ConfigError when nothing is left to run (every point over the budget) or on a bad grid, task,
    preset or learner.
    """
    t, games = tasks.resolve(task)
    axes = list(grid) if grid else default_axes(learner, t.kind)
    points = configurations(axes)
    fixed = dict(hyperparameters or {})
    planned: list[tuple[dict[str, Any], list[evaluator.RunSpec]]] = []
    skipped = []
    for point in points:
        try:
            specs = evaluator.plan(learner, task=task, preset=preset, seeds=seeds, hyperparameters={**fixed, **point},
                                   out_dir=out_dir, n_steps=n_steps, fresh=fresh, **run_options)
        except evaluator.OverBudgetError as err:
            skipped.append({"point": point, "flops_per_step": err.flops, "budget_flops": err.budget})
            if note is not None:
                note(f"skipped {_fmt_point(point)}: {err.flops:,} FLOPs/step is over the budget of "
                     f"{err.budget:,} of {t.id}")
            continue
        planned.append((point, specs))
    if not planned:
        raise ConfigError(f"every point of the grid is over the FLOP budget of {t.id} ({t.budget_flops:,} "
                          "FLOPs/step); shrink the learner.")
    all_specs = [s for _, specs in planned for s in specs]
    results = evaluator.EvaluationResults(task, all_specs[0].preset_label)
    outcomes = evaluator.run_batch(all_specs, workers=workers, scheduler=scheduler, client=client,
                                   progress=progress, results=results)
    configs, k = [], 0
    for point, specs in planned:
        recs = [o.record for o in outcomes[k:k + len(specs)]]
        k += len(specs)
        flops = next((r["learner"]["flops_per_step"] for r in recs if r["status"] == "ok"), None)
        configs.append(ConfigResult(point, dict(specs[0].hyperparameters), flops, recs,
                                    _score(recs, suite=len(games) > 1)))
    mark_best(configs)
    out = Path(out_dir) if out_dir is not None else None
    paths = [out / f"{records.record_stem(o.record)}.json" for o in outcomes] if out is not None else []
    name = configs[0].records[0]["learner"]["name"]
    return SweepResult(name, task, all_specs[0].preset_label, all_specs[0].steps,
                       sorted({s.seed for s in all_specs}), configs, skipped, paths, results.execution)
