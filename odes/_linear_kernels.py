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
  weight decay, ``6`` with) and one step is ``z <- M z + g R`` with the ``k x k`` matrix of
  :func:`step_matrix`;
* **Volterra path** (continuous time): ``dx/dt = -kappa x - 2 eta lam w* m + g R(t)``,
  ``dm/dt = -eta (h + lam) m - eta lam w*``, ``kappa = 2 eta (h + lam)``.

A *block* of ``n`` steps with ``R`` interpolated linearly between its ends,
``R(t + k) = R0 + (k/n)(R1 - R0)``, maps the state exactly to
``z(t + n) = P z + W0 R0 + W1 R1`` (``P = M^n``, ``W0 + W1 = sum_j M^j g``,
``W1 = sum_j (n - 1 - j) M^j g / n``); ``R1`` then solves one linear equation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.warm import register_warmup


# ---------------------------------------------------------------------------
# scalar helpers, stable for every argument
# ---------------------------------------------------------------------------
@njit(cache=True)
def expm1_minus_x(x):
    """``e^x - 1 - x`` without cancellation (series for ``|x| <= 0.5``)."""
    if abs(x) > 0.5:
        return math.expm1(x) - x
    term = x * x / 2.0
    s = term
    for k in range(3, 25):
        term *= x / k
        s += term
    return s


@njit(cache=True)
def log1p_minus_plus(eps):
    """``log(1 - eps) + eps`` without cancellation (series for ``|eps| < 0.1``)."""
    if abs(eps) >= 0.1:
        return math.log1p(-eps) + eps
    s = 0.0
    p = eps
    for k in range(2, 40):
        p *= eps
        s -= p / k
    return s


@njit(cache=True)
def phi2(x):
    """``(x - 1 + e^{-x}) / x^2`` for ``x >= 0`` (series below 0.5; ``1/2`` at 0)."""
    if x > 0.5:
        return (x - 1.0 + math.exp(-x)) / (x * x)
    s = 0.0
    term = 0.5
    for k in range(0, 25):
        s += term
        term *= -x / (k + 3)
    return s


@njit(cache=True)
def geometric_weights(a_eps, n):
    """``(a^n, G0, H1)`` for ``a = 1 - eps``: ``G0 = sum_{j<n} a^j``, ``H1 = sum_{j<n} (n-1-j) a^j``.

    Exact sums evaluated without cancellation (``eps`` may be negative: ``a > 1``).
    """
    eps = a_eps
    if n == 1:
        return 1.0 - eps, 1.0, 0.0
    if eps == 0.0:
        return 1.0, float(n), 0.5 * n * (n - 1.0)
    if eps >= 1.0:   # a <= 0 only at a == 0 (B infinite, eta h = 1): a^n = 0 for n >= 1
        a = 1.0 - eps
        an = a ** n
        G0 = (1.0 - an) / eps
        H1 = (an - 1.0 + n * eps) / (eps * eps)
        return an, G0, H1
    L = math.log1p(-eps)
    nL = n * L
    an = math.exp(nL)
    G0 = -math.expm1(nL) / eps
    if abs(nL) > 0.5:
        H1 = (an - 1.0 + n * eps) / (eps * eps)
    else:
        H1 = (expm1_minus_x(nL) + n * log1p_minus_plus(eps)) / (eps * eps)
    return an, G0, H1


# ---------------------------------------------------------------------------
# scalar path (plain SGD)
# ---------------------------------------------------------------------------
@njit(cache=True)
def scalar_weights(h, eta, binv, n, P, W0, W1):
    """Block weights of the plain-SGD recursion over ``n`` steps at rate ``eta``."""
    for i in range(h.size):
        hi = h[i]
        eh = eta * hi
        eps = 2.0 * eh - eh * eh * (1.0 + binv)
        an, G0, H1 = geometric_weights(eps, n)
        g = eta * eh * binv
        P[i] = an
        W1[i] = g * H1 / n
        W0[i] = g * (G0 - H1 / n)


