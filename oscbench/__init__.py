"""oscbench: the benchmark suite for online state construction.

Sub-packages:

* :mod:`oscbench.datasets` -- streams (trace patterning, Atari prediction), the HDF5 file format,
  the dataset registry and downloads.
* :mod:`oscbench.benchmark` -- the learner protocol, tasks, FLOP accounting, the evaluator,
  metrics and result records.
* :mod:`oscbench.baselines` -- the reference learners (columnar / constructive / hybrid RTRL
  networks and the T-BPTT LSTM) and their compiled kernels.
* :mod:`oscbench.leaderboard` -- submissions, ranking and the static page.
"""
from __future__ import annotations

from oscbench._version import __version__

__all__ = ["__version__", "OscbenchError", "evaluate"]

from oscbench.errors import OscbenchError


def __getattr__(name: str):  # lazy: keep `import oscbench` cheap
    if name == "evaluate":
        from oscbench.benchmark.evaluator import evaluate

        return evaluate
    raise AttributeError(f"module 'oscbench' has no attribute {name!r}")
