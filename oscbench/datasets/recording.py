"""Record any Gymnasium environment into the standard dataset format (like Minari's data collector).

``record_env("CartPole-v1", "cartpole.h5", steps=10_000)`` runs a policy (default: uniformly random,
seeded) in the environment and writes one stream of ``steps`` steps. Step t of the stream is what a
prediction learner sees after the environment moved into observation o_t:

* **observation** x_t = [o_t flattened to float32 | the action a_{t-1} that led to o_t | the reward r_t
  received on that transition]. Discrete actions are one-hot (all zero on the first step of an
  episode), other action spaces flattened (``gymnasium.spaces.flatten``; zeros there). With
  ``grayscale16`` an image observation (``[H, W]`` or ``[H, W, 3]`` uint8) goes through the same
  16×16 grayscale path as the Atari datasets (:func:`oscbench.datasets.atari.emulator.downsample`,
  pixels / 256).
* **cumulant** c_t: the reward r_t (``cumulant="reward"``) or element I of the flattened o_t
  (``"obs:I"``); 0 on the first step of an episode, which no transition leads to.
* **continuation** γ_t: ``gamma`` inside an episode, 0 on the first step of an episode. An episode ends
  when the environment says ``terminated`` *or* ``truncated``; the next step is a reset. Which one it
  was is kept per episode in ``/meta/episode_ends`` (1 terminated, 2 truncated, 0 cut by the end of the
  recording).
* **return** G_t = c_{t+1} + γ_{t+1} G_{t+1} (:func:`oscbench.datasets.returns.episode_returns`): 0 at an
  episode's last step and at the last step of the recording. After a truncation the true future is
  unknown and counts as 0, as at the Atari datasets' frame cap.

The file is written through :class:`~oscbench.datasets.format.DatasetWriter` (kind ``"gymnasium"``,
id ``gymnasium/<env id with '/' as '.'>``, e.g. ``gymnasium/ALE.Pong-v5``), atomically: nothing is left
at the output unless the recording completes. The whole recording is held in memory until it is
written (its returns run backwards from the end).
"""
from __future__ import annotations

import importlib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from oscbench.datasets import kinds
from oscbench.datasets.format import DatasetWriter, library_versions
from oscbench.datasets.returns import episode_returns
from oscbench.errors import ConfigError, DataError

KIND = "gymnasium"
GENERATOR = "oscbench.datasets.recording"
NAMESPACE = "gymnasium"
END_CUT, END_TERMINATED, END_TRUNCATED = 0, 1, 2
_POLICY_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")

Policy = Callable[[Any, Any], Any]   # (observation, action_space) -> action


def _layout(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The recorder's fixed rule: the stored observation (scaled), the previous action (one-hot when
    discrete, else as stored), the previous reward. The only choices are the recorder's own parameters."""
    width = params.get("action_onehot")
    act: dict[str, Any] = ({"array": "actions", "op": "onehot", "width": int(width)} if width is not None
                           else {"array": "actions", "op": "scale", "scale": 1.0})
    obs = "frames" if params.get("grayscale16") else "observations"
    return [{"array": obs, "op": "scale", "scale": 1.0 / 256.0 if obs == "frames" else 1.0}, act,
            {"array": "rewards", "op": "scale", "scale": 1.0}]


def _canonical(attrs: Mapping[str, Any]) -> dict[str, Any]:
    params = attrs.get("params") or {}
    if not isinstance(params, Mapping) or not isinstance(params.get("env_id"), str):
        raise DataError("attribute 'params' of a gymnasium recording names no env_id; record the file again.")
    return {"dataset_id": dataset_id(params["env_id"]), "gamma": float(params.get("gamma", -1.0))}


SPEC = kinds.register(kinds.KindSpec(KIND, GENERATOR, layout=_layout,
                                     sources=frozenset({"observations", "frames", "actions", "rewards"}),
                                     canonical=_canonical))


def dataset_id(env_id: str) -> str:
    """``CartPole-v1`` -> ``gymnasium/CartPole-v1``; ``ALE/Pong-v5`` -> ``gymnasium/ALE.Pong-v5``."""
    name = env_id.replace("/", ".")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+-v\d+", name):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + "-v0"
    return f"{NAMESPACE}/{name}"


def parse_cumulant(text: str) -> int | None:
    """``reward`` -> None; ``obs:I`` -> I (an index into the flattened observation)."""
    if text == "reward":
        return None
    m = re.fullmatch(r"obs:(\d+)", text.strip())
    if not m:
        raise ConfigError(f"--cumulant {text!r} is neither 'reward' nor 'obs:I' (I an observation index, e.g. obs:0).")
    return int(m.group(1))


