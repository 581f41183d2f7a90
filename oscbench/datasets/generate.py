"""Write generated streams to dataset files (atomically, with a progress bar)."""
from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from oscbench.datasets import paths
from oscbench.datasets.format import DatasetWriter
from oscbench.datasets.trace_patterning import TRACE_LAYOUT, TracePatterningConfig, TracePatterningStream
from oscbench.errors import ConfigError

__all__ = ["TRACE_LAYOUT", "default_trace_path", "generate_trace_patterning"]


def default_trace_path(config: TracePatterningConfig, seed: int, n_steps: int) -> Path:
    """``<data dir>/trace-patterning/<preset>-v1/seed-<S>_steps-<N>.h5``."""
    from oscbench.datasets.trace_patterning import dataset_id

    return paths.dataset_path(dataset_id(config), f"seed-{seed}_steps-{n_steps}")


def generate_trace_patterning(path: str | Path | None = None, *, config: TracePatterningConfig | None = None,
                              seed: int = 0, n_steps: int = 1_000_000, overwrite: bool = False,
                              progress: bool = True, with_floor: bool = False) -> Path:
    """Generate ``n_steps`` of the trace-patterning stream into an HDF5 dataset file.

    Returns the path written (``default_trace_path`` when ``path`` is None). Existing files are refused
    unless ``overwrite``; an interrupted run leaves nothing under the final name. ``with_floor`` adds the
    step array ``bayes_floor`` float64 [T] (the Bayes-optimal prediction of ``returns_truncated``,
    :func:`oscbench.datasets.trace_patterning.bayes_floor_predictions`): a reference for analysis, covered
    by the content digest and never part of the observations.
    """
    config = config or TracePatterningConfig()
    if n_steps <= 0:
        raise ConfigError(f"--steps {n_steps} must be positive.")
    stream = TracePatterningStream(config, seed)
    out = Path(path) if path is not None else default_trace_path(config, seed, n_steps)
    F = config.n_features
    with DatasetWriter(out, dataset_id=stream.dataset_id, kind=stream.kind, generator=stream.generator,
                       params=config.to_dict(), seed=seed, gamma=config.gamma,
                       step_arrays={"observations": ("u1", (F,)), "cumulants": ("<f4", ()),
                                    "continuations": ("<f4", ()), "returns": ("<f8", ()),
                                    "returns_truncated": ("<f8", ()),
                                    **({"bayes_floor": ("<f8", ())} if with_floor else {})},
                       overwrite=overwrite) as w, \
            tqdm(total=n_steps, unit="step", unit_scale=True, disable=not progress or n_steps < 2_000_000,
                 desc="trace-patterning") as bar:
        for b in stream.raw_blocks(n_steps, with_floor=with_floor):
            w.append(**{k: v for k, v in b.items() if k != "start"})
            bar.update(len(b["cumulants"]))
    return out
