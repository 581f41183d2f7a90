"""Compiled kernel of the columnar / constructive / hybrid LSTM networks (SPEC §3-§5).

One call advances B independent runs (a leading batch dimension) over N steps of one shared stream.
Runs are processed one after the other (run-outer, step-inner), so each run's state stays in cache.

A stage's parameters form a table of **lanes** × **rows** (``S`` stages, ``U`` columns per stage,
``T`` columns, ``n`` raw inputs, ``M = n + (S-1)·U``): lane ``l = 4·k' + q`` is gate q of the stage's
k'-th column (q: 0 = i, 1 = f, 2 = o, 3 = g); row 0 holds the recurrent weights u_q, row 1 the biases
b_q, row ``2 + j`` the input weights W_{q,j} of the stage's j-th incoming signal (j < n: raw input j;
j >= n: the output h of column j - n, an earlier-stage column). Stage s has ``m_s = n + s·U`` incoming
signals. Two layouts, chosen by the number of raw inputs, so that the inner loops -- the long,
contiguous ones -- run on full vectors:

* **rows-major** (``n < LANE_MAJOR_FROM``, e.g. trace patterning: ~12-30 rows, 16-20 lanes):
  ``theta[s, r, l]``, lanes padded to ``LW`` (a multiple of 32 beyond 8, :func:`~oscbench.baselines.ccn.padded_lanes`; padding stays 0); inner loops
  over a row's lanes, sums over rows in a fixed order.
* **lane-major** (``n >= LANE_MAJOR_FROM``, e.g. Atari: ~280 rows, 20 lanes): ``theta[s, l, r]``, rows
  padded to ``RP`` = M + 2 rounded up to 16; inner loops over a lane's rows (a stage's loops over its
  rows rounded up to 16, :func:`stage_rows`; padding rows have input 0 and stay 0).

* Input statistics ``in_mean / in_var / in_istd [s, j]``: all columns of a stage start, learn and
  freeze together and see the same signals, so their per-column statistics (SPEC §3.2) are equal;
  one copy per stage is kept.
* RTRL traces ``TH, TC`` (∂h/∂θ, ∂c/∂θ), eligibility traces ``E`` and RMSProp state ``RS`` (one stage's
  table, same layout) exist only for the learning stage; they are reset to (0, 0, 0, 1) when a stage begins.

Speed devices (none changes what is computed beyond float rounding):

* Stages that are not learning (frozen, or not started) have constant weights and statistics, so
  their normalisation is folded into *effective* weights ``weff[j, 4k+q] = W·/√v`` and biases
  ``beff = b − Σ W·m/√v`` (rebuilt at the start of each call and whenever a stage freezes); the
  whole network's pre-activations are then one matrix-vector product over ``z = [x_t, h]``. The
  learning stage is computed exactly as SPEC §3.1 writes it, from ẑ = (z − m)/√v.
* **No subnormal floats.** Every value that the state carries from step to step (RTRL and eligibility
  traces, cell states, running statistics) is flushed to 0 once its magnitude falls below ``TINY``
  (2^-100 ≈ 7.9e-31 in float32, 2^-900 in float64; :func:`flush`); the RMSProp state, which is never
  negative, is clamped at ``TINY`` instead (:func:`rms_state`: one instruction; see there why it does
  not change a step that matters). Such values cannot
  change a prediction or a step size (they are > 20 orders of magnitude below every other term), but
  left alone they decay into the subnormal range, where ``x·0.99`` rounds back to ``x``: they then stay
  there for the rest of the run and every operation on them costs the CPU up to ~100 cycles. This is a
  choice of the learner's arithmetic (portable and the same on every CPU), not a CPU mode.
* exp is evaluated in vectorisable code (range reduction + degree-13 Taylor polynomial, < 1 ulp in
  float32 and float64); tanh(a) = 2σ(2a) − 1.
* **Fused multiply-add.** Every kernel is compiled with contraction allowed (``fastmath={"contract"}``,
  nothing else of fast-math): LLVM fuses a·b + c into one FMA instruction (one rounding instead of
  two) where the CPU has one. In the RTRL pass this saves about a third of the instructions; the
  RMSProp step is computed as (α·δ)·e / (√s + ε) with s ← β2·s + ((1−β2)·δ²)·e², which needs one product
  per entry fewer than α·(δe)/(√s + ε) and (1−β2)·(δe)² and differs only in rounding. The RTRL pass
  of an o lane (whose input enters h) and of an i, f or g lane (whose input enters c) each drop the
  term whose coefficient is 0 (:func:`rtrl_lane`): the same values, one product fewer.
* Lane-major, the learning stage's pre-activations are dot products over a lane's rows
  (:func:`row_dots`), the one place compiled with re-association allowed (``fastmath={"reassoc"}``):
  LLVM then sums them in vector partial sums whose number follows the CPU's vector width (rows-major,
  they sum in row order). Every other loop is elementwise or sums in a fixed order. So a run is
  bit-reproducible on one machine (``step``, ``run`` and batched runs give identical predictions),
  and may differ in the last bits between CPUs of different vector widths, or between CPUs with and
  without FMA (every x86-64 CPU since 2013-2015 and every 64-bit ARM CPU has it; where LLVM fuses
  depends on its target); verification compares bitwise only on the same compiled target (see
  :mod:`oscbench.leaderboard.verify`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit



LANE_MAJOR_FROM = 64    # raw inputs from which both kernels store their input weights lane-major (module docs)
TINY32 = 2.0 ** -100     # flush threshold of float32 state (see the module docs)
TINY64 = 2.0 ** -900     # ... and of float64 state


@njit(cache=True, inline="always")
def flush(x, tiny):  # pragma: no cover - compiled
    """x, or 0 when |x| < tiny (NaN stays NaN): keeps subnormal floats out of a learner's state."""
    return tiny - tiny if abs(x) < tiny else x   # tiny - tiny: a zero of x's type, loop-invariant (x * 0 would promote)


