"""``oscbench quickstart`` (``make quickstart``): the suite's main job on the embedded default.

1. Generate the trace-patterning stream of each seed as an HDF5 dataset file
   (``<out>/data/trace-patterning_seed-<s>_steps-<N>.h5``) and print the summary of the first.
2. Evaluate the reference ``hybrid`` and ``tbptt`` learners on ``trace-patterning-v1`` at the
   ``smoke`` preset (200k steps) for a few seeds, reading the streams from those files, and the
   example learner ``examples/linear_td.py`` on the task's own generated stream (so that its records
   carry the stream digest the leaderboard recomputes); records in ``<out>/records/<learner>/``.
3. Print the comparison table (final error, NMSE with its 95% bootstrap CI, FLOPs/step, steps per
   CPU-second), write the learning curves to ``<out>/learning_curves.png`` and, when the example's
   records form a valid smoke-board entry, the ``oscbench submit`` command for them.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oscbench.benchmark import evaluator, metrics, plots, tasks
from oscbench.benchmark.seeds import resolve_seeds
from oscbench.errors import ConfigError

TASK = "trace-patterning-v1"
PRESET = "smoke"
LEARNERS = ("hybrid", "tbptt")
DEFAULT_SEEDS = 3
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "linear_td.py"
EXAMPLE_ENTRY_NAME = "linear TD (example)"


@dataclass
class QuickstartResult:
    out_dir: Path
    datasets: list[Path]
    records: list[dict[str, Any]] = field(default_factory=list)
    record_paths: list[Path] = field(default_factory=list)
    plot: Path | None = None
    table: str = ""
    example_dir: Path | None = None          # the example learner's records
    submit_command: str | None = None        # set when those records form a valid smoke-board entry
    not_submittable: str | None = None       # why not, otherwise

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] != "ok"]

    def to_dict(self) -> dict[str, Any]:
        """What ``oscbench quickstart --json`` prints."""
        return {"out_dir": str(self.out_dir), "datasets": [str(p) for p in self.datasets],
                "records": [str(p) for p in self.record_paths], "summary": metrics.aggregate(self.records),
                "plot": str(self.plot) if self.plot else None,
                "example_records": str(self.example_dir) if self.example_dir else None,
                "submit_command": self.submit_command, "not_submittable": self.not_submittable,
                "failed": [evaluator.run_name(r) for r in self.failed], "ok": not self.failed}


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (``examples/linear_td.py``)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _record_dir(out: Path, learner: str) -> Path:
    return out / "records" / Path(learner.split(":")[0]).stem


def quickstart(out_dir: str | Path = "out", *, n_steps: int | None = None, seeds: str | Iterable[int] | None = None,
               n_seeds: int | None = None, learners: Sequence[str] = LEARNERS, example: str | Path | None = EXAMPLE,
               progress: bool = True, echo: Callable[[str], None] = print,
               seeds_name: str = "seeds", n_seeds_name: str = "n_seeds") -> QuickstartResult:
    """Run the quickstart; ``echo`` receives each block of text it prints. See the module docs.

    ``seeds``/``n_seeds`` as in :func:`oscbench.benchmark.seeds.resolve_seeds` (default seeds 0-2);
    ``example`` is the learner file evaluated for a first submission (None: skip it).
    """
    from oscbench.datasets.generate import generate_trace_patterning
    from oscbench.datasets.info import dataset_info, format_info
    from oscbench.datasets.trace_patterning import TracePatterningConfig

    seed_list = resolve_seeds(seeds, n_seeds, default=DEFAULT_SEEDS, seeds_name=seeds_name, n_seeds_name=n_seeds_name)
    task = tasks.get_task(TASK)
    preset = task.preset(PRESET)
    steps = preset.steps if n_steps is None else int(n_steps)
    if steps <= 0:
        raise ConfigError(f"--steps {steps} must be positive.")
    custom = steps != preset.steps
    out = Path(out_dir).expanduser()
    config = TracePatterningConfig.from_dict(dict(task.stream_params))
    seed_text = ", ".join(map(str, seed_list))

    echo(f"== 1. the trace-patterning stream ({task.dataset_id}), seed(s) {seed_text}, {steps:,} steps each")
    files: dict[int, Path] = {}
    for s in seed_list:
        files[s] = generate_trace_patterning(out / "data" / f"trace-patterning_seed-{s}_steps-{steps}.h5",
                                             config=config, seed=s, n_steps=steps, overwrite=True, progress=progress)
    echo(format_info(dataset_info(files[seed_list[0]])))
    echo(f"(the other seeds' files are in {out / 'data'})" if len(seed_list) > 1 else "")

    result = QuickstartResult(out, list(files.values()))
    runs: list[tuple[str, bool]] = [(name, True) for name in learners]
    if example is not None:
        if Path(example).is_file():
            runs.append((str(example), False))
        else:
            echo(f"\n(no example learner at {example}: the quickstart needs the repository's examples/ folder "
                 "for a first submission; clone the repository and install it with `pip install -e .`)")
    label = "custom" if custom else PRESET
    for name, from_files in runs:
        where = "reading the files above" if from_files else "on the task's generated stream"
        shown = name if from_files else f"the example learner {_display(Path(name))}"
        echo(f"\n== 2. evaluating {shown} on {TASK} ({label}: {steps:,} steps, seeds {seed_text}), {where}")
        res = evaluator.evaluate(name, task=TASK, preset=PRESET, seeds=seed_list, out_dir=_record_dir(out, name),
                                 n_steps=steps if custom else None, progress=progress,
                                 dataset=files if from_files else None)
        result.records += res.records
        result.record_paths += res.paths
        if not from_files:
            result.example_dir = _record_dir(out, name)
            _first_submission(result, res.records, task, preset)

    result.table = evaluator.format_table(metrics.aggregate(result.records))
    echo("\n== 3. comparison (mean over seeds; NMSE = final error / target variance, 95% bootstrap CI)")
    echo(result.table)
    result.plot = plots.plot_learning_curves(result.records, out / "learning_curves.png")
    echo(f"\nrecords:        {out / 'records'} ({len(result.record_paths)} files, one folder per learner)")
    echo(f"learning curve: {result.plot}")
    echo("\nTrace patterning needs millions of steps: at 200k NMSE near 1 (the best constant) is expected.\n"
         "Next: `oscbench evaluate hybrid --preset short` (5 seeds of 5M steps) and\n"
         "`oscbench leaderboard show` for the committed reference results at that preset.")
    if result.submit_command:
        echo(f"\nYour first submission: the example learner's records form a valid {PRESET}-board entry:\n"
             f"  {result.submit_command}\n"
             "(add --authors and --url; --root DIR tries it on a scratch board). For a learner of your own, copy\n"
             "examples/linear_td.py to my_learner.py, change it, run `oscbench evaluate my_learner.py --out runs/mine`\n"
             "and submit runs/mine the same way.")
    elif result.not_submittable:
        echo(f"\nThe example's records are not a leaderboard entry: {result.not_submittable}.")
    return result


def _first_submission(result: QuickstartResult, records: list[dict[str, Any]], task: tasks.Task,
                      preset: tasks.Preset) -> None:
    """Set ``submit_command`` when the example's records pass the leaderboard's checks, else say why not."""
    from oscbench.leaderboard.validation import check_records

    if records and records[0]["steps"] != preset.steps:
        result.not_submittable = (f"the {PRESET} board needs {preset.steps:,} steps a run; run "
                                  f"`oscbench quickstart` without --steps")
        return
    if len(records) < preset.seeds:
        result.not_submittable = (f"the {PRESET} board needs {preset.seeds} seeds; run `oscbench quickstart` "
                                  f"with at least {preset.seeds} seeds (the default)")
        return
    problems = check_records(records)
    if problems:
        result.not_submittable = problems[0]
        return
    assert result.example_dir is not None
    result.submit_command = (f"oscbench submit {shlex.quote(str(result.example_dir))} "
                             f"--name {shlex.quote(EXAMPLE_ENTRY_NAME)} "
                             f"--command {shlex.quote('oscbench quickstart')}")
