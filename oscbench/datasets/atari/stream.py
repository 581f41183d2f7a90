"""The Atari prediction stream for learners and the evaluator: a verified dataset file, looped.

``AtariStream("atari/Pong-v1").chunks(n_steps, chunk_size)`` yields
:class:`~oscbench.datasets.stream.StepChunk` s with float32 observations ``[N, 275]``. Step t reads
stored step t mod T (T = 250,000 for the upstream logs), so runs longer than one pass loop over the
recording (SPEC §2.6, §11.4). Stored step 0 is the log's leading reset (continuation 0, cumulant 0),
so the wrap from the truncated last episode back to step 0 is an episode break.

Returns at the wrap: G_{T−1} = 0, which is what the loop gives (c_0 = γ_0 = 0).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.locate import resolve, stored_frames_sha256
from oscbench.datasets.format import DatasetFile
from oscbench.datasets.stream import StepChunk
from oscbench.errors import DataError


class AtariStream:
    """One Atari dataset as a looping stream.

    Args:
        source: an id (``atari/Pong-v1``), a game name (``Pong``) or a dataset file path. Ids resolve to
            ``<data dir>/atari/<Game>-v1.h5``; a missing file raises DataError naming
            ``oscbench datasets download <id>``.
        verify: recompute the file's array digests on open (about 0.2 s per game).
        check_registry: for registry ids, refuse a file whose content digest is not the registry's.

    Attributes: ``dataset_id``, ``game``, ``n_features`` (275), ``gamma`` (0.98), ``digest`` (the file's
    ``content_sha256``), ``n_steps_per_pass`` (T), ``path``.
    """

    kind = "atari"

    def __init__(self, source: str | os.PathLike[str], *, verify: bool = True, check_registry: bool = True) -> None:
        self.path: Path = resolve(source)
        self._file = DatasetFile(self.path, verify=verify)
        if self._file.kind != self.kind:
            self._file.close()
            raise DataError(f"{self.path} holds a {self._file.kind!r} dataset, not an Atari one; "
                            "give an atari/<Game>-v1 id or file.")
        self.game: str = str(self._file.attrs.get("game", ""))
        if check_registry:
            self._check_registry()

    def _check_registry(self) -> None:
        game, tag = G.parse_id(self.dataset_id)
        if tag is not None:
            return
        facts = G.game_facts(game)
        if facts.get("content_sha256"):
            differs = self.digest != facts["content_sha256"]
        else:
            want = facts.get("fingerprint", {}).get("frames_sha256")
            differs = bool(want) and stored_frames_sha256(self.path) != want
        if differs:
            self._file.close()
            raise DataError(f"{self.path} holds data that differ from the registry's {self.dataset_id}; run "
                            f"`oscbench datasets verify {self.dataset_id}` for the first divergence.")

    @property
    def dataset_id(self) -> str:
        return self._file.dataset_id

    @property
    def n_features(self) -> int:
        return self._file.n_features

    @property
    def gamma(self) -> float:
        return self._file.gamma

    @property
    def digest(self) -> str:
        return self._file.content_sha256

    @property
    def n_steps_per_pass(self) -> int:
        return self._file.n_steps

    @property
    def file(self) -> DatasetFile:
        """The underlying :class:`DatasetFile` (raw arrays, ``/meta`` episode data)."""
        return self._file

    def chunks(self, n_steps: int, chunk_size: int = 65536) -> Iterator[StepChunk]:
        """Yield steps ``0 .. n_steps-1`` (looping over the pass) in chunks of at most ``chunk_size``."""
        if n_steps < 0:
            raise DataError(f"n_steps {n_steps} is negative; ask for a positive number of steps.")
        return self._file.chunks(n_steps, chunk_size, loop=True)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "AtariStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AtariStream({self.dataset_id!r}, pass={self.n_steps_per_pass:,} steps, F={self.n_features})"
