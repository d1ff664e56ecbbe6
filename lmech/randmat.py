"""The Marchenko–Pastur law: one home for its edges, density, CDF, quantiles and averages.

Convention (every function here): the limiting eigenvalue law of ``F F^T / d``
for ``F`` an ``N x d`` matrix of iid unit-variance entries, ``N, d -> inf`` at
fixed ratio ``gamma = N / d > 0`` (Marchenko & Pastur, Math. USSR Sb. 1, 457
(1967); Bai & Silverstein, "Spectral analysis of large dimensional random
matrices", Springer 2010, eq. (3.1.1)).  It has the continuous density::

    p(s) = sqrt((b - s)(s - a)) / (2 pi gamma s),   s in [a, b],
    a = (1 - sqrt gamma)^2,   b = (1 + sqrt gamma)^2,

of mass ``min(1, 1/gamma)``, and for ``gamma > 1`` an atom of mass ``1 - 1/gamma``
at 0.  The same law is that of ``X^T X / n`` for ``X`` an ``n x d`` data matrix
with ``gamma = d / n`` (the dmft convention).

Throughout, ``s = 1 + gamma + 2 sqrt(gamma) cos(theta)``, ``theta in [0, pi]``
(``theta = 0`` at ``b``, ``pi`` at ``a``) maps the support without cancellation:
``(b - s)(s - a) = 4 gamma sin^2 theta`` exactly.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from lmech.checks import check_array, check_int, check_real

__all__ = ["mp_edges", "mp_atom", "mp_density", "mp_cdf", "mp_quantiles", "mp_expect"]


def _check_ratio(ratio):
    return check_real("ratio", ratio, low=0.0, low_open=True)


def mp_edges(ratio: float) -> tuple[float, float]:
    """Edges ``(a, b) = ((1 - sqrt gamma)^2, (1 + sqrt gamma)^2)`` of the continuous part.

    Parameters
    ----------
    ratio : float
        ``gamma = N / d > 0`` (Bai & Silverstein 2010, eq. (3.1.1)).

    Returns
    -------
    (float, float)
    """
    g = _check_ratio(ratio)
    return (1.0 - math.sqrt(g)) ** 2, (1.0 + math.sqrt(g)) ** 2


def mp_atom(ratio: float) -> float:
    """Mass ``max(0, 1 - 1/gamma)`` of the atom at 0 (nonzero for ``gamma > 1`` only).

    Parameters
    ----------
    ratio : float
        ``gamma = N / d > 0``.
    """
    g = _check_ratio(ratio)
    return max(0.0, 1.0 - 1.0 / g)


def mp_density(x, ratio: float):
    """Density of the continuous part, ``sqrt((b - x)(x - a)) / (2 pi gamma x)``.

    Parameters
    ----------
    x : array_like
        Points (finite).
    ratio : float
        ``gamma = N / d > 0``.

    Returns
    -------
    ndarray or float
        The density (Marchenko & Pastur 1967; Bai & Silverstein 2010, eq.
        (3.1.1)); 0 outside the open support ``(a, b)``.  The atom at 0 for
        ``gamma > 1`` is not included (see :func:`mp_atom`).
    """
    g = _check_ratio(ratio)
    xa = np.asarray(check_array("x", x) if np.ndim(x) else check_array("x", [x])[0], dtype=float)
    a, b = (1.0 - math.sqrt(g)) ** 2, (1.0 + math.sqrt(g)) ** 2
    inside = (xa > a) & (xa < b)
    xs = np.where(inside, xa, 0.5 * (a + b))
    out = np.where(inside, np.sqrt(np.maximum((b - xs) * (xs - a), 0.0)) / (2.0 * math.pi * g * xs), 0.0)
    return float(out) if out.ndim == 0 else out


def _cdf_theta(theta, gamma):
    """Continuous-part CDF at ``s = m + r cos(theta)``, ``m = 1 + gamma``, ``r = 2 sqrt(gamma)``.

    The density integrates in closed form::

        F_c(theta) = [m (pi - theta) + r sin(theta)
                      - 2 |1 - gamma| atan2(cos(theta/2), k sin(theta/2))] / (2 pi gamma),

    ``k = |1 - sqrt gamma| / (1 + sqrt gamma)``, from ``r^2 sin^2 = (m - r cos)(m + r cos)
    - (1 - gamma)^2`` and ``int dphi / (m + r cos phi) = (2 / |1 - gamma|) atan(k tan(phi/2))``.
    ``F_c(0) = min(1, 1/gamma)``, ``F_c(pi) = 0``.
    """
    sg = math.sqrt(gamma)
    m, r = 1.0 + gamma, 2.0 * sg
    k = abs(1.0 - sg) / (1.0 + sg)
    val = (m * (math.pi - theta) + r * np.sin(theta)
           - 2.0 * abs(1.0 - gamma) * np.arctan2(np.cos(0.5 * theta), k * np.sin(0.5 * theta)))
    return val / (2.0 * math.pi * gamma)


def mp_cdf(x, ratio: float):
    """Cumulative distribution function ``P(s <= x)``, atom included.

    Parameters
    ----------
    x : array_like
        Points (``+-inf`` allowed, NaN refused).
    ratio : float
        ``gamma = N / d > 0``.

    Returns
    -------
    ndarray or float
        ``P(s <= x)`` for the law with density ``sqrt((b - s)(s - a)) / (2 pi
        gamma s)`` on ``[a, b]`` and, for ``gamma > 1``, an atom ``1 - 1/gamma``
        at 0 (Marchenko & Pastur 1967; Bai & Silverstein 2010, eq. (3.1.1)).  In
        closed form (:func:`_cdf_theta`), accurate to rounding.
    """
    gamma = _check_ratio(ratio)
    x = check_array("x", x, finite=False) if np.ndim(x) else check_array("x", [x], finite=False)[0]
    if np.any(np.isnan(x)):
        raise ValueError("x must not be NaN")
    sg = math.sqrt(gamma)
    a, b = (1.0 - sg) ** 2, (1.0 + sg) ** 2
    atom = max(0.0, 1.0 - 1.0 / gamma)
    cos_t = np.clip((x - (1.0 + gamma)) / (2.0 * sg), -1.0, 1.0)
    cont = _cdf_theta(np.arccos(cos_t), gamma)
    out = np.where(x < a, 0.0, cont) + np.where(x >= 0.0, atom, 0.0)
    out = np.where(x >= b, 1.0, out)
    return float(out) if out.ndim == 0 else out


def mp_quantiles(n: int, ratio: float, n_zero: int | None = None) -> np.ndarray:
    """``n`` midpoint quantiles of the law, ascending.

    Parameters
    ----------
    n : int
        Number of quantiles (``>= 1``).
    ratio : float
        ``gamma = N / d > 0``.
    n_zero : int, optional
        Number of leading zeros standing for the atom (``0 <= n_zero <= n``);
        default ``n (1 - 1/gamma)`` rounded to the nearest integer for ``gamma >
        1``, 0 otherwise.

    Returns
    -------
    ndarray (n,)
        ``n_zero`` zeros followed by the midpoint quantiles ``s_j = Q_c((j +
        1/2)/n_c)`` of the continuous part over ``n_c = n - n_zero`` equal cells
        (``Q_c`` the inverse of the continuous part of the CDF normalised to
        1).  Each quantile is located in ``theta`` on the closed-form CDF by 8
        bisections, then bracketed Newton steps until the CDF is matched to
        rounding (8 ulp of the continuous mass).

    Notes
    -----
    As a quadrature, ``(1/n) sum_j f(s_j)`` approximates ``int f dMP`` with an
    error ``O(n^(-5/3))`` for smooth ``f`` when the atom holds a whole number of
    quantiles (the quantile function grows as ``u^(2/3)`` from the square-root
    edges), ``O(1/n)`` otherwise (the atom's weight is rounded).
    """
    n = check_int("n", n, low=1)
    gamma = _check_ratio(ratio)
    if n_zero is None:
        n0 = min(n, max(0, int(round(n * (1.0 - 1.0 / gamma))))) if gamma > 1.0 else 0
    else:
        n0 = check_int("n_zero", n_zero, low=0, high=n)
    nc = n - n0
    out = np.zeros(n)
    if nc == 0:
        return out
    total = min(1.0, 1.0 / gamma)           # continuous mass
    target = total * (np.arange(nc) + 0.5) / nc
    lo = np.zeros(nc)                       # F_c decreases in theta: F_c(0) = total, F_c(pi) = 0
    hi = np.full(nc, math.pi)
    for _ in range(8):                      # bisection to a bracket of width pi / 256 ...
        mid = 0.5 * (lo + hi)
        above = _cdf_theta(mid, gamma) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    # ... then Newton in theta, dF_c/dtheta = -(r sin theta)^2 / (2 pi gamma s), kept inside the
    # bracket (a step leaving it bisects), until |F_c(theta) - target| is at rounding (8 ulp of the
    # continuous mass) everywhere, or the bracket is below 4 ulp of pi
    theta = 0.5 * (lo + hi)
    m, r = 1.0 + gamma, 2.0 * math.sqrt(gamma)
    tiny = 8.0 * np.finfo(float).eps * total
    act = np.arange(nc)                     # quantiles still moving (near the edges F_c ~ (pi - theta)^3
    for _ in range(200):                    # and Newton is only linear: they alone are iterated on)
        th, l, h, tg = theta[act], lo[act], hi[act], target[act]
        g = _cdf_theta(th, gamma) - tg
        keep = (np.abs(g) > tiny) & (h - l > 4.0 * np.finfo(float).eps * math.pi)
        if not keep.any():
            break
        act, th, l, h, g = act[keep], th[keep], l[keep], h[keep], g[keep]
        above = g > 0.0
        l = np.where(above, th, l)
        h = np.where(above, h, th)
        slope = -(r * np.sin(th)) ** 2 / (2.0 * math.pi * gamma * np.maximum(m + r * np.cos(th), 1e-300))
        with np.errstate(divide="ignore", invalid="ignore"):
            new = th - g / slope
        theta[act] = np.where((new > l) & (new < h), new, 0.5 * (l + h))
        lo[act], hi[act] = l, h
    out[n0:] = np.maximum(1.0 + gamma + 2.0 * math.sqrt(gamma) * np.cos(theta), 0.0)  # ascending
    return out


def mp_expect(fn, ratio: float, *, epsabs: float = 1e-13, epsrel: float = 1e-11) -> float:
    """``int fn(s) dMP(s)``, atom included, by adaptive quadrature without end-point singularities.

    Parameters
    ----------
    fn : callable
        ``fn(s) -> float`` for scalar ``s``, smooth on ``[a, b]`` (and finite at 0
        when ``gamma > 1``).
    ratio : float
        ``gamma = N / d > 0``.
    epsabs, epsrel : float
        Tolerances passed to ``scipy.integrate.quad`` on the continuous part.

    Returns
    -------
    float

    Notes
    -----
    With ``s = 1 + gamma - 2 sqrt(gamma) cos th`` (``th`` in ``[0, pi]``),
    ``(b - s)(s - a) = 4 gamma sin^2 th`` exactly, so the continuous part is
    ``(2/pi) int_0^pi fn(s) sin^2 th / s dth``: no square-root end points and no
    cancellation for any ``gamma`` (the form ``a + (b - a)(1 - cos th)/2`` loses
    every digit once ``b - a = 4 sqrt(gamma)`` is below the rounding of ``a``).
    """
    g = _check_ratio(ratio)
    sg = math.sqrt(g)

    def integrand(th):
        s = (1.0 - sg) ** 2 + 2.0 * sg * (1.0 - math.cos(th))
        st = math.sin(th)
        # sin^2 th / s, finite at th = 0 when gamma = 1 (s = 4 sin^2(th/2))
        w = (st * st / s) if s > 0.0 else 1.0
        return fn(s) * w

    val, _ = integrate.quad(integrand, 0.0, math.pi, epsabs=epsabs, epsrel=epsrel, limit=200)
    val *= 2.0 / math.pi
    atom = max(0.0, 1.0 - 1.0 / g)
    if atom > 0:
        val += atom * fn(0.0)
    return val
