"""The trace-patterning stream (Rafiee et al. 2022; SPEC §1).

Observation x_t, 6 + 1 + K values (default K = 5, so 12)::

    [0:6]   CS bits: on a CS step exactly 3 are 1 (one of the C(6,3) = 20 patterns), else 0
    [6]     US bit, also the cumulant c_t
    [7:7+K] distractor bits, redrawn every step: bit 7+k is 1 with probability 1/(10·(k+1))

Trials (SPEC §1.2): a trial starts with a CS step at t0; ISI ~ U{isi} and ITI ~ U{iti} are drawn then.
If the pattern is one of the ``n_valid_patterns`` valid patterns (fixed per seed), the US fires at
t0 + ISI; an invalid pattern never triggers a US. The next CS comes at t0 + ISI + ITI + 1. Step 0 is
the CS of the first trial.

Targets per step (float64):

* ``returns_truncated`` G*_t (SPEC §1.4): γ^(u−1) while u > 0 steps remain to the US of a valid trial,
  else 0 -- the return cut off at the next CS onset. This is the paper's scoring target. It is a
  function of the trial state, so it does not depend on the horizon.
* ``returns`` G_t = Σ_{j>t} γ^{j−t−1} c_j, the full discounted return. It is computed from the trial
  schedule over the generated horizon: at the horizon's end the future counts as 0 (G_{T−1} = 0), and
  USs more than 2,000 steps ahead (weight γ^2000 < 1e−91 at γ = 0.9) are left out.

The Bayes floor (:func:`bayes_floor_predictions`): the ISI is random, so no learner can know when the
US will come. The prediction with the least expected squared error against G*, given everything
observable and the set of valid patterns, is ``E[γ^(ISI−k−1) | ISI > k]`` k steps after the CS of a
valid trial whose US has not yet come (:func:`bayes_floor_table`), and 0 otherwise (invalid pattern,
at and after the US, in the inter-trial interval). Its error is the floor under every learner's error.

Continuations γ_t are γ on every step but the first (γ_0 = 0, c_0 = 0), as the stream is continuing.

Determinism: each purpose has its own numpy Generator seeded from ``SeedSequence([seed, purpose])``
(valid patterns, trial schedule, distractors), and generation runs in fixed internal blocks, so the
same (parameters, seed) gives the same stream on every machine and for every chunk size.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from numba import njit

from oscbench.datasets import kinds
from oscbench.datasets.stream import StepChunk, rechunk
from oscbench.errors import ConfigError, DataError

KIND = "trace-patterning"
N_CS = 6
CS_ACTIVE = 3
PATTERNS = np.array([[1 if i in combo else 0 for i in range(N_CS)]
                     for combo in itertools.combinations(range(N_CS), CS_ACTIVE)], dtype=np.uint8)  # [20, 6]
_PURPOSE_PATTERNS, _PURPOSE_TRIALS, _PURPOSE_DISTRACTORS = 0, 1, 2
_BLOCK = 1 << 16          # steps generated per internal block (fixed: part of the stream definition)
_TRIAL_BATCH = 1024       # trials drawn per refill of the schedule
_LOOKAHEAD = 2000         # steps of future USs included in the full return at a block's end


def discount_powers(gamma: float, n: int) -> np.ndarray:
    """float64 ``[n]``: γ^0, γ^1, ..., γ^(n−1), each the previous one times γ (IEEE-754 products).

    Every discount weight of the stream and of its Bayes floor comes from this table, so the stored
    returns are the same bits on every machine. ``gamma ** np.arange(n)`` is not: NumPy dispatches
    ``power`` to SIMD code that differs by CPU (AVX-512 hosts gave other last bits than AVX2 hosts,
    and so another stream digest for the same seed).
    """
    out = np.empty(max(int(n), 0), dtype=np.float64)
    g = 1.0
    for k in range(len(out)):
        out[k] = g
        g = g * float(gamma)
    return out


@dataclass(frozen=True)
class TracePatterningConfig:
    """Parameters of the stream (defaults: SPEC §1, §11.1-2).

    Attributes:
        isi: inclusive range of the inter-stimulus interval (steps from CS to US).
        iti: inclusive range of the inter-trial interval (steps after the US before the next CS − 1).
        n_distractors: K distractor bits (0 gives the 7-feature paper-figure variant).
        n_valid_patterns: how many of the 20 patterns are followed by the US.
        gamma: discount of the return.
    """

    isi: tuple[int, int] = (14, 26)
    iti: tuple[int, int] = (80, 120)
    n_distractors: int = 5
    n_valid_patterns: int = 10
    gamma: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "isi", tuple(int(v) for v in self.isi))
        object.__setattr__(self, "iti", tuple(int(v) for v in self.iti))
        (a, b), (c, d) = self.isi, self.iti
        if a < 1 or a > b:
            raise ConfigError(f"ISI range {a}..{b} is invalid; give 1 <= min <= max (e.g. --isi 14 26).")
        if c < 0 or c > d:
            raise ConfigError(f"ITI range {c}..{d} is invalid; give 0 <= min <= max (e.g. --iti 80 120).")
        if not 0 <= self.n_distractors <= 64:
            raise ConfigError(f"--distractors {self.n_distractors} is out of range; give 0..64.")
        if not 0 <= self.n_valid_patterns <= len(PATTERNS):
            raise ConfigError(f"n_valid_patterns {self.n_valid_patterns} is out of range; give 0..{len(PATTERNS)}.")
        if not 0.0 <= self.gamma < 1.0:
            raise ConfigError(f"--gamma {self.gamma} is out of range; give 0 <= gamma < 1.")

    @property
    def n_features(self) -> int:
        return N_CS + 1 + self.n_distractors

    @property
    def distractor_probs(self) -> np.ndarray:
        """float64 [K]: P(bit 7+k = 1) = 1/(10(k+1))."""
        return 1.0 / (10.0 * (np.arange(self.n_distractors) + 1.0))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["isi"], d["iti"] = list(self.isi), list(self.iti)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TracePatterningConfig":
        fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**fields)


PRESETS: dict[str, TracePatterningConfig] = {
    "default": TracePatterningConfig(),
    "code-head": TracePatterningConfig(isi=(24, 36)),           # the reference code's hard-coded ISI
    "no-distractors": TracePatterningConfig(n_distractors=0),    # the paper figure's 7 features
}


def preset_name(config: TracePatterningConfig) -> str:
    """The preset ``config`` equals, or ``"custom"``."""
    for name, c in PRESETS.items():
        if c == config:
            return name
    return "custom"


def dataset_id(config: TracePatterningConfig) -> str:
    """``trace-patterning/<preset>-v1``."""
    return f"{KIND}/{preset_name(config)}-v1"


def _rng(seed: int, purpose: int) -> np.random.Generator:
    if seed < 0:
        raise ConfigError(f"seed {seed} is negative; give a seed >= 0.")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), purpose])))


def valid_pattern_mask(seed: int, n_valid: int = 10) -> np.ndarray:
    """bool [20]: which patterns are valid for this seed (SPEC §1.3: draw patterns until n distinct)."""
    rng = _rng(seed, _PURPOSE_PATTERNS)
    index = {tuple(p): i for i, p in enumerate(PATTERNS)}
    valid = np.zeros(len(PATTERNS), dtype=bool)
    while valid.sum() < n_valid:
        bits = np.zeros(N_CS, dtype=np.uint8)
        while bits.sum() < CS_ACTIVE:          # set random bits until 3 are on: uniform over the 20
            bits[rng.integers(0, N_CS)] = 1
        valid[index[tuple(bits)]] = True
    return valid


@njit(cache=True, nogil=True)
def _fill_block(t0, n, horizon, trial_start, trial_isi, trial_pat, pattern_bits, valid, k0,
                uniforms, thresholds, gamma, gpow, obs, cum, g_trunc, g_full):  # pragma: no cover - compiled
    """Generate steps t0..t0+n-1. Trials k0.. cover them (trial_start[k0] <= t0) and extend past the lookahead."""
    K = thresholds.shape[0]
    k = k0
    n_trials = trial_start.shape[0]
    for s in range(n):
        t = t0 + s
        while k + 1 < n_trials and trial_start[k + 1] <= t:
            k += 1
        off = t - trial_start[k]
        for j in range(obs.shape[1]):
            obs[s, j] = 0
        p = trial_pat[k]
        v = valid[p]
        isi = trial_isi[k]
        if off == 0:
            for j in range(6):
                obs[s, j] = pattern_bits[p, j]
        if v and off == isi:
            obs[s, 6] = 1
        for j in range(K):
            if uniforms[s, j] < thresholds[j]:
                obs[s, 7 + j] = 1
        cum[s] = obs[s, 6]
        g_trunc[s] = gpow[isi - off - 1] if (v and off < isi) else 0.0
    # full return: tail from the schedule, then backwards through the block
    t_last = t0 + n - 1
    tail = 0.0
    kk = k
    while kk < n_trials and trial_start[kk] <= t_last + _LOOKAHEAD:
        j = trial_start[kk] + trial_isi[kk]
        if valid[trial_pat[kk]] and j > t_last and j < horizon and j - t_last <= _LOOKAHEAD:
            tail += gpow[j - t_last - 1]
        kk += 1
    if t_last >= horizon - 1:
        tail = 0.0
    g_full[n - 1] = tail
    for s in range(n - 2, -1, -1):
        g_full[s] = cum[s + 1] + gamma * g_full[s + 1]
    return k


class _TrialSchedule:
    """The trial schedule (ISI, ITI, pattern per trial), drawn ahead in fixed batches from its own RNG.

    Keeps a window of trials: ``start[i]``, ``isi[i]``, ``iti[i]``, ``pat[i]`` for trials
    ``first .. first+len-1``. Drawing never depends on how far ahead it is asked to look.
    """

    def __init__(self, config: TracePatterningConfig, seed: int) -> None:
        self._cfg = config
        self._rng = _rng(seed, _PURPOSE_TRIALS)
        self.start = np.zeros(0, np.int64)
        self.isi = np.zeros(0, np.int64)
        self.iti = np.zeros(0, np.int64)
        self.pat = np.zeros(0, np.int64)
        self.first = 0          # global index of trial 0 of the window
        self._next_start = 0    # start step of the next trial to draw

    def extend_to(self, step: int) -> None:
        """Draw batches until the window holds every trial starting at or before ``step``."""
        cfg = self._cfg
        new: list[tuple[np.ndarray, ...]] = []
        while self._next_start <= step:
            isi = self._rng.integers(cfg.isi[0], cfg.isi[1] + 1, size=_TRIAL_BATCH)
            iti = self._rng.integers(cfg.iti[0], cfg.iti[1] + 1, size=_TRIAL_BATCH)
            pat = self._rng.integers(0, len(PATTERNS), size=_TRIAL_BATCH)
            starts = self._next_start + np.concatenate([[0], np.cumsum(isi + iti + 1)[:-1]])
            self._next_start = int(starts[-1] + isi[-1] + iti[-1] + 1)
            new.append((starts, isi, iti, pat))
        if new:  # one concatenation per call: drawing far ahead (millions of trials) stays linear
            self.start, self.isi, self.iti, self.pat = (
                np.concatenate([old, *parts]) for old, parts in
                zip((self.start, self.isi, self.iti, self.pat), zip(*new)))

    def drop_before(self, i: int) -> None:
        """Forget window trials ``0 .. i-1``."""
        if i > 0:
            self.start, self.isi, self.iti, self.pat = (a[i:] for a in (self.start, self.isi, self.iti, self.pat))
            self.first += i


class TracePatterningStream:
    """The trace-patterning stream for one seed, generated on the fly in chunks.

    ``TracePatterningStream(config, seed).chunks(n_steps, chunk_size)`` yields
    :class:`~oscbench.datasets.stream.StepChunk` s (float32 observations ``[N, F]``); :meth:`raw_blocks`
    yields the compact arrays a dataset file stores. Memory stays O(chunk) for any ``n_steps``.
    """

    kind = KIND
    generator = "oscbench.datasets.trace_patterning"

    def __init__(self, config: TracePatterningConfig | None = None, seed: int = 0) -> None:
        self.config = config or TracePatterningConfig()
        self.seed = int(seed)
        self.valid = valid_pattern_mask(self.seed, self.config.n_valid_patterns)
        _rng(self.seed, 0)  # validates the seed

    @property
    def dataset_id(self) -> str:
        return dataset_id(self.config)

    @property
    def n_features(self) -> int:
        return self.config.n_features

    @property
    def gamma(self) -> float:
        return self.config.gamma

    def raw_blocks(self, n_steps: int, *, with_floor: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Yield the stream's stored arrays for steps 0..n_steps-1, in blocks of 65,536 steps.

        Each block: ``observations`` uint8 [N, F], ``cumulants`` / ``continuations`` float32 [N],
        ``returns`` / ``returns_truncated`` float64 [N], plus ``start`` (int); with ``with_floor`` also
        ``bayes_floor`` float64 [N], the Bayes-optimal prediction of ``returns_truncated`` (module docs).
        """
        if n_steps < 0:
            raise ConfigError(f"--steps {n_steps} is negative; give a positive number of steps.")
        cfg = self.config
        noise_rng = _rng(self.seed, _PURPOSE_DISTRACTORS)
        thresholds = np.floor(cfg.distractor_probs * 2.0**32).astype(np.uint64)
        gpow = discount_powers(cfg.gamma, max(cfg.isi[1], _LOOKAHEAD + 1))
        sched = _TrialSchedule(cfg, self.seed)
        k = 0
        for t0 in range(0, n_steps, _BLOCK):
            n = min(_BLOCK, n_steps - t0)
            keep = max(k - 1, 0)
            sched.drop_before(keep)
            k -= keep
            sched.extend_to(t0 + _BLOCK + _LOOKAHEAD + 1)
            uniforms = noise_rng.integers(0, 2**32, size=(_BLOCK, cfg.n_distractors), dtype=np.uint64)
            obs = np.empty((n, cfg.n_features), np.uint8)
            cum = np.empty(n, np.float32)
            g_trunc = np.empty(n, np.float64)
            g_full = np.empty(n, np.float64)
            k = _fill_block(t0, n, n_steps, sched.start, sched.isi, sched.pat, PATTERNS, self.valid, k,
                            uniforms, thresholds, cfg.gamma, gpow, obs, cum, g_trunc, g_full)
            cont = np.full(n, cfg.gamma, np.float32)
            if t0 == 0:
                cont[0] = 0.0
            block: dict[str, Any] = {"start": t0, "observations": obs, "cumulants": cum, "continuations": cont,
                     "returns": g_full, "returns_truncated": g_trunc}
            if with_floor:
                steps = np.arange(t0, t0 + n, dtype=np.int64)
                block["bayes_floor"] = _trial_state_values(steps, sched, self.valid, bayes_floor_table(cfg))
            yield block

    def chunks(self, n_steps: int, chunk_size: int = 65536) -> Iterator[StepChunk]:
        """Yield steps 0..n_steps-1 as StepChunks (float32 observations) of at most ``chunk_size`` steps."""
        blocks = (StepChunk(int(b["start"]), b["observations"].astype(np.float32), b["cumulants"],
                            b["continuations"], b["returns"], b["returns_truncated"])
                  for b in self.raw_blocks(n_steps))
        return rechunk(blocks, chunk_size, n_steps)

    def trials(self, n_trials: int) -> dict[str, np.ndarray]:
        """The first ``n_trials`` trials of this stream (for analysis and tests).

        Returns int64 arrays ``start`` (CS step), ``isi``, ``iti``, ``pattern`` (index into
        :data:`PATTERNS`) and bool ``valid``, each of shape ``[n_trials]``.
        """
        sched = _TrialSchedule(self.config, self.seed)
        while len(sched.start) < n_trials:
            sched.extend_to(sched._next_start)
        sl = slice(0, n_trials)
        return {"start": sched.start[sl].copy(), "isi": sched.isi[sl].copy(), "iti": sched.iti[sl].copy(),
                "pattern": sched.pat[sl].copy(), "valid": self.valid[sched.pat[sl]]}

    def params(self) -> dict[str, Any]:
        return self.config.to_dict()


