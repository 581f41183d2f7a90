"""Record a new Atari dataset from a live agent, in the upstream log format, so anyone can regenerate it.

``record(policy, "Pong", 100_000)`` plays the game in the emulator of :mod:`.emulator` (same seed and
settings as the benchmark), asking ``policy`` for an action on every frame, and writes

* the action log ``<Game>-<name>.txt`` (``'R'`` per reset, ``'a'+k`` per action; same format as the
  upstream logs) and ``<Game>-<name>.txt.sha256`` (``sha256sum`` format);
* the dataset ``atari/<Game>-<name>-v1``, built by *replaying that log* in a fresh emulator, exactly as
  ``oscbench datasets generate atari/<Game>-<name>-v1 --policy-file <log>`` does elsewhere. The frames
  seen live are compared with the replay, so a non-reproducible recording is refused.

Episodes end at ``game_over()`` or after 108,000 frames; the next byte is then ``'R'``. (The upstream
logs have one extra action after each game over, an artefact of their Gym wrapper; replay accepts both.)
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from oscbench._atomic import check_writable, write_bytes_atomic, write_text_atomic
from oscbench.datasets import paths
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.dataset import write_replay
from oscbench.datasets.atari.emulator import FRAME_SIZE, MAX_EPISODE_FRAMES, downsample, open_emulator
from oscbench.datasets.atari.fingerprint import first_differing_step
from oscbench.datasets.atari.replay import ACTION_BYTE0, RESET_BYTE, replay_log
from oscbench.errors import ConfigError, DataError

Policy = Callable[[np.ndarray], int]


@dataclass(frozen=True)
class Recording:
    """What :func:`record` wrote."""

    dataset_id: str
    log_path: Path
    log_sha256: str
    dataset_path: Path
    n_steps: int
    episode_scores: np.ndarray


def _check_name(name: str) -> str:
    ok = name and all(c.isalnum() or c in "_." for c in name)
    if not ok:
        raise ConfigError(f"recording name {name!r} must be letters, digits, '_' or '.', e.g. 'dqn_seed0'.")
    return name


def record(policy: Policy | Any, game: str, steps: int, *, name: str = "recorded", screen: str = "rgb",
           log_path: str | os.PathLike[str] | None = None, output: str | os.PathLike[str] | None = None,
           overwrite: bool = False, progress: bool = True) -> Recording:
    """Play ``game`` for ``steps`` learner steps with ``policy`` and write the log and the dataset.

    Args:
        policy: ``policy(screen) -> int``, an index into the game's minimal action set, called once per
            frame. ``screen`` is the current ALE screen: uint8 ``[H, W, 3]`` (``screen="rgb"``) or
            ``[H, W]`` (``"grayscale"``), a buffer reused every frame (copy it to keep it); the agent does its own
            preprocessing. If the policy has a
            ``reset()`` method it is called at the start of every episode.
        game: one of the 58 games (``Pong``).
        steps: length of the log in bytes = learner steps, including the leading ``'R'``.
        name: tag of the dataset id ``atari/<Game>-<name>-v1`` and the log file name.
        log_path, output: where the log and the dataset go (default: the data dir, ``atari/policies/``
            and ``atari/``).
    Returns a :class:`Recording`. Nothing is left under the final names if anything fails.
    """
    G.check_game(game)
    _check_name(name)
    if steps < 1:
        raise ConfigError(f"steps {steps} must be at least 1.")
    if screen not in ("rgb", "grayscale"):
        raise ConfigError(f"screen {screen!r} must be 'rgb' or 'grayscale'.")
    did = f"{G.NAMESPACE}/{game}-{name}-v{G.VERSION}"
    log_out = check_writable(Path(log_path) if log_path is not None
                             else paths.data_dir() / G.NAMESPACE / "policies" / f"{game}-{name}.txt",
                             overwrite=overwrite)
    ds_out = check_writable(Path(output) if output is not None else paths.dataset_path(did), overwrite=overwrite)

    ale, action_set, _ = open_emulator(game)
    n_actions = len(action_set)
    h, w = ale.getScreenDims()
    gray = np.empty((h, w), np.uint8)
    rgb = np.empty((h, w, 3), np.uint8)
    live = np.empty((steps, FRAME_SIZE, FRAME_SIZE), np.uint8)
    log = bytearray()
    reset_fn = getattr(policy, "reset", None)

    def observe(t: int) -> np.ndarray:
        ale.getScreenGrayscale(gray)
        downsample(gray, live[t])
        if screen == "rgb":
            ale.getScreenRGB(rgb)
            return rgb
        return gray

    need_reset = True
    with tqdm(total=steps, unit="step", unit_scale=True, desc=f"record {game}", disable=not progress,
              leave=False) as bar:
        for t in range(steps):
            if need_reset:
                ale.reset_game()
                log.append(RESET_BYTE)
                need_reset = False
                if callable(reset_fn):
                    reset_fn()
                scr = observe(t)
            else:
                a = policy(scr)
                if not isinstance(a, (int, np.integer)) or not 0 <= int(a) < n_actions:
                    raise ConfigError(f"the policy returned {a!r} at step {t}; {game} needs an int in "
                                      f"0..{n_actions - 1} (an index into its minimal action set).")
                ale.act(action_set[int(a)])
                log.append(ACTION_BYTE0 + int(a))
                scr = observe(t)
                need_reset = ale.game_over() or ale.getEpisodeFrameNumber() >= MAX_EPISODE_FRAMES
            if (t & 4095) == 4095:
                bar.update(4096)
    data = bytes(log)
    digest = hashlib.sha256(data).hexdigest()

    rep = replay_log(game, data)
    step = first_differing_step({"frames": live}, {"frames": rep.frames})
    if step is not None:
        raise DataError(f"replaying the recorded {game} log gives a different frame at step {step}; the emulator "
                        "is not deterministic here (sticky actions or another ROM?), nothing was written.")
    write_bytes_atomic(log_out, data, overwrite=overwrite)
    side = log_out.with_name(log_out.name + ".sha256")
    write_text_atomic(side, f"{digest}  {log_out.name}\n", overwrite=True)
    try:
        write_replay(rep, ds_out, dataset_id=did, policy_file=log_out.name, policy_sha256=digest, overwrite=overwrite)
    except BaseException:
        log_out.unlink(missing_ok=True)
        side.unlink(missing_ok=True)
        raise
    return Recording(did, log_out, digest, ds_out, len(data), rep.episode_scores)
