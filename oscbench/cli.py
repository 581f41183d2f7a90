"""The ``oscbench`` command line: parse, call a library function, print.

Every command is a thin wrapper over a function of the library, so everything here is callable
from Python too. User errors print ``error: <one line>`` and exit non-zero, without a traceback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from oscbench._version import __version__
from oscbench.benchmark.seeds import N_SEEDS_HELP as _N_SEEDS_HELP
from oscbench.benchmark.seeds import SEEDS_HELP as _SEEDS_HELP
from oscbench.errors import OscbenchError


class _UserError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class; ours is per error

    def show(self, file=None) -> None:  # one line, no "Usage:" block
        click.echo(f"error: {self.message}", err=True)


class _Root(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OscbenchError as err:
            raise _UserError(str(err), err.exit_code) from None
        except KeyboardInterrupt:
            click.echo("interrupted; finished outputs were kept, nothing half-written was left.", err=True)
            ctx.exit(130)


def _dump_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oscbench")
def cli() -> None:
    """oscbench: benchmarks for online state construction (trace patterning, Atari prediction)."""


# ----------------------------------------------------------------------------------------- datasets
@cli.group()
def datasets() -> None:
    """Generate, download, verify and inspect datasets (data dir: $OSCBENCH_DATA)."""


@datasets.command("generate")
@click.argument("name")
@click.option("--steps", type=int, default=None, help="Trace patterning: number of steps [default: 1000000].")
@click.option("--seed", type=int, default=None, help="Trace patterning: stream seed [default: 0].")
@click.option("--preset", default=None, help="Trace patterning: default, code-head or no-distractors.")
@click.option("--isi", nargs=2, type=int, default=None, help="Trace patterning: ISI range A B (inclusive).")
@click.option("--iti", nargs=2, type=int, default=None, help="Trace patterning: ITI range A B (inclusive).")
@click.option("--distractors", type=int, default=None, help="Trace patterning: number of distractor bits.")
@click.option("--valid-patterns", type=int, default=None, help="Trace patterning: number of valid patterns.")
@click.option("--gamma", type=float, default=None, help="Trace patterning: discount γ.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Output file (default: in the data dir).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--policy-file", type=click.Path(path_type=Path), default=None,
              help="Atari: replay this local action log instead of the downloaded one.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Atari suites: games generated in parallel.")
@click.option("--with-floor", is_flag=True,
              help="Trace patterning: also store `bayes_floor`, the Bayes-optimal prediction of the target per step.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: {dataset id: file} (bars stay on stderr).")
# [atari-generate-options]
def datasets_generate(name, steps, seed, preset, isi, iti, distractors, valid_patterns, gamma, output,
                      overwrite, quiet, policy_file, jobs, with_floor, as_json) -> None:
    """Generate dataset NAME.

    NAME is `trace-patterning` (or an id such as trace-patterning/code-head-v1), `atari/<Game>-v1`,
    `atari-v1` (the 53-game suite) or `atari` (all 58 games). An Atari dataset's length is set by its
    recorded action log, so the trace-patterning options do not apply to it.
    """
    from oscbench.datasets import generate as gen
    from oscbench.datasets import trace_patterning as tp
    from oscbench.errors import ConfigError

    if name == tp.KIND or name.startswith(tp.KIND + "/"):
        if name.startswith(tp.KIND + "/"):
            preset = preset or name.split("/", 1)[1].rsplit("-v", 1)[0]
        preset = preset or "default"
        if preset not in tp.PRESETS:
            raise ConfigError(f"unknown trace-patterning preset {preset!r}; choose from {sorted(tp.PRESETS)}.")
        config = tp.with_overrides(tp.PRESETS[preset], isi=isi, iti=iti, n_distractors=distractors,
                                   n_valid_patterns=valid_patterns, gamma=gamma)
        if policy_file is not None:
            raise ConfigError("--policy-file is for Atari datasets; trace patterning is generated, not replayed.")
        path = gen.generate_trace_patterning(output, config=config, seed=0 if seed is None else seed,
                                             n_steps=1_000_000 if steps is None else steps,
                                             overwrite=overwrite, progress=not quiet, with_floor=with_floor)
        if as_json:
            from oscbench.datasets.format import DatasetFile

            with DatasetFile(path, verify=False) as ds:
                _dump_json({"datasets": {ds.dataset_id: str(path)}})
        else:
            click.echo(f"wrote {path}")
        return
    if name in ("atari", "atari-v1") or name.startswith("atari/"):
        from oscbench.datasets.atari.generate import generate_named

        trace_only = {"--steps": steps, "--seed": seed, "--preset": preset, "--isi": isi, "--iti": iti,
                      "--distractors": distractors, "--valid-patterns": valid_patterns, "--gamma": gamma,
                      "--with-floor": with_floor or None}
        given = [k for k, v in trace_only.items() if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply to trace patterning; an Atari dataset's length and "
                              "content are set by its recorded action log (drop the option).")
        _echo_datasets(generate_named(name, policy_file=policy_file, jobs=jobs, output=output,
                                      overwrite=overwrite, progress=not quiet), as_json)
        return
    # [atari-generate]
    raise ConfigError(f"unknown dataset {name!r}; try `trace-patterning` or see `oscbench datasets list`.")


def _echo_datasets(made: dict, as_json: bool) -> None:
    if as_json:
        _dump_json({"datasets": {did: str(path) for did, path in made.items()}})
    else:
        for did, path in made.items():
            click.echo(f"{did}: {path}")


@datasets.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-verify", is_flag=True, help="Skip the digest check.")
def datasets_info(path, as_json, no_verify) -> None:
    """Summarise a dataset file: id, parameters, length, digest status, size, return statistics."""
    from oscbench.datasets.info import dataset_info, format_info

    info = dataset_info(path, verify=not no_verify)
    _dump_json(info) if as_json else click.echo(format_info(info))


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--kind", default=None, help="Only this kind (atari, trace-patterning).")
def datasets_list(as_json, kind) -> None:
    """Every dataset id: kind, steps, features, size, local status, excluded flag."""
    from oscbench.datasets import registry
    from oscbench.datasets.listing import format_table

    es = registry.entries(kind)
    _dump_json([e.to_dict() for e in es]) if as_json else click.echo(format_table(es))


@datasets.command("show")
@click.argument("dataset_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def datasets_show(dataset_id, as_json) -> None:
    """Registry facts of DATASET_ID (source, sha256, fingerprint, exclusion) and its local status."""
    from oscbench.datasets.listing import format_show, show

    d = show(dataset_id)
    _dump_json(d) if as_json else click.echo(format_show(d))


@datasets.command("download")
@click.argument("dataset_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Every Atari game (58).")
@click.option("--mirror", default=None, help="URL or directory replacing the upstream base (or $OSCBENCH_MIRROR).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Games generated in parallel.")
@click.option("--log-only", is_flag=True, help="Fetch the verified logs only; generate later.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: {dataset id: file} (bars stay on stderr).")
def datasets_download(dataset_id, all_, mirror, jobs, log_only, quiet, as_json) -> None:
    """Fetch a verified action log (atari/<Game>-v1, atari-v1 or --all) and generate its dataset."""
    from oscbench.datasets import local

    _echo_datasets(local.download(dataset_id, all_=all_, mirror=mirror, jobs=jobs, generate=not log_only,
                                  progress=not quiet), as_json)


@datasets.command("verify")
@click.argument("dataset_id")
@click.option("--replay", is_flag=True, help="Atari: replay the log again and compare (about 30 s per game).")
@click.option("--policy-file", type=click.Path(path_type=Path), default=None, help="Atari: log to replay.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def datasets_verify(dataset_id, replay, policy_file, as_json) -> None:
    """Check a dataset id or file: digests, registry fingerprint, and (--replay) a fresh replay."""
    from oscbench.datasets import local
    from oscbench.datasets.atari.verify import format_report

    rep = local.verify(dataset_id, replay=replay, policy_file=policy_file, progress=not as_json)
    _dump_json(rep) if as_json else click.echo(format_report(rep))


@datasets.command("record")
@click.option("--env", "env_id", required=True, help="Gymnasium environment id, e.g. CartPole-v1 or ALE/Pong-v5.")
@click.option("--policy", default=None, help="package.module:function called as f(observation, action_space) "
              "[default: uniformly random, seeded].")
@click.option("--steps", type=int, required=True, help="Steps to record (episode resets included).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first reset and the random policy.")
@click.option("--gamma", type=float, default=0.99, show_default=True, help="Discount γ inside an episode.")
@click.option("--cumulant", default="reward", show_default=True, help="reward, or obs:I (element I of the observation).")
@click.option("--grayscale16", is_flag=True, help="Image observations through the Atari 16x16 grayscale path.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Dataset file to write (.h5).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the file's summary).")
def datasets_record(env_id, policy, steps, seed, gamma, cumulant, grayscale16, output, overwrite, quiet,
                    as_json) -> None:
    """Record a Gymnasium environment into a dataset file (evaluate on it with `evaluate LEARNER --dataset FILE`)."""
    from oscbench.datasets.info import dataset_info
    from oscbench.datasets.recording import record_env

    path = record_env(env_id, output, steps=steps, policy=policy, seed=seed, gamma=gamma, cumulant=cumulant,
                      grayscale16=grayscale16, overwrite=overwrite, progress=not (quiet or as_json))
    info = dataset_info(path, verify=False)
    if as_json:
        _dump_json(info)
    else:
        click.echo(f"wrote {path} ({info['dataset_id']}, {info['n_steps']:,} steps, {info['n_features']} features)")


@datasets.command("delete")
@click.argument("dataset_id")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: {dataset id, deleted files}.")
def datasets_delete(dataset_id, yes, as_json) -> None:
    """Delete DATASET_ID's local files (dataset file, downloaded log, generated files) from the data dir."""
    from oscbench.datasets import local

    files = local.local_files(dataset_id)
    if not files:
        local.delete(dataset_id)          # raises the one-line "nothing of ... is in the data dir"
    if not as_json:
        for p in files:
            click.echo(f"  {p}")
    if not yes:
        if not sys.stdin.isatty():
            raise OscbenchError(f"not deleting {len(files)} file(s) of {dataset_id} without confirmation; "
                                "rerun with --yes.", exit_code=2)
        click.confirm(f"delete these {len(files)} file(s)?", abort=True)
    gone = local.delete(dataset_id)
    if as_json:
        _dump_json({"dataset_id": dataset_id, "deleted": [str(p) for p in gone]})
    else:
        click.echo(f"deleted {len(gone)} file(s) of {dataset_id}")


