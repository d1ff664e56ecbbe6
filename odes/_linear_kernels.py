"""Numba kernels of :mod:`odes.linear_sgd`: the exact second-moment recursion of one-pass SGD
on Gaussian least squares, its block propagators and the continuous-time (Volterra) limit.

Pure functions of float64 arrays and scalars (``@njit(cache=True)``, no fastmath).  The
mathematics and the conventions are in :mod:`odes.linear_sgd`; here, per mode ``i`` with
eigenvalue ``h[i]``, multiplicity ``mult[i]`` and coupling ``mh[i] = mult[i] h[i]``:

* **scalar path** (no momentum, no weight decay): the state is ``x_i = E[e_i^2]`` and one
  step is ``x_i <- a_i x_i + g_i R`` with ``a_i = (1 - eta h_i)^2 + eta^2 h_i^2 / B``,
  ``g_i = eta^2 h_i / B`` and ``R = sigma^2 + sum_j mh_j x_j``;
* **general path** (momentum ``beta`` and/or weight decay ``lam``): the state is
  ``z = (E e^2, E e v, E v^2, E e, E v, 1)`` (the first ``k`` of them: ``k = 3`` without
  weight decay, ``6`` with; weight decay without momentum: ``(E e^2, E e, 1)``) and one step
  is ``z <- M z + g R`` with the ``k x k`` matrix of :func:`step_matrix`;
* **Volterra path** (continuous time): ``dx/dt = -kappa x - 2 eta lam w* m + g R(t)``,
  ``dm/dt = -eta (h + lam) m - eta lam w*``, ``kappa = 2 eta (h + lam)``.

A *block* of ``n`` steps with ``R`` interpolated by the quadratic through the previous node
``t - n_p``, the start ``t`` and the end ``t + n`` (:func:`lagrange`) maps the state exactly to
``z(t + n) = P z + Wp Rp + W0 R0 + W1 R1`` (``P = M^n``, ``W_node = sum_q C[node, q] S_q``
with the moments ``S_q = sum_{j<n} (n - 1 - j)^q M^j g``); ``R1`` then solves one linear
equation.  The moments come from binary powering (no cancellation: sums of products).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.warm import register_warmup


# ---------------------------------------------------------------------------
# block weights from moment sums: quadratic interpolation of R through three nodes
# ---------------------------------------------------------------------------
@njit(cache=True)
def lagrange(n, n_p):
    """Coefficients ``(alpha, beta, gamma)`` of the three Lagrange polynomials in ``k`` (the offset
    from the block start) through the nodes ``k = -n_p`` (previous), ``0`` and ``n`` (block end).

    Returned as a (3, 3) array, rows: previous, start, end.
    """
    C = np.zeros((3, 3))
    if n_p <= 0.0:
        # no previous node: linear interpolation between the ends
        C[1, 0] = 1.0
        C[1, 1] = -1.0 / n
        C[2, 1] = 1.0 / n
        return C
    Dp = n_p * (n_p + n)
    D1 = n * (n + n_p)
    C[0, 1] = -n / Dp
    C[0, 2] = 1.0 / Dp
    C[1, 0] = 1.0
    C[1, 1] = (n - n_p) / (n_p * n)
    C[1, 2] = -1.0 / (n_p * n)
    C[2, 1] = n_p / D1
    C[2, 2] = 1.0 / D1
    return C


# ---------------------------------------------------------------------------
# scalar path (plain SGD): binary powering of (a^L, sum a^j, sum j a^j, sum j^2 a^j)
# ---------------------------------------------------------------------------
@njit(cache=True)
def _scalar_ag(h, eta, binv):
    eh = eta * h
    return (1.0 - eh) ** 2 + eh * eh * binv, eta * eh * binv


@njit(cache=True)
def _combine1(P, y0, y1, y2, na, Q, q0, q1, q2):
    """Run of length ``na`` followed by a run: ``(P, y0, y1, y2)`` of the concatenation."""
    return (P * Q, y0 + P * q0, y1 + P * (q1 + na * q0),
            y2 + P * (q2 + 2.0 * na * q1 + na * na * q0))


@njit(cache=True)
def scalar_levels(h, eta, binv, nbits, T):
    """``T[b, i] = (a^L, sum_{j<L} a^j g, sum j a^j g, sum j^2 a^j g)`` for runs ``L = 2^b``."""
    for i in range(h.size):
        a, g = _scalar_ag(h[i], eta, binv)
        P, y0, y1, y2 = a, g, 0.0, 0.0
        L = 1.0
        for b in range(nbits):
            T[b, i, 0] = P
            T[b, i, 1] = y0
            T[b, i, 2] = y1
            T[b, i, 3] = y2
            P, y0, y1, y2 = _combine1(P, y0, y1, y2, L, P, y0, y1, y2)
            L *= 2.0


@njit(cache=True)
def _scalar_moments(P, y0, y1, y2, n, i, Po, S0, S1, S2):
    # S_q = sum_{j<n} (n - 1 - j)^q a^j g: the forcing moments in the offset k = n - 1 - j
    c = n - 1.0
    Po[i] = P
    S0[i] = y0
    S1[i] = c * y0 - y1
    S2[i] = c * c * y0 - 2.0 * c * y1 + y2


@njit(cache=True)
def _bits(n):
    """The set bits of ``n`` (ascending) and the run length before each."""
    nb = 0
    m = n
    while m > 0:
        nb += m & 1
        m >>= 1
    bits = np.empty(nb, dtype=np.int64)
    before = np.empty(nb)
    j = 0
    b = 0
    acc = 0.0
    m = n
    while m > 0:
        if m & 1:
            bits[j] = b
            before[j] = acc
            acc += 2.0 ** b
            j += 1
        m >>= 1
        b += 1
    return bits, before


@njit(cache=True)
def scalar_from_levels(T, n, Po, S0, S1, S2):
    """Block moments over ``n`` steps from the cached levels ``T`` (see :func:`scalar_levels`):
    ``Po = a^n`` and ``S_q = sum_{j<n} (n-1-j)^q a^j g``."""
    bits, before = _bits(n)
    for i in range(T.shape[1]):
        P, y0, y1, y2 = 1.0, 0.0, 0.0, 0.0
        for j in range(bits.size):
            b = bits[j]
            P, y0, y1, y2 = _combine1(P, y0, y1, y2, before[j], T[b, i, 0], T[b, i, 1], T[b, i, 2],
                                      T[b, i, 3])
        _scalar_moments(P, y0, y1, y2, float(n), i, Po, S0, S1, S2)


@njit(cache=True)
def scalar_direct(h, eta, binv, n, Po, S0, S1, S2):
    """Block moments over ``n`` steps at the rates ``eta[i]`` (one per mode), powering on the fly."""
    for i in range(h.size):
        a, g = _scalar_ag(h[i], eta[i], binv)
        Q, q0, q1, q2 = a, g, 0.0, 0.0
        L = 1.0
        P, y0, y1, y2 = 1.0, 0.0, 0.0, 0.0
        na = 0.0
        m = n
        while m > 0:
            if m & 1:
                P, y0, y1, y2 = _combine1(P, y0, y1, y2, na, Q, q0, q1, q2)
                na += L
            m >>= 1
            if m > 0:
                Q, q0, q1, q2 = _combine1(Q, q0, q1, q2, L, Q, q0, q1, q2)
                L *= 2.0
        _scalar_moments(P, y0, y1, y2, float(n), i, Po, S0, S1, S2)


@njit(cache=True)
def _shift_add(binom, Q, x, base, scale, T):
    """``T_q = base_q + scale sum_r binom(q, r) x^(q-r) Q_r`` for ``q <= 4``: the power sums
    ``sum_j (j + x)^q a^j`` of a block shifted by ``x`` steps, added to ``base``."""
    for q in range(5):
        acc = 0.0
        pw = 1.0
        for r in range(q, -1, -1):
            acc += binom[q, r] * pw * Q[r]
            pw *= x
        T[q] = base[q] + scale * acc


@njit(cache=True)
def scalar_direct_varying(h, eta, deta, binv, n, Po, S0, S1, S2):
    """Block moments over ``n`` steps of a rate varying linearly, ``eta_s = eta + deta (s - m)``
    about the block's midpoint ``m``, correct to second order in the variation.

    With ``l_s = log a(eta_s)`` and ``g_s`` linear in ``s``, the product of the ``j`` last
    factors is ``a_m^j exp(l' j (n - j) / 2)`` and the forcing of step ``n - 1 - j`` is
    ``g_m + g' ((n - 1)/2 - j)``; to first order in the variation the moments become
    ``S_q = sum_j a_m^j (n - 1 - j)^q [g_m + g' ((n-1)/2 - j) + g_m (l'/2) j (n - j)]``,
    summed from the powers ``sum_j j^r a^j`` (``r <= 4``) by binary powering.  ``Po = a_m^n``
    (the linear part of ``l_s`` sums to zero about the midpoint).
    """
    c = n - 1.0
    Y = np.empty(5)
    Q = np.empty(5)
    T = np.empty(5)
    binom = np.zeros((5, 5))
    for q in range(5):
        binom[q, 0] = 1.0
        for r in range(1, q + 1):
            binom[q, r] = binom[q, r - 1] * (q - r + 1) / r
    for i in range(h.size):
        hi = h[i]
        e = eta
        a, g = _scalar_ag(hi, e, binv)
        da = -2.0 * hi * (1.0 - e * hi) + 2.0 * e * hi * hi * binv
        lp = da / a * deta if a > 0.0 else 0.0
        gp = 2.0 * e * hi * binv * deta
        # powering of (a^L, sum_{j<L} j^r a^j) for r = 0..4 (weights 1: multiply by g below)
        Pq = a
        for r in range(5):
            Q[r] = 0.0
        Q[0] = 1.0
        L = 1.0
        P = 1.0
        for r in range(5):
            Y[r] = 0.0
        na = 0.0
        m = n
        while m > 0:
            if m & 1:
                _shift_add(binom, Q, na, Y, P, T)   # Y <- Y + P sum_r binom(q, r) na^(q-r) Q_r
                for q in range(5):
                    Y[q] = T[q]
                P *= Pq
                na += L
            m >>= 1
            if m > 0:
                _shift_add(binom, Q, L, Q, Pq, T)   # Q <- Q + Pq sum_r binom(q, r) L^(q-r) Q_r
                for q in range(5):
                    Q[q] = T[q]
                Pq *= Pq
                L *= 2.0
        # w(j) = A + B j + D j^2
        A = g + gp * c / 2.0
        B = -gp + g * lp * n / 2.0
        D = -g * lp / 2.0
        # S_q = sum_j a^j (c - j)^q w(j); (c - j)^q as a polynomial in j
        out0 = A * Y[0] + B * Y[1] + D * Y[2]
        # (c - j) w = A c + (B c - A) j + (D c - B) j^2 - D j^3
        out1 = A * c * Y[0] + (B * c - A) * Y[1] + (D * c - B) * Y[2] - D * Y[3]
        # (c - j)^2 = c^2 - 2 c j + j^2 times w
        c2 = c * c
        out2 = (A * c2 * Y[0] + (B * c2 - 2.0 * c * A) * Y[1] + (D * c2 - 2.0 * c * B + A) * Y[2]
                + (-2.0 * c * D + B) * Y[3] + D * Y[4])
        Po[i] = P
        S0[i] = out0
        S1[i] = out1
        S2[i] = out2


@njit(cache=True)
def scalar_apply(P, S0, S1, S2, C, mh, x, Rp, R0, sigma2, out):
    """``out = P x + Wp Rp + W0 R0 + W1 R1`` with ``R1 = sigma2 + sum mh out`` solved exactly.

    The weights are ``W_node = sum_q C[node, q] S_q`` (``C`` from :func:`lagrange`).
    Returns ``(R1, den)``; ``den = 1 - sum mh W1 <= 0`` means the block cannot be
    stable (divergence).
    """
    num = sigma2
    den = 1.0
    for i in range(x.size):
        wp = C[0, 0] * S0[i] + C[0, 1] * S1[i] + C[0, 2] * S2[i]
        w0 = C[1, 0] * S0[i] + C[1, 1] * S1[i] + C[1, 2] * S2[i]
        w1 = C[2, 0] * S0[i] + C[2, 1] * S1[i] + C[2, 2] * S2[i]
        v = P[i] * x[i] + wp * Rp + w0 * R0
        out[i] = v
        num += mh[i] * v
        den -= mh[i] * w1
    R1 = num / den if den > 0.0 else math.inf
    for i in range(x.size):
        out[i] += (C[2, 0] * S0[i] + C[2, 1] * S1[i] + C[2, 2] * S2[i]) * R1
    return R1, den


@njit(cache=True)
def scalar_recursion(x, h, mh, sigma2, binv, etas):
    """Advance ``x`` in place by ``len(etas)`` exact SGD steps (step ``s`` at rate ``etas[s]``).

    Returns ``R`` after the last step (``inf`` once it overflows).
    """
    n = x.size
    R = sigma2
    for i in range(n):
        R += mh[i] * x[i]
    eta_prev = -1.0
    a = np.empty(n)
    g = np.empty(n)
    for s in range(etas.size):
        eta = etas[s]
        if eta != eta_prev:
            for i in range(n):
                a[i], g[i] = _scalar_ag(h[i], eta, binv)
            eta_prev = eta
        Rn = sigma2
        for i in range(n):
            x[i] = a[i] * x[i] + g[i] * R
            Rn += mh[i] * x[i]
        R = Rn
        if not math.isfinite(R):
            return math.inf
    return R


# ---------------------------------------------------------------------------
# general path (heavy-ball momentum, weight decay)
# ---------------------------------------------------------------------------
@njit(cache=True)
def step_matrix(h, ws, eta, beta, lam, binv, k, M, g):
    """One-step matrix ``M`` (k x k) and forcing ``g`` (k) of one mode.

    State ``(E e^2, E e v, E v^2, E e, E v, 1)`` (first ``k``), update
    ``v' = beta v - eta (grad + lam w)``, ``e' = e + v'`` with ``e = w - w*``; with
    ``k = 3``, ``beta = 0`` and ``lam > 0`` the closed triple ``(E e^2, E e, 1)``.
    """
    p = eta * (h + lam)
    a11 = 1.0 - p
    a12 = beta
    a21 = -p
    a22 = beta
    b = -eta * lam * ws
    k2 = eta * eta * h * h * binv
    gg = eta * eta * h * binv
    for r in range(k):
        g[r] = 0.0
        for c in range(k):
            M[r, c] = 0.0
    if k == 3 and beta == 0.0 and lam > 0.0:
        # weight decay without momentum: the closed triple (E e^2, E e, 1)
        M[0, 0] = a11 * a11 + k2
        M[0, 1] = 2.0 * b * a11
        M[0, 2] = b * b
        M[1, 1] = a11
        M[1, 2] = b
        M[2, 2] = 1.0
        g[0] = gg
        return
    M[0, 0] = a11 * a11 + k2
    M[0, 1] = 2.0 * a11 * a12
    M[0, 2] = a12 * a12
    M[1, 0] = a11 * a21 + k2
    M[1, 1] = a11 * a22 + a12 * a21
    M[1, 2] = a12 * a22
    M[2, 0] = a21 * a21 + k2
    M[2, 1] = 2.0 * a21 * a22
    M[2, 2] = a22 * a22
    g[0] = gg
    g[1] = gg
    g[2] = gg
    if k == 6:
        M[0, 3] = 2.0 * b * a11
        M[0, 4] = 2.0 * b * a12
        M[0, 5] = b * b
        M[1, 3] = b * a11 + b * a21
        M[1, 4] = b * a12 + b * a22
        M[1, 5] = b * b
        M[2, 3] = 2.0 * b * a21
        M[2, 4] = 2.0 * b * a22
        M[2, 5] = b * b
        M[3, 3] = a11
        M[3, 4] = a12
        M[3, 5] = b
        M[4, 3] = a21
        M[4, 4] = a22
        M[4, 5] = b
        M[5, 5] = 1.0


@njit(cache=True)
def _matmul(A, B, k, out):
    for r in range(k):
        for c in range(k):
            s = 0.0
            for q in range(k):
                s += A[r, q] * B[q, c]
            out[r, c] = s


@njit(cache=True)
def _matvec(A, v, k, out):
    for r in range(k):
        s = 0.0
        for q in range(k):
            s += A[r, q] * v[q]
        out[r] = s


@njit(cache=True)
def _combine_k(P, y, na, Q, q, k, T, u, w):
    """In place: run ``(P, y[0..2])`` of length ``na`` followed by run ``(Q, q)``."""
    # y2 += P (q2 + 2 na q1 + na^2 q0); y1 += P (q1 + na q0); y0 += P q0
    for r in range(k):
        w[r] = q[2, r] + 2.0 * na * q[1, r] + na * na * q[0, r]
    _matvec(P, w, k, u)
    for r in range(k):
        y[2, r] += u[r]
        w[r] = q[1, r] + na * q[0, r]
    _matvec(P, w, k, u)
    for r in range(k):
        y[1, r] += u[r]
    _matvec(P, q[0], k, u)
    for r in range(k):
        y[0, r] += u[r]
    _matmul(P, Q, k, T)
    for r in range(k):
        for c in range(k):
            P[r, c] = T[r, c]


@njit(cache=True)
def _general_moments(P, y, n, k, i, Po, S0, S1, S2):
    c = n - 1.0
    for r in range(k):
        S0[i, r] = y[0, r]
        S1[i, r] = c * y[0, r] - y[1, r]
        S2[i, r] = c * c * y[0, r] - 2.0 * c * y[1, r] + y[2, r]
        for q in range(k):
            Po[i, r, q] = P[r, q]


@njit(cache=True)
def general_levels(h, ws, eta, beta, lam, binv, k, nbits, TP, TY):
    """Cached runs of length ``2^b``: ``TP[b, i] = M^L``, ``TY[b, i, q] = sum_{j<L} j^q M^j g``."""
    M = np.empty((k, k))
    g = np.empty(k)
    T = np.empty((k, k))
    u = np.empty(k)
    w = np.empty(k)
    for i in range(h.size):
        step_matrix(h[i], ws[i], eta, beta, lam, binv, k, M, g)
        Q = M.copy()
        q = np.zeros((3, k))
        q[0] = g
        L = 1.0
        Q2 = np.empty((k, k))
        q2 = np.empty((3, k))
        for b in range(nbits):
            TP[b, i] = Q
            TY[b, i] = q
            Q2[:] = Q
            q2[:] = q
            _combine_k(Q, q, L, Q2, q2, k, T, u, w)
            L *= 2.0


@njit(cache=True)
def general_from_levels(TP, TY, n, Po, S0, S1, S2):
    """Block moments over ``n`` steps from the cached levels (see :func:`general_levels`)."""
    k = TP.shape[2]
    bits, before = _bits(n)
    N = TP.shape[1]
    P = np.empty((k, k))
    y = np.empty((3, k))
    T = np.empty((k, k))
    u = np.empty(k)
    w = np.empty(k)
    for i in range(N):
        for r in range(k):
            for c in range(k):
                P[r, c] = 1.0 if r == c else 0.0
        y[:] = 0.0
        for j in range(bits.size):
            b = bits[j]
            _combine_k(P, y, before[j], TP[b, i], TY[b, i], k, T, u, w)
        _general_moments(P, y, float(n), k, i, Po, S0, S1, S2)


@njit(cache=True)
def general_direct(h, ws, eta, beta, lam, binv, k, n, Po, S0, S1, S2):
    """Block moments over ``n`` steps at the rates ``eta[i]`` (one per mode), powering on the fly."""
    M = np.empty((k, k))
    g = np.empty(k)
    P = np.empty((k, k))
    y = np.empty((3, k))
    T = np.empty((k, k))
    u = np.empty(k)
    w = np.empty(k)
    for i in range(h.size):
        step_matrix(h[i], ws[i], eta[i], beta, lam, binv, k, M, g)
        Q = M.copy()
        q = np.zeros((3, k))
        q[0] = g
        L = 1.0
        for r in range(k):
            for c in range(k):
                P[r, c] = 1.0 if r == c else 0.0
        y[:] = 0.0
        na = 0.0
        m = n
        while m > 0:
            if m & 1:
                _combine_k(P, y, na, Q, q, k, T, u, w)
                na += L
            m >>= 1
            if m > 0:
                Q2 = Q.copy()
                q2 = q.copy()
                _combine_k(Q, q, L, Q2, q2, k, T, u, w)
                L *= 2.0
        _general_moments(P, y, float(n), k, i, Po, S0, S1, S2)


@njit(cache=True)
def general_apply(P, S0, S1, S2, C, mh, z, Rp, R0, sigma2, out):
    """``out = P z + Wp Rp + W0 R0 + W1 R1`` per mode, ``R1 = sigma2 + sum mh out[:, 0]`` solved;
    ``W_node = sum_q C[node, q] S_q``."""
    n, k = z.shape
    num = sigma2
    den = 1.0
    for i in range(n):
        for r in range(k):
            wp = C[0, 0] * S0[i, r] + C[0, 1] * S1[i, r] + C[0, 2] * S2[i, r]
            w0 = C[1, 0] * S0[i, r] + C[1, 1] * S1[i, r] + C[1, 2] * S2[i, r]
            s = wp * Rp + w0 * R0
            for c in range(k):
                s += P[i, r, c] * z[i, c]
            out[i, r] = s
        num += mh[i] * out[i, 0]
        den -= mh[i] * (C[2, 0] * S0[i, 0] + C[2, 1] * S1[i, 0] + C[2, 2] * S2[i, 0])
    R1 = num / den if den > 0.0 else math.inf
    for i in range(n):
        for r in range(k):
            out[i, r] += (C[2, 0] * S0[i, r] + C[2, 1] * S1[i, r] + C[2, 2] * S2[i, r]) * R1
    return R1, den


@njit(cache=True)
def general_recursion(z, h, ws, mh, sigma2, beta, lam, binv, etas):
    """Advance ``z`` (modes, k) in place by ``len(etas)`` exact steps; returns the final ``R``."""
    n, k = z.shape
    Ms = np.empty((n, k, k))
    gs = np.empty((n, k))
    R = sigma2
    for i in range(n):
        R += mh[i] * z[i, 0]
    eta_prev = -1.0
    tmp = np.empty(k)
    for s in range(etas.size):
        eta = etas[s]
        if eta != eta_prev:
            for i in range(n):
                step_matrix(h[i], ws[i], eta, beta, lam, binv, k, Ms[i], gs[i])
            eta_prev = eta
        Rn = sigma2
        for i in range(n):
            for r in range(k):
                acc = gs[i, r] * R
                for c in range(k):
                    acc += Ms[i, r, c] * z[i, c]
                tmp[r] = acc
            for r in range(k):
                z[i, r] = tmp[r]
            Rn += mh[i] * z[i, 0]
        R = Rn
        if not math.isfinite(R):
            return math.inf
    return R


# ---------------------------------------------------------------------------
# continuous-time (Volterra) limit
# ---------------------------------------------------------------------------
@njit(cache=True)
def exp_moments(x, n):
    """``S_q = int_0^n e^{-kappa (n - s)} s^q ds`` for ``q = 0, 1, 2``, ``x = kappa n >= 0``.

    Series ``S_q = n^{q+1} q! sum_m (-x)^m / (m + q + 1)!`` below ``x = 2``, closed forms above.
    """
    if x < 2.0:
        out = np.zeros(3)
        for q in range(3):
            fact_q = 1.0 if q < 2 else 2.0
            term = 1.0
            for j in range(1, q + 2):
                term /= j
            s = 0.0
            for m in range(40):
                s += term
                term *= -x / (m + q + 2)
            out[q] = n ** (q + 1) * fact_q * s
        return out[0], out[1], out[2]
    kap = x / n
    e = math.exp(-x)
    return ((1.0 - e) / kap, (x - 1.0 + e) / (kap * kap),
            (x * x - 2.0 * x + 2.0 - 2.0 * e) / (kap * kap * kap))


@njit(cache=True)
def volterra_weights(h, eta, lam, binv, n, P, G0, G1, G2, Pm, Chi, Phi):
    """Block weights of the continuous-time limit over a time ``n`` at the rates ``eta[i]``.

    ``P = e^{-kappa n}``, ``G_q = g S_q`` (:func:`exp_moments`; the weights are
    ``sum_q C[node, q] G_q``, :func:`lagrange`);
    for the mean: ``Pm = e^{-kappa n / 2}``, ``Chi = int_0^n e^{-kappa (n - s)} e^{-kappa s/2} ds``,
    ``Phi = S_0``.
    """
    for i in range(h.size):
        kap = 2.0 * eta[i] * (h[i] + lam)
        x = kap * n
        g = eta[i] * eta[i] * h[i] * binv
        S0, S1, S2 = exp_moments(x, n)
        if kap > 0.0:
            chi = 2.0 * math.exp(-0.5 * x) * (-math.expm1(-0.5 * x)) / kap
        else:
            chi = n
        P[i] = math.exp(-x)
        G0[i] = g * S0
        G1[i] = g * S1
        G2[i] = g * S2
        Pm[i] = math.exp(-0.5 * x)
        Chi[i] = chi
        Phi[i] = S0


@njit(cache=True)
def volterra_apply(P, G0, G1, G2, Pm, Chi, Phi, C, mh, h, ws, eta, lam, x, m, Rp, R0, sigma2, affine,
                   xo, mo):
    """``xo = P x + affine + Wp Rp + W0 R0 + W1 R1`` and the exact mean ``mo``; returns ``(R1, den)``.

    The affine term ``-2 eta lam w* [m_inf Phi + (m - m_inf) Chi]`` enters when ``affine``.
    """
    num = sigma2
    den = 1.0
    for i in range(x.size):
        wp = C[0, 0] * G0[i] + C[0, 1] * G1[i] + C[0, 2] * G2[i]
        w0 = C[1, 0] * G0[i] + C[1, 1] * G1[i] + C[1, 2] * G2[i]
        s = P[i] * x[i] + wp * Rp + w0 * R0
        if affine and lam > 0.0:
            minf = -lam * ws[i] / (h[i] + lam)
            s += -2.0 * eta[i] * lam * ws[i] * (minf * Phi[i] + (m[i] - minf) * Chi[i])
            mo[i] = minf + (m[i] - minf) * Pm[i]
        else:
            mo[i] = m[i]
        xo[i] = s
        num += mh[i] * s
        den -= mh[i] * (C[2, 0] * G0[i] + C[2, 1] * G1[i] + C[2, 2] * G2[i])
    R1 = num / den if den > 0.0 else math.inf
    for i in range(x.size):
        xo[i] += (C[2, 0] * G0[i] + C[2, 1] * G1[i] + C[2, 2] * G2[i]) * R1
    return R1, den


@njit(cache=True)
def risk_sum(t, coef, nu, out):
    """``out[i] = sum_k coef[k] (1 - nu[k])**t[i]`` (``0 <= nu <= 1``, through ``log1p``)."""
    for i in range(t.size):
        acc = 0.0
        ti = t[i]
        for k in range(nu.size):
            if nu[k] >= 1.0:
                p = 1.0 if ti == 0 else 0.0
            else:
                p = math.exp(ti * math.log1p(-nu[k]))
            acc += coef[k] * p
        out[i] = acc
    return out


@njit(cache=True)
def secular(eps, q):
    """Eigen-decomposition of ``diag(eps) - q q^T`` (``eps`` increasing, distinct, ``q > 0``).

    Roots ``nu_i`` of ``1 = sum_k q_k^2 / (eps_k - nu)`` interlace the poles
    (``nu_1 < eps_1 < nu_2 < eps_2 < ...``); each is found by bisection and
    Newton in the offset from its nearer pole, so that ``nu`` near a pole
    keeps its relative accuracy.  Eigenvectors ``v_i ~ q / (eps - nu_i)``.
    Returns ``nu`` and the matrix ``V`` (columns normalised).
    """
    n = eps.size
    qq = 0.0
    for k in range(n):
        qq += q[k] * q[k]
    nu = np.empty(n)
    V = np.empty((n, n))
    diff = np.empty(n)
    for i in range(n):
        hi = eps[i]
        lo = eps[i - 1] if i > 0 else eps[0] - qq - 1.0
        # origin: the pole nearer the root
        mid = 0.5 * (lo + hi)
        gm = 1.0
        for k in range(n):
            gm -= q[k] * q[k] / (eps[k] - mid)
        origin = hi if gm > 0.0 else lo
        if i == 0 and origin == lo:
            origin = hi
        for k in range(n):
            diff[k] = eps[k] - origin
        a = lo - origin
        b = hi - origin
        if gm > 0.0:
            a = mid - origin
        else:
            b = mid - origin
        tau = 0.5 * (a + b)
        for _ in range(300):
            g = 1.0
            gp = 0.0
            for k in range(n):
                r = 1.0 / (diff[k] - tau)
                g -= q[k] * q[k] * r
                gp -= q[k] * q[k] * r * r
            if g > 0.0:
                a = tau
            else:
                b = tau
            tn = tau - g / gp if gp != 0.0 else 0.5 * (a + b)
            if not (a < tn < b):
                tn = 0.5 * (a + b)
            if abs(tn - tau) <= 4e-16 * abs(tn) or b - a <= 4e-16 * max(abs(a), abs(b)):
                tau = tn
                break
            tau = tn
        nu[i] = origin + tau
        nrm = 0.0
        for k in range(n):
            vk = q[k] / (diff[k] - tau)
            V[k, i] = vk
            nrm += vk * vk
        nrm = math.sqrt(nrm)
        for k in range(n):
            V[k, i] /= nrm
    return nu, V


@register_warmup("odes._linear_kernels")
def warmup():
    """Compile every kernel once on tiny inputs."""
    h = np.array([1.0, 0.5])
    mh = h.copy()
    ws = np.array([1.0, -1.0])
    x = np.ones(2)
    P, Wp, W0, W1 = np.empty(2), np.empty(2), np.empty(2), np.empty(2)
    out = np.empty(2)
    T = np.empty((3, 2, 4))
    scalar_levels(h, 0.1, 1.0, 3, T)
    C = lagrange(5.0, 2.0)
    scalar_from_levels(T, 5, P, Wp, W0, W1)
    scalar_direct(h, np.full(2, 0.1), 1.0, 5, P, Wp, W0, W1)
    scalar_apply(P, Wp, W0, W1, C, mh, x, 1.0, 1.0, 0.0, out)
    scalar_direct_varying(h, 0.1, 1e-3, 1.0, 5, P, Wp, W0, W1)
    scalar_recursion(x.copy(), h, mh, 0.0, 1.0, np.full(3, 0.1))
    for k in (3, 6):
        z = np.zeros((2, k))
        z[:, 0] = 1.0
        if k == 6:
            z[:, 3] = -ws
            z[:, 5] = 1.0
        Pg, Wpg, W0g, W1g = np.empty((2, k, k)), np.empty((2, k)), np.empty((2, k)), np.empty((2, k))
        TP, TY = np.empty((3, 2, k, k)), np.empty((3, 2, 3, k))
        general_levels(h, ws, 0.1, 0.5, 0.1, 1.0, k, 3, TP, TY)
        general_from_levels(TP, TY, 5, Pg, Wpg, W0g, W1g)
        general_direct(h, ws, np.full(2, 0.1), 0.5, 0.1, 1.0, k, 5, Pg, Wpg, W0g, W1g)
        general_apply(Pg, Wpg, W0g, W1g, C, mh, z, 1.0, 1.0, 0.0, np.empty((2, k)))
        general_recursion(z.copy(), h, ws, mh, 0.0, 0.5, 0.1, 1.0, np.full(3, 0.1))
    Pm, Chi, Phi = np.empty(2), np.empty(2), np.empty(2)
    volterra_weights(h, np.full(2, 0.1), 0.1, 1.0, 4.0, P, Wp, W0, W1, Pm, Chi, Phi)
    volterra_apply(P, Wp, W0, W1, Pm, Chi, Phi, C, mh, h, ws, np.full(2, 0.1), 0.1, x, -ws, 1.0, 1.0, 0.0, True,
                   np.empty(2), np.empty(2))
    nu, V = secular(np.array([0.1, 0.2]), np.array([0.1, 0.1]))
    risk_sum(np.arange(3.0), np.ones(2), nu, np.empty(3))
