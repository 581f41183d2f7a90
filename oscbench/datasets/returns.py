"""Discounted returns of an episodic stream, backwards in one pass (numba): shared by every recorded kind."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def episode_returns(rewards: np.ndarray, resets: np.ndarray, gamma: float) -> np.ndarray:
    """float64 G_t = r_{t+1} + γ_{t+1} G_{t+1} with γ_{t+1} = 0 where step t+1 is a reset, G_{T−1} = 0.

    So G is 0 at each episode's last step (SPEC §2.5) and at the end of the pass, where the loop
    continues with step 0, a reset. ``rewards`` (the cumulants) must be 0 on reset steps: no transition
    leads there.
    """
    n = len(rewards)
    g = np.empty(n, np.float64)
    acc = 0.0
    if n:
        g[n - 1] = 0.0
    for t in range(n - 2, -1, -1):
        if resets[t + 1]:
            acc = np.float64(rewards[t + 1])
        else:
            acc = np.float64(rewards[t + 1]) + gamma * acc
        g[t] = acc
    return g