@njit(cache=True)
def scalar_apply(P, W0, W1, mh, x, R0, sigma2, out):
    """``out = P x + W0 R0 + W1 R1`` with ``R1 = sigma2 + sum mh out`` solved exactly.

    Returns ``(R1, den)``; ``den = 1 - sum mh W1 <= 0`` means the block cannot be
    stable (divergence).
    """
    num = sigma2
    den = 1.0
    for i in range(x.size):
        num += mh[i] * (P[i] * x[i] + W0[i] * R0)
        den -= mh[i] * W1[i]
    R1 = num / den if den > 0.0 else math.inf
    for i in range(x.size):
        out[i] = P[i] * x[i] + W0[i] * R0 + W1[i] * R1
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
                eh = eta * h[i]
                a[i] = (1.0 - eh) ** 2 + eh * eh * binv
                g[i] = eta * eh * binv
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
    ``v' = beta v - eta (grad + lam w)``, ``e' = e + v'`` with ``e = w - w*``.
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
def power_sums(M, g, n, k, P, y0, y1):
    """``P = M^n``, ``y0 = sum_{j<n} M^j g``, ``y1 = sum_{j<n} j M^j g`` by binary powering.

    Combination rule of two runs of lengths ``n_a``, ``n_b``: ``P = P_a P_b``,
    ``y0 = y0_a + P_a y0_b``, ``y1 = y1_a + P_a (y1_b + n_a y0_b)``.
    """
    # accumulated run (length na) and the run of length 2^bit
    for r in range(k):
        y0[r] = 0.0
        y1[r] = 0.0
        for c in range(k):
            P[r, c] = 1.0 if r == c else 0.0
    Q = M.copy()
    q0 = g.copy()
    q1 = np.zeros(k)
    lq = 1
    na = 0
    T = np.empty((k, k))
    u = np.empty(k)
    w = np.empty(k)
    m = n
    while m > 0:
        if m & 1:
            # accumulated <- accumulated o run(Q)
            _matvec(P, q0, k, u)
            for r in range(k):
                w[r] = q1[r] + na * q0[r]
            _matvec(P, w, k, T[0])
            for r in range(k):
                y1[r] += T[0, r]
                y0[r] += u[r]
            _matmul(P, Q, k, T)
            for r in range(k):
                for c in range(k):
                    P[r, c] = T[r, c]
            na += lq
        m >>= 1
        if m > 0:
            # run(Q) <- run(Q) o run(Q)
            _matvec(Q, q0, k, u)
            for r in range(k):
                w[r] = q1[r] + lq * q0[r]
            _matvec(Q, w, k, T[0])
            for r in range(k):
                q1[r] = q1[r] + T[0, r]
                q0[r] = q0[r] + u[r]
            _matmul(Q, Q, k, T)
            for r in range(k):
                for c in range(k):
                    Q[r, c] = T[r, c]
            lq *= 2


@njit(cache=True)
def general_weights(h, ws, eta, beta, lam, binv, n, k, P, W0, W1):
    """Block weights of the general recursion (``P`` (modes, k, k), ``W0``, ``W1`` (modes, k))."""
    M = np.empty((k, k))
    g = np.empty(k)
    y0 = np.empty(k)
    y1 = np.empty(k)
    Pm = np.empty((k, k))
    for i in range(h.size):
        step_matrix(h[i], ws[i], eta, beta, lam, binv, k, M, g)
        power_sums(M, g, n, k, Pm, y0, y1)
        for r in range(k):
            w1 = ((n - 1.0) * y0[r] - y1[r]) / n
            W1[i, r] = w1
            W0[i, r] = y0[r] - w1
            for c in range(k):
                P[i, r, c] = Pm[r, c]