# [datasets-commands]


# ------------------------------------------------------------------------------------------- speed
@cli.command("speed")
@click.option("--case", "cases", multiple=True, help="Run only these cases (repeatable); default all.")
@click.option("--scale", type=float, default=1.0, show_default=True, help="Run-length multiplier.")
@click.option("--list", "list_cases", is_flag=True, help="List the cases and exit.")
@click.option("--long", "long_run", is_flag=True,
              help="Long runs (20M steps; Atari size 2M) timed per segment: does speed hold over a whole run?")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def speed(cases, scale, list_cases, long_run, as_json) -> None:
    """Benchmark streams and learners: steps per CPU-second (compile time reported separately)."""
    from oscbench.benchmark import speed as sp

    if list_cases:
        for k, d in sp.available_cases().items():
            click.echo(f"{k:<28}{d}")
        return
    results = sp.run_cases(list(cases) or None, scale, long=long_run)
    _dump_json([r.to_dict() for r in results]) if as_json else click.echo(sp.format_table(results))


# [evaluator-commands]
# ------------------------------------------------------------------------------------------- evaluator
_LEARNER_HELP = "LEARNER: a baseline (hybrid, columnar, constructive, tbptt), path/to/file.py[:factory] or package.module:factory."


def _failed_runs_error(failed: list, out) -> OscbenchError:
    from oscbench.benchmark.evaluator import run_name

    names = "; ".join(run_name(r) for r in failed)
    where = f"; tracebacks in the .log files in {out}" if out else ""
    return OscbenchError(f"{len(failed)} run(s) failed: {names}{where}.", exit_code=1)


