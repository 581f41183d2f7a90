"""Imported once by the learner fork server (:mod:`oscbench.benchmark.isolation`): load numpy, numba
and the reference learners' compiled kernels into the server, so every learner process forked
from it starts with them in memory instead of loading them again (about 2 s per process)."""
from __future__ import annotations

from typing import Any


def _warm() -> None:
    import cloudpickle  # type: ignore[import-untyped]  # noqa: F401 - unpickles factories in every child
    import numpy as np

    import oscbench.benchmark.audit  # declared FLOPs are read through it
    import oscbench.benchmark.isolation  # the child main loop
    import oscbench.benchmark.loading  # noqa: F401 - resolves learner specs

    try:
        from oscbench.baselines import BASELINES
    except ImportError:  # pragma: no cover - a build without the baselines
        return
    rng = np.random.default_rng(0)
    xs = rng.random((3, 4), dtype=np.float32)
    cs = np.zeros(3, dtype=np.float32)
    gs = np.full(3, 0.9, dtype=np.float32)
    for factory in BASELINES.values():
        try:
            learner: Any = factory(4, seed=0)
            learner.run(xs, cs, gs)
            learner.step(xs[0], 0.0, 0.9)
        except Exception:  # noqa: BLE001, S110 - warming is an optimisation; a failure only costs time
            pass


_warm()
