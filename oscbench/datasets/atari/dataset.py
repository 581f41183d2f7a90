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

from oscbench.datasets import kinds
from oscbench.datasets.atari import games as G
from oscbench.datasets.atari.emulator import FRAME_SIZE, MAX_EPISODE_FRAMES, N_ACTION_SLOTS, RANDOM_SEED
from oscbench.datasets.atari.replay import GAMMA, Replay
from oscbench.datasets.format import DatasetWriter, bound_digest, expected_attrs, library_versions
from oscbench.errors import ConfigError, DataError

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
                       step_arrays=STEP_ARRAYS, overwrite=overwrite,
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


# -- the dataset kind: what an Atari file may not choose (see oscbench.datasets.kinds) ----------------
#: attributes that describe how the file was made but not its content (not bound by the content digest)
PROVENANCE = frozenset({"ale_py_version", "policy_file"})


def _canonical(attrs) -> dict:
    """Attributes the code derives from the dataset id (and, for registry games, the registry)."""
    try:
        game, tag = G.parse_id(str(attrs.get("dataset_id")))
    except ConfigError:
        raise DataError(f"attribute 'dataset_id' {attrs.get('dataset_id')!r} is not an atari/<Game>-v1 id; "
                        "generate or download the file again.") from None
    out = {"dataset_id": G.dataset_id(game) if tag is None else str(attrs["dataset_id"]), "game": game,
           "seed": -1, "gamma": GAMMA}
    policy = attrs.get("policy_sha256")
    if tag is None:
        facts = G.game_facts(game)
        policy = facts["policy_sha256"]
        out["policy_sha256"] = policy
        out.update({k: facts[k] for k in ("rom_id", "rom_md5", "screen") if k in facts})
    out["params"] = atari_params(game, str(policy))
    return out


SPEC = kinds.register(kinds.KindSpec(KIND, GENERATOR, layout=lambda params: [dict(s) for s in LAYOUT],
                                     sources=frozenset({"frames", "actions", "rewards"}), canonical=_canonical,
                                     json_attrs=frozenset({"screen"}), provenance=PROVENANCE))


def registry_content_digest(game: str, arrays_sha256: str, n_steps: int) -> str:
    """The content digest of the registry file of ``game`` whose arrays have digest ``arrays_sha256``:
    the bound attributes are all derived by the code, so no replay is needed (maintainers' registry update)."""
    attrs = expected_attrs(SPEC, {"dataset_id": G.dataset_id(game)}, {k: s for k, (_, s) in STEP_ARRAYS.items()})
    return bound_digest(arrays_sha256, {**attrs, "n_steps": int(n_steps)})
