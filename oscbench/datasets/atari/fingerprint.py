"""Replay fingerprints: what the registry records of each game, and how two passes are compared.

A fingerprint (JSON-able dict) holds, for one pass of T steps:

* ``frames_sha256`` -- sha256 of all 16×16 uint8 frames in order (the dataset's ``frames`` digest);
* ``rewards_sha256`` -- sha256 of the clipped float32 rewards;
* ``block_digests`` -- the first 8 hex digits of the sha256 of each block of ``block_steps`` (1,000)
  frames, concatenated, so a mismatch can be placed within 1,000 steps without the frames themselves;
* ``episode_starts``, ``episode_scores`` (raw), ``episode_ends`` (one letter per episode: ``g`` game
  over, ``t`` 108k-frame cap, ``x`` cut by the end of the log, ``r`` reset of a running game) and
  ``episode_extra_actions``.

The *prefix* fingerprint of the first P steps (P = 20,000) has the frames/rewards digests of those
steps and the starts, scores and ends of the episodes that begin (starts) or end (the rest) before P.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

BLOCK_STEPS = 1000
PREFIX_STEPS = 20_000
_END_LETTERS = "xgtr"   # index = END_TRUNCATED, END_GAME_OVER, END_TIME_LIMIT, END_RESET


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def fingerprint(frames: np.ndarray, rewards: np.ndarray, episodes: dict[str, np.ndarray]) -> dict[str, Any]:
    """Fingerprint of a pass (``episodes``: the per-episode arrays of a Replay or a file's ``/meta``)."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    blocks = "".join(hashlib.sha256(frames[a:a + BLOCK_STEPS].tobytes()).hexdigest()[:8]
                     for a in range(0, len(frames), BLOCK_STEPS))
    return {
        "n_steps": int(len(frames)),
        "frames_sha256": _sha(frames),
        "rewards_sha256": _sha(np.asarray(rewards, dtype="<f4")),
        "block_steps": BLOCK_STEPS,
        "block_digests": blocks,
        "episode_starts": [int(s) for s in episodes["episode_starts"]],
        "episode_scores": [_num(s) for s in episodes["episode_scores"]],
        "episode_ends": "".join(_END_LETTERS[int(e)] for e in episodes["episode_ends"]),
        "episode_extra_actions": [int(e) for e in episodes["episode_extra_actions"]],
    }


def prefix_fingerprint(frames: np.ndarray, rewards: np.ndarray, episodes: dict[str, Any],
                       n: int = PREFIX_STEPS) -> dict[str, Any]:
    """Fingerprint of the first ``n`` steps (episodes completed within them; starts before ``n``).

    ``episodes``: per-episode arrays (or a full fingerprint's lists) ``episode_starts``,
    ``episode_scores``, ``episode_ends`` and ``episode_extra_actions``.
    """
    episode_starts, episode_ends = episodes["episode_starts"], episodes["episode_ends"]
    starts = [int(s) for s in episode_starts if s < n]
    done = len(starts) - 1       # episodes whose next reset lies inside the prefix
    ends = episode_ends if isinstance(episode_ends, str) else "".join(_END_LETTERS[int(e)] for e in episode_ends)
    return {
        "n_steps": int(n),
        "frames_sha256": _sha(np.ascontiguousarray(frames[:n], dtype=np.uint8)),
        "rewards_sha256": _sha(np.asarray(rewards[:n], dtype="<f4")),
        "episode_starts": starts,
        "episode_scores": [_num(s) for s in list(episodes["episode_scores"])[:done]],
        "episode_ends": ends[:done],
        "episode_extra_actions": [int(x) for x in list(episodes["episode_extra_actions"])[:done]],
    }


def first_difference(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """None if two fingerprints agree; else one sentence naming the earliest differing step."""
    found: list[tuple[int, str]] = []
    n = min(expected["n_steps"], actual["n_steps"])
    if expected["n_steps"] != actual["n_steps"]:
        found.append((n, f"the pass has {actual['n_steps']:,} steps, the registry {expected['n_steps']:,}"))
    es, as_ = expected["episode_starts"], actual["episode_starts"]
    for k in range(min(len(es), len(as_))):
        if es[k] != as_[k]:
            found.append((min(es[k], as_[k]), f"episode {k} starts at step {as_[k]:,}, in the registry at {es[k]:,}"))
            break
    else:
        if len(es) != len(as_):
            k = min(len(es), len(as_))
            step = es[k] if len(es) > len(as_) else as_[k]
            found.append((step, f"{len(as_)} episodes begin, the registry has {len(es)}"))
    sc_e, sc_a = expected["episode_scores"], actual["episode_scores"]
    for k in range(min(len(sc_e), len(sc_a))):
        if sc_e[k] != sc_a[k] or expected["episode_ends"][k:k + 1] != actual["episode_ends"][k:k + 1]:
            end = (as_[k + 1] - 1) if k + 1 < len(as_) else actual["n_steps"] - 1
            found.append((end, f"episode {k} ends ({actual['episode_ends'][k:k + 1]}) with score {sc_a[k]}, "
                               f"in the registry ({expected['episode_ends'][k:k + 1]}) with {sc_e[k]}"))
            break
    ex_e, ex_a = expected.get("episode_extra_actions"), actual.get("episode_extra_actions")
    if ex_e is not None and ex_a is not None:
        for k in range(min(len(ex_e), len(ex_a))):
            if ex_e[k] != ex_a[k]:   # the action sequences part right after the shorter post-game-over run
                ends = [(st[k + 1] - 1) if k + 1 < len(st) else fp["n_steps"] - 1
                        for st, fp in ((es, expected), (as_, actual))]
                found.append((min(ends) + 1, f"episode {k} has {ex_a[k]} action(s) after game over, the registry {ex_e[k]}"))
                break
    bd_e, bd_a = expected.get("block_digests"), actual.get("block_digests")
    if bd_e and bd_a and expected.get("block_steps") == actual.get("block_steps"):
        B = int(expected["block_steps"])
        for k in range(min(len(bd_e), len(bd_a)) // 8):
            if bd_e[8 * k:8 * k + 8] != bd_a[8 * k:8 * k + 8]:
                found.append((k * B, f"the frames first differ in steps {k * B:,}–{min((k + 1) * B, n) - 1:,}"))
                break
    if not found and expected["frames_sha256"] != actual["frames_sha256"]:
        found.append((0, "the frame digests differ"))
    if not found and expected["rewards_sha256"] != actual["rewards_sha256"]:
        found.append((0, "the reward digests differ"))
    if not found:
        return None
    step, what = min(found, key=lambda f: f[0])
    return f"first divergence found at step {step:,}: {what}"


def first_differing_step(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> int | None:
    """Exact first step where any of the shared step arrays of two passes differ (None if equal)."""
    firsts = []
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        n = min(len(x), len(y))
        neq = np.any((x[:n] != y[:n]).reshape(n, -1), axis=1)
        if neq.any():
            firsts.append(int(np.argmax(neq)))
        elif len(x) != len(y):
            firsts.append(n)
    return min(firsts) if firsts else None