def _execution_options(f):
    """--workers / --scheduler: where the runs execute (oscbench.benchmark.distributed)."""
    f = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="Run on an existing Dask cluster (see docs/distributed.md).")(f)
    return click.option("--workers", default="1", show_default=True, metavar="N|auto",
                        help="1: run here, one run after another; N: a local Dask cluster of N worker processes; "
                             "auto: one per CPU.")(f)


def _resume_command(params: dict, command: str = "evaluate") -> str:
    """The ``oscbench evaluate`` (or ``sweep``) command line that continues an interrupted one (never --fresh)."""
    import shlex

    words = ["oscbench", command, params["learner"]]
    flags = {"task": "--task", "preset": "--preset", "seeds": "--seeds", "n_seeds": "--n-seeds", "name": "--name",
             "hp_file": "--hp-file", "out_dir": "--out",
             "steps": "--steps", "dataset": "--dataset", "budget": "--budget", "timeout": "--timeout",
             "memory_limit": "--memory-limit",
             "checkpoint_every": "--checkpoint-every", "sweep_file": "--file", "scheduler": "--scheduler"}
    for name, flag in flags.items():
        if params.get(name) is not None:
            words += [flag, str(params[name])]
    if params.get("workers") not in (None, "1"):
        words += ["--workers", str(params["workers"])]
    for name, flag in (("grid", "--grid"), ("hp_pairs", "--hp")):
        for value in params.get(name) or ():
            words += [flag, value]
    words += [flag for name, flag in (("no_isolate", "--no-isolate"), ("quiet", "--quiet"), ("as_json", "--json"))
              if params.get(name)]
    return shlex.join(words)


