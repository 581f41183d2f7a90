"""A run's stream: (task, game, seed) -> the chunks the evaluator scores, plus the ``dataset`` block of
the result record (id, content digest, parameters, seed).

Trace patterning is generated from the seed (or read from a file generated with the task's parameters);
Atari reads the game's verified recorded pass, looped (optionally from an offset); a custom stream reads
the user's file as it is. :data:`STREAM_OPENERS` maps a task kind to its opener.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oscbench.benchmark.tasks import Task
from oscbench.datasets.format import array_digest_line
from oscbench.datasets.stream import StepChunk, rechunk
from oscbench.errors import ConfigError, DataError

DIGEST_STEPS = 65536  # a generated stream's digest covers its first DIGEST_STEPS steps (see stream_digest)


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


def _file_source(path: str | Path, n_steps: int, *, loop: bool | None, want_params: Mapping[str, Any] | None = None,
                 want_seed: int | None = None, want_id: str | None = None) -> StreamSource:
    from oscbench.datasets.format import DatasetFile

    ds = DatasetFile(path, verify=True)
    ds.close()
    if loop is None:   # as the file's kind says: a recorded pass (Atari) loops, as the Atari task loops it;
        loop = ds.kind == "atari"   # a generated stream does not: a longer run needs a longer file
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
    "custom": lambda task, game, seed, n_steps, dataset: _file_source(task.source, n_steps, loop=None,
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
