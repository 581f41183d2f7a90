"""Deterministic replay of an action log through ale-py (SPEC §2.1-§2.5).

Log format: raw bytes, no separators. ``'R'`` (82) is an episode reset; ``'a'`` + k (97 + k) applies
action k of the game's minimal action set. Every log starts with ``'R'``.

Step indexing: one learner step per byte. Step 0 is the leading ``'R'``: the first ``reset_game()``,
stored like every other reset step (action −1, reward 0, continuation 0). So a 250,000-byte log gives
T = 250,000 steps; the reference C++ constructor consumes the leading ``'R'`` silently and then runs
249,999 steps -- the same frames, with its initial observation being our step 0. Looping a pass
(step t reads stored step t mod T) then reaches step 0 again right after the truncated last episode,
which gives the episode break at the wrap of SPEC §11.4 for free.

Replay checks, while it runs, that the log matches the emulator: before every later ``'R'`` the game
must be over (``game_over()``) or the episode must have reached the 108,000-frame cap; otherwise the
recording and this emulator have diverged and :class:`~oscbench.errors.DataError` names the step.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oscbench.datasets.atari.emulator import MAX_EPISODE_FRAMES, FRAME_SIZE, emulator_facts, open_emulator
from oscbench.datasets.returns import episode_returns
from oscbench.errors import DataError

RESET_BYTE = ord("R")
ACTION_BYTE0 = ord("a")
GAMMA = 0.98
#: ``episode_ends`` codes: cut by the end of the log, game over, 108k-frame cap, reset while the game
#: was still running (only with ``strict=False``).
END_TRUNCATED, END_GAME_OVER, END_TIME_LIMIT, END_RESET = 0, 1, 2, 3


def check_log(log: bytes, n_actions: int, *, name: str = "the action log") -> np.ndarray:
    """Validate a log's bytes for a game with ``n_actions`` minimal actions; return it as uint8 [T].

    Raises DataError naming the first offending byte.
    """
    a = np.frombuffer(bytes(log), dtype=np.uint8)
    if len(a) == 0:
        raise DataError(f"{name} is empty; download it again or record a new one.")
    if a[0] != RESET_BYTE:
        raise DataError(f"{name} starts with byte {a[0]!r} instead of 'R'; it is not an oscbench/ALE action log "
                        "(download it again).")
    ok = (a == RESET_BYTE) | ((a >= ACTION_BYTE0) & (a < ACTION_BYTE0 + n_actions))
    if not ok.all():
        i = int(np.argmin(ok))
        last = chr(ACTION_BYTE0 + n_actions - 1)
        raise DataError(f"{name}: byte {i} is {bytes([a[i]])!r}, not 'R' or an action 'a'..'{last}' of this game's "
                        f"{n_actions} actions; the file is corrupt or belongs to another game.")
    return a


def log_actions(log: np.ndarray) -> np.ndarray:
    """int8 action index per step (−1 on reset steps)."""
    return np.where(log == RESET_BYTE, -1, log.astype(np.int16) - ACTION_BYTE0).astype(np.int8)


@dataclass
class Replay:
    """One replayed pass (``T`` steps, ``E`` episodes).

    Step arrays: ``frames`` uint8 [T,16,16]; ``actions`` int8 [T] (−1 on reset steps); ``rewards``
    float32 [T] (clipped to [−1, 1]). Episode arrays [E]: ``episode_starts`` (step of its reset),
    ``episode_lengths`` (action steps), ``episode_frames`` (emulator frames), ``episode_scores`` (raw,
    unclipped sum), ``episode_ends`` (0 cut by the end of the log, 1 game over, 2 108k-frame cap),
    ``episode_extra_actions`` (actions applied after ``game_over()`` was already true; 1 in every
    game-over episode of the upstream logs). ``facts``: ale-py version, ROM id/md5, action set, screen.
    """

    game: str
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray
    episode_lengths: np.ndarray
    episode_frames: np.ndarray
    episode_scores: np.ndarray
    episode_ends: np.ndarray
    episode_extra_actions: np.ndarray
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return len(self.actions)

    @property
    def resets(self) -> np.ndarray:
        return self.actions < 0

    @property
    def continuations(self) -> np.ndarray:
        return np.where(self.resets, np.float32(0.0), np.float32(GAMMA)).astype(np.float32)

    def returns(self) -> np.ndarray:
        return episode_returns(self.rewards, self.resets, GAMMA)

    def episode_arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("episode_starts", "episode_lengths", "episode_frames",
                                               "episode_scores", "episode_ends", "episode_extra_actions")}


def replay_log(game: str, log: bytes, *, n_steps: int | None = None, strict: bool = True,
               progress: Callable[[int], None] | None = None) -> Replay:
    """Replay ``log`` (or its first ``n_steps`` bytes) for ``game``; see the module docs.

    ``strict`` (default) refuses a reset while the game is running (a divergence from the recording);
    ``strict=False`` accepts it (hand-made logs) and marks such episodes ``END_RESET``.

    ``progress(k)`` is called with the number of steps done since its last call (every 4,096 steps).
    Raises DataError on a malformed log, a missing/bad ROM or a divergence from the recording.
    """
    ale, action_set, rom = open_emulator(game)
    log_arr = check_log(log, len(action_set), name=f"the {game} action log")
    if n_steps is not None:
        log_arr = log_arr[:max(1, int(n_steps))]
    T = len(log_arr)
    h, w = ale.getScreenDims()
    facts = emulator_facts(rom, action_set, (h, w))

    import cv2

    frames = np.empty((T, FRAME_SIZE, FRAME_SIZE), np.uint8)
    raw = np.zeros(T, np.int32)
    table: list[Any] = [None] * 256
    for k, a in enumerate(action_set):
        table[ACTION_BYTE0 + k] = a
    buf = np.empty((h, w), np.uint8)
    act, game_over, reset = ale.act, ale.game_over, ale.reset_game
    gray, resize, size, interp = ale.getScreenGrayscale, cv2.resize, (FRAME_SIZE, FRAME_SIZE), cv2.INTER_LINEAR
    episode_frame = ale.getEpisodeFrameNumber
    starts, lengths, ep_frames, scores, ends, extras = [0], [], [], [], [], []
    data = log_arr.tobytes()

    reset()
    gray(buf)
    resize(buf, size, dst=frames[0], interpolation=interp)
    score = 0
    steps = 0
    extra = 0
    over = False
    for i in range(1, T):
        b = data[i]
        if b == RESET_BYTE:
            nf = episode_frame()
            if strict and not over and nf < MAX_EPISODE_FRAMES:
                raise DataError(
                    f"replay of {game} diverged at step {i}: the log resets there, but the game is not over "
                    f"after {nf} frames of episode {len(starts) - 1} (ale-py {rom.ale_py_version}, ROM md5 "
                    f"{rom.md5}); this emulator does not reproduce the recording, use the ale-py version named "
                    "in `oscbench datasets show`.")
            lengths.append(steps)
            ep_frames.append(nf)
            scores.append(score)
            ends.append(END_GAME_OVER if over else END_TIME_LIMIT if nf >= MAX_EPISODE_FRAMES else END_RESET)
            extras.append(extra)
            reset()
            starts.append(i)
            score = steps = extra = 0
            over = False
        else:
            if over:
                extra += 1
            r = act(table[b])
            raw[i] = r
            score += r
            steps += 1
            over = game_over()
        gray(buf)
        resize(buf, size, dst=frames[i], interpolation=interp)
        if progress is not None and (i & 4095) == 0:
            progress(4096)
    lengths.append(steps)
    ep_frames.append(episode_frame())
    scores.append(score)
    ends.append(END_TRUNCATED)
    extras.append(extra)
    if progress is not None:
        progress(T - (T - 1) // 4096 * 4096)

    return Replay(
        game=game, frames=frames, actions=log_actions(log_arr),
        rewards=np.clip(raw, -1, 1).astype(np.float32),
        episode_starts=np.asarray(starts, np.int64), episode_lengths=np.asarray(lengths, np.int64),
        episode_frames=np.asarray(ep_frames, np.int64), episode_scores=np.asarray(scores, np.float64),
        episode_ends=np.asarray(ends, np.int8), episode_extra_actions=np.asarray(extras, np.int64),
        facts=facts)
