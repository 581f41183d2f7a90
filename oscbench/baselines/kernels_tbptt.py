"""Compiled kernel of the T-BPTT LSTM (SPEC §6), with a leading batch dimension of independent runs.

Per run (``n`` inputs, ``H`` hidden units, truncation ``k``; lane ``r = gate·H + unit`` with the
SPEC's gate order i, f, g, o):

* ``Wt[r, j]`` input weights (lane-major; the state object shows them as ``[n, 4H]``),
  ``Ut[u', r]`` recurrent weights, ``bias[r]``, output weights ``w_out[u]`` (no output bias).
* Eligibility traces ``eW, eU, eb, ew`` and RMSProp state ``vW, vU, vb, vw`` of the same shapes.
* A ring of ``k + 1`` slots holding x, the activated gates, c, tanh(c) and h of the last k + 1
  steps: the oldest step of the window (t - k + 1) needs h and c of step t - k (SPEC §6's C code
  keeps only k slots and reads the wrong state there; this is the fix).
* Compiled with contraction allowed (fused multiply-add; the RMSProp step and state as
  :func:`~oscbench.baselines.kernels_column.rms_state` computes them), as the column kernels: see
  :mod:`oscbench.baselines.kernels_column` for what that does to reproducibility across CPUs.
* Speed: with many inputs (n >= 64, e.g. Atari) the input weights are stored lane-major (``[4H, n]``) so
  that the big loops run over the n inputs (long, contiguous); the forward's W·x is then 4H dot
  products (:func:`~oscbench.baselines.kernels_column.row_dots`, the one re-associated sum: vector
  partial sums whose number follows the CPU's vector width, so the last bits may differ between CPUs
  of different vector widths; bit-reproducible on one machine). With few inputs
  (trace patterning) they stay input-major, where the lane loops are the longer ones. The backward pass first collects ∂V_t/∂a of the window's steps
  (``DA``), then forms the gradients (summed over the window in the order t, t−1, ..., left to right)
  and applies the TD(λ) update. Lane-major, the input weights' gradient is formed one lane row at a
  time, eight window steps per pass over the row (a window shorter than a multiple of 8 is padded with
  a ring row of zeros: + 0·0 leaves the sum's value unchanged), and that row's TD update follows at once,
  so the whole gradient is never stored. The TD loops run over rows with unsigned indices (no
  negative-index wrap-around code).

Step t: forward x_t with θ_t → V_t = w·h_t; backpropagate V_t through steps t-k+1 .. t with θ_t and
the stored activations (h_{t-k}, c_{t-k} constants) → ĝ_t; δ_t = c_t + γ_t V_t − V_{t-1};
θ ← θ + update(δ_t·e_{t-1}); e_t = γ_t λ e_{t-1} + ĝ_t.
"""
from __future__ import annotations


import numpy as np
from numba import njit

from oscbench.baselines.kernels_column import flush, rms_state, row_dots, scaled_sigmoid, tiny_of


@njit(cache=True, error_model="numpy", inline="always", fastmath={"contract"})
def _td_step(theta, e, v, g, delta, gl, upd, rms, a, b2, omb2, eps, tiny):  # pragma: no cover - compiled
    """In place, over 2-D arrays of one shape: θ += step(δ·e); e = γλ·e + g (traces flushed below ``tiny``,
    :func:`~oscbench.baselines.kernels_column.flush`; the RMSProp state clamped at ``tiny``,
    :func:`~oscbench.baselines.kernels_column.rms_state`). Lane-major input weights pass one row at a time
    (``W[r:r + 1]``)."""
    ad = a * delta
    c2 = omb2 * (delta * delta)
    m = np.uint64(theta.shape[1])     # unsigned indices: no negative-index wrap-around, full-width vectors
    for i in range(np.uint64(theta.shape[0])):
        if upd and rms:
            for j in range(m):
                ev = e[i, j]
                sv = rms_state(v[i, j], ev, b2, c2, tiny)
                v[i, j] = sv
                theta[i, j] += ad * ev / (np.sqrt(sv) + eps)
                e[i, j] = flush(gl * ev + g[i, j], tiny)
        elif upd:
            for j in range(m):
                ev = e[i, j]
                theta[i, j] += a * (delta * ev)
                e[i, j] = flush(gl * ev + g[i, j], tiny)
        else:
            for j in range(m):
                e[i, j] = flush(gl * e[i, j] + g[i, j], tiny)


@njit(cache=True, inline="always")
def _term(slots, DA, r, back, depth, zslot):  # pragma: no cover - compiled
    """(ring slot of x_back, DA[back, r]) of window step ``back``; beyond the window, the ring's row
    of zeros ``zslot`` and 0."""
    if back < depth:
        return slots[back], DA[back, r]
    return zslot, DA.dtype.type(0.0)


