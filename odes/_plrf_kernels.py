"""Numba kernels of :mod:`odes.plrf`: the Marchenko--Pastur--Silverstein map of ``K = W^T D W``.

Notation: ``sig`` holds the population eigenvalues ``sigma_j = j^(-2 alpha)``
(``j = 1..v``, decreasing), ``d`` the number of features.  The deterministic
equivalent of the resolvent of ``K`` is written through ``y = z / m(z)``, the
inverse of the Silverstein--Choi map (Silverstein & Choi 1995, J. Multivariate
Anal. 54, 295, eq. (1.6) in this notation)::

    X(y) = y (1 - (1/d) sum_j sigma_j / (sigma_j - y)),     z = X(y),

so that ``(1/d) tr (K - z)^(-1) ~ -1/y(z)`` with ``Im y > 0`` for ``Im z > 0``.
``X'(y) = 1 - g(y)/d`` with ``g(y) = sum_j sigma_j^2 / (sigma_j - y)^2``: the
edges of the spectrum are the critical values of ``X`` on the real line.

All functions are pure functions of float64/complex128 scalars and arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lmech.warm import register_warmup


#: terms of the power series of the tail sums (ratio at most RHO)
NSER = 32
RHO = 0.25


@njit(cache=True)
def tail_tables(sig, b2):
    """Suffix power sums for the tail series: cut ``J_m = 2^m`` (number of
    terms summed directly; ``0`` first), ``P[m, k] = sum_{j >= J_m} (sig_j / sig_J)^k``
    (0-based ``j``, ``k = 0..NSER``) and ``Q[m, n] = sum_{j >= J_m} sig_j^2 b2_j (sig_j / sig_J)^n``
    (``n = 0..2 NSER``).  The last cut is ``v`` (no tail)."""
    v = sig.size
    nc = 1
    c = 1
    while c < v:
        nc += 1
        c *= 2
    cuts = np.empty(nc + 1, dtype=np.int64)
    cuts[0] = 0
    c = 1
    for i in range(1, nc):
        cuts[i] = c
        c *= 2
    cuts[nc] = v
    P = np.zeros((nc + 1, NSER + 1))
    Q = np.zeros((nc + 1, 2 * NSER + 1))
    for i in range(nc):
        c0 = cuts[i]
        sc = sig[c0]
        for j in range(c0, v):
            r = sig[j] / sc
            pw = 1.0
            for k in range(NSER + 1):
                P[i, k] += pw
                pw *= r
                if pw < 1e-300:
                    break
            pw = sig[j] * sig[j] * b2[j]
            for n in range(2 * NSER + 1):
                Q[i, n] += pw
                pw *= r
                if pw < 1e-300:
                    break
    return cuts, P, Q


@njit(cache=True)
def _cut(absy, sig, cuts):
    """Index ``m`` of the smallest cut with ``sig[J_m] <= RHO |y|`` (the last cut: no tail)."""
    for m in range(cuts.size):
        c = cuts[m]
        if c >= sig.size or sig[c] <= RHO * absy:
            return m
    return cuts.size - 1


@njit(cache=True)
def g_real(y, sig, cuts, P):
    """``g(y), g'(y), g''(y)`` at real ``y`` (``g = sum sig^2/(sig - y)^2``)."""
    m = _cut(abs(y), sig, cuts)
    J = cuts[m]
    g = 0.0
    g1 = 0.0
    g2 = 0.0
    for j in range(min(J, sig.size)):
        s = sig[j]
        r = 1.0 / (s - y)
        t = s * s * r * r
        g += t
        g1 += 2.0 * t * r
        g2 += 6.0 * t * r * r
    if J < sig.size:
        u = sig[J] / y
        uk = u * u
        for k in range(2, NSER + 1):
            pk = P[m, k] * uk
            g += (k - 1) * pk
            g1 += -2.0 / y * (k * (k - 1) / 2) * pk
            g2 += 6.0 / (y * y) * ((k + 1) * k * (k - 1) / 6) * pk
            uk *= u
    return g, g1, g2