def load_policy(spec: str) -> Policy:
    """``package.module:function`` -> the function, called as ``function(observation, action_space)``."""
    if not _POLICY_RE.match(spec):
        raise ConfigError(f"--policy {spec!r} is not module:function (e.g. mypkg.agents:act).")
    mod_name, fn_name = spec.split(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as err:
        raise ConfigError(f"cannot import the policy module {mod_name!r} ({err}); put it on PYTHONPATH.") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise ConfigError(f"module {mod_name} has no function {fn_name!r}; give --policy module:function.")
    return fn


def make_env(env_id: str) -> Any:
    """``gymnasium.make(env_id)``, with the ALE environments registered; one-line errors."""
    import gymnasium as gym

    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
    try:
        return gym.make(env_id)
    except gym.error.Error as err:
        from oscbench._suggest import close_matches, did_you_mean

        hint = did_you_mean(close_matches(env_id, list(gym.registry)), "see gymnasium.pprint_registry().")
        raise ConfigError(f"cannot make the Gymnasium environment {env_id!r} ({type(err).__name__}); {hint}") from None


@dataclass(frozen=True)
class _Encoder:
    """How one environment's observations and actions become stored step arrays."""

    obs_space: Any
    act_space: Any
    grayscale16: bool

    @property
    def n_actions(self) -> int | None:
        from gymnasium import spaces

        return int(self.act_space.n) if isinstance(self.act_space, spaces.Discrete) else None

    def obs_spec(self) -> tuple[str, Any, tuple[int, ...], float]:
        """(array name, dtype, per-step shape, layout scale)."""
        from gymnasium import spaces

        if self.grayscale16:
            from oscbench.datasets.atari.emulator import FRAME_SIZE

            shape: tuple[int, ...] = tuple(getattr(self.obs_space, "shape", None) or ())
            if not (isinstance(self.obs_space, spaces.Box) and self.obs_space.dtype == np.uint8
                    and (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3)))):
                raise ConfigError(f"--grayscale16 needs image observations (uint8 [H, W] or [H, W, 3]); this "
                                  f"environment's are {self.obs_space}. Drop --grayscale16.")
            return "frames", np.uint8, (FRAME_SIZE, FRAME_SIZE), 1.0 / 256.0
        return "observations", np.float32, (int(spaces.flatdim(self.obs_space)),), 1.0

    def act_spec(self) -> tuple[Any, tuple[int, ...], dict[str, Any]]:
        """(dtype, per-step shape, layout segment) of the stored previous action."""
        from gymnasium import spaces

        n = self.n_actions
        if n is not None:
            return np.int32, (), {"array": "actions", "op": "onehot", "width": n}
        try:
            d = int(spaces.flatdim(self.act_space))
        except (NotImplementedError, ValueError, TypeError):
            raise ConfigError(f"the action space {self.act_space} cannot be flattened into features.") from None
        return np.float32, (d,), {"array": "actions", "op": "scale", "scale": 1.0}

    def flat_obs(self, obs: Any) -> np.ndarray:
        from gymnasium import spaces

        return np.asarray(spaces.flatten(self.obs_space, obs), dtype=np.float32).reshape(-1)

    def stored_obs(self, obs: Any) -> np.ndarray:
        if not self.grayscale16:
            return self.flat_obs(obs)
        import cv2

        from oscbench.datasets.atari.emulator import downsample

        a = np.asarray(obs)
        if a.ndim == 3:
            a = a[:, :, 0] if a.shape[2] == 1 else cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY)
        return downsample(np.ascontiguousarray(a))

    def stored_action(self, action: Any) -> Any:
        from gymnasium import spaces

        if self.n_actions is not None:
            return int(action)
        return np.asarray(spaces.flatten(self.act_space, action), dtype=np.float32).reshape(-1)


def _policy_name(policy: Policy | str | None) -> str:
    if policy is None:
        return "random"
    if isinstance(policy, str):
        return policy
    return f"{getattr(policy, '__module__', '?')}:{getattr(policy, '__qualname__', type(policy).__name__)}"


def record_env(env_id: str, output: str | os.PathLike[str], *, steps: int, policy: Policy | str | None = None,
               seed: int = 0, gamma: float = 0.99, cumulant: str = "reward", grayscale16: bool = False,
               overwrite: bool = False, progress: bool = True) -> Path:
    """Record ``steps`` steps of ``env_id`` under ``policy`` into ``output`` (see the module docs).

    Args:
        policy: ``None`` (uniformly random: ``action_space.sample()``, seeded with ``seed``), a callable
            ``policy(observation, action_space) -> action`` or ``"package.module:function"``.
        seed: seeds the first ``env.reset`` and the action space (later resets continue its RNG).
        gamma: the discount γ inside an episode, in [0, 1).
        cumulant: ``"reward"`` or ``"obs:I"``.
        grayscale16: image observations through the Atari 16×16 grayscale path.
    """
    if not isinstance(steps, int) or steps < 2:
        raise ConfigError(f"--steps {steps} must be an integer >= 2.")
    if not (0.0 <= gamma < 1.0) or not math.isfinite(gamma):
        raise ConfigError(f"--gamma {gamma} must be in [0, 1).")
    if seed < 0:
        raise ConfigError(f"--seed {seed} must be >= 0.")
    obs_index = parse_cumulant(cumulant)
    act: Policy = load_policy(policy) if isinstance(policy, str) else policy  # type: ignore[assignment]
    env = make_env(env_id)
    try:
        return _record(env, env_id, Path(output), steps, act, seed, gamma, cumulant, obs_index, grayscale16,
                       overwrite, progress, _policy_name(policy))
    finally:
        env.close()