def with_overrides(config: TracePatterningConfig, **overrides: Any) -> TracePatterningConfig:
    """``config`` with the non-None overrides applied (validated)."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


# -- the Bayes floor ---------------------------------------------------------------------------------
def bayes_floor_table(config: TracePatterningConfig) -> np.ndarray:
    """float64 ``[isi_max]``: p[k] = E[γ^(ISI−k−1) | ISI > k] for ISI ~ U{isi_min..isi_max}.

    The Bayes-optimal prediction of G* k steps after the CS of a valid trial whose US has not come
    yet (given ISI > k the ISI is uniform on max(k+1, isi_min)..isi_max).
    """
    a, b = config.isi
    isi = np.arange(a, b + 1, dtype=np.int64)
    gpow = discount_powers(config.gamma, b)
    return np.array([np.mean(gpow[isi[isi > k] - k - 1]) for k in range(b)], dtype=np.float64)


def _trial_state_values(steps: np.ndarray, sched: _TrialSchedule, valid: np.ndarray,
                        table: np.ndarray | None) -> np.ndarray:
    """Per step of ``steps`` (sorted, covered by ``sched``): ``table[k]`` k steps after the CS of a valid
    trial before its US, else 0; with ``table`` None, the target G* itself (γ^(ISI−k−1) there)."""
    k = np.searchsorted(sched.start, steps, side="right") - 1
    if len(steps) and k[0] < 0:
        raise ValueError("the trial schedule does not cover the steps asked for")
    off = steps - sched.start[k]
    isi = sched.isi[k]
    live = valid[sched.pat[k]] & (off < isi)
    out = np.zeros(len(steps), dtype=np.float64)
    if table is None:
        out[live] = discount_powers(sched._cfg.gamma, sched._cfg.isi[1])[isi[live] - off[live] - 1]
    else:
        out[live] = table[off[live]]
    return out


def _schedule_until(config: TracePatterningConfig, seed: int, stop: int) -> _TrialSchedule:
    sched = _TrialSchedule(config, seed)
    sched.extend_to(max(stop, 0))
    return sched


def bayes_floor_predictions(config: TracePatterningConfig, seed: int, stop: int, start: int = 0,
                            *, with_target: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The Bayes floor's predictions for steps ``start..stop-1`` of seed ``seed``'s stream (float64).

    With ``with_target``, also G* (``returns_truncated``) on the same steps, computed from the trial
    schedule. Only the trial schedule is drawn (no observations), so any window of a long stream is cheap.
    """
    if not 0 <= start <= stop:
        raise ConfigError(f"step range {start}..{stop} is invalid; give 0 <= start <= stop.")
    sched = _schedule_until(config, seed, stop)
    valid = valid_pattern_mask(seed, config.n_valid_patterns)
    steps = np.arange(start, stop, dtype=np.int64)
    pred = _trial_state_values(steps, sched, valid, bayes_floor_table(config))
    if not with_target:
        return pred
    return pred, _trial_state_values(steps, sched, valid, None)