@njit(cache=True)
def x_real(y, sig, d, cuts, P):
    """``X(y)`` and ``X''(y)`` at real ``y``."""
    m = _cut(abs(y), sig, cuts)
    J = cuts[m]
    s1 = 0.0
    s3 = 0.0
    for j in range(min(J, sig.size)):
        s = sig[j]
        r = 1.0 / (s - y)
        s1 += s * r
        s3 += s * s * r * r * r
    if J < sig.size:
        u = sig[J] / y
        uk = u
        for k in range(1, NSER + 1):
            pk = P[m, k] * uk
            s1 += -pk
            if k >= 2:
                s3 += -1.0 / y * (k * (k - 1) / 2) * pk
            uk *= u
    return y * (1.0 - s1 / d), -2.0 * s3 / d


@njit(cache=True)
def x_complex(y, sig, d, cuts, P):
    """``X(y)`` and ``X'(y)`` at complex ``y``."""
    m = _cut(abs(y), sig, cuts)
    J = cuts[m]
    s1 = 0.0 + 0.0j
    s2 = 0.0 + 0.0j
    for j in range(min(J, sig.size)):
        s = sig[j]
        r = 1.0 / (s - y)
        sr = s * r
        s1 += sr
        s2 += sr * sr
    if J < sig.size:
        u = sig[J] / y
        uk = u
        for k in range(1, NSER + 1):
            pk = P[m, k] * uk
            s1 += -pk
            if k >= 2:
                s2 += (k - 1) * pk
            uk *= u
    return y * (1.0 - s1 / d), 1.0 - s2 / d


@njit(cache=True)
def _root_g(lo, hi, target, sig, cuts, P, increasing, tol):
    """Root of ``g(y) = target`` in ``(lo, hi)`` where ``g`` is monotone; bracketed Newton."""
    a = lo
    b = hi
    y = 0.5 * (a + b)
    for _ in range(200):
        g, g1, _g2 = g_real(y, sig, cuts, P)
        f = g - target
        if (f > 0.0) == increasing:
            b = y
        else:
            a = y
        step = f / g1 if g1 != 0.0 else 0.0
        yn = y - step
        if not (a < yn < b) or not math.isfinite(yn):
            yn = 0.5 * (a + b)
        if abs(yn - y) <= tol * (abs(y) + 1e-300) or b - a <= tol * (abs(y) + 1e-300):
            return yn
        y = yn
    return y


@njit(cache=True)
def _argmin_g(lo, hi, sig, cuts, P, tol):
    """Minimiser of the convex ``g`` on ``(lo, hi)`` (both poles): bracketed Newton on ``g'``."""
    a = lo
    b = hi
    y = 0.5 * (a + b)
    for _ in range(200):
        _g, g1, g2 = g_real(y, sig, cuts, P)
        if g1 > 0.0:
            b = y
        else:
            a = y
        yn = y - g1 / g2 if g2 > 0.0 else 0.5 * (a + b)
        if not (a < yn < b) or not math.isfinite(yn):
            yn = 0.5 * (a + b)
        if abs(yn - y) <= tol * abs(y) or b - a <= tol * abs(y):
            return yn
        y = yn
    return y


@njit(cache=True)
def critical_points(sig, d, cuts, P, jmax, tol):
    """Real critical points of ``X``: the spectral edges of the deterministic equivalent.

    Returns ``(y_bot, y_top, gaps)``: the critical points below ``sigma_v`` and
    above ``sigma_1``, and an ``(n, 3)`` array of gaps ``(j, y_l, y_r)``: in the
    interval ``(sigma_{j+1}, sigma_j)`` (``j`` one-based) ``X`` increases on
    ``(y_l, y_r)``, so that ``(X(y_l), X(y_r))`` is a gap of the spectrum.
    Intervals ``j <= jmax`` are searched (beyond, none has a gap: the caller
    bounds it).
    """
    v = sig.size
    tot = 0.0
    for j in range(v):
        tot += sig[j] * sig[j]
    w = math.sqrt(tot / d) * 1.01
    y_top = _root_g(sig[0], sig[0] + w, d, sig, cuts, P, False, tol)
    y_bot = _root_g(sig[v - 1] - w, sig[v - 1], d, sig, cuts, P, True, tol)
    out = np.empty((min(jmax, v - 1), 3))
    n = 0
    for j in range(min(jmax, v - 1)):
        hi = sig[j]
        lo = sig[j + 1]
        ym = _argmin_g(lo, hi, sig, cuts, P, tol)
        gm, _g1, _g2 = g_real(ym, sig, cuts, P)
        if gm < d:
            out[n, 0] = j + 1
            out[n, 1] = _root_g(lo, ym, d, sig, cuts, P, False, tol)
            out[n, 2] = _root_g(ym, hi, d, sig, cuts, P, True, tol)
            n += 1
    return y_bot, y_top, out[:n]


