"""``oscbench quickstart`` (``make quickstart``): the suite's main job on the embedded default.

1. Generate the trace-patterning stream of each seed as an HDF5 dataset file
   (``<out>/data/trace-patterning_seed-<s>_steps-<N>.h5``) and print the summary of the first.
2. Evaluate the reference ``hybrid`` and ``tbptt`` learners on ``trace-patterning-v1`` at the
   ``smoke`` preset (200k steps) for a few seeds, reading the streams from those files; one result
   record per run in ``<out>/records/``.
3. Print the comparison table (final error, NMSE with its 95% bootstrap CI, FLOPs/step, steps per
   CPU-second) and write the learning curves to ``<out>/learning_curves.png``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oscbench.benchmark import evaluator, metrics, plots, tasks
from oscbench.errors import ConfigError

TASK = "trace-patterning-v1"
PRESET = "smoke"
LEARNERS = ("hybrid", "tbptt")
DEFAULT_SEEDS = 3


@dataclass
class QuickstartResult:
    out_dir: Path
    datasets: list[Path]
    records: list[dict[str, Any]] = field(default_factory=list)
    record_paths: list[Path] = field(default_factory=list)
    plot: Path | None = None
    table: str = ""

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] != "ok"]


def quickstart(out_dir: str | Path = "out", *, n_steps: int | None = None, n_seeds: int = DEFAULT_SEEDS,
               learners: Sequence[str] = LEARNERS, progress: bool = True,
               echo: Callable[[str], None] = print) -> QuickstartResult:
    """Run the quickstart; ``echo`` receives each block of text it prints. See the module docs."""
    from oscbench.datasets.generate import generate_trace_patterning
    from oscbench.datasets.info import dataset_info, format_info
    from oscbench.datasets.trace_patterning import TracePatterningConfig

    if n_seeds <= 0:
        raise ConfigError(f"--seeds {n_seeds} must be a positive number of seeds.")
    task = tasks.get_task(TASK)
    preset = task.preset(PRESET)
    steps = n_steps or preset.steps
    if steps <= 0:
        raise ConfigError(f"--steps {steps} must be positive.")
    out = Path(out_dir).expanduser()
    config = TracePatterningConfig.from_dict(dict(task.stream_params))

    echo(f"== 1. the trace-patterning stream ({task.dataset_id}), {n_seeds} seed(s) x {steps:,} steps")
    files: dict[int, Path] = {}
    for s in range(n_seeds):
        files[s] = generate_trace_patterning(out / "data" / f"trace-patterning_seed-{s}_steps-{steps}.h5",
                                             config=config, seed=s, n_steps=steps, overwrite=True, progress=progress)
    echo(format_info(dataset_info(files[0])))
    echo(f"(seeds 1..{n_seeds - 1} in the same directory)" if n_seeds > 1 else "")

    result = QuickstartResult(out, list(files.values()))
    for name in learners:
        echo(f"\n== 2. evaluating {name} on {TASK} ({PRESET if steps == preset.steps else 'custom'}: "
             f"{steps:,} steps, seeds 0-{n_seeds - 1})")
        res = evaluator.evaluate(name, task=TASK, preset=PRESET, seeds=list(files), out_dir=out / "records",
                                 n_steps=None if steps == preset.steps else steps, progress=progress,
                                 dataset=files)
        result.records += res.records
        result.record_paths += res.paths

    result.table = evaluator.format_table(metrics.aggregate(result.records))
    echo("\n== 3. comparison (mean over seeds; NMSE = final error / target variance, 95% bootstrap CI)")
    echo(result.table)
    result.plot = plots.plot_learning_curves(result.records, out / "learning_curves.png")
    echo(f"\nrecords:        {out / 'records'} ({len(result.record_paths)} files)")
    echo(f"learning curve: {result.plot}")
    echo("\nTrace patterning needs millions of steps: at 200k NMSE near 1 (the best constant) is expected.\n"
         "Next: `oscbench evaluate hybrid --preset short --seeds 0-4` (5M steps a seed) and\n"
         "`oscbench leaderboard show` for the committed reference results at that preset.")
    return result