@dataclass(frozen=True)
class FloorScore:
    """The Bayes floor scored like a learner: final error, the target's variance, NMSE (None if constant)."""

    final_error: float
    target_variance: float
    nmse: float | None


def bayes_floor_score(config: TracePatterningConfig, seed: int, steps: int, window: int) -> FloorScore:
    """The floor's error on the last ``window`` steps of a ``steps``-step run of seed ``seed``, scored as
    the evaluator scores a learner (mean squared error ÷ population variance of G* over the window)."""
    window = min(window, steps)
    pred, target = bayes_floor_predictions(config, seed, steps, steps - window, with_target=True)
    err = float(np.mean((pred - target) ** 2)) if window else 0.0
    var = float(np.var(target)) if window else 0.0
    return FloorScore(err, var, err / var if var > 0 else None)


def bayes_floor_nmse_stationary(config: TracePatterningConfig) -> float | None:
    """The floor's NMSE in the long run (exact, by renewal-reward over one trial): E[squared error per
    trial] / E[trial length] ÷ the stationary variance of G*. None when G* is always 0."""
    a, b = config.isi
    c, d = config.iti
    q = config.n_valid_patterns / len(PATTERNS)
    p = bayes_floor_table(config)
    gpow = discount_powers(config.gamma, b)
    se = s1 = s2 = 0.0
    for isi in range(a, b + 1):
        g = gpow[isi - np.arange(isi) - 1]
        se += float(np.sum((g - p[:isi]) ** 2))
        s1 += float(np.sum(g))
        s2 += float(np.sum(g * g))
    n = b - a + 1
    length = (a + b) / 2 + (c + d) / 2 + 1
    err, m1, m2 = (q * v / n / length for v in (se, s1, s2))
    var = m2 - m1 * m1
    return err / var if var > 0 else None