@njit(cache=True)
def solve_y(x, y0, sig, d, cuts, P, tol, maxit):
    """Newton for ``X(y) = x`` (real ``x``) from ``y0``; the root with ``Im y > 0``.

    Returns ``(y, iterations, |X(y) - x| / |x|)``; a root in the lower
    half-plane is reflected (for real ``x`` roots come in conjugate pairs).
    """
    y = y0
    res = np.inf
    for it in range(maxit):
        f, fp = x_complex(y, sig, d, cuts, P)
        res = abs(f - x) / abs(x)
        if res <= tol:
            if y.imag < 0.0:
                y = y.conjugate()
            return y, it, res
        step = (f - x) / fp
        # damp steps that would move y by more than its distance to the real axis scale
        lim = 0.5 * abs(y)
        if abs(step) > lim:
            step = step * (lim / abs(step))
        y = y - step
        if y.imag < 0.0:
            y = y.conjugate()
    f, fp = x_complex(y, sig, d, cuts, P)
    res = abs(f - x) / abs(x)
    return y, maxit, res


@njit(cache=True)
def band_values(y, x, sig, d, beta2, cuts, Q):
    """Densities at a point of a band: counting density (eigenvalues per unit ``x``,
    total ``d``) and forcing density, from ``y`` (``Im y > 0``).

    ``f_K = d Im y / (pi |y|^2)``; ``f_F = Im y / (pi x) sum sigma^2 b^2 / |sigma - y|^2``
    with ``beta2[j] = b_j^2``.
    """
    m = _cut(abs(y), sig, cuts)
    J = cuts[m]
    acc = 0.0
    for j in range(min(J, sig.size)):
        s = sig[j]
        dr = s - y.real
        di = y.imag
        acc += s * s * beta2[j] / (dr * dr + di * di)
    if J < sig.size:
        # 1/|s - y|^2 = |w|^2 sum_n (s/sig_J)^n c_n,  w = sig_J / y,  c_n = sum_{k+l=n} w^k conj(w)^l
        w = sig[J] / y
        wc = w.conjugate()
        c = 1.0 + 0.0j
        wcn = 1.0 + 0.0j
        tail = 0.0
        for n in range(2 * NSER + 1):
            tail += Q[m, n] * c.real
            wcn *= wc
            c = w * c + wcn
        acc += tail / (abs(y) ** 2)
    fk = d * y.imag / (math.pi * (y.real * y.real + y.imag * y.imag))
    ff = y.imag / (math.pi * x) * acc
    return fk, ff


@njit(cache=True)
def solve_nodes(xs, y0, a, b, ya, yb, fa2, fb2, sig, d, b2, cuts, P, Q, tol):
    """``y(x)`` and the two densities at the points ``xs`` of a band ``[a, b]``.

    Each point starts Newton from the previous point's root (``y0`` for the
    first), then from the two edge expansions ``y_e + i sqrt(2 |x - e| / |X''(y_e)|)``;
    a root counts when its residual is below ``tol`` and ``Im y > 1e-12 |y|``
    (real roots of ``X(y) = x`` inside the support are spurious).
    Returns ``(ys, fk, ff, n_bad)``: ``n_bad`` points failed (their values unset).
    """
    n = xs.size
    ys = np.empty(n, dtype=np.complex128)
    fk = np.empty(n)
    ff = np.empty(n)
    prev = y0
    bad = 0
    for i in range(n):
        x = xs[i]
        ga = ya + 1j * math.sqrt(2.0 * abs(x - a) / abs(fa2))
        gb = yb + 1j * math.sqrt(2.0 * abs(b - x) / abs(fb2))
        if abs(x - a) > abs(b - x):
            ga, gb = gb, ga
        found = False
        for g in (prev, ga, gb):
            y, _it, res = solve_y(x, g, sig, d, cuts, P, tol, 60)
            if res <= tol and y.imag > 1e-12 * abs(y):
                found = True
                break
        if not found:
            bad += 1
            fk[i] = np.nan
            ff[i] = np.nan
            ys[i] = np.nan
            continue
        ys[i] = y
        prev = y
        fk[i], ff[i] = band_values(y, x, sig, d, b2, cuts, Q)
    return ys, fk, ff, bad