def _interrupted(command: str = "evaluate") -> None:
    """Ctrl-C during an evaluation or sweep: say what was kept and how to continue; exit 130."""
    ctx = click.get_current_context()
    click.echo(f"interrupted; finished records and checkpoints in {ctx.params['out_dir']} were kept. Resume with:\n  "
               + _resume_command(ctx.params, command), err=True)
    ctx.exit(130)


@cli.command("evaluate", help=f"Evaluate a learner on a standard task and write one result record per run.\n\n{_LEARNER_HELP}")
@click.argument("learner")
@click.option("--task", default=None, help="trace-patterning-v1 (default), atari-v1/<Game> or atari-v1 (suite); "
              "omitted with --dataset: score on the file as a custom stream (never leaderboard-eligible).")
@click.option("--preset", default="smoke", show_default=True, help="Run length: smoke, short or full.")
@click.option("--seeds", default=None, help=_SEEDS_HELP + " Default: the preset's number of seeds, from 0.")
@click.option("--n-seeds", type=int, default=None, help=_N_SEEDS_HELP)
@click.option("--name", default=None, help="The learner's name in records and on the board (default: derived from LEARNER).")
@click.option("--hp", "hp_pairs", multiple=True, metavar="NAME=VALUE", help="Hyper-parameter (TOML value); repeatable.")
@click.option("--hp-file", type=click.Path(path_type=Path), default=None, help="TOML file of hyper-parameters.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("results"), show_default=True, help="Directory for records and logs.")
@click.option("--steps", type=int, default=None, help="Override the preset's run length (records say preset 'custom').")
@click.option("--dataset", type=click.Path(path_type=Path), default=None, help="Read the stream from this dataset file.")
@click.option("--budget", type=int, default=None, help="Custom stream only: FLOPs per step allowed [default: none].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--no-isolate", "no_isolate", is_flag=True, help="Run the learner in this process (debugging; see docs/isolation.md).")
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="Fail a run whose learner answers no chunk within SECONDS (default 600).")
@click.option("--memory-limit", default=None, metavar="SIZE", help="Address-space limit of a learner process, e.g. 4G, 512M or none (default 8G).")
@click.option("--checkpoint-every", type=int, default=None, metavar="STEPS", help="Checkpoint each run every STEPS steps under --out (default 2000000; 0: never).")
@click.option("--fresh", is_flag=True, help="Ignore finished records and checkpoints under --out; run everything again.")
@_execution_options
def evaluate_cmd(learner, task, preset, seeds, n_seeds, name, hp_pairs, hp_file, out_dir, steps, dataset, budget,
                 as_json, quiet, no_isolate, timeout, memory_limit, checkpoint_every, fresh, workers, scheduler) -> None:
    from oscbench.benchmark import checkpoint, isolation
    from oscbench.benchmark.distributed import parse_workers
    from oscbench.benchmark.evaluator import evaluate
    from oscbench.benchmark.loading import collect_hyperparameters
    from oscbench.benchmark.seeds import resolve_seeds

    hp = collect_hyperparameters(hp_pairs, hp_file)
    seed_list = resolve_seeds(seeds, n_seeds, default=0, seeds_name="--seeds", n_seeds_name="--n-seeds") \
        if seeds is not None or n_seeds is not None else None
    if task is None and dataset is None:
        task = "trace-patterning-v1"
    try:
        res = evaluate(learner, task=task, preset=preset, seeds=seed_list, name=name,
                       hyperparameters=hp, out_dir=out_dir, n_steps=steps, progress=not quiet and not as_json,
                       dataset=dataset, budget=budget, isolate=not no_isolate,
                       timeout=isolation.DEFAULT_TIMEOUT if timeout is None else timeout,
                       memory_limit=isolation.parse_size(memory_limit), fresh=fresh,
                       checkpoint_every=checkpoint.DEFAULT_EVERY if checkpoint_every is None else checkpoint_every,
                       workers=parse_workers(workers), scheduler=scheduler)
    except KeyboardInterrupt:
        _interrupted("evaluate")
    if as_json:
        _dump_json(res.to_dict())
    else:
        click.echo(res.table())
        for s in res.suite():
            n = s["nmse"]
            click.echo(f"suite {s['task']} {s['learner']}: IQM NMSE {n['iqm']:.4g} [{n['ci_low']:.4g}, {n['ci_high']:.4g}] "
                       f"over {n['n_games']} games, {n['n_runs']} runs")
        click.echo(f"records: {out_dir} ({len(res.paths)} files)")
    if res.failed:
        raise _failed_runs_error(res.failed, out_dir)


