"""Speed case ``atari-replay``: replay + grayscale + 16×16 resize, frames per CPU-second.

Replays Pong's recorded log (the downloaded one, else ``$OSCBENCH_SHARED`` / ``../shared`` beside the
checkout); without either it first records a log with a uniformly random policy (not timed). Anchor:
the authors' C++ stream, ≈ 6.9k frames per CPU-second with its preprocessing.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from oscbench.benchmark.speed import SpeedResult, case, measure
from oscbench.datasets.atari import games as G

ANCHOR_CPP = 6900.0
_GAME = "Pong"


def _shared_dirs() -> list[Path]:
    env = os.environ.get("OSCBENCH_SHARED")
    dirs = [Path(env)] if env else []
    return dirs + [Path(__file__).resolve().parents[3].parent / "shared"]


def local_log(game: str) -> tuple[bytes, str] | None:
    """The verified recorded log of ``game`` from the data dir or a shared checkout, if there is one."""
    from oscbench.datasets.atari.generate import policy_path

    want = G.game_facts(game)["policy_sha256"]
    for p in [policy_path(game)] + [d / "atari" / "policies" / G.policy_filename(game) for d in _shared_dirs()]:
        if p.is_file():
            data = p.read_bytes()
            if hashlib.sha256(data).hexdigest() == want:
                return data, str(p)
    return None


def bench_log(n_steps: int, game: str = _GAME) -> tuple[bytes, str]:
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


def replay_speed_by_game(n_steps: int = 20_000, games: tuple[str, ...] = G.GAMES) -> dict[str, float]:
    """Frames per CPU-second of :func:`replay_log` for each game (first ``n_steps`` of its log).

    Not an ``oscbench speed`` case (it takes minutes): run it by hand, e.g.
    ``python -c "from oscbench.datasets.atari.bench import replay_speed_by_game as f; print(f())"``.
    """
    from oscbench.datasets.atari.replay import replay_log

    out = {}
    for game in games:
        log, _ = bench_log(n_steps, game)
        replay_log(game, log, n_steps=200)
        c = time.process_time()
        done = replay_log(game, log, n_steps=n_steps).n_steps
        out[game] = done / (time.process_time() - c)
    return out


@case("atari-replay", "Atari replay + grayscale + 16x16 cv2 resize (ale-py), frames per CPU-second")
def _atari_replay(scale: float) -> SpeedResult:
    from oscbench.datasets.atari.replay import replay_log

    n = max(int(50_000 * scale), 2_000)
    log, source = bench_log(n)
    n = min(n, len(log))
    t0 = time.perf_counter()
    replay_log(_GAME, log, n_steps=500)   # warm-up: imports, ROM check, numba-free path
    warm = time.perf_counter() - t0
    steps, cpu, wall = measure(lambda: replay_log(_GAME, log, n_steps=n).n_steps)
    return SpeedResult("atari-replay", steps, cpu, wall, warm, unit="frames", anchor=ANCHOR_CPP,
                       note=f"{_GAME}, {source.rsplit('/', 1)[-1]}")