@njit(cache=True)
def count_below(y, x, sig, d, cuts, P):
    """Fraction of the eigenvalues of ``K`` below ``x`` (deterministic equivalent), from ``y(x)``.

    ``F(x) = 1 - (1/pi) [arg y - x Im y / |y|^2 + (1/d) sum_j arg(1 - sigma_j / y)]``,
    the imaginary part of the deterministic equivalent of ``(1/d) log det (K - x - i0)``
    (``G = (1/d) sum_j log(m sigma_j - z) - log m + m + (1 - v/d) log(-z) - 1``, whose
    ``z``-derivative is ``m/z = -(1/d) tr (K - z)^(-1)`` and whose ``m``-derivative
    vanishes on the fixed point); each ``arg`` lies in ``[0, pi]``.
    """
    m = _cut(abs(y), sig, cuts)
    J = cuts[m]
    acc = 0.0
    for j in range(min(J, sig.size)):
        w = 1.0 - sig[j] / y
        acc += math.atan2(w.imag, w.real)
    if J < sig.size:
        u = sig[J] / y
        uk = u
        tail = 0.0 + 0.0j
        for k in range(1, NSER + 1):
            tail -= P[m, k] * uk / k
            uk *= u
        acc += tail.imag
    ay = math.atan2(y.imag, y.real)
    return 1.0 - (ay - x * y.imag / (abs(y) ** 2) + acc / d) / math.pi


@njit(cache=True)
def compress(xs, ck, cf, q):
    """``q``-node Gauss rule of the discrete measure ``(xs, ck)`` (Stieltjes procedure and the
    Jacobi matrix, Golub & Welsch 1969), with weights of ``cf`` at its nodes matching the
    moments ``0..q-1`` of ``(xs, cf)``.  Returns ``(nodes, count weights, cf weights)``."""
    n = xs.size
    q = min(q, n)
    c = 0.0
    m0 = 0.0
    lo = xs[0]
    hi = xs[0]
    for i in range(n):
        c += xs[i]
        m0 += ck[i]
        lo = min(lo, xs[i])
        hi = max(hi, xs[i])
    c /= n
    s = 0.5 * (hi - lo)
    if s == 0.0:
        s = 1.0
    u = (xs - c) / s
    p_prev = np.zeros(n)
    p = np.ones(n)
    J = np.zeros((q, q))
    nrm_prev = 1.0
    for k in range(q):
        nrm = 0.0
        num = 0.0
        for i in range(n):
            w = ck[i] * p[i] * p[i]
            nrm += w
            num += w * u[i]
        ak = num / nrm
        J[k, k] = ak
        bk = nrm / nrm_prev if k > 0 else 0.0
        if k > 0:
            J[k, k - 1] = math.sqrt(bk)
            J[k - 1, k] = math.sqrt(bk)
        p_next = (u - ak) * p - bk * p_prev
        p_prev = p
        p = p_next
        nrm_prev = nrm
    nodes, vecs = np.linalg.eigh(J)
    wk = m0 * vecs[0] ** 2
    V = np.empty((q, q))
    mf = np.zeros(q)
    for k in range(q):
        for j in range(q):
            V[k, j] = nodes[j] ** k
        acc = 0.0
        for i in range(n):
            acc += cf[i] * u[i] ** k
        mf[k] = acc
    wf = np.linalg.solve(V, mf)
    return c + s * nodes, wk, wf


@register_warmup("odes._plrf_kernels")
def _warm():
    sig = np.arange(1, 41, dtype=np.float64) ** -2.0
    cuts, P, Q = tail_tables(sig, sig)
    yb, yt, gaps = critical_points(sig, 10.0, cuts, P, 10, 1e-12)
    y, _it, _r = solve_y(0.5, 0.5 + 0.1j, sig, 10.0, cuts, P, 1e-12, 50)
    band_values(y, 0.5, sig, 10.0, sig.copy(), cuts, Q)
    count_below(y, 0.5, sig, 10.0, cuts, P)
    solve_nodes(np.array([0.4, 0.5]), 0.5 + 0.1j, 0.3, 0.6, 0.3, 0.6, -1.0, 1.0, sig, 10.0, sig.copy(), cuts, P, Q,
                1e-12)
    x_real(0.5, sig, 10.0, cuts, P)
    compress(np.array([0.1, 0.2, 0.3]), np.ones(3), np.ones(3), 2)