def _record(env: Any, env_id: str, output: Path, steps: int, act: Policy | None, seed: int, gamma: float,
            cumulant: str, obs_index: int | None, grayscale16: bool, overwrite: bool, progress: bool,
            policy_name: str) -> Path:
    import gymnasium

    enc = _Encoder(env.observation_space, env.action_space, grayscale16)
    obs_name, obs_dtype, obs_shape, obs_scale = enc.obs_spec()
    act_dtype, act_shape, act_seg = enc.act_spec()
    flat_dim = int(gymnasium.spaces.flatdim(env.observation_space))
    if obs_index is not None and not obs_index < flat_dim:
        raise ConfigError(f"--cumulant obs:{obs_index} is out of range: the flattened observation has {flat_dim} "
                          f"elements (0..{flat_dim - 1}).")
    if act is None:
        env.action_space.seed(seed)

        def act(obs: Any, space: Any) -> Any:
            return space.sample()

    X = np.zeros((steps, *obs_shape), obs_dtype)
    A = np.full((steps, *act_shape), -1 if enc.n_actions is not None else 0, act_dtype)
    R = np.zeros(steps, np.float32)
    C = np.zeros(steps, np.float32)
    start = np.zeros(steps, np.bool_)
    ep_starts, ep_ends, ep_scores, score = [], [], [], 0.0
    obs, _ = env.reset(seed=seed)
    bar = tqdm(total=steps, unit="step", unit_scale=True, desc=env_id, disable=not progress, leave=False)
    for t in range(steps):
        if t > 0:
            if start[t]:
                obs, _ = env.reset()
            else:
                try:
                    action = act(obs, env.action_space)
                    a_stored = enc.stored_action(action)
                    obs, reward, terminated, truncated, _ = env.step(action)
                except ConfigError:
                    raise
                except Exception as err:  # noqa: BLE001 - the policy's or the environment's fault, named
                    raise DataError(f"step {t} of {env_id} failed: {type(err).__name__}: {err}; check the policy "
                                    "returns a valid action.") from None
                A[t], R[t] = a_stored, np.float32(reward)
                if not math.isfinite(float(reward)):
                    raise DataError(f"{env_id} returned the reward {reward} at step {t}; it cannot be stored.")
                score += float(reward)
                if terminated or truncated:
                    ep_ends.append(END_TERMINATED if terminated else END_TRUNCATED)
                    ep_scores.append(score)
                    if t + 1 < steps:
                        start[t + 1] = True
        if t == 0 or start[t]:
            start[t] = True
            ep_starts.append(t)
            score = 0.0
        else:
            C[t] = R[t] if obs_index is None else enc.flat_obs(obs)[obs_index]
        X[t] = enc.stored_obs(obs)
        if t % 1024 == 0:
            bar.update(min(1024, steps - t))
    bar.close()
    if not np.all(np.isfinite(C)):
        raise DataError(f"the cumulant {cumulant} of {env_id} is not finite at step {int(np.argmin(np.isfinite(C)))}.")
    if len(ep_ends) < len(ep_starts):
        ep_ends.append(END_CUT)
        ep_scores.append(score)
    cont = np.where(start, np.float32(0.0), np.float32(gamma)).astype(np.float32)
    G = episode_returns(C, start, float(gamma))
    layout = [{"array": obs_name, "op": "scale", "scale": obs_scale}, act_seg,
              {"array": "rewards", "op": "scale", "scale": 1.0}]
    versions = {"gymnasium": gymnasium.__version__}
    if env_id.startswith("ALE/"):
        import ale_py

        versions["ale_py"] = ale_py.__version__
    params = {"env_id": env_id, "policy": policy_name, "steps": steps, "gamma": gamma, "cumulant": cumulant,
              "grayscale16": grayscale16, "action_onehot": enc.n_actions}
    step_arrays = {obs_name: (obs_dtype, obs_shape), "actions": (act_dtype, act_shape), "rewards": ("<f4", ()),
                   "cumulants": ("<f4", ()), "continuations": ("<f4", ()), "returns": ("<f8", ())}
    with DatasetWriter(output, dataset_id=dataset_id(env_id), kind=KIND, generator=GENERATOR, params=params,
                       seed=seed, gamma=gamma, step_arrays=step_arrays, observation_layout=layout,
                       overwrite=overwrite, extra_attrs={"env_id": env_id, "policy": policy_name},
                       versions=library_versions(**versions)) as w:
        for a in range(0, steps, 65536):
            b = a + 65536
            w.append(**{obs_name: X[a:b]}, actions=A[a:b], rewards=R[a:b], cumulants=C[a:b],
                     continuations=cont[a:b], returns=G[a:b])
        w.add_meta("episode_starts", np.asarray(ep_starts, np.int64))
        w.add_meta("episode_ends", np.asarray(ep_ends, np.int8))
        w.add_meta("episode_scores", np.asarray(ep_scores, np.float64))
    return output


__all__ = ["dataset_id", "load_policy", "make_env", "parse_cumulant", "record_env"]
