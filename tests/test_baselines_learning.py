"""Each reference learner learns trace patterning with a short ISI (4-6 steps, ITI 10-20).

Final-window squared error against the true return must be well below that of the best constant
predictor (the window's mean return). For scale, measured on this stream (seed 0, 1M steps): the
best constant has MSE 0.085 and the best *memoryless* predictor E[G | x_t] 0.078, so the learners'
≈ 0.026-0.03 (ratio ≈ 0.30-0.36 over seeds 0-3 at 500k steps) can only come from learned state.
"""
from __future__ import annotations

import numpy as np
import pytest

from oscbench.baselines import make_learner
from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream

N = 500_000
WINDOW = 50_000
CONFIGS = {
    "hybrid": dict(n_columns=8, columns_per_stage=2, steps_per_stage=N // 4, step_size=0.003),
    "columnar": dict(n_columns=5, step_size=0.001),
    "constructive": dict(n_columns=4, steps_per_stage=N // 4, step_size=0.003),
    "tbptt": dict(hidden=2, truncation=8, step_size=0.001),
}


@pytest.fixture(scope="module")
def stream():
    cfg = TracePatterningConfig(isi=(4, 6), iti=(10, 20))
    return next(TracePatterningStream(cfg, seed=1).chunks(N, N))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_learns_short_isi_trace_patterning(name, stream):
    L = make_learner(name, 12, seed=1, **CONFIGS[name])
    preds = np.concatenate([L.run(stream.observations[a:a + 65536], stream.cumulants[a:a + 65536],
                                  stream.continuations[a:a + 65536]) for a in range(0, N, 65536)])
    G = stream.returns[-WINDOW:]
    mse = float(np.mean((preds[-WINDOW:] - G) ** 2))
    const = float(np.var(G))                         # the best constant predictor's MSE
    assert np.all(np.isfinite(preds))
    assert mse < 0.5 * const, (mse, const)
    early = float(np.mean((preds[:WINDOW] - stream.returns[:WINDOW]) ** 2))
    assert mse < early                                # it got better with experience