@njit(cache=True, inline="always")
def tiny_of(a):  # pragma: no cover - compiled
    """The flush threshold for the dtype of array ``a``."""
    return a.dtype.type(TINY32) if a.itemsize == 4 else a.dtype.type(TINY64)


def exp_scratch(size: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Scratch for :func:`scaled_sigmoid`: a float array and its same-size integer view."""
    efloat = np.zeros(size, dtype)
    return efloat, efloat.view(np.int32 if efloat.itemsize == 4 else np.int64)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def scaled_sigmoid(src, dst, gsc, i0, i1, ptmp, ebits, efloat):  # pragma: no cover - compiled
    """dst[i] = g·σ(g·src[i]) − (g − 1) with g = gsc[i], for i0 <= i < i1 (σ for g = 1, tanh for g = 2).

    exp(x) = 2^n·p(r), x = n·ln2 + r, |r| <= ln2/2, p the degree-13 Taylor polynomial; 2^n is
    assembled from bits (``ebits`` is an integer view of ``efloat``). ``ptmp``/``ebits``/``efloat``
    are scratch of length >= i1. ``src`` and ``dst`` may be the same array.
    """
    dt = src.dtype
    one = dt.type(1.0)
    half = dt.type(0.5)
    log2e = dt.type(1.4426950408889634)
    ln2_hi = dt.type(0.693359375)              # 9 significant bits: n·ln2_hi is exact
    ln2_lo = dt.type(-2.1219444005469057e-04)  # ln2 − ln2_hi
    if src.itemsize == 4:
        xlo, xhi, bias, shift = dt.type(-87.0), dt.type(88.0), 127, 23
    else:
        xlo, xhi, bias, shift = dt.type(-708.0), dt.type(709.0), 1023, 52
    c13, c12, c11, c10 = dt.type(1 / 6227020800.0), dt.type(1 / 479001600.0), dt.type(1 / 39916800.0), \
        dt.type(1 / 3628800.0)
    c9, c8, c7, c6 = dt.type(1 / 362880.0), dt.type(1 / 40320.0), dt.type(1 / 5040.0), dt.type(1 / 720.0)
    c5, c4, c3, c2 = dt.type(1 / 120.0), dt.type(1 / 24.0), dt.type(1 / 6.0), dt.type(0.5)
    # unsigned indices: numba then emits no negative-index wrap-around, and the loops vectorise
    for i in range(np.uint64(i0), np.uint64(i1)):
        v = min(max(-gsc[i] * src[i], xlo), xhi)
        nf = np.floor(v * log2e + half)
        r = (v - nf * ln2_hi) - nf * ln2_lo
        p = ((((((((((((c13 * r + c12) * r + c11) * r + c10) * r + c9) * r + c8) * r + c7) * r + c6) * r
                   + c5) * r + c4) * r + c3) * r + c2) * r + one) * r + one
        ptmp[i] = p
        ebits[i] = (np.int64(nf) + bias) << shift
    for i in range(np.uint64(i0), np.uint64(i1)):
        g = gsc[i]
        dst[i] = g / (one + ptmp[i] * efloat[i]) - (g - one)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def matvec_acc(W, s, r0, z, z0, n_rows, acc, l0, a0, L):  # pragma: no cover - compiled
    """acc[a0 + l] += Σ_{j < n_rows} W[s, r0 + j, l0 + l] · z[z0 + j] for l < L (rows unrolled by 4)."""
    l0 = np.uint64(l0)   # unsigned lane offsets: no wrap-around code, so the lane loops vectorise
    a0 = np.uint64(a0)
    L = np.uint64(L)
    j = 0
    while j + 4 <= n_rows:
        z_0 = z[z0 + j]
        z_1 = z[z0 + j + 1]
        z_2 = z[z0 + j + 2]
        z_3 = z[z0 + j + 3]
        r = r0 + j
        for l in range(L):
            acc[a0 + l] += (W[s, r, l0 + l] * z_0 + W[s, r + 1, l0 + l] * z_1) \
                + (W[s, r + 2, l0 + l] * z_2 + W[s, r + 3, l0 + l] * z_3)
        j += 4
    while j < n_rows:
        zj = z[z0 + j]
        r = r0 + j
        for l in range(L):
            acc[a0 + l] += W[s, r, l0 + l] * zj
        j += 1


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def build_effective(th, mean, istd, weff, beff, s, n, U, T, by_lane):  # pragma: no cover - compiled
    """Fold stage s's (constant) input statistics into its effective weights: lanes 4sU.. of weff[0], beff."""
    m = n + s * U
    ncol = min(U, T - s * U)
    L = 4 * ncol
    l0 = 4 * s * U
    for l in range(L):
        beff[l0 + l] = th[s, l, 1] if by_lane else th[s, 1, l]
    for j in range(weff.shape[1]):
        for l in range(L):
            weff[0, j, l0 + l] = 0.0
    for j in range(m):
        sj = istd[s, j]
        mj = mean[s, j]
        for l in range(L):
            w = (th[s, l, 2 + j] if by_lane else th[s, 2 + j, l]) * sj
            weff[0, j, l0 + l] = w
            beff[l0 + l] -= w * mj
    for kk in range(ncol):          # own recurrent weights act on the raw h_{t-1} of row n + k
        for q in range(4):
            weff[0, n + s * U + kk, l0 + 4 * kk + q] = th[s, 4 * kk + q, 0] if by_lane else th[s, 0, 4 * kk + q]


@njit(cache=True, inline="always", fastmath={"contract"})
def rms_state(rs, ev, b2, c2, tiny):  # pragma: no cover - compiled
    """The RMSProp state after the TD(λ) step g = δ·e: β2·s + (1−β2)·g², computed as β2·s + c2·e² with
    ``c2`` = (1−β2)·δ² (one product per entry fewer), and kept at or above ``tiny``: the clamp keeps it out
    of the subnormal range with one instruction (module docs). A state that small changes √s + ε by at
    most one unit in ε's last place (√2^-100 = 2^-50; ε = 1e-8), and it only gets there after about
    700k steps (β2 = 0.9999) in which the parameter's trace, hence its step, was 0."""
    return max(b2 * rs + c2 * (ev * ev), tiny)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _apply_update(w, ev, rs, use_rms, eta, delta, b2, omb2, eps, tiny):  # pragma: no cover - compiled
    """Return (new weight, new RMSProp state) for the TD(λ) step δ·e (the rule of :func:`rtrl_lane`)."""
    if use_rms:
        rs = rms_state(rs, ev, b2, omb2 * (delta * delta), tiny)
        return w + (eta * delta) * ev / (np.sqrt(rs) + eps), rs
    return w + eta * (delta * ev), rs


@njit(cache=True, inline="always")
def _rtrl_advance(trc, trh, coef, r, l, tiny):  # pragma: no cover - compiled
    """Rows-major: the exact RTRL advance of one trace entry, TC ← F·TC + KC·TH + GC·D,
    TH ← PHI·TC' + KH·TH + HO·D (coefficients ``coef[q, l]``, see ccn_run); stores both (flushed) and
    returns the new TH."""
    A = trh[r, l]
    tcn = coef[0, l] * trc[r, l] + coef[1, l] * A + coef[4, l] * coef[7, l]
    trc[r, l] = flush(tcn, tiny)
    thn = flush(coef[2, l] * tcn + coef[3, l] * A + coef[5, l] * coef[7, l], tiny)
    trh[r, l] = thn
    return thn


@njit(cache=True)
def stage_rows(n_inputs, stage, cols_per_stage):  # pragma: no cover - compiled
    """Rows a stage's lane loops run over: its m_s + 2 parameter rows rounded up to a multiple of 16."""
    return -(-(n_inputs + stage * cols_per_stage + 2) // 16) * 16


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def row_dots(W, z, j0, j1, n_rows, out, o0):  # pragma: no cover - compiled
    """out[o0 + r] = Σ_{j0 <= j < j1} W[r, j]·z[j] for r < n_rows, each sum in vector partial sums: the one
    place compiled with re-association allowed (see module docs). One call for all rows: no per-row
    array views (their reference counting costs more than a short sum)."""
    for r in range(n_rows):
        acc = W.dtype.type(0.0)
        for j in range(np.uint64(j0), np.uint64(j1)):
            acc += W[r, j] * z[j]
        out[o0 + r] = acc


@njit(cache=True, error_model="numpy", inline="always", fastmath={"contract"})
def rtrl_lane(w, trc, trh, el, rs, l, D, nr, f, kc, phi, kh, gc, ho, sc, delta, gl, upd, rms, a, b2, omb2, eps,
              tiny):  # pragma: no cover - compiled
    """Lane l of the learning stage (rows of the [lanes, rows] arrays) over its rows r < nr, in one pass
    per row:

    (a) the exact RTRL advance from θ_t and this step's inputs ``D[r]`` (ẑ, with h_{t-1} in row 0 and
    1 in row 1): TC ← F·TC + KC·TH + GC·D, TH ← PHI·TC' + KH·TH + HO·D; (b) θ += step(δ_t·e_{t-1});
    (c) e_t = γ_t λ e_{t-1} + SCALE·TH (the coefficients are the lane's; see ccn_run).
    """
    nr = np.uint64(nr)     # unsigned: no negative-index wrap-around code, so the loops vectorise
    if upd and rms:        # the reference learners' path: one loop per lane kind, one product shorter each.
        #                    Their common tail is written out twice on purpose: moved into an inlined helper that
        #                    takes the arrays, it ran hybrid-atari 4x slower (per-call reference counting in the loop)
        ad = a * delta
        c2 = omb2 * (delta * delta)
        if ho == 0:     # i, f and g lanes: the input enters c (HO = 0); the same values, one product fewer
            for r in range(nr):
                A = trh[l, r]
                tcn = flush(f * trc[l, r] + kc * A + gc * D[r], tiny)
                trc[l, r] = tcn
                thn = flush(phi * tcn + kh * A, tiny)
                trh[l, r] = thn
                ev = el[l, r]
                sv = rms_state(rs[l, r], ev, b2, c2, tiny)
                rs[l, r] = sv
                w[l, r] += ad * ev / (np.sqrt(sv) + eps)
                el[l, r] = flush(gl * ev + sc * thn, tiny)
        else:           # o lanes: the input enters h (GC = 0)
            for r in range(nr):
                A = trh[l, r]
                tcn = flush(f * trc[l, r] + kc * A, tiny)
                trc[l, r] = tcn
                thn = flush(phi * tcn + kh * A + ho * D[r], tiny)
                trh[l, r] = thn
                ev = el[l, r]
                sv = rms_state(rs[l, r], ev, b2, c2, tiny)
                rs[l, r] = sv
                w[l, r] += ad * ev / (np.sqrt(sv) + eps)
                el[l, r] = flush(gl * ev + sc * thn, tiny)
    else:                  # plain steps (upd), or the trace alone
        for r in range(nr):
            A = trh[l, r]
            d = D[r]
            tcn = flush(f * trc[l, r] + kc * A + gc * d, tiny)
            trc[l, r] = tcn
            thn = flush(phi * tcn + kh * A + ho * d, tiny)
            trh[l, r] = thn
            ev = el[l, r]
            if upd:
                w[l, r] += a * (delta * ev)
            el[l, r] = flush(gl * ev + sc * thn, tiny)


@njit(cache=True, error_model="numpy", inline="always", fastmath={"contract"})
def running_stat(zz, mean, var, bt, omb, fl):  # pragma: no cover - compiled
    """One signal's running statistics (SPEC §3.2): the new mean μ' = β·μ + (1−β)·z, the centred value
    z − μ', the new variance β·v + (1−β)·(z − μ')², and that variance floored at ``fl``."""
    mn = bt * mean + omb * zz
    dz = zz - mn
    vraw = bt * var + omb * dz * dz
    return mn, dz, vraw, max(vraw, fl)


@njit(cache=True, error_model="numpy", inline="always", fastmath={"contract"})
def _update_stats(z, mean, var, istd, m, bt, omb, fl, sig, tiny):  # pragma: no cover - compiled
    """Running mean and variance of the incoming signals z[j < m] (SPEC §3.2) and 1/√(floored variance);
    with the σ-floor (``sig``) the stored variance stays unfloored."""
    one = z.dtype.type(1.0)
    for j in range(np.uint64(m)):    # unsigned: vectorised, no wrap-around code
        mn, dz, vraw, vr = running_stat(z[j], mean[j], var[j], bt, omb, fl)
        mean[j] = flush(mn, tiny)
        var[j] = flush(vraw, tiny) if sig else vr
        istd[j] = one / np.sqrt(vr)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def ccn_run(xs, cum, cont, out,
            theta, in_mean, in_var, in_istd, h, c, out_mu, out_nu, w_out, b_out,
            e_w, e_b, s_w, s_b, TH, TC, E, RS, t_step, v_old,
            alpha, lam, beta, var_floor, use_rms, rms_b2, rms_eps, sps, same_step, sigma_floor,
            n_inputs, cols_per_stage, n_cols, lane_major, efloat, ebits):  # pragma: no cover - compiled
    """Advance B runs over the N steps ``xs[N, n]``, ``cum[N]``, ``cont[N]``; write V into ``out[B, N]``.

    State arrays carry a leading run dimension B and are updated in place; hyper-parameter arrays
    are ``[B]``; ``efloat`` (float, length >= 4T rounded up to 16) and ``ebits`` (its integer view) are scratch.
    ``sigma_floor[b]`` != 0: P's σ-floor -- running variances are stored unfloored and signals are divided
    by √max(v, var_floor) -- instead of C's floor written into the variance (identical arithmetic when 0).
    Step t belongs to stage t // S (SPEC §11.15).
    All float arrays share one dtype (float32 or float64).
    """
    N = xs.shape[0]
    B = theta.shape[0]
    S = theta.shape[1]
    by_lane = lane_major != 0           # theta [B, S, lanes, rows] (wide inputs) or [B, S, rows, lanes]
    NL = theta.shape[2] if by_lane else theta.shape[3]     # lanes of a stage (4U, padded when rows-major)
    U = cols_per_stage
    T = n_cols
    n = n_inputs
    dt = theta.dtype
    one = dt.type(1.0)
    zero = dt.type(0.0)
    tiny = tiny_of(theta)
    # scratch shared by the runs: allocated once per call, never per step
    z = np.zeros(n + T, dt)             # incoming signals [x_t, h]
    hp = np.empty(T, dt)                # h_{t-1}
    cp = np.empty(T, dt)                # c_{t-1}
    zfull = np.zeros(theta.shape[3] if by_lane else theta.shape[2], dt)  # the learning stage's row inputs:
    #                                   [h_{t-1}(k), 1, ẑ, 0 …] (row 0 is set per column)
    A4 = -(-4 * T // 16) * 16           # lanes of the whole network, padded to full vectors
    acc = np.zeros(A4, dt)              # pre-activations, then gate values, of every lane
    tcs = np.empty(T, dt)               # tanh(c_t)
    onorm = np.empty((2, T), dt)        # 1/sqrt(nu_k), hhat_k
    coef = np.zeros((8, NL), dt)        # per lane of the learning stage: F, KC, PHI, KH, GC, HO, SCALE, D
    accx = np.zeros(NL, dt)             # rows-major: the learning stage's pre-activations (padded lanes)
    hp_lane = np.zeros(NL, dt)          # rows-major: h_{t-1} of each lane's column
    ptmp = np.empty(A4, dt)
    weff = np.zeros((1, n + T, A4), dt)
    beff = np.zeros(A4, dt)
    gsc = np.ones(A4, dt)               # 2 on g lanes (tanh), 1 on i, f, o lanes
    two_t = np.full(T, 2.0, dt)
    for l in range(4 * T):
        gsc[l] = 2.0 if l % 4 == 3 else 1.0
    for b in range(B):
        th = theta[b]
        mean = in_mean[b]
        var = in_var[b]
        istd = in_istd[b]
        hb = h[b]
        cb = c[b]
        mu = out_mu[b]
        nu = out_nu[b]
        wo = w_out[b]
        ew = e_w[b]
        sw = s_w[b]
        trh = TH[b]
        trc = TC[b]
        el = E[b]
        rs = RS[b]
        a = alpha[b]
        lm = lam[b]
        bt = beta[b]
        omb = one - bt
        fl = var_floor[b]
        rms = use_rms[b] != 0
        b2 = rms_b2[b]
        omb2 = one - b2
        eps = rms_eps[b]
        S_len = sps[b]
        same = same_step[b] != 0
        sig = sigma_floor[b] != 0
        s_start = t_step[b] // S_len
        for s in range(S):
            if s != s_start:
                build_effective(th, mean, istd, weff, beff, s, n, U, T, by_lane)
        for t in range(N):
            tt = t_step[b]
            s_cur = tt // S_len
            s_prev = (tt - 1) // S_len
            switching = tt > 0 and s_prev != s_cur
            if switching and s_prev < S:     # the finished stage now runs on effective weights (θ_t)
                build_effective(th, mean, istd, weff, beff, s_prev, n, U, T, by_lane)
            for j in range(n):
                z[j] = xs[t, j]
            for k in range(T):
                z[n + k] = hb[k]
                hp[k] = hb[k]
                cp[k] = cb[k]
            # ---------------------------------------------------------------- forward (θ_t)
            # lag mode: every stage at once from z = [x_t, h_{t-1}]; same-step mode: stage by stage,
            # z[n + k] replaced by h_t(k) as soon as column k is computed.
            g0 = 0
            while g0 < S:
                g1 = g0 + 1 if same else S
                l_lo = 4 * g0 * U
                l_hi = 4 * min(g1 * U, T)
                rows = n + min(g1 * U, T)
                for l in range(np.uint64(l_lo), np.uint64(l_hi)):
                    acc[l] = beff[l]
                if not same and not (by_lane and s_cur < S):   # every lane at once (full vectors); the
                    matvec_acc(weff, 0, 0, z, 0, rows, acc, 0, 0, A4)   # learning stage's are replaced below
                elif g0 <= s_cur < g1:       # effective weights everywhere but the learning stage
                    la = 4 * s_cur * U
                    lb = 4 * min((s_cur + 1) * U, T)
                    matvec_acc(weff, 0, 0, z, 0, rows, acc, l_lo, l_lo, la - l_lo)
                    matvec_acc(weff, 0, 0, z, 0, rows, acc, lb, lb, l_hi - lb)
                else:
                    matvec_acc(weff, 0, 0, z, 0, rows, acc, l_lo, l_lo, l_hi - l_lo)
                if g0 <= s_cur < g1:         # the learning stage, exactly (SPEC §3.1-3.2)
                    s = s_cur
                    m = n + s * U
                    L = 4 * min(U, T - s * U)
                    la = 4 * s * U
                    zfull[1] = one
                    for j in range(m):
                        zfull[2 + j] = (z[j] - mean[s, j]) * istd[s, j]
                    if by_lane:               # a dot product over each lane's rows
                        nr = stage_rows(n, s, U)
                        for r in range(m + 2, nr):     # padding rows: no input (another run may have
                            zfull[r] = zero            # left values there)
                        row_dots(th[s], zfull, 1, nr, L, acc, la)     # rows 1.. (bias, inputs)
                        for l in range(L):                            # row 0: own h_{t-1}
                            acc[la + l] += th[s, l, 0] * hp[s * U + l // 4]
                    else:                     # all (padded) lanes at once, rows in order; padding is 0
                        for l in range(L):
                            hp_lane[l] = hp[s * U + l // 4]
                        for l in range(NL):
                            accx[l] = th[s, 1, l] + th[s, 0, l] * hp_lane[l]
                        matvec_acc(th, s, 2, zfull, 2, m, accx, 0, 0, NL)
                        for l in range(L):
                            acc[np.uint64(la) + np.uint64(l)] = accx[l]
                scaled_sigmoid(acc, acc, gsc, l_lo, l_hi, ptmp, ebits, efloat)
                k_lo = g0 * U
                k_hi = min(g1 * U, T)
                for k in range(k_lo, k_hi):
                    cb[k] = flush(acc[4 * k + 1] * cp[k] + acc[4 * k] * acc[4 * k + 3], tiny)
                scaled_sigmoid(cb, tcs, two_t, k_lo, k_hi, ptmp, ebits, efloat)
                for k in range(k_lo, k_hi):
                    hb[k] = acc[4 * k + 2] * tcs[k]
                if same:
                    for k in range(k_lo, k_hi):
                        z[n + k] = hb[k]
                g0 = g1
            # ---------------------------------------------------------------- output layer
            for k in range(T):
                mk, dk, vraw, vk = running_stat(hb[k], mu[k], nu[k], bt, omb, fl)
                mu[k] = flush(mk, tiny)
                nu[k] = flush(vraw, tiny) if sig else vk
                iv = one / math.sqrt(vk)
                onorm[0, k] = iv
                onorm[1, k] = dk * iv
            V = b_out[b]
            for k in range(T):
                V += wo[k] * onorm[1, k]
            out[b, t] = V
            upd = tt > 0
            delta = cum[t] + cont[t] * V - v_old[b] if upd else zero
            gl = cont[t] * lm
            # ---------------------------------------------------------------- stage switch
            if switching:
                if s_prev < S:   # the finished stage's last update, δ_t with e_{t-1}; then freeze it
                    L = 4 * min(U, T - s_prev * U)
                    for l in range(L):
                        for r in range(n + s_prev * U + 2):
                            i0, i1 = (l, r) if by_lane else (r, l)
                            th[s_prev, i0, i1], rs[i0, i1] = _apply_update(
                                th[s_prev, i0, i1], el[i0, i1], rs[i0, i1], rms, a, delta, b2, omb2, eps, tiny)
                    build_effective(th, mean, istd, weff, beff, s_prev, n, U, T, by_lane)
                for i0 in range(trh.shape[0]):
                    for i1 in range(trh.shape[1]):
                        trh[i0, i1] = zero
                        trc[i0, i1] = zero
                        el[i0, i1] = zero
                        rs[i0, i1] = one
            # ---------------------------------------------------------------- learning stage: RTRL + TD(λ)
            if s_cur < S:
                s = s_cur
                m = n + s * U
                ncol = min(U, T - s * U)
                nr = stage_rows(n, s, U)
                for kk in range(ncol):
                    k = s * U + kk
                    ig = acc[4 * k]
                    fg = acc[4 * k + 1]
                    og = acc[4 * k + 2]
                    gg = acc[4 * k + 3]
                    tc = tcs[k]
                    di = ig * (one - ig)
                    df = fg * (one - fg)
                    do = og * (one - og)
                    dg = one - gg * gg
                    cprev = cp[k]
                    if by_lane:
                        ui, uf, uo, ug = th[s, 4 * kk, 0], th[s, 4 * kk + 1, 0], th[s, 4 * kk + 2, 0], th[s, 4 * kk + 3, 0]
                    else:
                        ui, uf, uo, ug = th[s, 0, 4 * kk], th[s, 0, 4 * kk + 1], th[s, 0, 4 * kk + 2], th[s, 0, 4 * kk + 3]
                    kc = cprev * df * uf + ig * dg * ug + gg * di * ui
                    phi = og * (one - tc * tc)
                    kh = tc * do * uo
                    sc = wo[k] * onorm[0, k]
                    for q in range(4):
                        l = 4 * kk + q
                        coef[0, l] = fg
                        coef[1, l] = kc
                        coef[2, l] = phi
                        coef[3, l] = kh
                        coef[5, l] = zero
                        coef[6, l] = sc
                        coef[7, l] = hp[k]          # rows-major: D of the recurrent-weight row
                    coef[4, 4 * kk] = gg * di          # ∂c/∂a_i
                    coef[4, 4 * kk + 1] = cprev * df   # ∂c/∂a_f
                    coef[4, 4 * kk + 2] = zero
                    coef[4, 4 * kk + 3] = ig * dg      # ∂c/∂a_g
                    coef[5, 4 * kk + 2] = tc * do      # ∂h/∂a_o
                # per lane and row, in one pass: (a) the exact RTRL advance TC_θ(t), TH_θ(t) from θ_t and this
                # step's inputs; (b) θ += step(δ_t·e_{t-1}); (c) e_t = γ_t λ e_{t-1} + ∂V_t/∂θ
                if by_lane:     # lane by lane, over the lane's rows (long loops); row 0's input is its own h_{t-1}
                    nr = stage_rows(n, s, U)
                    ths = th[s]
                    for l in range(4 * ncol):
                        zfull[0] = hp[s * U + l // 4]
                        rtrl_lane(ths, trc, trh, el, rs, l, zfull, nr, coef[0, l], coef[1, l],
                                  coef[2, l], coef[3, l], coef[4, l], coef[5, l], coef[6, l], delta, gl, upd, rms,
                                  a, b2, omb2, eps, tiny)
                else:      # row by row, over all (padded) lanes (their coefficients are 0)
                    for r in range(m + 2):
                        if r == 1:
                            for l in range(NL):
                                coef[7, l] = one
                        elif r >= 2:
                            zj = zfull[r]
                            for l in range(NL):
                                coef[7, l] = zj
                        if upd and rms:
                            ad = a * delta
                            c2 = omb2 * (delta * delta)
                            for l in range(NL):
                                thn = _rtrl_advance(trc, trh, coef, r, l, tiny)
                                ev = el[r, l]
                                sv = rms_state(rs[r, l], ev, b2, c2, tiny)
                                rs[r, l] = sv
                                th[s, r, l] += ad * ev / (np.sqrt(sv) + eps)
                                el[r, l] = flush(gl * ev + coef[6, l] * thn, tiny)
                        else:
                            for l in range(NL):
                                thn = _rtrl_advance(trc, trh, coef, r, l, tiny)
                                ev = el[r, l]
                                if upd:
                                    th[s, r, l] += a * (delta * ev)
                                el[r, l] = flush(gl * ev + coef[6, l] * thn, tiny)
                # input statistics of the learning stage, from the values this forward consumed
                _update_stats(z, mean[s], var[s], istd[s], m, bt, omb, fl, sig, tiny)
            # ---------------------------------------------------------------- output weights and bias
            if upd:
                n_act = min((s_cur + 1) * U, T)
                eta = a / dt.type(n_act)
                for k in range(n_act):
                    wo[k], sw[k] = _apply_update(wo[k], ew[k], sw[k], rms, eta, delta, b2, omb2, eps, tiny)
                b_out[b], s_b[b] = _apply_update(b_out[b], e_b[b], s_b[b], rms, eta, delta, b2, omb2, eps, tiny)
            for k in range(T):
                ew[k] = flush(gl * ew[k] + onorm[1, k], tiny)
            e_b[b] = gl * e_b[b] + one
            v_old[b] = V
            t_step[b] = tt + 1
