"""The reference learners: columnar, constructive and hybrid LSTM networks trained with exact RTRL,
and the T-BPTT LSTM (SPEC §3-§6), all online TD(λ) learners with compiled (numba) kernels.

* :data:`BASELINES` -- name -> factory ``factory(n_features, *, seed, **hp) -> Learner``.
* :func:`make_learner` -- ``make_learner(name, n_features, *, seed, **hp)``.
* :func:`make_batched` / :class:`BatchedLearner` -- B runs sharing one stream, one compiled call.
* :func:`reference_config` -- the SPEC configuration of each learner for a task and run length.

Hyper-parameters (unknown or invalid ones raise :class:`oscbench.errors.ConfigError`):

* column networks (``hybrid``, ``columnar``, ``constructive``): ``n_columns``, ``columns_per_stage``,
  ``steps_per_stage``, ``step_size``, ``lam``, ``beta``, ``var_floor``, ``optimizer``
  (``"rmsprop"`` | ``"sgd"``), ``rms_beta2``, ``rms_eps``, ``same_step_stages``, ``dtype``
  (``"float32"`` default, ``"float64"``), ``norm_floor`` (``"variance"`` default | ``"sigma"``);
  convenience ``features="T:U:S"``.
* ``tbptt``: ``hidden``, ``truncation``, ``step_size``, ``lam``, ``optimizer``, ``rms_beta2``,
  ``rms_eps``, ``dtype``; convenience ``features="k:H"``.
"""
from __future__ import annotations

from typing import Any, cast

from oscbench.baselines.batched import NAMES, BatchedLearner, ReferenceLearner, make_batched
from oscbench.baselines.configs import reference_config
from oscbench.benchmark.protocol import LearnerFactory
from oscbench.errors import ConfigError

__all__ = ["BASELINES", "BatchedLearner", "ReferenceLearner", "make_batched", "make_learner",
           "reference_config"]


def _factory(name: str) -> LearnerFactory:
    def factory(n_features: int, *, seed: int, **hp: Any) -> ReferenceLearner:
        return ReferenceLearner(name, n_features, seed=seed, **hp)

    factory.__name__ = factory.__qualname__ = f"make_{name}"
    factory.__doc__ = f"Build one run of the {name} reference learner (see :mod:`oscbench.baselines`)."
    return factory


BASELINES: dict[str, LearnerFactory] = {name: _factory(name) for name in NAMES}


def make_learner(name: str, n_features: int, *, seed: int, **hp: Any) -> ReferenceLearner:
    """One run of reference learner ``name`` (``hybrid | columnar | constructive | tbptt``)."""
    if name not in BASELINES:
        raise ConfigError(f"unknown reference learner {name!r}; choose one of {', '.join(BASELINES)}.")
    return cast(ReferenceLearner, BASELINES[name](n_features, seed=seed, **hp))
