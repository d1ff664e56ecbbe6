"""Kernels of :mod:`dmft.scaling`: the renormalised ridge ``rho(zeta)`` along a contour.

Pure functions of arrays and scalars (``@njit(cache=True)``, no fastmath).  The
equation solved at every contour node ``zeta`` (complex) is::

    F(rho) = rho (1 - D(rho)/N) (1 - D(rho)/P) - zeta = 0,
    D(rho) = sum_k lam_k / (lam_k + rho)

(``invN = 1/N``, ``invP = 1/P``; 0 for an infinite size).  The branch is the
one analytic off the spectrum with ``rho > 0`` for real ``zeta > 0``: it is
found on the real axis by bisection and continued node to node along the
contour by Newton's method with a tangent predictor, halving the step where
Newton does not converge.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

import lmech


@njit(cache=True)
def sums(rho, lam, pw):
    """``D, D', U, U'`` at complex ``rho``: ``D = sum lam/(lam+rho)``, ``U = sum pw rho/(lam+rho)``.

    In real arithmetic (one real division per mode, no complex division).
    """
    pr = rho.real
    pi = rho.imag
    Dr = 0.0
    Di = 0.0
    dDr = 0.0
    dDi = 0.0
    Ur = 0.0
    Ui = 0.0
    dUr = 0.0
    dUi = 0.0
    for k in range(lam.size):
        wr = lam[k] + pr
        d = 1.0 / (wr * wr + pi * pi)
        rr = wr * d          # r = 1/(lam + rho)
        ri = -pi * d
        xr = lam[k] * rr     # x = lam r
        xi = lam[k] * ri
        Dr += xr
        Di += xi
        x2r = xr * rr - xi * ri  # x r = lam r^2
        x2i = xr * ri + xi * rr
        dDr -= x2r
        dDi -= x2i
        # rho r = 1 - lam r = 1 - x
        Ur += pw[k] * (1.0 - xr)
        Ui -= pw[k] * xi
        dUr += pw[k] * x2r
        dUi += pw[k] * x2i
    return complex(Dr, Di), complex(dDr, dDi), complex(Ur, Ui), complex(dUr, dUi)


@njit(cache=True)
def _newton(zeta, rho, lam, pw, invN, invP, max_it):
    """Newton on F(rho) = zeta from ``rho``; returns (rho, ok)."""
    prev = math.inf
    for _ in range(max_it):
        D, dD, U, dU = sums(rho, lam, pw)
        a = 1.0 - D * invN
        b = 1.0 - D * invP
        F = rho * a * b - zeta
        dF = a * b - rho * dD * (b * invN + a * invP)
        if dF == 0.0:
            return rho, False
        step = F / dF
        rho_new = rho - step
        if not (math.isfinite(rho_new.real) and math.isfinite(rho_new.imag)):
            return rho, False
        # a Newton step longer than the root's own size is not trusted: the predictor was off
        if abs(step) > 0.5 * abs(rho) + 1e-300:
            return rho, False
        rho = rho_new
        # converged: at rounding level, or a step that stopped shrinking quadratically
        # (rounding noise) once below 1e-12 relative
        if abs(step) <= 4e-16 * abs(rho) or (abs(step) <= 1e-12 * abs(rho) and abs(step) > 0.1 * prev):
            return rho, True
        if abs(step) <= 1e-9 * abs(rho) and prev <= 1e-5 * abs(rho):
            # quadratic convergence: the next step is below (1e-9)^2 relative
            return rho, True
        prev = abs(step)
    return rho, False


@njit(cache=True)
def edge_root(lam, invN, invP):
    """``rho_0``: ``D(rho_0) = min(N, P)`` where that has a root (``M > min(N, P)``), else 0."""
    inv = max(invN, invP)
    if not (inv > 0.0 and lam.size * inv > 1.0):
        return 0.0
    # D decreases from M (rho -> 0) to 0; bisection for D(rho) = 1/inv in log rho
    a, b = -700.0, 700.0
    for _ in range(80):
        m = 0.5 * (a + b)
        D = 0.0
        for k in range(lam.size):
            D += lam[k] / (lam[k] + math.exp(m))
        if D * inv > 1.0:
            a = m
        else:
            b = m
        if b - a < 1e-14 * max(1.0, abs(a)):
            break
    return math.exp(b)


@njit(cache=True)
def _g(rho, lam, invN, invP):
    D = 0.0
    for k in range(lam.size):
        D += lam[k] / (lam[k] + rho)
    return rho * (1.0 - D * invN) * (1.0 - D * invP)


@njit(cache=True)
def _real_root(zeta, rho0, lam, pw, invN, invP):
    """The root ``rho > rho_0`` for real ``zeta > 0`` (bisection in log rho, then Newton).

    ``g(rho) = rho (1 - D/N)(1 - D/P)`` increases from 0 at ``rho_0`` to infinity.
    """
    if zeta <= 0.0:
        # the edge itself (the ridgeless t -> infinity limit)
        return complex(rho0, 0.0), True
    a = math.log(rho0) if rho0 > 0.0 else math.log(zeta) - 80.0
    while rho0 <= 0.0 and _g(math.exp(a), lam, invN, invP) > zeta:
        a -= 10.0
    b = max(math.log(zeta), a) + 1.0  # g(rho) <= rho
    while _g(math.exp(b), lam, invN, invP) <= zeta:
        b += 1.0
    for _ in range(100):
        m = 0.5 * (a + b)
        if _g(math.exp(m), lam, invN, invP) > zeta:
            b = m
        else:
            a = m
        if b - a < 1e-4:
            break
    rho = complex(math.exp(0.5 * (a + b)), 0.0)
    rho2, ok = _newton(complex(zeta, 0.0), rho, lam, pw, invN, invP, 50)
    if ok:
        return complex(rho2.real, 0.0), True
    for _ in range(200):  # Newton failed: finish the bisection
        m = 0.5 * (a + b)
        if _g(math.exp(m), lam, invN, invP) > zeta:
            b = m
        else:
            a = m
    return complex(math.exp(0.5 * (a + b)), 0.0), abs(b - a) < 1e-13


@njit(cache=True)
def _node(zeta, rho, lam, pw, invN, invP):
    """kappa, dkappa/dzeta, U, dU/dzeta, drho/dzeta at a converged root."""
    D, dD, U, dU = sums(rho, lam, pw)
    a = 1.0 - D * invN
    b = 1.0 - D * invP
    dF = a * b - rho * dD * (b * invN + a * invP)
    if dF == 0.0:  # a double root: the interpolation peak N = P, or N = M / P = M at rho = 0
        nan = complex(math.nan, math.nan)
        return rho * a, nan, U, nan, nan, a, b
    drho = 1.0 / dF
    kappa = rho * a
    dkappa = (a - rho * dD * invN) * drho
    return kappa, dkappa, U, dU * drho, drho, a, b


@njit(cache=True)
def continue_roots(zetas, rho0, lam, pw, invN, invP, out):
    """Solve F(rho) = zeta along a path of nodes ``zetas[0], zetas[1], ...``.

    ``zetas[0]`` must be real and positive (or 0: the edge ``rho0``, from
    :func:`edge_root`).  ``out`` (n, 7) complex receives,
    per node, ``kappa, dkappa/dzeta, U, dU/dzeta, rho, a = 1 - D/N, b = 1 - D/P``.  Returns the number of Newton
    solves (every sub-step counted), or ``-1 - j`` if node ``j`` failed.
    """
    n = zetas.size
    rho, ok = _real_root(zetas[0].real, rho0, lam, pw, invN, invP)
    if not ok:
        return -1
    kappa, dkappa, U, dU, drho, a, b = _node(zetas[0], rho, lam, pw, invN, invP)
    out[0, 0] = kappa
    out[0, 1] = dkappa
    out[0, 2] = U
    out[0, 3] = dU
    out[0, 4] = rho
    out[0, 5] = a
    out[0, 6] = b
    count = 1
    for j in range(1, n):
        z0 = zetas[j - 1]
        z1 = zetas[j]
        # march from z0 to z1 in 2^depth sub-steps, halving where Newton fails
        frac = 0.0
        step = 1.0
        r = rho
        dr = drho
        while frac < 1.0:
            if step < 1e-9:
                return -1 - j
            s = min(step, 1.0 - frac)
            za = z0 + (z1 - z0) * frac
            zb = z0 + (z1 - z0) * (frac + s)
            guess = r + (zb - za) * dr
            r_new, ok = _newton(zb, guess, lam, pw, invN, invP, 30)
            count += 1
            if ok:
                r = r_new
                frac += s
                _, _, _, _, dr, _, _ = _node(zb, r, lam, pw, invN, invP)
                step = min(1.0, 2.0 * step)
            else:
                step *= 0.5
        rho = r
        kappa, dkappa, U, dU, drho, a, b = _node(z1, rho, lam, pw, invN, invP)
        out[j, 0] = kappa
        out[j, 1] = dkappa
        out[j, 2] = U
        out[j, 3] = dU
        out[j, 4] = rho
        out[j, 5] = a
        out[j, 6] = b
    return count


@njit(cache=True)
def moments(rhoc, lam, pw, n):
    """Taylor moments at ``rhoc``: ``s_p = sum lam (-1)^p/(lam+rhoc)^(p+2)``, ``t_p`` with ``pw lam``."""
    s = np.zeros(n, dtype=np.complex128)
    t = np.zeros(n, dtype=np.complex128)
    for k in range(lam.size):
        r = 1.0 / (lam[k] + rhoc)
        x = lam[k] * r * r
        for p in range(n):
            s[p] += x
            t[p] += pw[k] * x
            x *= -r
    return s, t


@njit(cache=True)
def pair_matrix(z, zeta, kappa, dkappa, u, du, rho, a, b, invN, invP, rhoc, s, t, radius, Q):
    """``Q[j, l] = [kappa_j u_l - kappa_l u_j] / ((zeta_j - zeta_l) z_j z_l)`` (its limit on the diagonal).

    The divided difference loses ``|zeta| / |zeta_j - zeta_l|`` digits when two nodes
    crowd a point where ``kappa != 0`` (late times: ``z ~ 1/t`` while ``zeta -> ridge`` or
    ``kappa -> kappa_0 > 0``).  For nodes with ``|rho - rhoc| < radius`` it is computed
    without cancellation: with the divided differences in ``rho`` of ``D`` (``-S``) and
    ``U`` (``T``), ``S = sum lam / ((lam + rho_j)(lam + rho_l))``, ``T`` with ``pw lam``
    (Taylor series at ``rhoc`` with the moments ``s``, ``t`` of :func:`moments`),
    ``kappa[j,l] = a_l + rho_j S/N``, ``zeta[j,l] = kappa[j,l] b_l + kappa_j S/P`` and
    ``Q z_j z_l = (u_j kappa[j,l] - kappa_j T) / zeta[j,l]``.
    """
    n = z.size
    m = s.size
    for j in range(n):
        Q[j, j] = (dkappa[j] * u[j] - kappa[j] * du[j]) / (z[j] * z[j])
        dj = rho[j] - rhoc
        for l in range(j + 1, n):
            dl = rho[l] - rhoc
            if abs(dj) < radius and abs(dl) < radius:
                # h_p = sum_{i=0}^p dj^i dl^(p-i): h_p = dl h_{p-1} + dj^p
                S = s[0]
                T = t[0]
                h = 1.0 + 0.0j
                djp = 1.0 + 0.0j
                for p in range(1, m):
                    djp *= dj
                    h = dl * h + djp
                    S += s[p] * h
                    T += t[p] * h
                kap = a[l] + rho[j] * S * invN
                gz = kap * b[l] + kappa[j] * S * invP
                v = (u[j] * kap - kappa[j] * T) / (gz * z[j] * z[l])
            else:
                v = (kappa[j] * u[l] - kappa[l] * u[j]) / ((zeta[j] - zeta[l]) * z[j] * z[l])
            Q[j, l] = v
            Q[l, j] = v


@njit(cache=True)
def quadratic_forms(C, Q, out):
    """``out[i] = sum_jl C[i, j] Q[j, l] C[i, l]`` (the double trapezoidal sums, one per time)."""
    n = Q.shape[0]
    for i in range(C.shape[0]):
        acc = 0.0j
        for j in range(n):
            row = 0.0j
            for l in range(n):
                row += Q[j, l] * C[i, l]
            acc += C[i, j] * row
        out[i] = acc


@lmech.register_warmup("dmft._kernels.scaling")
def warmup():
    """Compile the kernels once (called by :func:`lmech.warmup`)."""
    lam = np.array([1.0, 0.5])
    pw = np.array([1.0, 0.5])
    zetas = np.array([1.0 + 0j, 1.0 + 0.5j])
    out = np.zeros((2, 7), dtype=np.complex128)
    continue_roots(zetas, edge_root(lam, 0.5, 0.5), lam, pw, 0.5, 0.5, out)
    s, t = moments(out[0, 4], lam, pw, 4)
    Q = np.zeros((2, 2), dtype=np.complex128)
    cols = [np.ascontiguousarray(out[:, i]) for i in range(7)]
    pair_matrix(zetas, zetas, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6],
                0.5, 0.5, out[0, 4], s, t, 0.1, Q)
    v = np.zeros(1, dtype=np.complex128)
    quadratic_forms(np.ones((1, 2), dtype=np.complex128), Q, v)
