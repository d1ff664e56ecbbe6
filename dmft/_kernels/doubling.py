"""Numba kernels of ``method="doubling"`` (:mod:`dmft.doubling`): the time-doubling
(Kim–Latz type) integrator of the spherical mixed p-spin.

Design and numbered equations (D1)-(D13): :mod:`dmft.doubling`.  Window arrays
(``n = N + 1`` points, ``t_i = i h``)::

    C[i, j]   C(t_i, t_j), full symmetric
    X[i, j]   chi(t_i, t_j) = int_{t_j}^{t_i} R(t_i, s) ds for j <= i, mirrored
              into the upper triangle (X[j, i] = X[i, j])
    AC[j, l]  (1/h) int_{s_{l-1}}^{s_l} C(t_j, s) ds      (l >= 1, any l: C symmetric)
    AX[j, l]  the same for s -> X[j, s] (chi(t_j, s) for s < t_j, chi(s, t_j) beyond)
    H1, H2, H3[i, l]  (1/h) int over interval l of f_k(C(t_i, s)) ds, l <= i,
              f1 = xi', f2 = xi'', f3 = (C xi')' = C xi'' + xi'

The last ``nc >= 2`` points of each new row (and their interval averages) are
copied from the previous row (time-translation invariance next to the
diagonal); the others are solved implicitly (BDF2, Gauss–Seidel sweeps in
decreasing t', accelerated by Anderson mixing).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

import lmech

from .common import xi_derivs
from .uniform import MODEL_PSPIN, integrate_uniform

DB_MEM = 8  # Anderson memory


@njit(cache=True)
def _db_avg_first(a, b, c):
    """(1/h) int over [x_0, x_1] of the parabola through (x_0, a), (x_1, b), (x_2, c)."""
    return (5.0 * a + 8.0 * b - c) / 12.0


@njit(cache=True)
def _db_avg_last(a, b, c):
    """(1/h) int over [x_1, x_2] of the parabola through (x_0, a), (x_1, b), (x_2, c)."""
    return (-a + 8.0 * b + 5.0 * c) / 12.0


@njit(cache=True)
def _db_row_hav(coef, i, lmin, lmax, C, X, AC, AX, H1, H2, H3):
    """Interval averages along row ``i`` for intervals lmin..lmax (eq. D4)."""
    for l in range(max(lmin, 1), lmax + 1):
        if l + 1 <= i:
            a, b, c = l - 1, l, l + 1
            first = True
        elif l >= 2:
            a, b, c = l - 2, l - 1, l
            first = False
        else:  # i = l = 1: linear
            a0, a1, a2 = xi_derivs(coef, C[i, 0])
            b0, b1, b2 = xi_derivs(coef, C[i, 1])
            H1[i, 1] = 0.5 * (a1 + b1)
            H2[i, 1] = 0.5 * (a2 + b2)
            H3[i, 1] = 0.5 * (C[i, 0] * a2 + a1 + C[i, 1] * b2 + b1)
            AC[i, 1] = 0.5 * (C[i, 0] + C[i, 1])
            AX[i, 1] = 0.5 * (X[i, 0] + X[i, 1])
            continue
        ca = C[i, a]
        cb = C[i, b]
        cc = C[i, c]
        a0, a1, a2 = xi_derivs(coef, ca)
        b0, b1, b2 = xi_derivs(coef, cb)
        c0, c1, c2 = xi_derivs(coef, cc)
        if first:
            H1[i, l] = _db_avg_first(a1, b1, c1)
            H2[i, l] = _db_avg_first(a2, b2, c2)
            H3[i, l] = _db_avg_first(ca * a2 + a1, cb * b2 + b1, cc * c2 + c1)
            AC[i, l] = _db_avg_first(ca, cb, cc)
            AX[i, l] = _db_avg_first(X[i, a], X[i, b], X[i, c])
        else:
            H1[i, l] = _db_avg_last(a1, b1, c1)
            H2[i, l] = _db_avg_last(a2, b2, c2)
            H3[i, l] = _db_avg_last(ca * a2 + a1, cb * b2 + b1, cc * c2 + c1)
            AC[i, l] = _db_avg_last(ca, cb, cc)
            AX[i, l] = _db_avg_last(X[i, a], X[i, b], X[i, c])


@njit(cache=True)
def _db_dphi(T, fdt, i, l, C, X):
    """Increment over interval l of Phi(t_i, s) = C + T chi (T > 0) or of chi (T = 0)."""
    if fdt:
        return (C[i, l] - C[i, l - 1]) + T * (X[i, l] - X[i, l - 1])
    return X[i, l] - X[i, l - 1]


@njit(cache=True)
def _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3):
    """mu(t_i) and e(t_i) from row i (eqs. D6, D7; D9 for the plain form)."""
    if fdt:
        sm = 0.0
        se = 0.0
        for l in range(1, i + 1):
            d = _db_dphi(T, fdt, i, l, C, X)
            sm += H3[i, l] * d
            se += H1[i, l] * d
        x1_0, x1_1, x1_2 = xi_derivs(coef, 1.0)
        x0_0, x0_1, x0_2 = xi_derivs(coef, C[i, 0])
        return T + (x1_1 - C[i, 0] * x0_1 - sm) / T, -(x1_0 - x0_0 - se) / T
    # plain form (eq. D9; always at T = 0): by parts against the averages of chi(t_i, .)
    p0, p1, p2 = xi_derivs(coef, C[i, 0])
    f3p = C[i, 0] * p2 + p1
    f1p = p1
    sm = f3p * X[i, 0]
    se = -f1p * X[i, 0]
    for l in range(1, i + 1):
        q0, q1, q2 = xi_derivs(coef, C[i, l])
        f3 = C[i, l] * q2 + q1
        sm += AX[i, l] * (f3 - f3p)
        se -= AX[i, l] * (q1 - f1p)
        f3p = f3
        f1p = q1
    return T + sm, se


@njit(cache=True)
def _db_rhs(T, fdt, i, j, C, X, AC, AX, F1, dF1, u, v):
    """Memory terms of d_t C(t_i, t_j) and d_t chi(t_i, t_j) without the -mu terms (eqs. D8, D9)."""
    Cj = C[j]
    Xj = X[j]
    ACj = AC[j]
    AXj = AX[j]
    sC = 0.0
    sB = 0.0
    sX = 0.0
    if fdt:
        # int g d_s F, F = f1(C(t_i, .)), g = C(., t_j) or chi(., t_j) (eq. D5): the fast
        # factor is averaged, the slow one differenced.  g is fast next to t_j, F next to
        # t_i: up to the midpoint L the interval average of g times the increment of F,
        # beyond it (by parts) the average of F (u = H1) times the increment of g.
        L = (i + j) // 2
        sA = 0.0
        sXA = 0.0
        for l in range(1, j + 1):
            dc = Cj[l] - Cj[l - 1]
            if l <= L:
                sA += ACj[l] * dF1[l]
                sC += v[l] * ACj[l]
            else:
                sC += u[l] * dc + v[l] * ACj[l]
            sB += ACj[l] * dF1[l] + u[l] * (dc + T * (Xj[l] - Xj[l - 1]))
        for l in range(j + 1, i + 1):
            if l <= L:
                sA += ACj[l] * dF1[l]
                sXA += AXj[l] * dF1[l]
                sC += v[l] * ACj[l]
                sX += v[l] * AXj[l]
            else:
                sC += u[l] * (Cj[l] - Cj[l - 1]) + v[l] * ACj[l]
                sX += u[l] * (Xj[l] - Xj[l - 1]) + v[l] * AXj[l]
        rc = (C[i, j] * F1[i] - Cj[L] * F1[L] + sA - sC + F1[j] - F1[0] * C[j, 0] - sB) / T
        rx = 1.0 + (X[i, j] * F1[i] - Xj[L] * F1[L] + sXA - sX) / T
        return rc, rx
    # plain form (eq. D9): u[l] = f2(C(t_i, s_l)) at the grid points, by parts against
    # the interval averages AX[i, l] of chi(t_i, .)
    # (the midpoint switch of the split form is not used here: with it the plain form
    # turns unstable at T = 0 once h > 1)
    AXi = AX[i]
    for l in range(1, j + 1):
        sC += AXi[l] * (u[l] * Cj[l] - u[l - 1] * Cj[l - 1])
        sB += AXj[l] * dF1[l]
    for l in range(j + 1, i + 1):
        sC += AXi[l] * (u[l] * Cj[l] - u[l - 1] * Cj[l - 1])
        sX += AXi[l] * (u[l] * Xj[l] - u[l - 1] * Xj[l - 1])
    sC += u[0] * Cj[0] * X[i, 0]
    return sC + F1[0] * X[j, 0] + sB, 1.0 + sX


@njit(cache=True)
def _db_refresh(coef, T, fdt, i, lmin, lmax, C, X, AC, AX, H1, H2, H3, F1, dF1, u, v):
    """Recompute F1, dF1, u, v of row i on intervals lmin..lmax (and points lmin-1..lmax)."""
    for l in range(max(lmin - 1, 0), lmax + 1):
        f0, f1, f2 = xi_derivs(coef, C[i, l])
        F1[l] = f1
        if not fdt:
            u[l] = f2
    if not fdt:
        for l in range(max(lmin, 1), lmax + 1):
            dF1[l] = F1[l] - F1[l - 1]
        return
    for l in range(max(lmin, 1), lmax + 1):
        dF1[l] = F1[l] - F1[l - 1]
        u[l] = H1[i, l]
        v[l] = H2[i, l] * _db_dphi(T, fdt, i, l, C, X)


@njit(cache=True)
def _db_gauss_solve(A, b, n):
    """Solve ``A[:n, :n] y = b[:n]`` in place (``b <- y``; ``A`` is overwritten).

    Gaussian elimination with partial pivoting (Golub & Van Loan, Matrix
    Computations, 4th ed., Algorithm 3.4.1) for the tiny (``n <= DB_MEM``)
    Anderson normal equations; a singular pivot gives non-finite entries,
    which the caller treats as a failed fit.  Written out instead of
    ``np.linalg.solve`` to keep the kernel's compile time small.
    """
    for k in range(n):
        p = k
        big = abs(A[k, k])
        for r in range(k + 1, n):
            if abs(A[r, k]) > big:
                big = abs(A[r, k])
                p = r
        if p != k:
            for c in range(n):
                t = A[k, c]
                A[k, c] = A[p, c]
                A[p, c] = t
            t = b[k]
            b[k] = b[p]
            b[p] = t
        piv = A[k, k]
        for r in range(k + 1, n):
            f = A[r, k] / piv
            for c in range(k + 1, n):
                A[r, c] -= f * A[k, c]
            b[r] -= f * b[k]
    for k in range(n - 1, -1, -1):
        s = b[k]
        for c in range(k + 1, n):
            s -= A[k, c] * b[c]
        b[k] = s / A[k, k]


@njit(cache=True)
def _db_anderson(x, g, fprev, gprev, dFh, dGh, nh, it, Mm, Gm, gam):
    """One Anderson-mixing update of ``x`` from ``g = G(x)`` (eq. D13); returns the history size.

    Walker & Ni, SIAM J. Numer. Anal. 49, 1715 (2011), "type II" with memory
    ``DB_MEM``: ``x <- g - sum_k gamma_k dG_k`` with ``gamma`` the least-squares
    fit of the residual ``f = g - x`` by the residual differences ``dF_k``
    (normal equations, Tikhonov-regularised); the history is dropped when the
    fit is not finite.
    """
    L = x.shape[0]
    mem = dFh.shape[0]
    if it > 1:
        slot = (it - 2) % mem
        for q in range(L):
            dFh[slot, q] = (g[q] - x[q]) - fprev[q]
            dGh[slot, q] = g[q] - gprev[q]
        nh = min(nh + 1, mem)
    for q in range(L):
        fprev[q] = g[q] - x[q]
        gprev[q] = g[q]
    if nh == 0:
        for q in range(L):
            x[q] = g[q]
        return nh
    tr = 0.0
    for a in range(nh):
        s = 0.0
        for q in range(L):
            s += dFh[a, q] * fprev[q]
        Gm[a] = s
        for b in range(a, nh):
            s = 0.0
            for q in range(L):
                s += dFh[a, q] * dFh[b, q]
            Mm[a, b] = s
            Mm[b, a] = s
        tr += Mm[a, a]
    if not math.isfinite(tr):
        for q in range(L):
            x[q] = g[q]
        return 0
    A = np.empty((nh, nh))
    for a in range(nh):
        for b in range(nh):
            A[a, b] = Mm[a, b]
        A[a, a] += 1e-12 * tr + 1e-300
        gam[a] = Gm[a]
    _db_gauss_solve(A, gam, nh)
    ok = True
    for a in range(nh):
        if not math.isfinite(gam[a]):
            ok = False
    if not ok:
        for q in range(L):
            x[q] = g[q]
        return 0
    for q in range(L):
        s = g[q]
        for a in range(nh):
            s -= gam[a] * dGh[a, q]
        x[q] = s
    return nh


@njit(cache=True)
def doubling_init(coef, T, fdt, h, n0, Cu, Ru, C, X, AC, AX, H1, H2, H3, mu_out, e_out):
    """Fill rows 0..n0-1 of the window from a uniform-grid solution (eq. D10).

    ``Cu`` (full symmetric) and ``Ru`` (lower triangle) are the uniform
    predictor–corrector's C and R on the same grid; chi is their trapezoid
    integral along each row, the interval averages follow eq. (D4).  Writes
    mu(t_i), e(t_i) of these rows (eqs. D6, D7).
    """
    for i in range(n0):
        for j in range(i + 1):
            C[i, j] = Cu[i, j]
            C[j, i] = Cu[i, j]
        X[i, i] = 0.0
        for j in range(i - 1, -1, -1):
            X[i, j] = X[i, j + 1] + 0.5 * h * (Ru[i, j] + Ru[i, j + 1])
            X[j, i] = X[i, j]
    one = np.int64(1)  # (a literal 1 would make Numba compile a second, Literal[int] copy)
    for i in range(n0):
        _db_row_hav(coef, i, one, i, C, X, AC, AX, H1, H2, H3)
    # averages over interval l > j of column j (s -> C(s, t_j), s > t_j)
    for j in range(n0):
        for l in range(j + 1, n0):
            if l + 1 <= n0 - 1:
                AC[j, l] = _db_avg_first(C[l - 1, j], C[l, j], C[l + 1, j])
                AX[j, l] = _db_avg_first(X[l - 1, j], X[l, j], X[l + 1, j])
            elif l - 2 >= j:
                AC[j, l] = _db_avg_last(C[l - 2, j], C[l - 1, j], C[l, j])
                AX[j, l] = _db_avg_last(X[l - 2, j], X[l - 1, j], X[l, j])
            else:
                AC[j, l] = 0.5 * (C[l - 1, j] + C[l, j])
                AX[j, l] = 0.5 * (X[l - 1, j] + X[l, j])
    for i in range(n0):
        mu, e = _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3)
        mu_out[i] = mu
        e_out[i] = e


@njit(cache=True)
def _db_sweep(coef, T, fdt, h, i, jmax, nc, x, g, C, X, AC, AX, H1, H2, H3, F1, dF1, u, v):
    """One Gauss–Seidel sweep of the BDF2 equations of row i from the row ``x``; writes ``g``.

    Returns (mu, largest |g - x|).  Columns are visited in decreasing t_j
    (from the diagonal outwards, as Kim & Latz do): at p = 3, T = 0.5 this
    needs 13 sweeps per row on average to t = 1e4 against 21 in increasing
    order (N = 256, tol = 1e-9).  ``mu`` is refreshed once per sweep.
    """
    m = jmax + 1
    one = np.int64(1)  # (a literal 1 would make Numba compile a second, Literal[int] copy)
    for j in range(m):
        C[i, j] = x[j]
        C[j, i] = x[j]
        X[i, j] = x[m + j]
        X[j, i] = x[m + j]
    _db_row_hav(coef, i, one, i - nc, C, X, AC, AX, H1, H2, H3)
    for j in range(m):
        AC[j, i] = _db_avg_last(C[i - 2, j], C[i - 1, j], C[i, j])
        AX[j, i] = _db_avg_last(X[i - 2, j], X[i - 1, j], X[i, j])
    _db_refresh(coef, T, fdt, i, one, i, C, X, AC, AX, H1, H2, H3, F1, dF1, u, v)
    mu, e = _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3)
    change = 0.0
    for jj in range(m):
        j = m - 1 - jj
        rc, rx = _db_rhs(T, fdt, i, j, C, X, AC, AX, F1, dF1, u, v)
        if fdt:
            a = -mu + (F1[i] - u[i] - 5.0 / 12.0 * v[i]) / T
        else:
            a = -mu + AX[i, i] * u[i]
        rc -= mu * C[i, j] + a * C[i, j]
        rx -= mu * X[i, j] + a * X[i, j]
        den = 3.0 - 2.0 * h * a
        cn = (4.0 * C[i - 1, j] - C[i - 2, j] + 2.0 * h * rc) / den
        xn = (4.0 * X[i - 1, j] - X[i - 2, j] + 2.0 * h * rx) / den
        g[j] = cn
        g[m + j] = xn
        dmax = max(abs(cn - x[j]), abs(xn - x[m + j]))
        if not math.isfinite(dmax):
            change = np.inf  # (max() would drop a NaN)
        else:
            change = max(change, dmax)
        # Gauss–Seidel: write the new values and refresh what depends on them
        C[i, j] = cn
        C[j, i] = cn
        X[i, j] = xn
        X[j, i] = xn
        AC[j, i] = _db_avg_last(C[i - 2, j], C[i - 1, j], C[i, j])
        AX[j, i] = _db_avg_last(X[i - 2, j], X[i - 1, j], X[i, j])
        lo = max(j - 1, one)
        hi = min(j + 1, i - nc)
        _db_row_hav(coef, i, lo, hi, C, X, AC, AX, H1, H2, H3)
        _db_refresh(coef, T, fdt, i, lo, min(j + 1, i), C, X, AC, AX, H1, H2, H3, F1, dF1,
                    u, v)
    return mu, change


@njit(cache=True)
def doubling_rows(coef, T, fdt, h, i0, i1, nc, C, X, AC, AX, H1, H2, H3, tol, max_iter, mu_out,
                  e_out, iters, change_out):
    """Compute rows i0..i1 of the window (eqs. D1-D11, D13); returns the last valid row + 1.

    Each new row copies its last ``nc`` (>= 2) sub-diagonal points and interval
    averages from the previous row (eq. D11a) and solves the others by the
    implicit BDF2 step (eq. D11b): Gauss–Seidel sweeps over the row,
    accelerated by Anderson mixing, until the largest change of C and chi in
    a sweep falls below ``tol`` (at most ``max_iter`` sweeps).  ``iters[k]``
    holds the sweeps of row ``i0 + k`` (``max_iter + 1`` if not converged)
    and ``change_out[k]`` its last change.
    """
    n = C.shape[0]
    one = np.int64(1)  # (a literal 1 would make Numba compile a second, Literal[int] copy)
    F1 = np.zeros(n)
    dF1 = np.zeros(n)
    u = np.zeros(n)
    v = np.zeros(n)
    x = np.zeros(2 * n)
    g = np.zeros(2 * n)
    fprev = np.zeros(2 * n)
    gprev = np.zeros(2 * n)
    dFh = np.zeros((DB_MEM, 2 * n))
    dGh = np.zeros((DB_MEM, 2 * n))
    Mm = np.zeros((DB_MEM, DB_MEM))
    Gm = np.zeros(DB_MEM)
    gam = np.zeros(DB_MEM)
    for i in range(i0, i1 + 1):
        k = i - i0
        jmax = i - nc - 1
        m = jmax + 1
        # (D11a) time-translation copies next to the diagonal
        C[i, i] = 1.0
        X[i, i] = 0.0
        for j in range(i - nc, i):
            C[i, j] = C[i - 1, j - 1]
            C[j, i] = C[i, j]
            X[i, j] = X[i - 1, j - 1]
            X[j, i] = X[i, j]
            AC[j, i] = AC[j - 1, i - 1]
            AX[j, i] = AX[j - 1, i - 1]
        for l in range(i - nc + 1, i + 1):
            H1[i, l] = H1[i - 1, l - 1]
            H2[i, l] = H2[i - 1, l - 1]
            H3[i, l] = H3[i - 1, l - 1]
            AC[i, l] = AC[i - 1, l - 1]
            AX[i, l] = AX[i - 1, l - 1]
        # predictor: linear extrapolation along the columns
        for j in range(m):
            x[j] = 2.0 * C[i - 1, j] - C[i - 2, j]
            x[m + j] = 2.0 * X[i - 1, j] - X[i - 2, j]
        xv = x[:2 * m]
        gv = g[:2 * m]
        nh = np.int64(0)
        it = np.int64(0)
        change = np.inf
        mu = np.nan
        while True:
            it += 1
            mu, change = _db_sweep(coef, T, fdt, h, i, jmax, nc, xv, gv, C, X, AC, AX, H1, H2,
                                   H3, F1, dF1, u, v)
            if not math.isfinite(change):
                iters[k] = it
                change_out[k] = change
                mu_out[k] = np.nan
                e_out[k] = np.nan
                return i
            if change <= tol or it >= max_iter:
                break
            nh = _db_anderson(xv, gv, fprev[:2 * m], gprev[:2 * m], dFh[:, :2 * m],
                              dGh[:, :2 * m], nh, it, Mm, Gm, gam)
        # the row now holds g (the last sweep's output): final averages and one-time values
        _db_row_hav(coef, i, one, i - nc, C, X, AC, AX, H1, H2, H3)
        for j in range(m):
            AC[j, i] = _db_avg_last(C[i - 2, j], C[i - 1, j], C[i, j])
            AX[j, i] = _db_avg_last(X[i - 2, j], X[i - 1, j], X[i, j])
        mu, e = _db_mu_e(coef, T, fdt, i, C, X, AX, H1, H3)
        iters[k] = it if change <= tol else max_iter + 1
        change_out[k] = change
        mu_out[k] = mu
        e_out[k] = e
        if not (math.isfinite(mu) and math.isfinite(e)):
            return i
        # |C(t,t')| <= 1 (Cauchy-Schwarz on the sphere): a violation flags an unstable scheme
        for j in range(i):
            if abs(C[i, j]) > 1.0 + 1e-6:
                iters[k] = -1
                return i
    return i1 + 1


@njit(cache=True)
def doubling_decimate(N, C, X, AC, AX, H1, H2, H3):
    """Halve the window (eq. D12): keep the even points, average pairs of intervals; h -> 2h."""
    M = N // 2
    for a in range(M + 1):
        for b in range(M + 1):
            C[a, b] = C[2 * a, 2 * b]
            X[a, b] = X[2 * a, 2 * b]
    for A in (AC, AX):
        tmp = A.copy()
        for j in range(M + 1):
            for l in range(1, M + 1):
                A[j, l] = 0.5 * (tmp[2 * j, 2 * l - 1] + tmp[2 * j, 2 * l])
    for Hk in (H1, H2, H3):
        tmp = Hk.copy()
        for a in range(M + 1):
            for b in range(1, a + 1):
                Hk[a, b] = 0.5 * (tmp[2 * a, 2 * b - 1] + tmp[2 * a, 2 * b])


@lmech.register_warmup("dmft._kernels.doubling")
def warmup():
    """Compile the time-doubling kernels (p-spin at T > 0 and T = 0) on tiny inputs."""
    coef = np.array([0.0, 0.0, 0.0, 0.5])
    z = np.zeros(1)
    w = np.ones(1)
    N = 16
    nw = N + 1
    n0 = N // 2 + 1
    for T in (0.5, 0.0):
        Cu = np.zeros((n0, n0))
        Ru = np.zeros((n0, n0))
        integrate_uniform(MODEL_PSPIN, np.array([T]), coef, 1.0, np.zeros(0), 0.05, n0, 1e-12,
                          1e-3, 5, z, w, Cu, Ru, np.zeros((1, 1)), np.zeros((1, 1)),
                          np.zeros((0, n0)), np.zeros(n0), np.zeros(n0, dtype=np.int64), 0)
        arrs = [np.zeros((nw, nw)) for _ in range(7)]
        doubling_init(coef, T, T > 0.0, 0.05, n0, Cu, Ru, arrs[0], arrs[1], arrs[2], arrs[3],
                      arrs[4], arrs[5], arrs[6], np.zeros(n0), np.zeros(n0))
        nr = N - n0 + 1
        doubling_rows(coef, T, T > 0.0, 0.05, n0, N, 2, arrs[0], arrs[1], arrs[2], arrs[3],
                      arrs[4], arrs[5], arrs[6], 1e-9, 20, np.zeros(nr), np.zeros(nr),
                      np.zeros(nr, dtype=np.int64), np.zeros(nr))
        doubling_decimate(N, arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], arrs[6])