# -- the dataset kind (what a trace-patterning file may not choose; see oscbench.datasets.kinds) -----
TRACE_LAYOUT = [{"array": "observations", "op": "scale", "scale": 1.0}]
GENERATOR = TracePatterningStream.generator


def _config_of(params: Any) -> TracePatterningConfig:
    try:
        return TracePatterningConfig.from_dict(dict(params))
    except (ConfigError, TypeError, ValueError) as err:
        raise DataError(f"attribute 'params' is not a trace-patterning parameter set ({err}); "
                        "generate the file again.") from None


def _canonical(attrs: Any) -> dict[str, Any]:
    config = _config_of(attrs.get("params"))
    return {"params": config.to_dict(), "dataset_id": dataset_id(config), "gamma": config.gamma}


def _check_stream(ds: Any) -> None:
    """The file must hold exactly the stream its ``params`` and ``seed`` generate: every block is
    regenerated and compared (about as fast as reading the file), so a relabelled seed, edited
    parameters, or arrays rewritten to leak the target (with recomputed digests) are all refused."""
    if ds.seed < 0:
        raise DataError(f"{ds.path}: attribute 'seed' is {ds.seed}; a trace-patterning seed is >= 0, generate "
                        "the file again.")
    names = [n for n in ("observations", "cumulants", "continuations", "returns", "returns_truncated", "bayes_floor")
             if n in ds.step_arrays]
    stream = TracePatterningStream(_config_of(ds.params), ds.seed)
    for block in stream.raw_blocks(ds.n_steps, with_floor="bayes_floor" in names):
        t0, n = block["start"], len(block["cumulants"])
        for name in names:
            stored = ds.array(name, t0, t0 + n)
            if np.array_equal(stored, block[name]):
                continue
            if t0 == 0:
                raise DataError(f"{ds.path}: attribute 'seed' is {ds.seed} (with its 'params') but the '{name}' array "
                                "is not that stream's; the file was relabelled or edited, generate it again.")
            step = t0 + int(np.argmax(np.any((stored != block[name]).reshape(n, -1), axis=1)))
            raise DataError(f"{ds.path}: the '{name}' array differs at step {step:,} from the stream its 'params' and "
                            f"'seed' generate; the file was edited, generate it again.")


kinds.register(kinds.KindSpec(KIND, GENERATOR, layout=lambda params: [dict(s) for s in TRACE_LAYOUT],
                              sources=frozenset({"observations"}), canonical=_canonical, check_data=_check_stream))