@njit(cache=True, error_model="numpy", inline="always", fastmath={"contract"})
def _window_grad_row(gw, rx, slots, DA, r, depth):  # pragma: no cover - compiled
    """gw[j] = Σ_back DA[back, r]·x_back[j] (x_back = ``rx[slots[back]]``), summed left to right in the
    order back = 0, 1, .., depth − 1, eight window steps per pass over gw; a last pass of fewer adds
    0·0 for the missing steps (the last row of ``rx`` is zeros): the sum's value does not change."""
    m = np.uint64(gw.shape[0])
    zs = rx.shape[0] - 1
    for b0 in range(0, depth, 8):
        s0, d0 = _term(slots, DA, r, b0, depth, zs)
        s1, d1 = _term(slots, DA, r, b0 + 1, depth, zs)
        s2, d2 = _term(slots, DA, r, b0 + 2, depth, zs)
        s3, d3 = _term(slots, DA, r, b0 + 3, depth, zs)
        s4, d4 = _term(slots, DA, r, b0 + 4, depth, zs)
        s5, d5 = _term(slots, DA, r, b0 + 5, depth, zs)
        s6, d6 = _term(slots, DA, r, b0 + 6, depth, zs)
        s7, d7 = _term(slots, DA, r, b0 + 7, depth, zs)
        x0, x1, x2, x3, x4, x5, x6, x7 = rx[s0], rx[s1], rx[s2], rx[s3], rx[s4], rx[s5], rx[s6], rx[s7]
        if b0 == 0:
            for j in range(m):
                gw[j] = (((((((x0[j] * d0 + x1[j] * d1) + x2[j] * d2) + x3[j] * d3) + x4[j] * d4) + x5[j] * d5)
                          + x6[j] * d6) + x7[j] * d7)
        else:
            for j in range(m):
                gw[j] = ((((((((gw[j] + x0[j] * d0) + x1[j] * d1) + x2[j] * d2) + x3[j] * d3) + x4[j] * d4)
                           + x5[j] * d5) + x6[j] * d6) + x7[j] * d7)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def tbptt_run(xs, cum, cont, out, Wt, Ut, bias, w_out, eW, eU, eb, ew, vW, vU, vb, vw,
              ring_x, ring_g, ring_c, ring_tc, ring_h, t_step, v_old,
              alpha, lam, use_rms, rms_b2, rms_eps, truncation, lane_major_w, efloat,
              ebits):  # pragma: no cover - compiled
    """Advance B runs over ``xs[N, n]``, ``cum[N]``, ``cont[N]``; write V into ``out[B, N]``.

    The input weights ``Wt`` (and ``eW``, ``vW``) are lane-major ``[B, 4H, n]`` when ``lane_major_w``
    (wide inputs: the loops over them run over the n inputs), else input-major ``[B, n, RP]`` (few
    inputs: the loops run over the lanes; the forward sums in input order); ``Ut``, ``bias`` (and their traces) are ``[B, H, RP]`` / ``[B, 1, RP]`` with
    lanes padded to ``RP`` (a multiple of 8; the padding stays 0); output weights ``[B, 1, H]``; ``efloat`` (length >= RP) and ``ebits`` (its integer view) are exp scratch.
    """
    N = xs.shape[0]
    B = Wt.shape[0]
    n = xs.shape[1]
    RP = Ut.shape[2]
    H = w_out.shape[2]
    R = 4 * H
    lane_major = lane_major_w != 0
    K1 = ring_g.shape[1]
    k = truncation
    dt = Wt.dtype
    one = dt.type(1.0)
    zero = dt.type(0.0)
    tiny = tiny_of(Wt)
    acc = np.zeros(RP, dt)
    DA = np.zeros((k, RP), dt)      # ∂V_t/∂a of each window step (back = 0 is step t)
    slots = np.zeros(k, np.int64)   # ring slot of each window step
    pslots = np.zeros(k, np.int64)  # ... and of its previous step
    hvalid = np.zeros(k, np.uint8)  # the window step has a previous h (tau > 0)
    G = np.empty((1, n) if lane_major else (n, RP), dt)   # ĝ_W: one lane row (lane-major), or all of it
    gU = np.empty((H, RP), dt)
    gb = np.empty((1, RP), dt)
    dh = np.empty(H, dt)
    dc = np.empty(H, dt)
    gh = np.empty((1, H), dt)
    ptmp = np.empty(RP, dt)
    gsc = np.ones(RP, dt)          # 2 on the g lanes (tanh via σ)
    for r in range(2 * H, 3 * H):
        gsc[r] = 2.0
    two_h = np.full(H, 2.0, dt)
    cn = np.empty(H, dt)
    tc = np.empty(H, dt)
    for b in range(B):
        W = Wt[b]
        Uw = Ut[b]
        bi = bias[b]
        wo = w_out[b]
        rx = ring_x[b]
        rg = ring_g[b]
        rc = ring_c[b]
        rt = ring_tc[b]
        rh = ring_h[b]
        a = alpha[b]
        lm = lam[b]
        rms = use_rms[b] != 0
        b2 = rms_b2[b]
        omb2 = one - b2
        eps = rms_eps[b]
        for t in range(N):
            tt = t_step[b]
            slot = tt % K1
            ps = (tt - 1) % K1
            # ------------------------------------------------------------ forward (θ_t)
            for j in range(n):
                rx[slot, j] = xs[t, j]
            xr = rx[slot]
            if not lane_major:          # input-major W [n, RP]: lane loops, the sum in input order
                for r in range(RP):
                    acc[r] = bi[0, r]
                for j in range(n):
                    xj = xr[j]
                    for r in range(RP):
                        acc[r] += W[j, r] * xj
            if lane_major:              # W·x as R dot products (row_dots: re-associated sums)
                row_dots(W, xr, 0, n, R, acc, 0)
                for r in range(R):
                    acc[r] += bi[0, r]
            for r in range(R if lane_major else RP, RP):
                acc[r] = zero
            for u in range(H):
                hu = rh[ps, u] if tt > 0 else zero
                for r in range(RP):
                    acc[r] += Uw[u, r] * hu
            scaled_sigmoid(acc, acc, gsc, 0, R, ptmp, ebits, efloat)
            for u in range(H):
                cn[u] = flush(acc[H + u] * (rc[ps, u] if tt > 0 else zero) + acc[u] * acc[2 * H + u], tiny)
            scaled_sigmoid(cn, tc, two_h, 0, H, ptmp, ebits, efloat)
            V = zero
            for r in range(R):
                rg[slot, r] = acc[r]
            for u in range(H):
                rc[slot, u] = cn[u]
                rt[slot, u] = tc[u]
                hn = acc[3 * H + u] * tc[u]
                rh[slot, u] = hn
                V += wo[0, u] * hn
            out[b, t] = V
            # ------------------------------------------------------------ truncated backward of V_t (θ_t)
            for u in range(H):
                dh[u] = wo[0, u]
                dc[u] = zero
            depth = min(k, tt + 1)
            for back in range(depth):
                tau = tt - back
                sl = tau % K1
                pl = (tau - 1) % K1
                slots[back] = sl
                pslots[back] = pl
                hvalid[back] = 1 if tau > 0 else 0
                da = DA[back]
                for u in range(H):
                    ig = rg[sl, u]
                    fg = rg[sl, H + u]
                    gg = rg[sl, 2 * H + u]
                    og = rg[sl, 3 * H + u]
                    tcu = rt[sl, u]
                    cpu = rc[pl, u] if tau > 0 else zero
                    dcu = dc[u] + dh[u] * og * (one - tcu * tcu)
                    da[u] = dcu * gg * ig * (one - ig)
                    da[H + u] = dcu * cpu * fg * (one - fg)
                    da[2 * H + u] = dcu * ig * (one - gg * gg)
                    da[3 * H + u] = dh[u] * tcu * og * (one - og)
                    dc[u] = dcu * fg
                if back + 1 < depth:
                    for u in range(H):
                        s_ = zero
                        for r in range(R):
                            s_ += Uw[u, r] * da[r]
                        dh[u] = s_
            for u in range(H):
                gh[0, u] = rh[slot, u]
            # ------------------------------------------------------------ TD(λ) with δ_t and e_{t-1}
            upd = tt > 0
            delta = cum[t] + cont[t] * V - v_old[b] if upd else zero
            gl = cont[t] * lm
            if not lane_major:          # few inputs: accumulate the gradient window step by window step
                for j in range(n):
                    for r in range(RP):
                        G[j, r] = zero
                for back in range(depth):
                    xb = rx[slots[back]]
                    for j in range(n):
                        xj = xb[j]
                        for r in range(RP):
                            G[j, r] += xj * DA[back, r]
            if lane_major:              # many inputs: ĝ_W one lane row at a time (L1-resident), then its TD step
                eWb = eW[b]
                vWb = vW[b]
                gw = G[0]
                for r in range(R):
                    _window_grad_row(gw, rx, slots, DA, r, depth)
                    _td_step(W[r:r + 1], eWb[r:r + 1], vWb[r:r + 1], G, delta, gl, upd, rms, a, b2, omb2, eps,
                             tiny)
            else:
                _td_step(W, eW[b], vW[b], G, delta, gl, upd, rms, a, b2, omb2, eps, tiny)
            for u in range(H):          # ĝ_U, ĝ_b: window step by window step (small)
                for r in range(RP):
                    gU[u, r] = zero
            for r in range(RP):
                gb[0, r] = zero
            for back in range(depth):
                if hvalid[back]:
                    hb = rh[pslots[back]]
                    for u in range(H):
                        hu = hb[u]
                        for r in range(RP):
                            gU[u, r] += hu * DA[back, r]
                for r in range(RP):
                    gb[0, r] += DA[back, r]
            _td_step(Uw, eU[b], vU[b], gU, delta, gl, upd, rms, a, b2, omb2, eps, tiny)
            _td_step(bi, eb[b], vb[b], gb, delta, gl, upd, rms, a, b2, omb2, eps, tiny)
            _td_step(wo, ew[b], vw[b], gh, delta, gl, upd, rms, a, b2, omb2, eps, tiny)
            v_old[b] = V
            t_step[b] = tt + 1