@cli.command("sweep", help=f"Sweep hyper-parameters: evaluate every configuration of a grid, table and best configuration.\n\n"
             f"{_LEARNER_HELP}\n\nEach --grid is one axis of the Cartesian product: NAME=V1,V2,... or a joint axis "
             "A,B=a1:b1,a2:b2. A TOML --file holds larger grids (see docs/distributed.md). Points over the task's FLOP "
             "budget are skipped with one line.")
@click.argument("learner")
@click.option("--task", default=None, help="Task [default: trace-patterning-v1, or the file's].")
@click.option("--preset", default=None, help="Run length: smoke, short or full [default: smoke, or the file's].")
@click.option("--grid", "grid", multiple=True, metavar="NAME=V1,V2|A,B=a1:b1,a2:b2", help="One axis of the grid; repeatable.")
@click.option("--file", "sweep_file", type=click.Path(path_type=Path), default=None, help="TOML sweep file.")
@click.option("--seeds", default=None, help=_SEEDS_HELP + " Default: the preset's number of seeds, from 0.")
@click.option("--n-seeds", type=int, default=None, help=_N_SEEDS_HELP)
@click.option("--hp", "hp_pairs", multiple=True, metavar="NAME=VALUE", help="Fixed hyper-parameter (TOML value); repeatable.")
@click.option("--hp-file", type=click.Path(path_type=Path), default=None, help="TOML file of fixed hyper-parameters.")
@click.option("--steps", type=int, default=None, help="Override the preset's run length.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("results"), show_default=True,
              help="Directory for the records (one per configuration and run).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--fresh", is_flag=True, help="Ignore finished records and checkpoints under --out; run everything again.")
