"""Independent float64 numpy references of the reference learners, for the tests only.

Written from SPEC §3-§6 in plain per-column / per-parameter form -- no code shared with the
compiled kernels -- so that agreement is evidence, not tautology:

* :class:`RefNet` -- forward of a column network batched over parameter sets (finite differences)
  and a full BPTT of the whole network.
* :func:`lstm_forward` / :func:`lstm_bptt` -- a dense LSTM (gate order i, f, g, o) and its BPTT.
* :class:`RefCCNLearner` / :class:`RefTBPTTLearner` -- the complete online learners (forward, RTRL
  or truncated BPTT, TD(λ) with accumulating traces, RMSProp/SGD, stages, statistics).
"""
from __future__ import annotations

import numpy as np


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _var_update(var, beta, dev2, floor, sigma):
    """SPEC §3.2/§3.5: C floors the stored variance; P's σ-floor (``sigma``) stores it unfloored."""
    v = beta * var + (1 - beta) * dev2
    return v if sigma else np.maximum(v, floor)


def _scale(var, floor, sigma):
    """1/σ used to normalise: 1/√v (C, v already floored) or 1/max(√floor, √v) (P's Appendix A)."""
    return 1.0 / np.maximum(np.sqrt(floor), np.sqrt(var)) if sigma else 1.0 / np.sqrt(var)


