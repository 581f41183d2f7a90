"""Columnar, constructive and hybrid LSTM networks trained online with exact RTRL and TD(λ) (SPEC §3-§5).

A network has ``n_columns`` one-unit LSTM columns in stages of ``columns_per_stage``; column k is in
stage ⌊k/U⌋ and reads every raw input and the outputs of **all** columns of earlier stages (SPEC §3.4:
the reference code's random connectivity is, in effect, full). ``columnar`` is one stage of all the
columns; ``constructive`` has one column per stage; ``hybrid`` is anything in between.

What happens at step t (stage ``s = t // steps_per_stage``; stages switch exactly every
``steps_per_stage`` steps -- the reference C++ makes its first stage one step short, SPEC §4; that is
not reproduced):

1. **Forward with θ_t.** Every column (frozen, learning and not-yet-started ones) computes
   i, f, o = σ(·), g = tanh(·), c_t = f·c_{t-1} + i·g, h_t = o·tanh(c_t) from its normalised inputs
   ẑ = (z − m)/√v (statistics up to t−1) and its own raw h_{t−1}. By default a column reads the
   earlier stages' outputs of the previous step, h(t−1) (SPEC §11.14, the reference code's one-step
   lag); ``same_step_stages=True`` reads h(t).
2. **Output.** For every column μ_k, ν_k are updated with h_k(t) and then used:
   ĥ_k = (h_k − μ_k)/√ν_k with ν floored at ``var_floor``; V_t = Σ_k w_k·ĥ_k + b.
   ``norm_floor`` chooses the floor of this and of the input normalisation (SPEC §11.5):
   ``"variance"`` (default, C) writes max(v, var_floor) into the running variance;
   ``"sigma"`` (P's Appendix A) keeps the running variance unfloored and divides by
   max(√var_floor, σ), i.e. ε = √var_floor. (Even the (0, 1) statistics of a stage that has not
   started divide by max(√var_floor, 1) then.)
3. **TD error** δ_t = c_t + γ_t·V_t − V_{t−1} (no update at t = 0).
4. **Stage switch** (t a multiple of steps_per_stage): the finished stage's columns take their last
   update δ_t·e_{t−1}; then the new stage's RTRL traces and eligibility traces start at 0 and its
   RMSProp state at 1.
5. **Learning columns** (stage s only): for every parameter θ, the exact RTRL recursion of SPEC §3.3
   advances TH_θ = ∂h_t/∂θ and TC_θ = ∂c_t/∂θ with the weights θ_t and the inputs ẑ that the forward
   of step t used (the reference code's mixed-weights and h(t)-vs-h(t−1) bugs, SPEC §9.2 items 2-3,
   are not reproduced); θ ← θ + step(δ_t·e_{t−1}); e_t = γ_t·λ·e_{t−1} + (w_k/√ν_k)·TH_θ. Then
   the stage's input statistics are updated with the values the forward consumed (SPEC §3.2).
   Frozen columns and their statistics never change again; later columns keep their initial weights.
6. **Output layer**: w_k for the n_active = min((s+1)·U, T) columns started so far, and b, take
   step(δ_t·e_{t−1}) with step size α/n_active; e_w ← γ_t·λ·e_w + ĥ (for every column), e_b ← γ_t·λ·e_b + 1.

Eligibility traces decay with γ_t, the discount of the transition *into* the state whose gradient
is added, so γ_t = 0 (a new episode) cuts them (SPEC §11.18; C's order, SPEC §9.2 item 4, where the
next episode inherits ∇V_{t−1}, is not reproduced). ``step(δ·e)`` is the RMSProp-normalised
step of SPEC §5 (s ← β2·s + (1−β2)·g², θ += η·g/(√s + ε), s₀ = 1) or, with ``optimizer="sgd"``, η·g.
After the last stage no column learns; the output layer keeps learning with α/T (the reference code
keeps shrinking it as α/((s+1)·U)).

C behaviours NOT reproduced (bugs, SPEC §9.2): the RTRL update with mixed weights θ_t/θ_{t+1} (item 3),
the hybrid gradient reading ĥ(t) where the forward used ĥ(t−1) (item 2), the short first stage and the
episode-boundary trace order (item 4). The test-only numpy reference (``tests/baselines_reference.py``)
keeps the last two as options, for analysis.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oscbench.baselines import hparams as hpm
from oscbench.baselines.kernels_column import LANE_MAJOR_FROM, ccn_run, exp_scratch, stage_rows
from oscbench.benchmark import flops
from oscbench.errors import ConfigError

VARIANTS = ("hybrid", "columnar", "constructive")
NORM_FLOORS = ("variance", "sigma")


def padded_lanes(columns_per_stage: int) -> int:
    """Lanes per stage in the rows-major layout: 4 per column, rounded up to a multiple of 32 beyond 8.

    32, not 16: on an AVX2 core LLVM's vectorised lane loop takes 32 floats an iteration (8 wide,
    interleaved 4), so a 16-lane row (hybrid, 4 columns a stage) ran only the loop's scalar remainder;
    padded to 32 the same network ran 2.0x faster on an AVX2 host (docs/performance.md). Padding lanes
    hold zeros and stay zero, and the initial weights are drawn in the unpadded shape, so the padding
    never changes what is learned (tests/test_baselines_api.py)."""
    lanes = 4 * columns_per_stage
    return lanes if lanes <= 8 else -(-lanes // 32) * 32


@dataclass(frozen=True)
class CCNConfig:
    """All hyper-parameters of one column-network run (validated)."""

    variant: str
    n_features: int
    n_columns: int
    columns_per_stage: int
    steps_per_stage: int
    step_size: float
    lam: float
    beta: float
    var_floor: float
    optimizer: str
    rms_beta2: float
    rms_eps: float
    same_step_stages: bool
    dtype: str
    norm_floor: str = "variance"

    @property
    def n_stages(self) -> int:
        return -(-self.n_columns // self.columns_per_stage)

    @property
    def max_inputs(self) -> int:
        """M: incoming signals of the last stage's columns."""
        return self.n_features + (self.n_stages - 1) * self.columns_per_stage

    @property
    def structure(self) -> tuple:
        """What runs batched together must share (array shapes and dtype)."""
        return (self.n_features, self.n_columns, self.columns_per_stage, self.dtype)

    def flops_per_step(self) -> int:
        if self.n_stages == 1:
            return flops.columnar(self.n_features, self.n_columns)
        return flops.hybrid(self.n_features, self.n_columns, self.columns_per_stage)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ccn_config(variant: str, n_features: int, **hp: Any) -> CCNConfig:
    """Validate ``hp`` for ``variant`` (hybrid | columnar | constructive) and fill in defaults."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown column-network variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    defaults = {**hpm.COMMON_DEFAULTS, **hpm.CCN_COMMON, **hpm.CCN_DEFAULTS[variant]}
    merged = hpm.merge(variant, hp, defaults, ("n_columns", "columns_per_stage", "steps_per_stage"))
    n = hpm.pos_int(variant, "n_features", n_features)
    T = hpm.pos_int(variant, "n_columns", merged["n_columns"])
    U = merged["columns_per_stage"]
    if variant == "columnar":
        if U is not None and U != T:
            raise ConfigError(f"hyper-parameter columns_per_stage={U!r} is invalid for the columnar learner "
                              f"(one stage of all {T} columns); omit it or use the hybrid learner.")
        U = T
    elif variant == "constructive" and U != 1:
        raise ConfigError(f"hyper-parameter columns_per_stage={U!r} is invalid for the constructive learner "
                          "(one column per stage); omit it or use the hybrid learner.")
    U = hpm.pos_int(variant, "columns_per_stage", U)
    if U > T:
        raise ConfigError(f"columns_per_stage={U} exceeds n_columns={T}; give columns_per_stage <= n_columns.")
    return CCNConfig(
        variant=variant,
        n_features=n,
        n_columns=T,
        columns_per_stage=U,
        steps_per_stage=hpm.pos_int(variant, "steps_per_stage", merged["steps_per_stage"]),
        step_size=hpm.real(variant, "step_size", merged["step_size"], 0.0, 1e3),
        lam=hpm.real(variant, "lam", merged["lam"], 0.0, 1.0),
        beta=hpm.real(variant, "beta", merged["beta"], 0.0, 1.0),
        var_floor=hpm.real(variant, "var_floor", merged["var_floor"], 0.0, 1e6, lo_open=True),
        optimizer=hpm.choice(variant, "optimizer", merged["optimizer"], ("rmsprop", "sgd")),
        rms_beta2=hpm.real(variant, "rms_beta2", merged["rms_beta2"], 0.0, 1.0, hi_open=True),
        rms_eps=hpm.real(variant, "rms_eps", merged["rms_eps"], 0.0, 1.0, lo_open=True),
        same_step_stages=hpm.flag(variant, "same_step_stages", merged["same_step_stages"]),
        dtype=np.dtype(hpm.dtype_of(variant, merged["dtype"])).name,
        norm_floor=hpm.choice(variant, "norm_floor", merged["norm_floor"], NORM_FLOORS),
    )


class CCNState:
    """The state of B column-network runs of one structure (arrays with a leading run dimension).

    Attributes (``S`` stages; a stage's parameters are ``LANES x ROWS`` -- see
    :mod:`oscbench.baselines.kernels_column` for the two layouts):
        theta [B, S, LANES, ROWS] when ``lane_major`` (n_features >= LANE_MAJOR_FROM) else
        [B, S, ROWS, LANES]; in_mean / in_var / in_istd [B, S, M], h / c [B, T],
        out_mu / out_nu / w_out / e_w / s_w [B, T], b_out / e_b / s_b [B],
        TH / TC / E / RS: a stage's shape without S (the learning stage's RTRL traces, eligibility
        traces, RMSProp state),
        t_step [B] (int64, steps done), v_old [B] (the last prediction).
    """

    def __init__(self, configs: list[CCNConfig], seeds: list[int]) -> None:
        self.seeds = hpm.batch_seeds(configs, seeds, "n_columns, columns_per_stage, n_features and dtype")
        self.configs = list(configs)
        c0 = configs[0]
        dt = np.dtype(c0.dtype)
        B, S, T, U, M = len(configs), c0.n_stages, c0.n_columns, c0.columns_per_stage, c0.max_inputs
        R, LW = M + 2, padded_lanes(U)
        self.lane_major = c0.n_features >= LANE_MAJOR_FROM
        shape = (4 * U, int(stage_rows(c0.n_features, S - 1, U))) if self.lane_major else (R, LW)
        theta = np.zeros((B, S, *shape), dt)
        for b, seed in enumerate(self.seeds):
            # initial weights: U(-0.01, 0.01) drawn as [stage, row, lane] with 4·U lanes, whatever the memory
            # layout: the seed alone fixes them, never the padding (a speed choice that may change)
            draw = hpm.weight_rng(seed).uniform(-0.01, 0.01, size=(S, R, 4 * U))
            for s in range(S):
                rows, lanes = c0.n_features + s * U + 2, 4 * min(U, T - s * U)
                if self.lane_major:
                    theta[b, s, :lanes, :rows] = draw[s, :rows, :lanes].T
                else:
                    theta[b, s, :rows, :lanes] = draw[s, :rows, :lanes]
        self.theta = theta
        self.in_mean = np.zeros((B, S, M), dt)
        self.in_var = np.ones((B, S, M), dt)
        self.in_istd = np.ones((B, S, M), dt)
        for b, c in enumerate(configs):    # σ-floor: even the initial (0, 1) statistics divide by √max(1, floor)
            if c.norm_floor == "sigma":
                self.in_istd[b] = 1.0 / np.sqrt(max(1.0, c.var_floor))
        self.h = np.zeros((B, T), dt)
        self.c = np.zeros((B, T), dt)
        self.out_mu = np.zeros((B, T), dt)
        self.out_nu = np.ones((B, T), dt)
        self.w_out = np.zeros((B, T), dt)
        self.b_out = np.zeros(B, dt)
        self.e_w = np.zeros((B, T), dt)
        self.e_b = np.zeros(B, dt)
        self.s_w = np.ones((B, T), dt)
        self.s_b = np.ones(B, dt)
        self.TH = np.zeros((B, *shape), dt)
        self.TC = np.zeros((B, *shape), dt)
        self.E = np.zeros((B, *shape), dt)
        self.RS = np.ones((B, *shape), dt)
        self.t_step = np.zeros(B, np.int64)
        self.v_old = np.zeros(B, dt)
        self.hp = hpm.per_run(configs, ("step_size", dt), ("lam", dt), ("beta", dt), ("var_floor", dt),
                              (lambda c: c.optimizer == "rmsprop", np.uint8), ("rms_beta2", dt), ("rms_eps", dt),
                              ("steps_per_stage", np.int64), ("same_step_stages", np.uint8),
                              (lambda c: c.norm_floor == "sigma", np.uint8))

    @property
    def dtype(self) -> np.dtype:
        return self.theta.dtype

    @property
    def n_runs(self) -> int:
        return self.theta.shape[0]

    def advance(self, xs: np.ndarray, cum: np.ndarray, cont: np.ndarray, out: np.ndarray) -> None:
        """Run the compiled kernel over the chunk (arrays already validated and of the right dtype)."""
        c0 = self.configs[0]
        efloat, ebits = exp_scratch(-(-4 * c0.n_columns // 16) * 16, self.dtype)
        ccn_run(xs, cum, cont, out,  # type: ignore[call-arg]  # numba dispatcher: typed by its signature at run time
                self.theta, self.in_mean, self.in_var, self.in_istd, self.h, self.c,
                self.out_mu, self.out_nu, self.w_out, self.b_out, self.e_w, self.e_b, self.s_w, self.s_b,
                self.TH, self.TC, self.E, self.RS, self.t_step, self.v_old, *self.hp,
                c0.n_features, c0.columns_per_stage, c0.n_columns, int(self.lane_major), efloat, ebits)

    # -- views used by the tests and by analysis code -------------------------------------------
    def stage_of(self, run: int = 0) -> int:
        """The stage that step ``t_step`` (the next one) belongs to."""
        c = self.configs[run]
        return int(self.t_step[run] // c.steps_per_stage)

    def column_params(self, run: int, k: int) -> dict[str, np.ndarray]:
        """Views of column k's parameters: ``W`` [4, m] (gates i, f, o, g), ``u`` [4], ``b`` [4]."""
        c = self.configs[run]
        s, kk = divmod(k, c.columns_per_stage)
        m = c.n_features + s * c.columns_per_stage
        lanes = slice(4 * kk, 4 * kk + 4)
        th = self.theta[run, s]
        if not self.lane_major:
            th = th.T
        return {"W": th[lanes, 2:2 + m], "u": th[lanes, 0], "b": th[lanes, 1]}
