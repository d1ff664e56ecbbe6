"""Gardner volume of the perceptron with random labels: RS entropy and capacity.

Constraints ``y_mu w.x_mu / sqrt(d) >= kappa`` for ``n = alpha d`` random
patterns ``x ~ N(0, I_d)`` and labels ``y = +-1``.  Replica-symmetric entropy
(log-volume per weight) with ``G(q) = E_xi log H((kappa - sqrt(q) xi)/sqrt(1-q))``:

- spherical weights ``|w|**2 = d`` (Gardner, J. Phys. A 21, 257 (1988), eq. 20):
  ``s(q) = log(1-q)/2 + q/(2(1-q)) + alpha G(q)``, extremal at
  ``q/(1-q) = alpha E[M(a)**2]``; ``q -> 1`` gives the capacity
  ``alpha_c(kappa) = 1 / [(1 + kappa**2) Phi(kappa) + kappa phi(kappa)]``
  (Gardner 1988, eq. 24);
- binary weights ``w_i = +-1`` (Gardner & Derrida, J. Phys. A 21, 271 (1988)):
  ``s(q, qhat) = -qhat(1-q)/2 + E_z log 2cosh(sqrt(qhat) z) + alpha G(q)``,
  extremal at ``1 - q = E sech(sqrt(qhat) z)**2``,
  ``qhat = alpha E[M**2] / (1 - q)``.  Eliminating ``q`` gives the
  saddle as an explicit curve ``alpha(qhat) = qhat E[sech**2] / E[M**2]``,
  increasing from 0 to ``alpha_1 = (2/pi) alpha_c^sph(kappa)`` as
  ``qhat -> inf`` (``1 - q ~ sqrt(2/(pi qhat))`` and
  ``E[M**2] ~ 1/((1-q) alpha_c^sph)``), so the RS overlap stays below 1
  for ``alpha < alpha_1`` and reaches 1 at ``alpha_1``: ``4/pi`` at
  ``kappa = 0``, the RS value of Gardner & Derrida (1988) above the
  information bound ``alpha <= 1``.  The RS entropy vanishes earlier, at
  ``alpha ~ 0.833`` for ``kappa = 0`` (Krauth & Mézard, J. Phys. France 50,
  3057 (1989)), the capacity of the binary perceptron.

``M(a) = phi(a) / H(a)`` and ``dG/dq = -E[M**2] / (2(1-q))``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from lmech.checks import check_real
from lmech.result import Result, over_tolerance, register_result
from lmech.spec import Model, Param, check_option, param, register_model
from lmech.status import Status
from lmech.special import Phi, phi

from . import _kernels as K
from .bayes import ROUND
from .blocks import Prior, Rademacher, Spherical, get_prior, resolve_block

__all__ = ["GardnerVolume", "GardnerResult", "solve_gardner", "capacity",
           "spherical_capacity", "binary_rs_limit", "OPTIONS"]

CONVENTIONS = {
    "constraint": "y w.x / sqrt(d) >= kappa, x ~ N(0, I_d), random labels; alpha = n / d",
    "entropy": "RS log-volume per weight (nats); spherical |w|^2 = d, binary w_i = +-1",
}

#: smallest ``n_quad`` of :func:`solve_gardner`: the ``sech`` moments use ``n_quad // 2``
#: nodes per panel with no lower clamp, so doubling ``n_quad`` doubles every rule
N_QUAD_MIN = 16

#: The numerical options of :func:`solve_gardner` (and :func:`capacity`), declared once: the
#: solvers check their arguments against them (:func:`lmech.spec.check_option`) and the sweep
#: kind ``replica.gardner`` takes its schema from this table.
OPTIONS = {
    "rtol": Param(float, low=0.0, low_open=True, help="relative tolerance of the root finder"),
    "max_iter": Param(int, low=1, help="Brent iterations (spherical weights)"),
    "n_quad": Param(int, low=N_QUAD_MIN, high=200, help="Gauss-Legendre nodes per panel"),
    "tol": Param(float, low=0.0, low_open=True,
                 help="requested accuracy of q and the entropy (error estimates)"),
    "xtol": Param(float, low=0.0, low_open=True, help="Brent's tolerance on alpha_c (capacity)"),
}
_OPTIONS = ("rtol", "max_iter", "n_quad", "tol")


@lru_cache(maxsize=8)
def _legendre(n):
    return np.polynomial.legendre.leggauss(n)


def _tail_moment_scaled(k):
    """``J(k) = int_0^inf s**2 exp(-k s - s**2/2) ds = (1 + k**2) R(k) - k`` for ``k >= 1``.

    ``R(k) = H(k) / phi(k)`` is the Mills ratio, whose continued fraction
    ``R = 1/(k + t_1)``, ``t_j = j / (k + t_{j+1})`` (Abramowitz & Stegun
    26.2.14) gives ``J = t_1 t_2 R`` without the cancellation of
    ``(1 + k**2) R - k`` (``1 - k t_1 = t_1 t_2``).  500 backward steps reach
    double precision for ``k >= 1`` (the error of the ``n``-term fraction falls like
    ``exp(-2 k sqrt(2 n))``).
    """
    t = 0.0
    t2 = 0.0
    for j in range(500, 0, -1):
        t2, t = t, j / (k + t)
    return t * t2 / (k + t)


def spherical_capacity(kappa) -> float:
    """Gardner's capacity ``1 / [(1 + kappa**2) Phi(kappa) + kappa phi(kappa)]`` (1988, eq. 24).

    The denominator is ``E[(t + kappa)**2; t > -kappa]``, ``t ~ N(0, 1)``.  For
    ``kappa <= -1`` it is evaluated as ``phi(kappa) J(-kappa)`` with a
    continued fraction (no cancellation), and ``alpha_c`` from its logarithm:
    ``alpha_c ~ |kappa|**3 / (2 phi(kappa))`` grows without bound as
    ``kappa -> -inf`` and is returned as ``inf`` once it exceeds the largest
    double (``kappa`` below about ``-37.5``).  As ``kappa -> +inf``,
    ``alpha_c ~ 1 / kappa**2`` (``0.0`` once ``kappa**2`` overflows).
    """
    kappa = check_real("kappa", kappa)
    if kappa <= -40.0:
        return math.inf  # alpha_c > exp(800): beyond double range
    if kappa <= -1.0:
        k = -kappa
        log_den = -0.5 * k * k - 0.5 * math.log(2.0 * math.pi) + math.log(_tail_moment_scaled(k))
        return math.exp(-log_den) if -log_den < 709.0 else math.inf
    den = (1.0 + kappa * kappa) * Phi(kappa) + kappa * phi(kappa)
    return 1.0 / den if den > 0.0 else math.inf


#: smallest margin of binary weights (``E[M**2]`` at ``q = 0`` is ``~exp(-kappa**2)``)
BINARY_MARGIN_MIN = -26.0


@register_model("replica.GardnerVolume")
@dataclass(frozen=True)
class GardnerVolume(Model):
    """Perceptron storage problem with random labels and margin ``kappa``.

    Parameters
    ----------
    prior : "spherical" or "rademacher" (or a Spherical / Rademacher instance)
        Spherical (``|w|**2 = d``) or binary (``w_i = +-1``) weights.
    margin : float
        Stability threshold ``kappa`` (any real for spherical weights, where
        :func:`spherical_capacity` is in closed form; at least
        :data:`BINARY_MARGIN_MIN` for binary weights, whose RS integrals
        ``E[M**2] ~ exp(-kappa**2)`` underflow below it).
    """

    prior: Prior = param(None, type=(str, Prior), choices=("spherical", "rademacher", "binary"),
                         help="spherical or binary (+-1) weights (default spherical)")
    margin: float = param(0.0, help="stability margin kappa (any real)")

    def check(self):
        p = self.prior
        if p is None or isinstance(p, str):
            p = resolve_block("prior", p, get_prior, "spherical")
            object.__setattr__(self, "prior", p)
        if not isinstance(p, (Spherical, Rademacher)):
            raise ValueError(f"prior must be spherical or rademacher for the Gardner volume, got {p!r}")
        if isinstance(p, Rademacher) and self.margin < BINARY_MARGIN_MIN:
            raise ValueError(f"margin: binary weights need kappa >= {BINARY_MARGIN_MIN} (below it "
                             f"E[M**2] ~ exp(-kappa**2) underflows double precision), got {self.margin!r}")
        if isinstance(p, Spherical) and p.rho != 1.0:
            raise ValueError(f"prior: the spherical Gardner volume uses rho = 1, got rho = {p.rho!r}")

    @property
    def binary(self) -> bool:
        return isinstance(self.prior, Rademacher)


@register_result("replica.GardnerResult")
class GardnerResult(Result):
    """RS saddle point of the Gardner volume at one ``alpha``.

    ``n_iter`` counts Brent's iterations (on ``q``, or on ``log qhat`` for binary
    weights), summed over the ``n_quad`` and ``2 n_quad`` solves; it is 0 where no
    equation is solved (``alpha = 0``, an empty version space, ``q = 1``).
    """

    #: codes before lmech.Status
    LEGACY_STATUS = {-3: Status.TOLERANCE}


def _G(q, kappa, n, v=None):
    return K.gardner_integrals_v(float(q), float(1.0 - q if v is None else v), float(kappa),
                                 *_legendre(n))


def _spherical_alpha_of_q(q, kappa, n):
    g, m2 = _G(q, kappa, n)
    return q / ((1.0 - q) * m2)


def binary_rs_limit(kappa) -> float:
    """``alpha_1 = (2/pi) alpha_c^sph(kappa)``: where the binary RS overlap reaches 1.

    ``4/pi`` at ``kappa = 0`` (Gardner & Derrida, J. Phys. A 21, 271 (1988)).
    Above it the RS saddle of binary weights has ``q = 1``; the RS entropy
    is negative well before (the capacity, :func:`capacity`, is smaller).
    """
    return 2.0 / math.pi * spherical_capacity(kappa)


def _binary_point(qhat, kappa, n):
    """``(q, 1 - q, E[M**2], E log 2cosh(sqrt(qhat) z), G)`` on the binary saddle at ``qhat``."""
    s = math.sqrt(qhat)
    _, v, l1p = K.even_sech_moments(s, *_legendre(n // 2))
    q = 1.0 - v
    if qhat < 1e-6:
        # 1 - E sech**2 cancels for small qhat (q < 0 by rounding below ~1e-16): the series
        # E tanh(sqrt(qhat) z)**2 = qhat - 2 qhat**2 + (17/3) qhat**3 + O(qhat**4)
        # (tanh x**2 = x**2 - 2x**4/3 + 17x**6/45, E z**4 = 3, E z**6 = 15); relative error < 1e-17
        q = qhat * (1.0 - qhat * (2.0 - 17.0 / 3.0 * qhat))
        v = 1.0 - q
    g, m2 = _G(q, kappa, n, v)
    lc = s * math.sqrt(2.0 / math.pi) + l1p  # log 2cosh x = |x| + log1p(exp(-2|x|))
    return q, v, m2, lc, g


def _solve_binary(kappa, alpha, n, rtol):
    """Root of ``alpha(qhat) = qhat E[sech**2] / E[M**2] = alpha`` by Brent in ``log qhat``.

    Returns ``(q, v, qhat, entropy, scale, n_iter)``, ``scale`` the sum of the
    magnitudes of the terms of the entropy (its rounding scale), ``n_iter`` Brent's
    iterations (0 where no equation is solved); ``q = 1`` when ``alpha >= alpha_1``.
    """
    if alpha == 0.0:
        return 0.0, 1.0, 0.0, math.log(2.0), 1.0, 0
    if alpha >= binary_rs_limit(kappa):
        return 1.0, 0.0, math.inf, -math.inf, 0.0, 0
    cnt = [0]

    def f(u):
        cnt[0] += 1
        qh = math.exp(u)
        q, v, m2, _, _ = _binary_point(qh, kappa, n)
        return math.log(qh * v / m2) - math.log(alpha)

    lo, hi = -30.0, 0.0
    while f(lo) > 0.0 and lo > -700.0:
        lo -= 30.0
    while f(hi) < 0.0:
        lo, hi = hi, hi + 4.0
        if hi > 400.0:
            # alpha within rounding of alpha_1: the overlap is 1 to double precision
            return 1.0, 0.0, math.inf, -math.inf, 0.0, 0
    u, info = brentq(f, lo, hi, xtol=1e-14, rtol=max(rtol, 4.5e-16), maxiter=500, full_output=True)
    qh = math.exp(u)
    q, v, m2, lc, g = _binary_point(qh, kappa, n)
    return (q, v, qh, -0.5 * qh * v + lc + alpha * g, 0.5 * qh * v + abs(lc) + abs(alpha * g),
            info.iterations)


def _spherical_q(kappa, alpha, n, rtol, max_iter):
    f = lambda t: _spherical_alpha_of_q(-math.expm1(-t), kappa, n) - alpha  # noqa: E731
    hi = 1.0
    while f(hi) < 0.0 and hi < 60.0:
        hi *= 2.0
    lo = 1e-14
    while f(lo) > 0.0:  # alpha below ~1e-14: q ~ alpha E[M**2] is smaller still
        if lo < 1e-290:
            return 0.0, 0.0, 0.0, 1.0, 0  # q below 1e-290: zero to double precision
        lo *= 1e-8
    t, info = brentq(f, lo, hi, xtol=1e-15, rtol=max(rtol, 4.5e-16), maxiter=max_iter,
                     full_output=True)
    q = -math.expm1(-t)
    qhat = q / (1.0 - q) ** 2
    g, _ = _G(q, kappa, n)
    terms = (0.5 * math.log1p(-q), 0.5 * q / (1.0 - q), alpha * g)
    return q, qhat, sum(terms), sum(abs(t) for t in terms), info.iterations


def _dq_dlog_alpha(model, q, qhat, n):
    """Slope ``dq / dlog(alpha)`` of the saddle curve at ``q`` (central differences)."""
    kappa = model.margin
    if model.binary:
        u = math.log(qhat)
        pts = []
        for d in (-1e-4, 1e-4):
            qh = math.exp(u + d)
            qq, v, m2, _, _ = _binary_point(qh, kappa, n)
            pts.append((qq, math.log(qh * v / m2)))
    else:
        t = -math.log1p(-q)
        pts = []
        for d in (-1e-4, 1e-4):
            qq = -math.expm1(-(t + d))
            pts.append((qq, math.log(_spherical_alpha_of_q(qq, kappa, n))))
    dl = pts[1][1] - pts[0][1]
    return abs((pts[1][0] - pts[0][0]) / dl) if dl != 0.0 else 0.0


def solve_gardner(model: GardnerVolume, alpha, *, rtol=1e-12, max_iter=10_000, n_quad=32,
                  tol=1e-8) -> GardnerResult:
    """RS saddle point of the Gardner volume at ``alpha``.

    Spherical: the root of ``alpha(q) = q / ((1-q) E[M**2]) = alpha`` by Brent
    (``alpha(q)`` increases from 0 to ``alpha_c``); above capacity the volume
    is empty (``q = 1``, entropy ``-inf``, scalar ``sat = False``).  Binary:
    the root of ``alpha(qhat) = qhat E[sech(sqrt(qhat) z)**2] / E[M**2]``
    by Brent in ``log qhat`` (``alpha(qhat)`` increases from 0 to
    ``alpha_1 = (2/pi) alpha_c^sph(kappa)``, :func:`binary_rs_limit`);
    for ``alpha >= alpha_1`` the RS overlap is 1.

    Parameters
    ----------
    rtol : float
        Relative tolerance of the root finder.
    n_quad : int
        Gauss–Legendre nodes per panel of the panel rules (``G``, ``E[M**2]``;
        ``n_quad // 2`` for the ``sech`` moments of binary weights).  At least
        :data:`N_QUAD_MIN` (16), so that the refinement ``2 n_quad`` doubles
        every rule (``ValueError`` below).
    tol : float
        Requested accuracy: ``success`` requires the error estimates of
        ``q`` and ``entropy`` to be at most ``tol * max(1, |value|)``.
        The estimate is the change of the answer when every rule is refined
        to ``2 n_quad`` nodes per panel (the refined answer is reported),
        plus a rounding floor of 64 ulp (of the sum of the magnitudes of the
        terms of the entropy, which cancel as ``q -> 1``).
        At the defaults the estimates are below ``1e-12``.
    """
    if not isinstance(model, GardnerVolume):
        raise TypeError(f"model: solve_gardner needs a GardnerVolume, got {type(model).__name__}")
    alpha = check_real("alpha", alpha, low=0.0)
    rtol = check_option(OPTIONS, "rtol", rtol)
    tol = check_option(OPTIONS, "tol", tol)
    n_quad = check_option(OPTIONS, "n_quad", n_quad)
    max_iter = check_option(OPTIONS, "max_iter", max_iter)
    t0 = time.perf_counter()
    kappa = model.margin
    n_iter = 0  # Brent iterations, summed over the n_quad and 2 n_quad solves
    opts = {"rtol": rtol, "max_iter": max_iter, "n_quad": n_quad, "tol": tol}
    if not model.binary:
        ac = spherical_capacity(kappa)
        if alpha >= ac:
            sc = {"alpha": alpha, "q": 1.0, "qhat": math.inf, "entropy": -math.inf, "sat": False,
                  "alpha_c": ac}
            return GardnerResult(success=True, message="alpha >= alpha_c: the version space is empty",
                                 model=model, options=opts, conventions=CONVENTIONS, scalars=sc,
                                 error_estimate={"q": 0.0, "entropy": 0.0},
                                 timings={"solve": time.perf_counter() - t0})
        if alpha == 0.0:
            q, qhat, s, scale = 0.0, 0.0, 0.0, 1.0
            err = {"q": 0.0, "entropy": 0.0}
            msg = "alpha = 0: q = 0"
        else:
            q1, _, s1, _, it1 = _spherical_q(kappa, alpha, n_quad, rtol, max_iter)
            q, qhat, s, scale, it2 = _spherical_q(kappa, alpha, 2 * n_quad, rtol, max_iter)
            n_iter = it1 + it2
            err = {"q": abs(q - q1), "entropy": abs(s - s1)}
            msg = "converged (Brent on q)"
        sc = {"alpha": alpha, "q": q, "qhat": qhat, "entropy": s, "sat": True, "alpha_c": ac}
    else:
        a1 = binary_rs_limit(kappa)
        q1, v1, _, s1, _, it1 = _solve_binary(kappa, alpha, n_quad, rtol)
        q, v, qhat, s, scale, it2 = _solve_binary(kappa, alpha, 2 * n_quad, rtol)
        n_iter = it1 + it2
        if q >= 1.0:
            err = {"q": 0.0, "entropy": 0.0}
            msg = (f"alpha >= alpha_1 = (2/pi) alpha_c^sph = {a1:.12g}: the RS overlap is 1 "
                   "(empty version space)")
        else:
            err = {"q": abs(q - q1),
                   "entropy": abs(s - s1) if math.isfinite(s1) else math.inf}
            msg = "converged (Brent on log qhat)"
        sc = {"alpha": alpha, "q": q, "qhat": qhat, "entropy": s, "sat": bool(s > 0.0),
              "one_minus_q": v, "alpha_1": a1}
    if math.isfinite(sc["entropy"]) and 0.0 < sc["q"] < 1.0:
        # rounding floor: 64 ulp of the sum of the magnitudes of the terms of the entropy, and
        # 64 ulp of log alpha(.) propagated to q through the slope dq/dlog(alpha) of the saddle curve
        err = {"q": err["q"] + ROUND * (sc["q"] + _dq_dlog_alpha(model, sc["q"], sc["qhat"], n_quad)),
               "entropy": err["entropy"] + ROUND * max(1.0, scale)}
    bad = over_tolerance(err, sc, tol)
    success = not bad
    if bad:
        msg = (f"error estimate of {', '.join(bad)} above tol = {tol:g} "
               f"(raise n_quad); " + msg)
    return GardnerResult(success=success, status=Status.CONVERGED if success else Status.TOLERANCE,
                         message=msg, n_iter=n_iter,
                         residual=0.0, model=model, options=opts, conventions=CONVENTIONS,
                         scalars=sc, error_estimate=err, timings={"solve": time.perf_counter() - t0})


def capacity(model: GardnerVolume, *, xtol=1e-10, n_quad=32, tol=1e-8) -> float:
    """Storage capacity ``alpha_c`` of a :class:`GardnerVolume`.

    Spherical: Gardner's closed form.  Binary: the zero of the RS entropy
    ``s(alpha)`` along the RS saddle (Brent in ``alpha`` to ``xtol``;
    Krauth & Mézard 1989 for ``kappa = 0``: ``~0.833``), every point by
    :func:`solve_gardner` with ``n_quad`` and ``tol``.

    Raises
    ------
    RuntimeError
        If a saddle-point solve along the way fails (``success = False``,
        e.g. its error estimate above ``tol``): the message is the solve's.
        The function returns a bare float, so a failure cannot be reported
        as a result; it is never a silent value.
    """
    if not isinstance(model, GardnerVolume):
        raise TypeError(f"model: capacity needs a GardnerVolume, got {type(model).__name__}")
    xtol = check_option(OPTIONS, "xtol", xtol)
    n_quad = check_option(OPTIONS, "n_quad", n_quad)
    tol = check_option(OPTIONS, "tol", tol)
    if not model.binary:
        return spherical_capacity(model.margin)

    def s(a):
        res = solve_gardner(model, a, n_quad=n_quad, tol=tol)
        if not res.success:
            raise RuntimeError(f"capacity: solve_gardner failed at alpha = {a:.12g}: {res.message}")
        return res.entropy

    # s(0) = log 2 > 0 and s -> -inf at alpha_1 = binary_rs_limit(kappa) (q -> 1): bracket
    # in (0, alpha_1), growing geometrically but never past halfway to alpha_1
    a1 = binary_rs_limit(model.margin)
    if not math.isfinite(a1):
        raise ValueError(f"margin: the binary RS capacity is beyond double range at kappa = "
                         f"{model.margin!r} (alpha_1 = (2/pi) alpha_c^sph overflows)")
    lo, hi = 0.0, min(0.5, 0.5 * a1)
    for _ in range(400):
        if s(hi) <= 0.0:
            break
        lo, hi = hi, min((1.5 if hi < 1e4 else 10.0) * hi, 0.5 * (hi + a1))
    else:  # pragma: no cover
        raise RuntimeError(f"capacity: no sign change of the RS entropy below alpha_1 = {a1:.12g}")
    return brentq(s, lo, hi, xtol=xtol, rtol=1e-14)