class RefNet:
    """Plain numpy float64 forward of a column network, batched over parameter sets [P, ...].

    Gate order inside a column: i, f, o, g. Column k (stage k // U) reads the n inputs and the
    outputs of columns 0 .. stage·U − 1 (their h(t−1) in lag mode, h(t) in same-step mode), each
    normalised with the column's own running statistics.
    """

    def __init__(self, n, T, U, sps, beta, floor, same, W, u, b, w, bo, sigma=False):
        self.n, self.T, self.U, self.sps, self.beta, self.floor, self.same = n, T, U, sps, beta, floor, same
        self.sigma = sigma
        self.W, self.u, self.b, self.w, self.bo = W, u, b, w, bo   # W: list of [4, m_k]

    def m(self, k):
        return self.n + (k // self.U) * self.U

    def run(self, xs, t0=None, stage=None, params=None, record=False):
        """Forward over xs. From step t0 on, columns of ``stage`` use ``params`` (batched [P, ...]).

        Returns h [N, P, T], V [N, P], plus (with record) everything BPTT needs.
        """
        n, T, N = self.n, self.T, len(xs)
        P = 1 if params is None else params["u"].shape[0]
        h = np.zeros((P, T))
        c = np.zeros((P, T))
        mean = [np.zeros((P, self.m(k))) for k in range(T)]
        var = [np.ones((P, self.m(k))) for k in range(T)]
        mu = np.zeros((P, T))
        nu = np.ones((P, T))
        H = np.zeros((N, P, T))
        V = np.zeros((N, P))
        rec = []
        for t in range(N):
            hp, cp = h.copy(), c.copy()
            learning = t // self.sps
            r = {"hp": hp[0].copy(), "cp": cp[0].copy(), "zhat": {}, "istd": {}, "gates": {}, "c": None}
            for k in range(T):
                s = k // self.U
                src = h if self.same else hp
                z = np.concatenate([np.broadcast_to(xs[t], (P, n)), src[:, :s * self.U]], axis=1)
                istd = _scale(var[k], self.floor, self.sigma)
                zh = (z - mean[k]) * istd
                if params is not None and s == stage and t >= t0:
                    kk = k - s * self.U
                    Wk, uk, bk = params["W"][:, kk], params["u"][:, kk], params["b"][:, kk]
                else:
                    Wk, uk, bk = self.W[k][None], self.u[k][None], self.b[k][None]
                pre = np.einsum("pqj,pj->pq", np.broadcast_to(Wk, (P,) + Wk.shape[1:]), zh) + uk * hp[:, k:k + 1] + bk
                i, f, o, g = _sig(pre[:, 0]), _sig(pre[:, 1]), _sig(pre[:, 2]), np.tanh(pre[:, 3])
                c[:, k] = f * cp[:, k] + i * g
                h[:, k] = o * np.tanh(c[:, k])
                if s == learning:   # statistics of a learning column: after use
                    mean[k] = self.beta * mean[k] + (1 - self.beta) * z
                    var[k] = _var_update(var[k], self.beta, (z - mean[k]) ** 2, self.floor, self.sigma)
                if record:
                    r["zhat"][k], r["istd"][k], r["gates"][k] = zh[0].copy(), istd[0].copy(), (i[0], f[0], o[0], g[0])
            mu = self.beta * mu + (1 - self.beta) * h
            nu = _var_update(nu, self.beta, (h - mu) ** 2, self.floor, self.sigma)
            H[t], V[t] = h, ((h - mu) * _scale(nu, self.floor, self.sigma)) @ self.w + self.bo
            if record:
                r["c"], r["mu"], r["nu"] = c[0].copy(), mu[0].copy(), nu[0].copy()
                rec.append(r)
        return H, V, rec

    def bptt(self, rec, t_end, t0, stage, seed_dh):
        """Full BPTT from step t_end back to t0 of ``seed_dh · h(t_end)``; gradient w.r.t. stage's params."""
        T, n, U = self.T, self.n, self.U
        cols = list(range(stage * U, min((stage + 1) * U, T)))
        gW = {k: np.zeros_like(self.W[k]) for k in cols}
        gu = {k: np.zeros(4) for k in cols}
        gb = {k: np.zeros(4) for k in cols}
        dh_fut = seed_dh.astype(float).copy()     # dL/dh(t) from consumers at t+1 (and the seed)
        dc_fut = np.zeros(T)
        for t in range(t_end, t0 - 1, -1):
            r = rec[t]
            dh = dh_fut.copy()
            dh_prev = np.zeros(T)
            dc_prev = np.zeros(T)
            for k in reversed(range(T)):           # later stages first: same-step consumers done first
                s = k // U
                i, f, o, g = r["gates"][k]
                ck = r["c"][k]
                tc = np.tanh(ck)
                do = dh[k] * tc
                dc = dc_fut[k] + dh[k] * o * (1 - tc * tc)
                da = np.array([dc * g * i * (1 - i), dc * r["cp"][k] * f * (1 - f), do * o * (1 - o),
                               dc * i * (1 - g * g)])
                if k in gW:
                    gW[k] += np.outer(da, r["zhat"][k])
                    gu[k] += da * r["hp"][k]
                    gb[k] += da
                dz = (self.W[k].T @ da) * r["istd"][k]
                src = dh if self.same else dh_prev
                src[:s * U] += dz[n:]
                dh_prev[k] += da @ self.u[k]
                dc_prev[k] = dc * f
            dh_fut, dc_fut = dh_prev, dc_prev
        return gW, gu, gb


def lstm_forward(Wg, Ug, bg, xs, h0, c0):
    """Gate order i, f, g, o; Wg [4, H, n], Ug [4, H, H], bg [4, H]. Returns per-step caches."""
    h, c = h0.copy(), c0.copy()
    cache = []
    for x in xs:
        a = np.einsum("ghj,j->gh", Wg, x) + np.einsum("ghk,k->gh", Ug, h) + bg
        i, f, g, o = _sig(a[0]), _sig(a[1]), np.tanh(a[2]), _sig(a[3])
        cn = f * c + i * g
        hn = o * np.tanh(cn)
        cache.append((x, h, c, i, f, g, o, cn))
        h, c = hn, cn
    return h, c, cache


def lstm_bptt(Ug, cache, dh_last):
    """Reverse mode through the cached steps; returns (dW, dU, db)."""
    dW = np.zeros((4,) + (Ug.shape[1], cache[0][0].shape[0]))
    dU = np.zeros_like(Ug)
    db = np.zeros(Ug.shape[:2])
    dh, dc = dh_last.copy(), np.zeros_like(dh_last)
    for x, hp, cp, i, f, g, o, cn in reversed(cache):
        tc = np.tanh(cn)
        dc = dc + dh * o * (1 - tc ** 2)
        da = np.stack([dc * g * i * (1 - i), dc * cp * f * (1 - f), dc * i * (1 - g ** 2), dh * tc * o * (1 - o)])
        dW += da[:, :, None] * x[None, None, :]
        dU += da[:, :, None] * hp[None, None, :]
        db += da
        dh = np.einsum("ghk,gh->k", Ug, da)
        dc = dc * f
    return dW, dU, db


def _opt(theta, e, rs, delta, eta, rms, b2, eps):
    """In place: θ += η·g/(√s + ε) with s ← β2·s + (1−β2)·g² (RMSProp, SPEC §5) or θ += η·g; g = δ·e."""
    g = delta * e
    if rms:
        rs *= b2
        rs += (1 - b2) * g * g
        theta += eta * g / (np.sqrt(rs) + eps)
    else:
        theta += eta * g


class RefCCNLearner:
    """The column-network learner of SPEC §3-§5 (order of :mod:`oscbench.baselines.ccn`), per column.

    W, u, b: per column k, [4, m_k], [4], [4] with gate order i, f, o, g.
    """

    KEYS = ("W", "u", "b")

    def __init__(self, n, T, U, sps, alpha, lam, beta, floor, rms, same, W, u, b, b2=0.9999, eps=1e-8,
                 sigma=False, stage_off=0, compat_traces=False):
        self.n, self.T, self.U, self.sps = n, T, U, sps
        self.sigma, self.stage_off = sigma, stage_off    # P's σ-floor; C's short first stage (offset 1)
        # C's episode-boundary order (SPEC §9.2 item 4): e ← γ_t·λ·e + ∇V(x_{t−1}), then the update
        self.compat = compat_traces
        self.g_prev = [{key: 0.0 for key in self.KEYS} for _ in range(T)]
        self.hhat_prev = np.zeros(T)
        self.alpha, self.lam, self.beta, self.floor, self.rms, self.same, self.b2, self.eps = \
            alpha, lam, beta, floor, rms, same, b2, eps
        self.S = -(-T // U)
        self.cols = []
        for k in range(T):
            m = n + (k // U) * U
            col = {"W": W[k].astype(float).copy(), "u": u[k].astype(float).copy(), "b": b[k].astype(float).copy(),
                   "mean": np.zeros(m), "var": np.ones(m)}
            for name, init in (("TH", 0.0), ("TC", 0.0), ("E", 0.0), ("RS", 1.0)):
                col[name] = {key: np.full_like(col[key], init) for key in self.KEYS}
            self.cols.append(col)
        self.w, self.bo = np.zeros(T), np.zeros(1)
        self.ew, self.eb = np.zeros(T), np.zeros(1)
        self.sw, self.sb = np.ones(T), np.ones(1)
        self.mu, self.nu = np.zeros(T), np.ones(T)
        self.h, self.c = np.zeros(T), np.zeros(T)
        self.t, self.V_old = 0, 0.0

    def _stage_cols(self, s):
        return range(s * self.U, min((s + 1) * self.U, self.T))

    def step(self, x, cum, gamma):
        t, U = self.t, self.U
        s, s_prev = (t + self.stage_off) // self.sps, (t - 1 + self.stage_off) // self.sps
        hp, cp = self.h.copy(), self.c.copy()
        cache = {}
        for k, col in enumerate(self.cols):
            z = np.concatenate([x, (self.h if self.same else hp)[:(k // U) * U]])
            zh = (z - col["mean"]) * _scale(col["var"], self.floor, self.sigma)
            a = col["W"] @ zh + col["u"] * hp[k] + col["b"]
            i, f, o, g = _sig(a[0]), _sig(a[1]), _sig(a[2]), np.tanh(a[3])
            self.c[k] = f * cp[k] + i * g
            self.h[k] = o * np.tanh(self.c[k])
            cache[k] = (z, zh, i, f, o, g)
        self.mu = self.beta * self.mu + (1 - self.beta) * self.h
        self.nu = _var_update(self.nu, self.beta, (self.h - self.mu) ** 2, self.floor, self.sigma)
        onorm = _scale(self.nu, self.floor, self.sigma)
        hhat = (self.h - self.mu) * onorm
        V = float(self.w @ hhat + self.bo[0])
        delta = cum + gamma * V - self.V_old if t > 0 else 0.0
        opt = dict(rms=self.rms, b2=self.b2, eps=self.eps)
        if t > 0 and s_prev != s and s_prev < self.S:
            for k in self._stage_cols(s_prev):      # the finished stage's last update
                col = self.cols[k]
                for key in self.KEYS:
                    if self.compat:
                        col["E"][key] = gamma * self.lam * col["E"][key] + self.g_prev[k][key]
                    _opt(col[key], col["E"][key], col["RS"][key], delta, self.alpha, **opt)
        if s < self.S:
            for k in self._stage_cols(s):
                col = self.cols[k]
                z, zh, i, f, o, g = cache[k]
                tc = np.tanh(self.c[k])
                d = (i * (1 - i), f * (1 - f), o * (1 - o), 1 - g * g)
                u = col["u"].copy()
                for key, D in (("W", zh[None, :]), ("u", hp[k]), ("b", 1.0)):
                    THo, TCo = col["TH"][key], col["TC"][key]
                    # dq[q][q*, ...] = ∂(gate q)/∂(parameter of gate q*) = d_q (u_q TH + [q = q*] D)
                    dq = [d[q] * u[q] * THo for q in range(4)]
                    for q in range(4):
                        dq[q] = dq[q].copy()
                        dq[q][q] += d[q] * (D[0] if key == "W" else D)
                    TCn = f * TCo + cp[k] * dq[1] + i * dq[3] + g * dq[0]
                    col["TC"][key] = TCn
                    col["TH"][key] = o * (1 - tc * tc) * TCn + tc * dq[2]
                for key in self.KEYS:
                    grad = self.w[k] * onorm[k] * col["TH"][key]
                    if self.compat:
                        if t > 0:
                            col["E"][key] = gamma * self.lam * col["E"][key] + self.g_prev[k][key]
                            _opt(col[key], col["E"][key], col["RS"][key], delta, self.alpha, **opt)
                        self.g_prev[k][key] = grad
                        continue
                    if t > 0:
                        _opt(col[key], col["E"][key], col["RS"][key], delta, self.alpha, **opt)
                    col["E"][key] = gamma * self.lam * col["E"][key] + grad
                col["mean"] = self.beta * col["mean"] + (1 - self.beta) * z
                col["var"] = _var_update(col["var"], self.beta, (z - col["mean"]) ** 2, self.floor, self.sigma)
        if self.compat and t > 0:
            self.ew = gamma * self.lam * self.ew + self.hhat_prev
            self.eb = gamma * self.lam * self.eb + 1.0
        if t > 0:
            n_act = min((s + 1) * U, self.T)
            _opt(self.w[:n_act], self.ew[:n_act], self.sw[:n_act], delta, self.alpha / n_act, **opt)
            _opt(self.bo, self.eb, self.sb, delta, self.alpha / n_act, **opt)
        if self.compat:
            self.hhat_prev = hhat
        else:
            self.ew = gamma * self.lam * self.ew + hhat
            self.eb = gamma * self.lam * self.eb + 1.0
        self.V_old, self.t = V, t + 1
        return V


class RefTBPTTLearner:
    """The T-BPTT learner of SPEC §6: forward, BPTT of V_t through the last k steps (current
    weights, stored activations), TD(λ) with accumulating traces, RMSProp/SGD."""

    def __init__(self, Wg, Ug, bg, k, alpha, lam, rms, b2=0.9999, eps=1e-8, compat_traces=False):
        self.p = {"W": Wg.astype(float).copy(), "U": Ug.astype(float).copy(), "b": bg.astype(float).copy(),
                  "w": np.zeros(Ug.shape[1])}
        self.e = {key: np.zeros_like(v) for key, v in self.p.items()}
        self.v = {key: np.ones_like(v) for key, v in self.p.items()}
        self.k, self.alpha, self.lam, self.rms, self.b2, self.eps = k, alpha, lam, rms, b2, eps
        H = Ug.shape[1]
        self.h, self.c, self.hist, self.t, self.V_old = np.zeros(H), np.zeros(H), [], 0, 0.0
        self.compat, self.g_prev = compat_traces, None     # C's order: e ← γ_t·λ·e + ĝ_{t−1}, then update

    def step(self, x, cum, gamma):
        p = self.p
        h, c, cache = lstm_forward(p["W"], p["U"], p["b"], [x], self.h, self.c)
        self.h, self.c = h, c
        self.hist = (self.hist + cache)[-self.k:]
        V = float(p["w"] @ h)
        dW, dU, db = lstm_bptt(p["U"], self.hist, p["w"])
        grads = {"W": dW, "U": dU, "b": db, "w": h.copy()}
        delta = cum + gamma * V - self.V_old if self.t > 0 else 0.0
        for key in p:
            if self.compat:
                if self.t > 0:
                    self.e[key] = gamma * self.lam * self.e[key] + self.g_prev[key]
                    _opt(p[key], self.e[key], self.v[key], delta, self.alpha, self.rms, self.b2, self.eps)
                continue
            if self.t > 0:
                _opt(p[key], self.e[key], self.v[key], delta, self.alpha, self.rms, self.b2, self.eps)
            self.e[key] = gamma * self.lam * self.e[key] + grads[key]
        self.g_prev = grads
        self.V_old, self.t = V, self.t + 1
        return V
