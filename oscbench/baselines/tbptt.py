"""The T-BPTT baseline (SPEC §6): a fully connected LSTM trained by truncated BPTT summed into λ-traces.

One layer of ``hidden`` units reads the **raw** inputs (no normalisation), gate order i, f, g, o,
one bias per gate; V = Σ_u w_u·h_u with no output bias, w starting at 0. W, U and b are drawn
U(−1/√H, 1/√H) in that order. Every step t (a sliding window, not once per k steps):

1. forward x_t with θ_t, V_t = w·h_t;
2. ĝ_t = ∂V_t/∂θ backpropagated through the last ``truncation`` = k steps t−k+1 .. t with θ_t and the
   stored activations, h_{t−k} and c_{t−k} held constant (the ring keeps k + 1 steps so that they are
   the right ones -- the reference code's k-slot ring is off by one, SPEC §6; that bug is not
   reproduced);
3. δ_t = c_t + γ_t·V_t − V_{t−1}; θ ← θ + step(δ_t·e_{t−1}); e_t = γ_t·λ·e_{t−1} + ĝ_t (C's episode-trace
   order, SPEC §9.2 item 4, is not reproduced).

``step`` is RMSProp (v ← β2·v + (1−β2)·g², θ += α·g/(√v + ε), v₀ = 1; the same α for every parameter,
``tbptt_rmsprop`` in the reference code) or plain SGD (``optimizer="sgd"``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oscbench.baselines import hparams as hpm
from oscbench.baselines.kernels_column import LANE_MAJOR_FROM, exp_scratch
from oscbench.baselines.kernels_tbptt import tbptt_run
from oscbench.benchmark import flops

NAME = "tbptt"


@dataclass(frozen=True)
class TBPTTConfig:
    """All hyper-parameters of one T-BPTT run (validated)."""

    n_features: int
    hidden: int
    truncation: int
    step_size: float
    lam: float
    optimizer: str
    rms_beta2: float
    rms_eps: float
    dtype: str
    variant: str = NAME

    @property
    def structure(self) -> tuple:
        return (self.n_features, self.hidden, self.truncation, self.dtype)

    def flops_per_step(self) -> int:
        return flops.tbptt(self.n_features, self.hidden, self.truncation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tbptt_config(n_features: int, **hp: Any) -> TBPTTConfig:
    """Validate ``hp`` and fill in defaults. ``features="k:H"`` is accepted as a convenience."""
    defaults = {**hpm.COMMON_DEFAULTS, **hpm.TBPTT_DEFAULTS}
    merged = hpm.merge(NAME, hp, defaults, ("truncation", "hidden"))
    return TBPTTConfig(
        n_features=hpm.pos_int(NAME, "n_features", n_features),
        hidden=hpm.pos_int(NAME, "hidden", merged["hidden"]),
        truncation=hpm.pos_int(NAME, "truncation", merged["truncation"]),
        step_size=hpm.real(NAME, "step_size", merged["step_size"], 0.0, 1e3),
        lam=hpm.real(NAME, "lam", merged["lam"], 0.0, 1.0),
        optimizer=hpm.choice(NAME, "optimizer", merged["optimizer"], ("rmsprop", "sgd")),
        rms_beta2=hpm.real(NAME, "rms_beta2", merged["rms_beta2"], 0.0, 1.0, hi_open=True),
        rms_eps=hpm.real(NAME, "rms_eps", merged["rms_eps"], 0.0, 1.0, lo_open=True),
        dtype=np.dtype(hpm.dtype_of(NAME, merged["dtype"])).name,
    )


class TBPTTState:
    """The state of B T-BPTT runs of one structure (leading run dimension).

    Attributes (lane ``r = gate·H + unit``, gates i, f, g, o; ``K1 = k + 1`` ring slots):
        Wt [B, n, 4H] (input-major), Ut [B, H, 4H], bias [B, 1, 4H], w_out [B, 1, H];
        eW / eU / eb / ew (eligibility traces) and vW / vU / vb / vw (RMSProp state), same shapes;
        ring_x [B, K1, n], ring_g [B, K1, 4H] (activated gates), ring_c / ring_tc / ring_h [B, K1, H];
        t_step [B] (int64), v_old [B].
    These are views of what the kernel runs on (``_padded``): ``Wt``, ``eW``, ``vW`` of lane-major
    ``[B, 4H, n]`` arrays when ``lane_major`` (n >= 64); the others, and those with fewer inputs, of the
    first 4H lanes of arrays padded to a multiple of 8 lanes (the padding stays 0).
    """

    def __init__(self, configs: list[TBPTTConfig], seeds: list[int]) -> None:
        self.seeds = hpm.batch_seeds(configs, seeds, "n_features, hidden, truncation and dtype")
        self.configs = list(configs)
        c0 = configs[0]
        dt = np.dtype(c0.dtype)
        B, n, H, K1 = len(configs), c0.n_features, c0.hidden, c0.truncation + 1
        R = 4 * H
        RP = -(-R // 8) * 8       # whole 256-bit float32 vectors (16 measured slower at H = 5)
        self.lane_major = n >= LANE_MAJOR_FROM
        P = {nm: np.zeros((B, rows, RP), dt) for nm, rows in (("Ut", H), ("bias", 1))}
        P["Wt"] = np.zeros((B, R, n) if self.lane_major else (B, n, RP), dt)
        P.update({f"e{nm[0]}" if nm != "bias" else "eb": np.zeros_like(P[nm]) for nm in ("Wt", "Ut", "bias")})
        P.update({f"v{nm[0]}" if nm != "bias" else "vb": np.ones_like(P[nm]) for nm in ("Wt", "Ut", "bias")})
        self._padded = P
        self._lanes = R
        lim = 1.0 / np.sqrt(H)
        for b, seed in enumerate(self.seeds):
            rng = hpm.weight_rng(seed)
            W = rng.uniform(-lim, lim, size=(4, H, n))     # SPEC layout gate·n·H + h·n + j
            Uw = rng.uniform(-lim, lim, size=(4, H, H))    # gate·H·H + h·H + h'
            bb = rng.uniform(-lim, lim, size=(4, H))       # gate·H + h
            self.Wt[b] = W.reshape(R, n).T
            self.Ut[b] = Uw.reshape(R, H).T
            self.bias[b, 0] = bb.reshape(R)
        self.w_out = np.zeros((B, 1, H), dt)
        self.ew, self.vw = np.zeros_like(self.w_out), np.ones_like(self.w_out)
        self._ring_x = np.zeros((B, K1 + 1, n), dt)    # + a row of zeros (the kernel's padding of short windows)
        self.ring_g = np.zeros((B, K1, R), dt)
        self.ring_c = np.zeros((B, K1, H), dt)
        self.ring_tc = np.zeros((B, K1, H), dt)
        self.ring_h = np.zeros((B, K1, H), dt)
        self.t_step = np.zeros(B, np.int64)
        self.v_old = np.zeros(B, dt)
        self.hp = hpm.per_run(configs, ("step_size", dt), ("lam", dt), (lambda c: c.optimizer == "rmsprop", np.uint8),
                              ("rms_beta2", dt), ("rms_eps", dt))

    def _view(self, name: str) -> np.ndarray:
        if self.lane_major and name in ("Wt", "eW", "vW"):       # [B, 4H, n] in the kernel, [B, n, 4H] here
            return self._padded[name].transpose(0, 2, 1)
        return self._padded[name][:, :, :self._lanes]

    ring_x = property(lambda self: self._ring_x[:, :-1])
    Wt = property(lambda self: self._view("Wt"))
    Ut = property(lambda self: self._view("Ut"))
    bias = property(lambda self: self._view("bias"))
    eW = property(lambda self: self._view("eW"))
    eU = property(lambda self: self._view("eU"))
    eb = property(lambda self: self._view("eb"))
    vW = property(lambda self: self._view("vW"))
    vU = property(lambda self: self._view("vU"))
    vb = property(lambda self: self._view("vb"))

    @property
    def dtype(self) -> np.dtype:
        return self.w_out.dtype

    @property
    def n_runs(self) -> int:
        return self.w_out.shape[0]

    def advance(self, xs: np.ndarray, cum: np.ndarray, cont: np.ndarray, out: np.ndarray) -> None:
        P = self._padded
        efloat, ebits = exp_scratch(P["Ut"].shape[2], self.dtype)      # RP lanes
        tbptt_run(xs, cum, cont, out,  # type: ignore[call-arg]  # numba dispatcher: typed by its signature at run time
                  P["Wt"], P["Ut"], P["bias"], self.w_out, P["eW"], P["eU"], P["eb"],
                  self.ew, P["vW"], P["vU"], P["vb"], self.vw, self._ring_x, self.ring_g, self.ring_c,
                  self.ring_tc, self.ring_h, self.t_step, self.v_old, *self.hp, self.configs[0].truncation,
                  int(self.lane_major), efloat, ebits)