@_execution_options
def sweep_cmd(learner, task, preset, grid, sweep_file, seeds, n_seeds, hp_pairs, hp_file, steps, out_dir, as_json,
              quiet, fresh, workers, scheduler) -> None:
    from oscbench.benchmark import sweep as sw
    from oscbench.benchmark.distributed import parse_workers
    from oscbench.benchmark.loading import collect_hyperparameters

    f = sw.read_sweep_file(sweep_file) if sweep_file else sw.SweepFile()
    axes = f.axes + [sw.parse_axis(g) for g in grid]
    hp = collect_hyperparameters(hp_pairs, hp_file, extra=f.hyperparameters)
    try:
        res = sw.sweep(learner, task=task or f.task or "trace-patterning-v1", preset=preset or f.preset or "smoke",
                       grid=axes or None, hyperparameters=hp, seeds=seeds if seeds else f.seeds,
                       n_steps=steps if steps is not None else f.steps, out_dir=out_dir, fresh=fresh, n_seeds=n_seeds,
                       workers=parse_workers(workers), scheduler=scheduler, progress=not quiet,
                       note=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        _interrupted("sweep")
    if as_json:
        _dump_json(res.to_dict())
    else:
        click.echo(res.table())
        click.echo(f"records: {out_dir} ({len(res.paths)} files)")
    if res.best is None:
        raise OscbenchError("no configuration finished all its runs; see the failed runs' .log files in "
                            f"{out_dir}.", exit_code=1)


@cli.command("check", help=f"Conformance checks before submitting: protocol, declared FLOPs, step/run outputs, causality, determinism.\n\n{_LEARNER_HELP}")
@click.argument("learner")
@click.option("--task", default="trace-patterning-v1", show_default=True, help="Task whose stream and budget to use.")
@click.option("--hp", "hp_pairs", multiple=True, metavar="NAME=VALUE", help="Hyper-parameter (TOML value); repeatable.")
@click.option("--hp-file", type=click.Path(path_type=Path), default=None, help="TOML file of hyper-parameters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check_cmd(learner, task, hp_pairs, hp_file, as_json) -> None:
    from oscbench.benchmark.check import check_learner
    from oscbench.benchmark.loading import collect_hyperparameters

    report = check_learner(learner, task=task, hyperparameters=collect_hyperparameters(hp_pairs, hp_file))
    _dump_json(report.to_dict()) if as_json else click.echo("\n".join(report.lines()))
    if not report.ok:
        bad = [c.name for c in report.checks if c.status == "FAIL"]
        raise OscbenchError(f"{learner} fails the check(s) {', '.join(bad)}; fix them before submitting.", exit_code=1)


@cli.group("results")
def results_group() -> None:
    """Inspect and validate result records."""


def _record_paths(files) -> list:
    from oscbench.benchmark.records import iter_record_paths

    paths = iter_record_paths(files)
    if not paths:
        raise OscbenchError(f"no .json records in {', '.join(map(str, files))}; give record files or directories.")
    return paths


@results_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def results_validate(files, as_json) -> None:
    """Check records (files or directories) against the schema and recompute what can be recomputed."""
    from oscbench.benchmark.records import validate_record

    reports = [validate_record(p, stream=True) for p in _record_paths(files)]
    if as_json:
        _dump_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            click.echo(f"ok    {r.source}" if r.ok else f"FAIL  {r.source}: " + "; ".join(r.errors))
    bad = [r for r in reports if not r.ok]
    if bad:
        raise OscbenchError(f"{len(bad)} of {len(reports)} record(s) are invalid.", exit_code=1)


@results_group.command("summary")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def results_summary(files, as_json) -> None:
    """Aggregate records over seeds (mean, 95% bootstrap CI) and over Atari games (IQM NMSE)."""
    from oscbench.benchmark import metrics
    from oscbench.benchmark.evaluator import format_table
    from oscbench.benchmark.records import load_records

    recs = load_records(_record_paths(files))
    summary, suite = metrics.aggregate(recs), metrics.suite_summary(recs)
    if as_json:
        _dump_json({"summary": summary, "suite": suite})
        return
    click.echo(format_table(summary))
    for s in suite:
        n = s["nmse"]
        click.echo(f"suite {s['task']} {s['learner']}: IQM NMSE {n['iqm']:.4g} [{n['ci_low']:.4g}, {n['ci_high']:.4g}] "
                   f"over {n['n_games']} games")


@results_group.command("plot")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="PNG file to write.")
@click.option("--title", default=None, help="Plot title (default: task, preset and length).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: {plot: file, records: count}.")
def results_plot(files, output, title, as_json) -> None:
    """Plot learning curves of records (files or directories): mean over seeds with a 95% band, and the
    best constant predictor's error."""
    from oscbench.benchmark.plots import plot_learning_curves
    from oscbench.benchmark.records import load_records

    recs = load_records(_record_paths(files))
    if not any(r["status"] == "ok" for r in recs):
        raise OscbenchError(f"none of the {len(recs)} record(s) finished (status ok); nothing to plot.")
    if output.suffix.lower() != ".png":
        raise OscbenchError(f"-o {output}: the plot is a PNG; give a file name ending in .png.")
    path = plot_learning_curves(recs, output, title=title)
    _dump_json({"plot": str(path), "records": len(recs)}) if as_json else click.echo(f"wrote {path}")


@cli.group("tasks")
def tasks_group() -> None:
    """The standard tasks (budgets, presets, scoring)."""


@tasks_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tasks_list(as_json) -> None:
    """List the standard tasks."""
    from oscbench.benchmark.tasks import list_tasks

    ts = list_tasks()
    if as_json:
        _dump_json([t.summary() for t in ts])
        return
    for t in ts:
        presets = ", ".join(f"{k} {p.steps:,}x{p.seeds}" for k, p in t.presets.items())
        games = f"; {len(t.games)} games" if t.games else ""
        click.echo(f"{t.id:<22}budget {t.budget_flops:>6,} FLOPs/step  gamma {t.gamma}  presets {presets}{games}")


@tasks_group.command("show")
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tasks_show(task_id, as_json) -> None:
    """Show one task's definition."""
    from oscbench.benchmark.tasks import get_task

    s = get_task(task_id).summary()
    if as_json:
        _dump_json(s)
        return
    for k, v in s.items():
        if k == "presets":
            for name, p in v.items():
                click.echo(f"preset {name:<8}{p['steps']:>12,} steps  {p['seeds']} seeds  curve bins of {p['bin_steps']:,}")
        elif k in ("games", "excluded_games") and v:
            click.echo(f"{k:<20}{', '.join(v)}")
        elif v not in ([], None):
            click.echo(f"{k:<20}{v}")


@cli.command("quickstart")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True, help="Output directory.")
@click.option("--steps", type=int, default=None, help="Steps per run (default: the smoke preset, 200,000).")
@click.option("--seeds", default=None, help=_SEEDS_HELP + " Default: 0-2.")
@click.option("--n-seeds", type=int, default=None, help=_N_SEEDS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (records, summary, plot, submit command).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def quickstart_cmd(out_dir, steps, seeds, n_seeds, as_json, quiet) -> None:
    """Generate the trace-patterning stream, evaluate hybrid, T-BPTT and the example learner, print the
    table, plot the curves and print the command that submits the example's records."""
    from oscbench.quickstart import quickstart
    from oscbench.errors import ConfigError

    if seeds is not None and seeds.strip().isdigit():
        n = int(seeds)
        raise ConfigError(f"--seeds {seeds} names seed {n} alone; the quickstart's --seeds no longer takes a count. "
                          f"Write --n-seeds {n} for seeds 0-{max(n - 1, 0)}, or --seeds {n}-{n} for seed {n}.")
    res = quickstart(out_dir, n_steps=steps, seeds=seeds, n_seeds=n_seeds, progress=not (quiet or as_json),
                     echo=(lambda _text: None) if as_json else click.echo, seeds_name="--seeds",
                     n_seeds_name="--n-seeds")
    if as_json:
        _dump_json(res.to_dict())
    if res.failed:
        raise _failed_runs_error(res.failed, Path(out_dir) / "records")

# [leaderboard-commands]
_LB_ROOT = click.option("--root", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True,
                        help="The leaderboard directory (committed submissions, README, site).")


def _echo_problems(err) -> None:
    for line in err.problems:
        click.echo(f"error: {line}", err=True)


@cli.command("submit")
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Display name of the entry (its file name is derived from it).")
@click.option("--authors", multiple=True, help="An author (repeatable).")
@click.option("--url", default=None, help="http(s) link to a paper or code.")
@click.option("--description", default=None, help="One paragraph about the learner.")
@click.option("--command", "command_", default=None, help="The command that produced the records (kept with the entry).")
@click.option("--supersede", is_flag=True, help="Replace an entry of the same name (the old one stays, marked superseded).")
@click.option("--code", "code", type=click.Path(path_type=Path), default=None,
              help="The learner's source (.py file or package directory), stored with the entry so it can be verified.")
@click.option("--requires", multiple=True, metavar="REQUIREMENT", help="A Python dependency of --code, e.g. 'torch>=2.2' (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: the entry written, or the problems.")
@_LB_ROOT
def submit_cmd(records, name, authors, url, description, command_, supersede, code, requires, as_json, root) -> None:
    """Validate one learner's RECORDS (files or directories) for one task and preset; write the entry."""
    from oscbench.leaderboard.submissions import submit
    from oscbench.leaderboard.validation import ValidationFailed

    try:
        res = submit(list(records), name=name, authors=authors, url=url, description=description,
                     command=command_, supersede=supersede, root=root, code=code, requires=requires)
    except ValidationFailed as err:
        if as_json:
            _dump_json({"ok": False, "problems": err.problems})
        _echo_problems(err)
        raise SystemExit(2) from None
    if as_json:
        e = res.entry
        _dump_json({"ok": True, "path": str(res.path), "superseded": str(res.superseded) if res.superseded else None,
                    "name": e["name"], "task": e["task"]["id"], "preset": e["task"]["preset"],
                    "learner": e["learner"]["name"], "games": e["games"], "seeds": len(e["records"]),
                    "submitted": e["submitted"], "code": e["code"]["archive"] if e.get("code") else None})
        return
    if res.superseded:
        click.echo(f"kept the previous entry as {res.superseded} (superseded)")
    stored = f" and its code {res.path.parent / res.entry['code']['archive']}" if res.entry.get("code") else \
        " (unverified: no --code)"
    click.echo(f"wrote {res.path}{stored}; commit it and run `oscbench leaderboard build`")


@cli.group()
def leaderboard() -> None:
    """Build, show and validate the leaderboard (leaderboard/ of the repository)."""


@leaderboard.command("build")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_LB_ROOT
def leaderboard_build(as_json, root) -> None:
    """Write ROOT/README.md (tables) and the static site ROOT/site/ (all or nothing)."""
    from oscbench.leaderboard.site import build

    res = build(root)
    if as_json:
        _dump_json({"boards": res.boards, "entries": res.entries, "readme": str(res.readme),
                    "site": str(res.site / "index.html"), "files": list(res.files)})
        return
    click.echo(f"built {res.boards} boards from {res.entries} entries: {res.readme}, {res.site / 'index.html'}")


@leaderboard.command("show")
@click.option("--task", default=None, help="Only this task (trace-patterning-v1, atari-v1, atari-v1/Pong, atari-v1/suite).")
@click.option("--preset", default=None, help="Only this preset.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_LB_ROOT
def leaderboard_show(task, preset, as_json, root) -> None:
    """Print the rankings."""
    from oscbench.leaderboard.ranking import build_boards, filter_boards, to_json
    from oscbench.leaderboard.render_markdown import board_text
    from oscbench.leaderboard.site import load_valid_entries

    if task:
        from oscbench.benchmark.tasks import resolve

        base, _, sub = task.partition("/")
        resolve(base if sub == "suite" else task)  # an unknown task or game is a user error, not an empty board
    boards = filter_boards(build_boards(load_valid_entries(root)), task, preset)
    if as_json:
        _dump_json(to_json(boards))
    elif not boards:
        click.echo("no entries" + (f" for {task}" if task else "") + (f" at preset {preset}" if preset else ""))
    else:
        click.echo("\n\n".join(board_text(b) for b in boards))


@leaderboard.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_LB_ROOT
def leaderboard_validate(as_json, root) -> None:
    """Re-check every committed entry (records, dataset digests, recomputed aggregates)."""
    from oscbench.leaderboard.submissions import validate_all

    reports = validate_all(root)
    bad = [r for r in reports if not r.ok]
    if as_json:
        _dump_json([{"file": str(r.path), "ok": r.ok, "problems": r.problems} for r in reports])
    else:
        for r in bad:
            for p in r.problems:
                click.echo(f"error: {r.path}: {p}", err=True)
        click.echo(f"{len(reports) - len(bad)} of {len(reports)} entries valid")
    if bad:
        raise SystemExit(1)


@leaderboard.command("verify")
@click.argument("entries", nargs=-1)
@click.option("--seeds", "n_seeds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Seeds of the entry re-run and compared (chosen at random).")
@click.option("--held-out", "n_heldout", type=click.IntRange(0, 100), default=None,
              help="Runs on fresh streams (trace patterning) or a shifted pass (Atari) [default: enough for the "
                   "permutation test to reach α = 0.01, e.g. 4 for 5 seeds]; 0 skips them.")
@click.option("--prefix", is_flag=True, help="Cheap check only: re-run the first curve bins of every seed; sets no status.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_LB_ROOT
def leaderboard_verify(entries, n_seeds, n_heldout, prefix, as_json, quiet, root) -> None:
    """Re-run ENTRIES (slugs or entry files; none = every active entry) from their stored code; record the status."""
    from oscbench.leaderboard import verify as V

    paths = V.resolve_entries(root, entries)
    out: list[dict[str, Any]] = []
    failed = 0
    for path in paths:
        try:     # raises before anything is written, e.g. when this machine lacks an entry's datasets
            problems = V.verify_prefix(path) if prefix else None
            res = None if prefix else V.verify_entry(path, n_seeds=n_seeds, n_heldout=n_heldout,
                                                     progress=not (quiet or as_json))
        except OscbenchError as err:       # say so, write nothing, go on with the other entries
            failed += 1
            out.append({"file": str(path), "status": "not run", "reason": str(err), "checks": []})
            if not as_json:
                click.echo(f"error: {err}", err=True)
            continue
        if prefix:
            if problems is None:
                out.append({"file": str(path), "status": "unverified", "problems": []})
                if not as_json:
                    click.echo(f"{path}: skipped (no stored code: unverified)")
                continue
            failed += bool(problems)
            out.append({"file": str(path), "status": "failed" if problems else "passed", "problems": problems})
            if not as_json:
                for line in problems:
                    click.echo(f"error: {path}: {line}", err=True)
                click.echo(f"{path}: first {V.PREFIX_BINS} curve bins of every seed "
                           f"{'do not reproduce' if problems else 'reproduce'}")
            continue
        assert res is not None
        if res.status == "unverified":
            out.append({"file": str(path), "status": res.status, "reason": res.reason, "checks": []})
            if not as_json:
                click.echo(f"{path}: unverified ({res.reason})")
            continue
        written = V.write_verification(res)
        failed += res.status != "verified"
        out.append({"file": str(path), "status": res.status, "verification": str(written),
                    "checks": [c.to_dict() for c in res.checks]})
        if not as_json:
            for c in res.checks:
                click.echo(f"{'ok' if c.passed else 'FAILED'} {c.kind}: {c.detail}", err=not c.passed)
            click.echo(f"{path}: {res.status} (written to {written})")
    if as_json:
        _dump_json(out)
    if failed:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="oscbench")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
