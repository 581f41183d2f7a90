"""Timing material for the ``atari-replay`` speed case: replay + grayscale + 16×16 resize, frames per CPU-second.

The case itself is registered by :mod:`oscbench.benchmark.speed` (benchmarks sit above the datasets and
import them, never the reverse); this module only prepares the work. It replays Pong's recorded log,
obtained the way a user obtains it -- the verified copy in the data dir, else a download from
``$OSCBENCH_MIRROR`` or the pinned upstream URL (one attempt, short timeout) -- and without either it
first records a log with a uniformly random policy (not timed). Anchor: the authors' C++ stream,
≈ 6.9k frames per CPU-second with its preprocessing.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oscbench.datasets.atari import games as G
from oscbench.errors import OscbenchError

ANCHOR_CPP = 6900.0
GAME = "Pong"
_PROBE_TIMEOUT = 10.0


def local_log(game: str) -> tuple[bytes, str] | None:
    """The verified recorded log of ``game``: the data dir's copy, else one download attempt (mirror/upstream)."""
    from oscbench.datasets.atari.fetch import download_policy
    from oscbench.datasets.atari.generate import policy_path

    p = policy_path(game)
    if not (p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == G.game_facts(game)["policy_sha256"]):
        try:
            p = download_policy(game, retries=0, timeout=_PROBE_TIMEOUT, progress=False).path
        except OscbenchError:
            return None
    return p.read_bytes(), str(p)


def bench_log(n_steps: int, game: str = GAME) -> tuple[bytes, str]:
    """An action log of ``game`` (at least ``min(n_steps, 250k)`` bytes) and where it came from."""
    found = local_log(game)
    if found:
        return found
    from oscbench.datasets.atari.record import record

    rng = np.random.default_rng(0)
    n_actions = len(G.game_facts(game).get("minimal_action_set") or [0] * 3)
    with tempfile.TemporaryDirectory() as d:
        rec = record(lambda screen: int(rng.integers(n_actions)), game, min(n_steps, 250_000), name="bench",
                     log_path=Path(d) / "bench.txt", output=Path(d) / "bench.h5", progress=False)
        return rec.log_path.read_bytes(), "a random-policy log recorded now"


@dataclass(frozen=True)
class ReplayWork:
    """A prepared replay: ``run()`` replays ``steps`` frames and returns the count; warm-up already done."""

    run: Callable[[], int]
    steps: int
    warmup_seconds: float
    note: str


def prepare_replay(n_steps: int, game: str = GAME) -> ReplayWork:
    """Obtain a log, warm up (imports, ROM check) and return the timed work of replaying ``n_steps`` frames."""
    from oscbench.datasets.atari.replay import replay_log

    log, source = bench_log(n_steps, game)
    n = min(n_steps, len(log))
    t0 = time.perf_counter()
    replay_log(game, log, n_steps=500)
    warm = time.perf_counter() - t0
    return ReplayWork(lambda: replay_log(game, log, n_steps=n).n_steps, n, warm,
                      f"{game}, {source.rsplit('/', 1)[-1]}")


def replay_speed_by_game(n_steps: int = 20_000, games: tuple[str, ...] = G.GAMES) -> dict[str, float]:
    """Frames per CPU-second of the replay for each game (first ``n_steps`` of its log).

    Not an ``oscbench speed`` case (it takes minutes): run it by hand, e.g.
    ``python -c "from oscbench.datasets.atari.bench import replay_speed_by_game as f; print(f())"``.
    """
    out = {}
    for game in games:
        work = prepare_replay(n_steps, game)
        c = time.process_time()
        done = work.run()
        out[game] = done / (time.process_time() - c)
    return out
