"""Step-size sweeps of the reference learners (batched: one run per grid point, one compiled call).

``python -m oscbench.baselines.sweep NAME [--steps N] [--seeds 0 1] [--isi 14 26] [--window W]
[--step-sizes A ...] [--var-floors F ...] [--hp key=value ...] [--atari ID_OR_FILE]``

prints, for every grid point, the mean squared error over the last ``window`` steps (averaged over
seeds) against the stream's targets -- trace patterning: the trial-truncated target (the paper's
metric) and the full return; Atari: the episode return -- and a last line with the variance of the
targets over the same steps (the best constant predictor's error). Every run starts from the
learner's :func:`~oscbench.baselines.reference_config` for the task, then ``--hp``, then the grid.

Default grids are C's (SPEC §8): trace, step_size {0.3 … 0.001} × var_floor {0.1, 0.01} for the
column networks and {1e-3, 3e-4, 1e-4, 3e-5} for T-BPTT; Atari, step_size {3e-4, 1e-4, 3e-5}
(T-BPTT {1e-3, 3e-4, 1e-4}). The README records what was run and what it gave.
"""
from __future__ import annotations

import argparse
import ast
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from oscbench.baselines.batched import BatchedLearner
from oscbench.baselines.configs import reference_config
from oscbench.datasets.stream import StepChunk
from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream

TRACE_GRIDS: dict[str, list[dict[str, Any]]] = {"tbptt": [{"step_size": a} for a in (1e-3, 3e-4, 1e-4, 3e-5)]}
ATARI_GRIDS: dict[str, list[dict[str, Any]]] = {"tbptt": [{"step_size": a} for a in (1e-3, 3e-4, 1e-4)]}
for _name in ("hybrid", "columnar", "constructive"):
    TRACE_GRIDS[_name] = [{"step_size": a, "var_floor": f}
                          for f, a in itertools.product((0.1, 0.01), (0.3, 0.1, 0.03, 0.01, 0.003, 0.001))]
    ATARI_GRIDS[_name] = [{"step_size": a} for a in (3e-4, 1e-4, 3e-5)]


def _chunks(seed: int, n_steps: int, isi: tuple[int, int], atari: str | None) -> Iterator[tuple[StepChunk, np.ndarray]]:
    """(chunk, targets [K, N]) over n_steps steps of the stream."""
    if atari is None:
        for ch in TracePatterningStream(TracePatterningConfig(isi=isi), seed=seed).chunks(n_steps, 65536):
            yield ch, np.stack([ch.returns_truncated, ch.returns])
        return
    from oscbench.datasets.atari import AtariStream

    with AtariStream(atari) as s:
        for ch in s.chunks(n_steps, 65536):
            yield ch, ch.returns[None]


def sweep(name: str, n_steps: int, seeds: Sequence[int], *, isi: tuple[int, int] = (14, 26),
          window: int = 200_000, grid: list[dict[str, Any]] | None = None, fixed: dict[str, Any] | None = None,
          atari: str | None = None) -> list[dict[str, Any]]:
    """Final-window errors of ``name`` for every grid point (plus a ``best_constant`` row)."""
    task = "trace-patterning" if atari is None else "atari"
    grid = (TRACE_GRIDS if atari is None else ATARI_GRIDS)[name] if grid is None else grid
    base = {**reference_config(name, task, n_steps), **(fixed or {})}
    labels = ["mse_truncated", "mse_return"] if atari is None else ["mse_return"]
    sq = np.zeros((len(seeds), len(labels), len(grid)))
    tail: list[np.ndarray] = []
    for si, seed in enumerate(seeds):
        learner = None
        for ch, targets in _chunks(seed, n_steps, isi, atari):
            if learner is None:
                learner = BatchedLearner(name, ch.observations.shape[1], [seed] * len(grid), [{**base, **g} for g in grid])
            preds = learner.run(ch.observations, ch.cumulants, ch.continuations)
            a = max(0, n_steps - window - ch.start)
            if a < len(ch):
                for li in range(len(labels)):
                    sq[si, li] += ((preds[:, a:] - targets[li, a:]) ** 2).sum(1)
                tail.append(targets[:, a:])
    w = min(window, n_steps)
    rows = [{**g, **{lab: float(sq[:, li, i].mean() / w) for li, lab in enumerate(labels)}} for i, g in enumerate(grid)]
    const = np.concatenate(tail, axis=1).var(axis=1)            # pooled over seeds
    return rows + [{"best_constant": True, **{lab: float(const[li]) for li, lab in enumerate(labels)}}]


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m oscbench.baselines.sweep", description=__doc__.split("\n")[0])
    p.add_argument("name", choices=sorted(TRACE_GRIDS))
    p.add_argument("--steps", type=int, default=10_000_000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--isi", type=int, nargs=2, default=(14, 26))
    p.add_argument("--window", type=int, default=200_000)
    p.add_argument("--step-sizes", type=float, nargs="+", help="override the grid's step sizes")
    p.add_argument("--var-floors", type=float, nargs="+", help="override the grid's var_floor values")
    p.add_argument("--hp", nargs="+", default=[], metavar="KEY=VALUE", help="fixed hyper-parameters")
    p.add_argument("--atari", metavar="ID_OR_FILE", help="sweep on an Atari dataset instead of trace patterning")
    a = p.parse_args(argv)
    default = (TRACE_GRIDS if a.atari is None else ATARI_GRIDS)[a.name]
    grid = None
    if a.step_sizes or a.var_floors:
        sizes = a.step_sizes or sorted({g["step_size"] for g in default}, reverse=True)
        floors = a.var_floors or sorted({g["var_floor"] for g in default if "var_floor" in g}, reverse=True) or [None]
        grid = [{"step_size": s, **({"var_floor": f} if f is not None else {})} for f, s in itertools.product(floors, sizes)]
    fixed = dict((kv.split("=", 1)[0], _value(kv.split("=", 1)[1])) for kv in a.hp)
    for row in sweep(a.name, a.steps, a.seeds, isi=tuple(a.isi), window=a.window, grid=grid, fixed=fixed,
                     atari=a.atari):
        print(" ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
