r"""Exact Langevin dynamics of the spherical 2-spin model from a random start, any T >= 0.

Cugliandolo & Dean, J. Phys. A 28, 4213 (1995) (CD95).  In the ``half``
convention (``xi(q) = q^2/2``, the one of :class:`dmft.SphericalPSpin`)
``H = -(1/2) s.J s`` with ``J`` a GOE matrix whose eigenvalues have the
semicircle density ``rho(l) = sqrt(4 - l^2)/(2 pi)`` on ``[-2, 2]`` (its
largest eigenvalue 2 gives the ground-state energy -1).  Each eigenmode obeys
``ds_l/dt = (l - mu(t)) s_l + eta_l``; with ``Gam(t) = exp(2 int_0^t mu)``
the spherical constraint is the Volterra equation (CD95, section 3)::

    (E1) Gam(t) = g(2t) + 2T int_0^t g(2(t-s)) Gam(s) ds,
         g(t) = int rho(l) e^{l t} dl = I_1(2t)/t.

It is solved in closed form by the Laplace transform: with the Stieltjes
transform ``G(w) = (w - sqrt(w^2-4))/2`` of rho, ``Gam^(z) = (1/2) G(z/2) /
(1 - T G(z/2))``, and since ``|1 - T G(l + i0)|^2 = 1 + T^2 - T l`` on the
cut, the inverse transform is a spectral integral::

    (E2) Gam(t) = int sigma(dl) e^{2 l t},
         sigma(dl) = rho(l) dl / (1 + T^2 - T l)  [+ (1 - 1/T^2) delta(l - T - 1/T) dl if T > 1]

(``sigma`` has unit mass: ``Gam(0) = 1``; for ``T > 1`` the pole of
``1/(1 - T G)`` at ``l = T + 1/T`` gives the atom, which makes the dynamics
equilibrate).  Then, for ``t >= t'``, with ``tau = t - t'``::

    (E3) mu(t) = Gam'(t) / (2 Gam(t)),   e(t) = (T - mu(t)) / 2,
    (E4) C(t,t') = N(t,t') / sqrt(Gam(t) Gam(t')),
         N(t,t') = int rho(dl) e^{l tau} B_l(t'),
         B_l(t') = e^{2 l t'} + T int sigma(dn) (e^{2 n t'} - e^{2 l t'}) / (n - l),
    (E5) R(t,t') = sqrt(Gam(t')/Gam(t)) g(tau).

(E3: ``d|s|^2/dt = 0`` gives ``mu = T - 2 e``; E4: ``B_l(t') = Gam(t')
<s_l(t')^2>`` from the Langevin solution, the time integral done on the
spectral form E2.)  ``C(t,t) = 1`` is then an identity between the two
integrals, which the code checks.

*Numerics.*  All integrals are over the spectrum: ``l = 2 cos(theta)``, so
that ``rho(dl) = (2/pi) sin^2(theta) dtheta`` (no endpoint singularity), with
``u = a - l >= 0`` measured from the top of the spectrum (``a = max(2, T +
1/T)``); every exponential is scaled by ``e^{-a (t + t')}`` (the ratios E3,
E4 are unchanged), so ``e^{-2 u t}`` with ``u >= 0`` never overflows.  The
integrands sharpen near ``theta = 0`` as ``t`` grows (width ``~ t^{-1/2}``)
and, for ``T -> 1``, near ``theta ~ |1 - T|`` (the pole of sigma approaches
the spectrum): the theta range is cut into panels graded geometrically (ratio
2) from ``pi`` down to below both scales, each integrated by Gauss–Legendre
with ``n`` and ``2n`` nodes; ``n`` is doubled until the two agree within
``tol`` for every requested quantity, and the difference is reported as the
error estimate.  Divided differences in E4 are evaluated as ``e^{-2 m t'}
(1 - e^{-2 |d| t'})/|d|`` (``m`` the smaller of the two ``u``, ``d`` their
difference) without cancellation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lmech.checks import check_bool, check_choice, check_real

from .pspin import CONVENTIONS, convert

__all__ = ["pspin2_exact", "Pspin2Exact"]

_N_START = 16
_N_MAX = 1024


@dataclass(frozen=True)
class Pspin2Exact:
    """Exact p = 2 dynamics at the requested times (see :func:`pspin2_exact`).

    Attributes
    ----------
    t : ndarray
        The requested times (model convention).
    energy, mu : ndarray
        ``e(t)`` and the Lagrange multiplier ``mu(t)``.
    C : ndarray or None
        ``C[i, j] = C(t_i, t_j)`` (symmetric) if ``correlation=True``.
    error_estimate : dict
        Estimated absolute error (max over entries) of ``energy``, ``mu`` and
        ``C``: the difference between the last two quadrature refinements.
    log_gamma : ndarray
        ``log Gam(t) = 2 int_0^t mu(s) ds`` (E1, E2; half-convention time), so
        that the Volterra equation (E1) can be checked independently.
    n_nodes : int
        Gauss–Legendre nodes per panel of the last refinement.
    T : float
    convention : str
    """

    t: np.ndarray
    energy: np.ndarray
    mu: np.ndarray
    C: np.ndarray | None
    error_estimate: dict = field(default_factory=dict)
    log_gamma: np.ndarray | None = None
    n_nodes: int = 0
    T: float = 0.0
    convention: str = "half"


#: Largest time of :func:`pspin2_exact`: the panels are graded down to ``theta = 1e-12``
#: and ``0.05 / sqrt(t)`` must reach it (measured: 1e20 converges with 32 nodes per panel
#: at T = 0, 0.5, 1, 1.5; 1e100 does not reach tol = 1e-11 at T = 0.5).
TIMES_MAX = 1e20


def _panels(t_max: float, T: float) -> np.ndarray:
    """Panel edges in theta in [0, pi], graded geometrically towards 0."""
    th_min = 0.05 / math.sqrt(max(t_max, 1.0))
    if T > 0.0 and T != 1.0:
        th_min = min(th_min, 0.1 * abs(1.0 - T) / math.sqrt(T))
    th_min = max(th_min, 1e-12)
    edges = [math.pi]
    while edges[-1] > th_min:
        edges.append(edges[-1] / 2.0)
    edges.append(0.0)
    return np.array(edges[::-1])


def _nodes(edges: np.ndarray, n: int):
    """Composite Gauss–Legendre nodes and weights on the panels ``edges``."""
    x, w = np.polynomial.legendre.leggauss(n)
    a, b = edges[:-1, None], edges[1:, None]
    th = (0.5 * (b - a) * x + 0.5 * (a + b)).ravel()
    wt = (0.5 * (b - a) * w).ravel()
    return th, wt


def _spectral(T: float, th: np.ndarray, wt: np.ndarray):
    """Nodes ``u = a - l`` and the weights of rho and sigma (continuous part), the atom."""
    a = max(2.0, T + 1.0 / T) if T > 1.0 else 2.0
    lam = 2.0 * np.cos(th)
    u = a - lam
    # 2 - 2 cos(theta) without cancellation when a = 2
    if a == 2.0:
        u = 4.0 * np.sin(0.5 * th) ** 2
    wr = (2.0 / math.pi) * np.sin(th) ** 2 * wt
    # 1 + T^2 - T l = (1 - T)^2 + 4 T sin^2(theta/2)
    ws = wr / ((1.0 - T) ** 2 + 4.0 * T * np.sin(0.5 * th) ** 2)
    atom = (1.0 - 1.0 / T ** 2) if T > 1.0 else 0.0
    return u, wr, ws, atom


def _one_time(T, t, th, wt):
    """Scaled Gam(t) and mu(t) (E2, E3) on the given nodes."""
    u, _, ws, atom = _spectral(T, th, wt)
    ex = np.exp(-2.0 * np.outer(t, u))  # (nt, nk)
    m0 = ex @ ws + atom
    m1 = ex @ (ws * u)
    a = 2.0 if T <= 1.0 else T + 1.0 / T
    return m0, a - m1 / m0


def _divided(u: np.ndarray, v: np.ndarray, tp: float) -> np.ndarray:
    """(e^{-2 v tp} - e^{-2 u tp}) / (u - v) for all pairs, without cancellation."""
    uu, vv = u[:, None], v[None, :]
    m = np.minimum(uu, vv)
    d = np.abs(uu - vv)
    x = 2.0 * d * tp
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(x > 1e-300, -np.expm1(-x) / np.where(d > 0, d, 1.0), 2.0 * tp)
    return np.exp(-2.0 * m * tp) * q


def _correlation(T, t, th, wt, m0):
    """C(t_i, t_j) (E4) on the given nodes."""
    u, wr, ws, atom = _spectral(T, th, wt)
    nt = len(t)
    C = np.eye(nt)
    diag = np.empty(nt)
    for j in range(nt):
        tp = t[j]
        inner = _divided(u, u, tp) @ ws
        if atom:
            inner += atom * np.where(u * tp > 0, -np.expm1(-2.0 * u * tp) / np.where(u > 0, u, 1.0),
                                     2.0 * tp)
        B = np.exp(-2.0 * u * tp) + T * inner
        tau = t[j:] - tp
        Nij = np.exp(-np.outer(tau, u)) @ (wr * B)
        C[j:, j] = Nij / np.sqrt(m0[j:] * m0[j])
        C[j, j:] = C[j:, j]
        diag[j] = Nij[0] / m0[j]
    return C, diag


def pspin2_exact(T: float, times, *, convention: str = "half", correlation: bool = False,
                 tol: float = 1e-11) -> Pspin2Exact:
    """Exact dynamics of the spherical 2-spin model at temperature ``T`` (any ``T >= 0``).

    Langevin dynamics from a uniformly random start, as :class:`dmft.SphericalPSpin`
    ``(p=2, T=T, convention=convention)``; Cugliandolo & Dean, J. Phys. A 28, 4213
    (1995).  The Volterra equation (E1) of the module docstring is solved in
    closed form (E2); the energy, Lagrange multiplier and correlation follow
    from spectral integrals (E3, E4).

    Parameters
    ----------
    T : float
        Temperature (``>= 0``) in ``convention``.  ``T_c = 1`` in the ``half``
        convention (``sqrt(2)`` in ``full``); above it the dynamics equilibrates
        (``e -> -1/(2T)`` in the half convention), below it it ages and ``e -> -1 + T/2``.
    times : array_like
        Times ``0 <= t <= 1e20`` (:data:`TIMES_MAX`; any order).
    convention : {"half", "full"}
        Hamiltonian normalisation (:func:`dmft.pspin.convert`).
    correlation : bool
        Also compute ``C(t_i, t_j)`` for all pairs (cost ``O(n_t^2 n_nodes)``).
    tol : float
        Target absolute accuracy of every returned value (``1e-15 <= tol <=
        1e-3``, default 1e-11); the quadrature is refined until successive
        refinements agree within ``tol``.

    Returns
    -------
    Pspin2Exact
        ``energy``, ``mu`` (and ``C``) at ``times``, with ``error_estimate``.

    Raises
    ------
    ValueError
        On bad input.
    RuntimeError
        If ``tol`` is not reached with 1024 nodes per panel, or if the
        computed ``C(t, t)`` departs from 1 by more than ``max(100 tol,
        1e-12)``.
    """
    # (1 - T)^2 of the spectral weights overflows near T = 1e154; 1e100 is far beyond any
    # use (e = -1/(2T) there)
    T = check_real("T", T, low=0.0, high=1e100)
    check_choice("convention", convention, tuple(CONVENTIONS))
    correlation = check_bool("correlation", correlation)
    tol = check_real("tol", tol, low=1e-15, high=1e-3)
    try:
        if isinstance(times, (str, bytes)):
            raise TypeError
        t_in = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"times must be a non-empty 1-d array of real values, got {times!r}") \
            from None
    if t_in.ndim != 1 or t_in.size == 0 or not np.all(np.isfinite(t_in)) or np.any(t_in < 0):
        raise ValueError("times must be a non-empty 1-d array of finite values >= 0")
    if np.max(t_in) > TIMES_MAX:
        raise ValueError(f"times must be at most {TIMES_MAX:g} (the graded panels resolve the "
                         f"spectral edge down to theta = 1e-12), got {np.max(t_in)!r}")
    if convention != "half":
        # half-convention dynamics at T / kappa and time kappa t; energies and mu scale by kappa
        kappa = math.sqrt(CONVENTIONS[convention] / CONVENTIONS["half"])
        Th = convert(source=convention, target="half", T=T)["T"]
        th_t = t_in * kappa
    else:
        kappa, Th, th_t = 1.0, T, t_in
    edges = _panels(float(np.max(th_t)), Th)
    n = _N_START
    prev = None
    while True:
        th, wt = _nodes(edges, n)
        m0, mu = _one_time(Th, th_t, th, wt)
        C = diag = None
        if correlation:
            C, diag = _correlation(Th, th_t, th, wt, m0)
        if prev is not None:
            err_mu = float(np.max(np.abs(mu - prev[0])))
            err_C = float(np.max(np.abs(C - prev[1]))) if correlation else 0.0
            if max(err_mu, err_C) <= tol:
                break
        if 2 * n > _N_MAX:
            raise RuntimeError(f"pspin2_exact: quadrature did not reach tol={tol:g} with {n} "
                               "nodes per panel")
        prev = (mu, C)
        n *= 2
    if correlation:
        dev = float(np.max(np.abs(diag - 1.0)))
        if dev > max(100 * tol, 1e-12):
            raise RuntimeError(f"pspin2_exact: C(t,t) = 1 violated by {dev:.3g}")
    # back to the requested convention: mu and e scale like energies (kappa), T likewise
    e = kappa * 0.5 * (Th - mu)
    mu_c = kappa * mu
    # rounding floor: two refinements can agree to the last bit, but the sums over
    # th.size nodes carry a rounding error of up to ~ th.size eps of their scale
    eps = np.finfo(float).eps
    err_mu = max(err_mu, th.size * eps * max(1.0, float(np.max(np.abs(mu)))))
    if correlation:
        err_C = max(err_C, th.size * eps)
    err = {"energy": kappa * 0.5 * err_mu, "mu": kappa * err_mu}
    if correlation:
        err["C"] = err_C
    a = Th + 1.0 / Th if Th > 1.0 else 2.0
    log_gamma = np.log(m0) + 2.0 * a * th_t
    return Pspin2Exact(t=t_in.copy(), energy=e, mu=mu_c, C=C, error_estimate=err,
                       log_gamma=log_gamma, n_nodes=n,
                       T=T, convention=convention)
