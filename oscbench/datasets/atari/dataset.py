"""Atari dataset files: a replayed pass written in the oscbench HDF5 format (kind ``"atari"``).

Step arrays (T rows): ``frames`` uint8 [T,16,16], ``actions`` int8 (−1 on reset steps), ``rewards``
float32 (clipped to [−1, 1]), ``cumulants`` (= rewards), ``continuations`` float32 (0.98; 0 on reset
steps), ``returns`` float64 (SPEC §2.5, per episode, 0 at an episode's last step and at T−1).
``/meta``: the per-episode arrays of :class:`~oscbench.datasets.atari.replay.Replay` and
``minimal_action_set``. Attributes: ``game``, ``policy_file``, ``policy_sha256``, ``ale_py_version``,
``rom_id``, ``rom_md5``, ``screen``.

Learner observation (275 float32): 256 pixels / 256, an 18-slot one-hot of the action index (all zero on
reset steps), the clipped reward. The paper says 20 action slots and 277 features; the reference code
and every Atari config use ALE's 18 actions, so 275 (SPEC §2.4, §10 #3). Minimal action sets hold at
most 18 actions, so 18 slots always suffice.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oscbench.datasets.atari.emulator import FRAME_SIZE, MAX_EPISODE_FRAMES, N_ACTION_SLOTS, RANDOM_SEED
from oscbench.datasets.atari.replay import GAMMA, Replay
from oscbench.datasets.format import DatasetWriter, library_versions

KIND = "atari"
GENERATOR = "oscbench.datasets.atari"
LAYOUT = [
    {"array": "frames", "op": "scale", "scale": 1.0 / 256.0},
    {"array": "actions", "op": "onehot", "width": N_ACTION_SLOTS},
    {"array": "rewards", "op": "scale", "scale": 1.0},
]
N_FEATURES = FRAME_SIZE * FRAME_SIZE + N_ACTION_SLOTS + 1   # 275
STEP_ARRAYS = {"frames": ("u1", (FRAME_SIZE, FRAME_SIZE)), "actions": ("i1", ()), "rewards": ("<f4", ()),
               "cumulants": ("<f4", ()), "continuations": ("<f4", ()), "returns": ("<f8", ())}
_BLOCK = 65536


def atari_params(game: str, policy_sha256: str) -> dict:
    """The generation parameters stored in the file's ``params``."""
    return {"game": game, "policy_sha256": policy_sha256, "random_seed": RANDOM_SEED,
            "repeat_action_probability": 0.0, "frame_skip": 1, "frame_size": FRAME_SIZE,
            "resize": "cv2.INTER_LINEAR", "gamma": GAMMA, "reward_clip": [-1.0, 1.0],
            "max_episode_frames": MAX_EPISODE_FRAMES}


def write_replay(replay: Replay, path: str | os.PathLike[str], *, dataset_id: str, policy_file: str,
                 policy_sha256: str, overwrite: bool = False) -> Path:
    """Write a replayed pass to ``path`` atomically (nothing under ``path`` unless it completes)."""
    import cv2

    facts = replay.facts
    extra = {"game": replay.game, "policy_file": policy_file, "policy_sha256": policy_sha256,
             "ale_py_version": facts["ale_py_version"], "rom_id": facts["rom_id"], "rom_md5": facts["rom_md5"],
             "screen": facts["screen"]}
    cont = replay.continuations
    ret = replay.returns()
    with DatasetWriter(path, dataset_id=dataset_id, kind=KIND, generator=GENERATOR,
                       params=atari_params(replay.game, policy_sha256), seed=-1, gamma=GAMMA,
                       step_arrays=STEP_ARRAYS, observation_layout=LAYOUT, overwrite=overwrite,
                       extra_attrs=extra,
                       versions=library_versions(ale_py=facts["ale_py_version"], opencv=cv2.__version__)) as w:
        for a in range(0, replay.n_steps, _BLOCK):
            b = a + _BLOCK
            w.append(frames=replay.frames[a:b], actions=replay.actions[a:b], rewards=replay.rewards[a:b],
                     cumulants=replay.rewards[a:b], continuations=cont[a:b], returns=ret[a:b])
        for name, arr in replay.episode_arrays().items():
            w.add_meta(name, arr)
        w.add_meta("minimal_action_set", np.asarray(facts["minimal_action_set"], np.int32))
    return Path(path)
