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
@click.option("--steps", type=int, default=1_000_000, show_default=True, help="Number of steps.")
@click.option("--seed", type=int, default=0, show_default=True, help="Stream seed.")
@click.option("--preset", default=None, help="Trace patterning: default, code-head or no-distractors.")
@click.option("--isi", nargs=2, type=int, default=None, help="Trace patterning: ISI range A B (inclusive).")
@click.option("--iti", nargs=2, type=int, default=None, help="Trace patterning: ITI range A B (inclusive).")
@click.option("--distractors", type=int, default=None, help="Trace patterning: number of distractor bits.")
@click.option("--valid-patterns", type=int, default=None, help="Trace patterning: number of valid patterns.")
@click.option("--gamma", type=float, default=None, help="Trace patterning: discount γ.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Output file (default: in the data dir).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
# [atari-generate-options]
def datasets_generate(name, steps, seed, preset, isi, iti, distractors, valid_patterns, gamma, output,
                      overwrite, quiet, **extra) -> None:
    """Generate dataset NAME: `trace-patterning` (or an id such as trace-patterning/code-head-v1)."""
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
        path = gen.generate_trace_patterning(output, config=config, seed=seed, n_steps=steps,
                                             overwrite=overwrite, progress=not quiet)
        click.echo(f"wrote {path}")
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


# [datasets-commands]


# ------------------------------------------------------------------------------------------- speed
@cli.command("speed")
@click.option("--case", "cases", multiple=True, help="Run only these cases (repeatable); default all.")
@click.option("--scale", type=float, default=1.0, show_default=True, help="Run-length multiplier.")
@click.option("--list", "list_cases", is_flag=True, help="List the cases and exit.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def speed(cases, scale, list_cases, as_json) -> None:
    """Benchmark streams and learners: steps per CPU-second (compile time reported separately)."""
    from oscbench.benchmark import speed as sp

    if list_cases:
        for k, d in sp.available_cases().items():
            click.echo(f"{k:<28}{d}")
        return
    results = sp.run_cases(list(cases) or None, scale)
    _dump_json([r.to_dict() for r in results]) if as_json else click.echo(sp.format_table(results))


# [evaluator-commands]

# [leaderboard-commands]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="oscbench")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
