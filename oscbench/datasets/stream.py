"""What every stream yields: :class:`StepChunk`, a run of consecutive steps, and the :class:`Stream` protocol.

Both sources of experience -- streams generated on the fly (trace patterning) and dataset files
(:class:`oscbench.datasets.format.DatasetFile`) -- yield the same chunks, so the evaluator does not
care where the data comes from.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class StepChunk:
    """Steps ``start .. start+N-1`` of a stream.

    Attributes:
        start: global index of the first step (0-based).
        observations: float32 ``[N, F]`` learner observations x_t.
        cumulants: float32 ``[N]`` c_t, received on the transition into x_t.
        continuations: float32 ``[N]`` γ_t of the transition into x_t (0 where x_t starts an episode).
        returns: float64 ``[N]`` the return G_t = c_{t+1} + γ_{t+1} G_{t+1} (see the stream's docs for
            what happens at its horizon).
        returns_truncated: float64 ``[N]`` or ``None``: a task-specific truncated target (trace
            patterning: the return cut off at the next CS onset, SPEC §1.4).
    """

    start: int
    observations: np.ndarray
    cumulants: np.ndarray
    continuations: np.ndarray
    returns: np.ndarray
    returns_truncated: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.cumulants)

    @property
    def stop(self) -> int:
        return self.start + len(self)

    def slice(self, a: int, b: int) -> "StepChunk":
        """Rows ``a .. b-1`` of this chunk (views, no copy)."""
        rt = None if self.returns_truncated is None else self.returns_truncated[a:b]
        return StepChunk(self.start + a, self.observations[a:b], self.cumulants[a:b],
                         self.continuations[a:b], self.returns[a:b], rt)


def concat_chunks(chunks: list[StepChunk]) -> StepChunk:
    """Join consecutive chunks into one (copies)."""
    if len(chunks) == 1:
        return chunks[0]
    rts = [c.returns_truncated for c in chunks]
    rt: np.ndarray | None = None if any(r is None for r in rts) else np.concatenate(rts)  # type: ignore[arg-type]
    return StepChunk(chunks[0].start,
                     np.concatenate([c.observations for c in chunks]),
                     np.concatenate([c.cumulants for c in chunks]),
                     np.concatenate([c.continuations for c in chunks]),
                     np.concatenate([c.returns for c in chunks]), rt)


def rechunk(blocks: Iterable[StepChunk], chunk_size: int, n_steps: int | None = None) -> Iterator[StepChunk]:
    """Re-cut a sequence of consecutive blocks into chunks of ``chunk_size`` steps (the last may be shorter).

    Stops after ``n_steps`` steps when given. The content never depends on ``chunk_size``.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    pending: list[StepChunk] = []
    have = 0
    emitted = 0
    for block in blocks:
        if n_steps is not None and emitted + have >= n_steps:
            break
        pending.append(block)
        have += len(block)
        while have >= chunk_size and (n_steps is None or emitted < n_steps):
            joined = concat_chunks(pending)
            take = chunk_size if n_steps is None else min(chunk_size, n_steps - emitted)
            yield joined.slice(0, take)
            emitted += take
            rest = joined.slice(take, len(joined))
            pending = [rest] if len(rest) else []
            have = len(rest)
    while have and (n_steps is None or emitted < n_steps):
        joined = concat_chunks(pending)
        take = len(joined) if n_steps is None else min(len(joined), n_steps - emitted, chunk_size)
        yield joined.slice(0, take)
        emitted += take
        rest = joined.slice(take, len(joined))
        pending = [rest] if len(rest) else []
        have = len(rest)


@runtime_checkable
class Stream(Protocol):
    """A source of experience for the evaluator."""

    @property
    def dataset_id(self) -> str:
        """``namespace/name-vN``."""
        ...

    @property
    def n_features(self) -> int:
        """F, the length of each observation."""
        ...

    @property
    def gamma(self) -> float:
        """The task's discount γ inside an episode."""
        ...

    def chunks(self, n_steps: int, chunk_size: int = 65536) -> Iterator[StepChunk]:
        """Yield steps ``0 .. n_steps-1`` in chunks of at most ``chunk_size`` steps."""
        ...
