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
  extremal at ``q = E tanh(sqrt(qhat) z)**2``,
  ``qhat = alpha E[M**2] / (1 - q)``.  The RS entropy vanishes at
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

from lmech.checks import check_int, check_real
from lmech.gauss import hermite
from lmech.result import Result, register_result
from lmech.spec import register_model
from lmech.special import Phi, phi

from . import _kernels as K
from .blocks import Prior, Rademacher, Spherical, get_prior
from .fixedpoint import iterate

__all__ = ["GardnerVolume", "GardnerResult", "solve_gardner", "capacity",
           "spherical_capacity"]

CONVENTIONS = {
    "constraint": "y w.x / sqrt(d) >= kappa, x ~ N(0, I_d), random labels; alpha = n / d",
    "entropy": "RS log-volume per weight (nats); spherical |w|^2 = d, binary w_i = +-1",
}

_OPTIONS = ("rtol", "max_iter", "n_quad", "init", "damping", "method")


@lru_cache(maxsize=8)
def _legendre(n):
    return np.polynomial.legendre.leggauss(n)


def spherical_capacity(kappa) -> float:
    """Gardner's capacity ``1 / [(1 + kappa**2) Phi(kappa) + kappa phi(kappa)]`` (1988, eq. 24)."""
    kappa = check_real("kappa", kappa)
    return 1.0 / ((1.0 + kappa * kappa) * Phi(kappa) + kappa * phi(kappa))


@register_model("replica.GardnerVolume")
@dataclass(frozen=True)
class GardnerVolume:
    """Perceptron storage problem with random labels and margin ``kappa``.

    Parameters
    ----------
    prior : "spherical" or "rademacher" (or a Spherical / Rademacher instance)
        Spherical (``|w|**2 = d``) or binary (``w_i = +-1``) weights.
    margin : float
        Stability threshold ``kappa`` (any real; negative margins allowed).
    """

    prior: Prior = None
    margin: float = 0.0

    def __post_init__(self):
        p = self.prior
        if p is None or isinstance(p, str):
            p = get_prior(p or "spherical")
            object.__setattr__(self, "prior", p)
        if not isinstance(p, (Spherical, Rademacher)):
            raise ValueError(f"prior must be spherical or rademacher for the Gardner volume, got {p!r}")
        if isinstance(p, Spherical) and p.rho != 1.0:
            raise ValueError(f"prior: the spherical Gardner volume uses rho = 1, got rho = {p.rho!r}")
        check_real("margin", self.margin)

    @property
    def binary(self) -> bool:
        return isinstance(self.prior, Rademacher)


@register_result("replica.GardnerResult")
class GardnerResult(Result):
    """RS saddle point of the Gardner volume at one ``alpha``."""


def _G(q, kappa, n):
    return K.gardner_integrals(float(q), float(kappa), *_legendre(n))


def _spherical_alpha_of_q(q, kappa, n):
    g, m2 = _G(q, kappa, n)
    return q / ((1.0 - q) * m2)


def _entropy(model, q, qhat, alpha, n):
    g, _ = _G(q, model.margin, n)
    if model.binary:
        z, w = hermite(96)
        x = math.sqrt(qhat) * z
        lc = np.abs(x) + np.log1p(np.exp(-2 * np.abs(x)))
        return -0.5 * qhat * (1.0 - q) + float(np.dot(w, lc)) + alpha * g
    return 0.5 * math.log1p(-q) + 0.5 * q / (1.0 - q) + alpha * g