@njit(cache=True)
def general_apply(P, W0, W1, mh, z, R0, sigma2, out):
    """``out = P z + W0 R0 + W1 R1`` per mode, ``R1 = sigma2 + sum mh out[:, 0]`` solved exactly."""
    n, k = z.shape
    num = sigma2
    den = 1.0
    for i in range(n):
        for r in range(k):
            s = W0[i, r] * R0
            for c in range(k):
                s += P[i, r, c] * z[i, c]
            out[i, r] = s
        num += mh[i] * out[i, 0]
        den -= mh[i] * W1[i, 0]
    R1 = num / den if den > 0.0 else math.inf
    for i in range(n):
        for r in range(k):
            out[i, r] += W1[i, r] * R1
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
def volterra_weights(h, eta, lam, binv, n, P, W0, W1, Pm, Chi, Phi):
    """Block weights of the continuous-time limit over a time ``n`` at rate ``eta``.

    ``P = e^{-kappa n}``, ``W0 = g (phi1 - psi)``, ``W1 = g psi`` with ``phi1 =
    (1 - e^{-kappa n})/kappa``, ``psi = n phi2(kappa n)``; for the mean: ``Pm =
    e^{-kappa n / 2}``, ``Chi = int_0^n e^{-kappa (n - s)} e^{-kappa s/2} ds``,
    ``Phi = phi1``.
    """
    for i in range(h.size):
        kap = 2.0 * eta * (h[i] + lam)
        x = kap * n
        g = eta * eta * h[i] * binv
        if kap > 0.0:
            phi1 = -math.expm1(-x) / kap
            chi = 2.0 * math.exp(-0.5 * x) * (-math.expm1(-0.5 * x)) / kap
        else:
            phi1 = float(n)
            chi = float(n)
        psi = n * phi2(x)
        P[i] = math.exp(-x)
        W1[i] = g * psi
        W0[i] = g * (phi1 - psi)
        Pm[i] = math.exp(-0.5 * x)
        Chi[i] = chi
        Phi[i] = phi1


@njit(cache=True)
def volterra_apply(P, W0, W1, Pm, Chi, Phi, mh, h, ws, eta, lam, x, m, R0, sigma2, affine, xo, mo):
    """``xo = P x + affine + W0 R0 + W1 R1`` and the exact mean ``mo``; returns ``(R1, den)``.

    The affine term ``-2 eta lam w* [m_inf Phi + (m - m_inf) Chi]`` enters when ``affine``.
    """
    num = sigma2
    den = 1.0
    for i in range(x.size):
        s = P[i] * x[i] + W0[i] * R0
        if affine and lam > 0.0:
            minf = -lam * ws[i] / (h[i] + lam)
            s += -2.0 * eta * lam * ws[i] * (minf * Phi[i] + (m[i] - minf) * Chi[i])
            mo[i] = minf + (m[i] - minf) * Pm[i]
        else:
            mo[i] = m[i]
        xo[i] = s
        num += mh[i] * s
        den -= mh[i] * W1[i]
    R1 = num / den if den > 0.0 else math.inf
    for i in range(x.size):
        xo[i] += W1[i] * R1
    return R1, den


@register_warmup("odes._linear_kernels")
def warmup():
    """Compile every kernel once on tiny inputs."""
    h = np.array([1.0, 0.5])
    mh = h.copy()
    ws = np.array([1.0, -1.0])
    x = np.ones(2)
    P, W0, W1 = np.empty(2), np.empty(2), np.empty(2)
    out = np.empty(2)
    scalar_weights(h, 0.1, 1.0, 4, P, W0, W1)
    scalar_apply(P, W0, W1, mh, x, 1.0, 0.0, out)
    scalar_recursion(x.copy(), h, mh, 0.0, 1.0, np.full(3, 0.1))
    for k in (3, 6):
        z = np.zeros((2, k))
        z[:, 0] = 1.0
        if k == 6:
            z[:, 3] = -ws
            z[:, 5] = 1.0
        Pg, W0g, W1g = np.empty((2, k, k)), np.empty((2, k)), np.empty((2, k))
        general_weights(h, ws, 0.1, 0.5, 0.1, 1.0, 5, k, Pg, W0g, W1g)
        general_apply(Pg, W0g, W1g, mh, z, 1.0, 0.0, np.empty((2, k)))
        general_recursion(z.copy(), h, ws, mh, 0.0, 0.5, 0.1, 1.0, np.full(3, 0.1))
    Pm, Chi, Phi = np.empty(2), np.empty(2), np.empty(2)
    volterra_weights(h, 0.1, 0.1, 1.0, 4.0, P, W0, W1, Pm, Chi, Phi)
    volterra_apply(P, W0, W1, Pm, Chi, Phi, mh, h, ws, 0.1, 0.1, x, -ws, 1.0, 0.0, True,
                   np.empty(2), np.empty(2))
