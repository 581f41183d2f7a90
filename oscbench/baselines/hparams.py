"""Hyper-parameters of the reference learners: names, defaults, validation (one-line ConfigErrors).

Every learner takes explicit names. The reference code's strings are accepted only as a
convenience: ``features="T:U:S"`` (total columns, columns per stage, steps per stage) for the column
networks and ``features="k:H"`` (truncation, hidden units) for T-BPTT.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from oscbench.errors import ConfigError

NEVER = 1 << 62     # steps_per_stage of a network that never switches stage (columnar)

# Shared optimiser / TD defaults (SPEC §5, §6, §8). Step sizes and variance floors default to the
# trace-patterning reference configuration (oscbench.baselines.configs; chosen by the README's sweep).
COMMON_DEFAULTS: dict[str, Any] = {
    "lam": 0.99,
    "optimizer": "rmsprop",
    "rms_beta2": 0.9999,
    "rms_eps": 1e-8,
    "dtype": "float32",
}

CCN_DEFAULTS: dict[str, dict[str, Any]] = {
    "hybrid": {"n_columns": 20, "columns_per_stage": 4, "steps_per_stage": 10_000_000,
               "step_size": 3e-4, "var_floor": 0.1},
    "columnar": {"n_columns": 5, "columns_per_stage": None, "steps_per_stage": NEVER,
                 "step_size": 3e-4, "var_floor": 0.1},
    "constructive": {"n_columns": 10, "columns_per_stage": 1, "steps_per_stage": 5_000_000,
                     "step_size": 1e-4, "var_floor": 0.01},
}
CCN_COMMON: dict[str, Any] = {
    "beta": 0.99999,
    "same_step_stages": False,
    "norm_floor": "variance",
}
TBPTT_DEFAULTS: dict[str, Any] = {"hidden": 2, "truncation": 30, "step_size": 3e-4}

DTYPES = {"float32": np.float32, "float64": np.float64}


def _fail(learner: str, name: str, value: Any, want: str) -> ConfigError:
    return ConfigError(f"hyper-parameter {name}={value!r} is invalid for the {learner} learner; give {want}.")


def pos_int(learner: str, name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        if isinstance(value, float) and value.is_integer() and value >= 1:
            return int(value)
        raise _fail(learner, name, value, "an integer >= 1")
    return int(value)


def real(learner: str, name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
         hi_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _fail(learner, name, value, f"a number in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}") from None
    bad = not np.isfinite(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi)
    if bad or isinstance(value, bool):
        raise _fail(learner, name, value, f"a number in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}")
    return v


def choice(learner: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise _fail(learner, name, value, "one of " + ", ".join(repr(o) for o in options))
    return value


def flag(learner: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(learner, name, value, "True or False")
    return bool(value)


def dtype_of(learner: str, value: Any) -> type:
    """'float32' | 'float64' | np.float32 | np.float64 -> the numpy scalar type."""
    for key, t in DTYPES.items():
        if value == key or value is t or (isinstance(value, np.dtype) and value == np.dtype(t)):
            return t
    raise _fail(learner, "dtype", value, "'float32' or 'float64'")


def check_known(learner: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(f"unknown hyper-parameter(s) {', '.join(unknown)} for the {learner} learner; "
                          f"valid names: {', '.join(sorted(allowed))}.")


def merge(learner: str, hp: dict[str, Any], defaults: dict[str, Any], feature_keys: tuple[str, ...]) -> dict[str, Any]:
    """Defaults, then the given hyper-parameters (None = default), then a ``features`` string.

    ``features`` ("T:U:S" or "k:H") fills ``feature_keys`` in order; an explicit value that
    contradicts it is an error. Unknown names are refused.
    """
    check_known(learner, hp, set(defaults) | {"features"})
    structural: dict[str, int] = {}
    if hp.get("features") is not None:
        want = "'T:U:S' (columns:per-stage:steps-per-stage)" if len(feature_keys) == 3 else "'k:H' (truncation:hidden)"
        try:
            nums = [int(p) for p in str(hp["features"]).split(":")]
        except ValueError:
            raise _fail(learner, "features", hp["features"], want) from None
        if len(nums) != len(feature_keys) or min(nums) < 1:
            raise _fail(learner, "features", hp["features"], want)
        structural = dict(zip(feature_keys, nums))
        for key, v in structural.items():
            if hp.get(key) is not None and hp[key] != v:
                raise ConfigError(f"hyper-parameter {key}={hp[key]!r} contradicts features={hp['features']!r}; "
                                  "give one or the other.")
    return {**defaults, **{k: v for k, v in hp.items() if v is not None and k != "features"}, **structural}


def seed_of(learner: str, seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r} is invalid for the {learner} learner; give an integer >= 0.")
    return int(seed)


def batch_seeds(configs: list[Any], seeds: list[Any], shared: str) -> list[int]:
    """Validate a batch (one seed per config, one structure) and return its seeds as ints."""
    if not configs or len(configs) != len(seeds):
        raise ConfigError("give one seed per configuration (and at least one run).")
    c0 = configs[0]
    for c in configs[1:]:
        if c.structure != c0.structure:
            raise ConfigError(f"batched {c0.variant} runs must share {shared}; got {c.structure} and {c0.structure}.")
    return [seed_of(c0.variant, s) for s in seeds]


def per_run(configs: list[Any], *columns: tuple[Any, Any]) -> tuple[np.ndarray, ...]:
    """``[B]`` arrays of per-run hyper-parameters: one per (attribute name or function, dtype)."""
    return tuple(np.array([getattr(c, f) if isinstance(f, str) else f(c) for c in configs]).astype(t)
                 for f, t in columns)


def weight_rng(seed: int) -> np.random.Generator:
    """The initialisation stream of a learner (SPEC §11.19: one Generator per seed and purpose)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x5EED])))