def solve_gardner(model: GardnerVolume, alpha, *, rtol=1e-12, max_iter=10_000, n_quad=32,
                  init=None, damping="adaptive", method="anderson") -> GardnerResult:
    """RS saddle point of the Gardner volume at ``alpha``.

    Spherical: the root of ``alpha(q) = q / ((1-q) E[M**2]) = alpha`` by Brent
    (``alpha(q)`` increases from 0 to ``alpha_c``); above capacity the volume
    is empty (``q = 1``, entropy ``-inf``, scalar ``sat = False``).  Binary:
    damped Anderson iteration of ``(q, qhat)`` from ``init`` (a ``q``).
    ``n_quad`` is the Gauss–Legendre nodes per panel.
    """
    alpha = check_real("alpha", alpha, low=0.0)
    rtol = check_real("rtol", rtol, low=0.0, low_open=True)
    n_quad = check_int("n_quad", n_quad, low=4, high=200)
    max_iter = check_int("max_iter", max_iter, low=1)
    t0 = time.perf_counter()
    kappa = model.margin
    opts = {"rtol": rtol, "max_iter": max_iter, "n_quad": n_quad}
    if not model.binary:
        ac = spherical_capacity(kappa)
        if alpha == 0.0:
            q, n_it, msg = 0.0, 0, "alpha = 0: q = 0"
        elif alpha >= ac:
            sc = {"alpha": alpha, "q": 1.0, "qhat": math.inf, "entropy": -math.inf, "sat": False,
                  "alpha_c": ac}
            return GardnerResult(success=True, message="alpha >= alpha_c: the version space is empty",
                                 model=model, options=opts, conventions=CONVENTIONS, scalars=sc,
                                 timings={"solve": time.perf_counter() - t0})
        else:
            f = lambda t: _spherical_alpha_of_q(-math.expm1(-t), kappa, n_quad) - alpha  # noqa: E731
            hi = 1.0
            while f(hi) < 0.0 and hi < 60.0:
                hi *= 2.0
            t = brentq(f, 1e-14, hi, xtol=1e-15, rtol=rtol, maxiter=max_iter)
            q, n_it, msg = -math.expm1(-t), 0, "converged (Brent on q)"
        qhat = q / (1.0 - q) ** 2
        sc = {"alpha": alpha, "q": q, "qhat": qhat, "entropy": _entropy(model, q, qhat, alpha, n_quad),
              "sat": True, "alpha_c": ac}
        return GardnerResult(success=True, message=msg, n_iter=n_it, residual=0.0, model=model,
                             options=opts, conventions=CONVENTIONS, scalars=sc,
                             timings={"solve": time.perf_counter() - t0})
    z, w = hermite(96)

    def F(x):
        q = x[0]
        if q >= 1.0:
            return np.array([1.0])
        _, m2 = _G(q, kappa, n_quad)
        qhat = alpha * m2 / (1.0 - q)
        return np.array([float(np.dot(w, np.tanh(math.sqrt(qhat) * z) ** 2))])

    q0 = 1e-3 if init is None else check_real("init", init, low=0.0, high=1.0, high_open=True)
    out = iterate(F, np.array([q0]), valid=lambda x: 0.0 <= x[0] <= 1.0, rtol=rtol, max_iter=max_iter,
                  damping=damping, method=method)
    q = float(out.x[0])
    success = out.success and 0.0 <= q <= 1.0
    message = out.message
    if success and q >= 1.0:
        # tanh^2 saturates: the RS overlap has reached 1, the volume is empty
        message = "the RS overlap reached q = 1 (empty version space); " + message
    qhat = alpha * _G(q, kappa, n_quad)[1] / (1.0 - q) if q < 1.0 else math.inf
    s = _entropy(model, q, qhat, alpha, n_quad) if q < 1.0 else -math.inf
    sc = {"alpha": alpha, "q": q, "qhat": qhat, "entropy": s, "sat": bool(s > 0.0)}
    return GardnerResult(success=success, status=0 if success else -1, message=message,
                         n_iter=out.n_iter, residual=out.residual, model=model, options=opts,
                         conventions=CONVENTIONS, scalars=sc, timings={"solve": time.perf_counter() - t0})


def capacity(model: GardnerVolume, *, xtol=1e-10, n_quad=32) -> float:
    """Storage capacity ``alpha_c`` of a :class:`GardnerVolume`.

    Spherical: Gardner's closed form.  Binary: the zero of the RS entropy
    ``s(alpha)`` along the RS saddle (Brent in ``alpha`` to ``xtol``;
    Krauth & Mézard 1989 for ``kappa = 0``: ``~0.833``).
    """
    if not model.binary:
        return spherical_capacity(model.margin)

    def s(a):
        return solve_gardner(model, a, n_quad=n_quad).entropy

    lo, hi = 1e-3, 0.5
    while s(hi) > 0.0:
        lo, hi = hi, hi * 1.5
        if hi > 1e4:  # pragma: no cover
            return math.nan
    return brentq(s, lo, hi, xtol=xtol, rtol=1e-14)
