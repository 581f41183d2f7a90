"""The ``oscbench`` command line: parse, call a library function, print.

Every command is a thin wrapper over a function of the library, so everything here is callable
from Python too. User errors print ``error: <one line>`` and exit non-zero, without a traceback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from oscbench import __version__
from oscbench.errors import OscbenchError


class _UserError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

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
# [atari-generate-options]
def datasets_generate(name, steps, seed, preset, isi, iti, distractors, valid_patterns, gamma, output,
                      overwrite, quiet, policy_file, jobs) -> None:
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
                                             overwrite=overwrite, progress=not quiet)
        click.echo(f"wrote {path}")
        return
    if name in ("atari", "atari-v1") or name.startswith("atari/"):
        from oscbench.datasets.atari.generate import generate_named

        trace_only = {"--steps": steps, "--seed": seed, "--preset": preset, "--isi": isi, "--iti": iti,
                      "--distractors": distractors, "--valid-patterns": valid_patterns, "--gamma": gamma}
        given = [k for k, v in trace_only.items() if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply to trace patterning; an Atari dataset's length and "
                              "content are set by its recorded action log (drop the option).")
        for did, path in generate_named(name, policy_file=policy_file, jobs=jobs, output=output,
                                        overwrite=overwrite, progress=not quiet).items():
            click.echo(f"{did}: {path}")
        return
    # [atari-generate]
    raise ConfigError(f"unknown dataset {name!r}; try `trace-patterning` or see `oscbench datasets list`.")


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

    es = registry.entries(kind)
    _dump_json([e.to_dict() for e in es]) if as_json else click.echo(registry.format_table(es))


@datasets.command("show")
@click.argument("dataset_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def datasets_show(dataset_id, as_json) -> None:
    """Registry facts of DATASET_ID (source, sha256, fingerprint, exclusion) and its local status."""
    from oscbench.datasets import registry

    d = registry.show(dataset_id)
    _dump_json(d) if as_json else click.echo(registry.format_show(d))


@datasets.command("download")
@click.argument("dataset_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Every Atari game (58).")
@click.option("--mirror", default=None, help="URL or directory replacing the upstream base (or $OSCBENCH_MIRROR).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Games generated in parallel.")
@click.option("--log-only", is_flag=True, help="Fetch the verified logs only; generate later.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def datasets_download(dataset_id, all_, mirror, jobs, log_only, quiet) -> None:
    """Fetch a verified action log (atari/<Game>-v1, atari-v1 or --all) and generate its dataset."""
    from oscbench.datasets import registry

    for did, path in registry.download(dataset_id, all_=all_, mirror=mirror, jobs=jobs, generate=not log_only,
                                       progress=not quiet).items():
        click.echo(f"{did}: {path}")


@datasets.command("verify")
@click.argument("dataset_id")
@click.option("--replay", is_flag=True, help="Atari: replay the log again and compare (about 30 s per game).")
@click.option("--policy-file", type=click.Path(path_type=Path), default=None, help="Atari: log to replay.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def datasets_verify(dataset_id, replay, policy_file, as_json) -> None:
    """Check a dataset id or file: digests, registry fingerprint, and (--replay) a fresh replay."""
    from oscbench.datasets import registry
    from oscbench.datasets.atari.verify import format_report

    rep = registry.verify(dataset_id, replay=replay, policy_file=policy_file, progress=not as_json)
    _dump_json(rep) if as_json else click.echo(format_report(rep))


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


@cli.command("evaluate", help=f"Evaluate a learner on a standard task and write one result record per run.\n\n{_LEARNER_HELP}")
@click.argument("learner")
@click.option("--task", default="trace-patterning-v1", show_default=True, help="trace-patterning-v1, atari-v1/<Game> or atari-v1 (suite).")
@click.option("--preset", default="smoke", show_default=True, help="Run length: smoke, short or full.")
@click.option("--seeds", default=None, help="Seeds: 0-4, 0,3,7 or 5 (default: the preset's count, from 0).")
@click.option("--hp", "hp_pairs", multiple=True, metavar="NAME=VALUE", help="Hyper-parameter (TOML value); repeatable.")
@click.option("--hp-file", type=click.Path(path_type=Path), default=None, help="TOML file of hyper-parameters.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("results"), show_default=True, help="Directory for records and logs.")
@click.option("--steps", type=int, default=None, help="Override the preset's run length (records say preset 'custom').")
@click.option("--dataset", type=click.Path(path_type=Path), default=None, help="Read the stream from this dataset file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def evaluate_cmd(learner, task, preset, seeds, hp_pairs, hp_file, out_dir, steps, dataset, as_json, quiet) -> None:
    from oscbench.benchmark.evaluator import evaluate, parse_seeds
    from oscbench.benchmark.loading import collect_hyperparameters

    hp = collect_hyperparameters(hp_pairs, hp_file)
    res = evaluate(learner, task=task, preset=preset, seeds=parse_seeds(seeds) if seeds else None,
                   hyperparameters=hp, out_dir=out_dir, n_steps=steps, progress=not quiet, dataset=dataset)
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


@cli.command("check", help=f"Conformance checks before submitting: protocol, declared FLOPs, step/run outputs, causality, determinism.\n\n{_LEARNER_HELP}")
@click.argument("learner")
@click.option("--task", default="trace-patterning-v1", show_default=True, help="Task whose stream and budget to use.")
@click.option("--hp", "hp_pairs", multiple=True, metavar="NAME=VALUE", help="Hyper-parameter (TOML value); repeatable.")
@click.option("--hp-file", type=click.Path(path_type=Path), default=None, help="TOML file of hyper-parameters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check_cmd(learner, task, hp_pairs, hp_file, as_json) -> None:
    from oscbench.benchmark.audit import check_learner
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

    reports = [validate_record(p) for p in _record_paths(files)]
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
@click.option("--seeds", type=int, default=3, show_default=True, help="Number of seeds (0..N-1).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def quickstart_cmd(out_dir, steps, seeds, quiet) -> None:
    """Generate the trace-patterning stream, evaluate hybrid and T-BPTT, print the table, plot the curves."""
    from oscbench.benchmark.quickstart import quickstart

    res = quickstart(out_dir, n_steps=steps, n_seeds=seeds, progress=not quiet, echo=click.echo)
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
@_LB_ROOT
def submit_cmd(records, name, authors, url, description, command_, supersede, root) -> None:
    """Validate one learner's RECORDS (files or directories) for one task and preset; write the entry."""
    from oscbench.leaderboard.submissions import submit
    from oscbench.leaderboard.validation import ValidationFailed

    try:
        res = submit(list(records), name=name, authors=authors, url=url, description=description,
                     command=command_, supersede=supersede, root=root)
    except ValidationFailed as err:
        _echo_problems(err)
        raise SystemExit(2) from None
    if res.superseded:
        click.echo(f"kept the previous entry as {res.superseded} (superseded)")
    click.echo(f"wrote {res.path}; commit it and run `oscbench leaderboard build`")


@cli.group()
def leaderboard() -> None:
    """Build, show and validate the leaderboard (leaderboard/ of the repository)."""


@leaderboard.command("build")
@_LB_ROOT
def leaderboard_build(root) -> None:
    """Write ROOT/README.md (tables) and the static site ROOT/site/ (all or nothing)."""
    from oscbench.leaderboard.site import build

    res = build(root)
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

        resolve(task)  # an unknown task or game is a user error, not an empty board
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="oscbench")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
