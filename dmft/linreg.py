"""Gradient flow on least squares with Gaussian data: a closed Gaussian DMFT.

Model (:class:`LinearRegressionGF`): ``n`` samples ``x_mu`` in ``R^d`` with iid
N(0, 1) entries, ``alpha = n/d`` (``gamma = d/n = 1/alpha``), labels ``y_mu =
x_mu . beta* + eps_mu`` with ``|beta*|^2 = r^2`` (``signal``) and ``eps`` of
variance ``sigma^2`` (``noise``); gradient flow from ``beta(0) = 0`` on
``L(beta) = |y - X beta|^2/(2n) + ridge |beta|^2 / 2``, or Langevin dynamics
``d beta = -grad L dt + sqrt(2 T / d) dW`` at ``temperature`` T.

DMFT (derived by the cavity method in the scaling ``theta = sqrt(d) beta``,
``Delta = theta - theta*``; the same bipartite structure as Mignacco et al.,
NeurIPS 2020, and Celentano, Cheng & Montanari, arXiv:2112.07572, for the
square loss).  Parameter side::

    dDelta/dt = -(1 + ridge) Delta - ridge theta* + int_0^t Rr(t,s) Delta(s) ds + xi(t) + eta(t),
    <xi(t) xi(s)> = gamma C_l(t,s),   <eta(t) eta(s)> = 2 T delta(t - s),

sample side ``l(t) = eps - u(t)``, ``u(t) = zeta(t) + gamma int_0^t R(t,s) l(s) ds``,
``<zeta zeta> = C``, whence the regular sample response ``Rr`` and the loss
correlation ``C_l``::

    Rr(t,t') = gamma R(t,t') - gamma int_t'^t R(t,s) Rr(s,t') ds,
    C_l = (1 - Rr) (sigma^2 + C) (1 - Rr)^T     (operators on [0, t]),

with ``C(t,t') = <Delta(t) Delta(t')>`` (so ``C(t,t) = |beta(t) - beta*|^2``),
``R`` its response and ``m(t) = <theta* Delta(t)>`` (a one-time variable,
``m(0) = -r^2``).  Observables: ``error = C(t,t)``, test risk
``(C(t,t) + sigma^2)/2`` and training loss ``C_l(t,t)/2``.

The exact finite-sample answer (:func:`mp_error`, :func:`mp_train_loss`) is an
average over the Marchenko–Pastur law of ``X^T X / n``; tests pit the DMFT
against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


import lmech
from lmech import randmat
from lmech.checks import check_real

__all__ = ["LinearRegressionGF", "mp_density", "mp_error", "mp_train_loss"]


@lmech.register_model("dmft.LinearRegressionGF")
@dataclass(frozen=True)
class LinearRegressionGF(lmech.Model):
    """Gradient flow on ridge least squares with iid Gaussian data.

    Parameters
    ----------
    alpha : float
        Samples per dimension ``n/d > 0``.
    noise : float
        Label-noise variance ``sigma^2 >= 0``.
    ridge : float
        Ridge penalty ``lambda >= 0`` (loss ``|y - X beta|^2/(2n) + lambda |beta|^2/2``).
    signal : float
        ``r^2 = |beta*|^2 > 0``.
    temperature : float
        Langevin temperature ``T >= 0`` (0: gradient flow); the noise on
        ``beta`` is ``sqrt(2T/d) dW`` per component.
    """

    alpha: float = lmech.param(2.0, low=0.0, low_open=True, help="samples per dimension n/d")
    noise: float = lmech.param(0.0, low=0.0, help="label-noise variance")
    ridge: float = lmech.param(0.0, low=0.0, help="ridge penalty")
    signal: float = lmech.param(1.0, low=0.0, low_open=True, help="|beta*|^2")
    temperature: float = lmech.param(0.0, low=0.0, help="Langevin temperature (0: gradient flow)")

    @property
    def gamma(self) -> float:
        """``d/n = 1/alpha``."""
        return 1.0 / self.alpha

    def conventions(self) -> dict:
        return {
            "data": "x_mu ~ N(0, I_d), y = x.beta* + eps, |beta*|^2 = signal, Var eps = noise",
            "loss": "|y - X beta|^2/(2n) + ridge |beta|^2/2, gradient flow from beta = 0",
            "time": "gradient-flow time (learning rate 1)",
            "temperature": "d beta = -grad L dt + sqrt(2 T/d) dW (T = temperature)",
            "correlation": "C(t,t') = (beta(t)-beta*).(beta(t')-beta*)",
            "response": "R(t,t') response of sqrt(d)(beta_i - beta*_i) to a force at t'",
            "test_risk": "E (y - x.beta)^2 / 2 = (C(t,t) + noise)/2",
            "train_loss": "|y - X beta|^2/(2n) = C_l(t,t)/2 (without the ridge term)",
        }


def mp_density(gamma: float):
    """Marchenko–Pastur law of ``X^T X / n`` (``X`` n x d, ``gamma = d/n``), from :mod:`lmech.randmat`.

    Returns ``(lo, hi, density, atom)``: the continuous part on ``[lo, hi] =
    [(1-sqrt g)^2, (1+sqrt g)^2]`` with density ``sqrt((hi-s)(s-lo)) / (2 pi
    gamma s)`` (:func:`lmech.randmat.mp_density`) and the mass ``max(0, 1 -
    1/gamma)`` of the atom at 0 (Bai & Silverstein 2010, eq. (3.1.1)).
    """
    g = check_real("gamma", gamma, low=0.0, low_open=True)
    lo, hi = randmat.mp_edges(g)

    def density(s):
        return randmat.mp_density(s, g)

    return lo, hi, density, randmat.mp_atom(g)


def _mp_integral(gamma, fn):
    """Int fn(s) dF(s) over the Marchenko–Pastur law: :func:`lmech.randmat.mp_expect`."""
    g = check_real("gamma", gamma, low=0.0, low_open=True)
    return randmat.mp_expect(fn, g)


def _check_model_t(model, t):
    if not isinstance(model, LinearRegressionGF):
        raise ValueError(f"model must be a LinearRegressionGF, got {type(model).__name__}")
    return check_real("t", t, low=0.0)


def mp_error(model: LinearRegressionGF, t: float) -> float:
    """Exact ``|beta(t) - beta*|^2`` as d -> infinity (Marchenko–Pastur average).

    With ``S = X^T X/n`` and ``lambda`` the ridge, ``beta(t) = (S+lambda)^-1
    (1 - e^{-(S+lambda)t}) (S beta* + X^T eps / n)``, so with ``k_s = 1 -
    e^{-(s+lambda) t}``::

        r^2 Int (s k_s/(s+lambda) - 1)^2 dF + sigma^2 gamma Int s k_s^2/(s+lambda)^2 dF,

    which at ``lambda = 0`` is ``r^2 Int e^{-2st} dF + sigma^2
    gamma Int (1-e^{-st})^2/s dF``.  Langevin noise at temperature T adds
    ``T Int (1 - e^{-2(s+lambda)t})/(s+lambda) dF`` (Ornstein–Uhlenbeck
    variance of each eigen-direction, summed with weight 1/d).
    """
    t = _check_model_t(model, t)
    lam, g, r2, s2 = model.ridge, model.gamma, model.signal, model.noise
    T = model.temperature

    def kt(s):
        # k_s / (s + lambda) = t (1 - e^{-x})/x with x = (s + lambda) t, stable as x -> 0
        x = (s + lam) * t
        return t if x < 1e-300 else t * (-math.expm1(-x) / x)

    def bias(s):
        return (s * kt(s) - 1.0) ** 2

    def var(s):
        return s * kt(s) ** 2

    def thermal(s):
        # (1 - e^{-2(s+lambda)t})/(s+lambda)
        x = 2.0 * (s + lam) * t
        return 2.0 * t if x < 1e-300 else 2.0 * t * (-math.expm1(-x) / x)

    out = r2 * _mp_integral(g, bias) + s2 * g * _mp_integral(g, var)
    if T > 0:
        out += T * _mp_integral(g, thermal)
    return out


def mp_train_loss(model: LinearRegressionGF, t: float) -> float:
    """Exact training loss ``|y - X beta(t)|^2/(2n)`` at ridge 0 (Marchenko–Pastur average).

    ``(1/2)[sigma^2 (1 - gamma) + Int e^{-2st} (r^2 s + gamma sigma^2) dF(s)]``
    (``gamma < 1``; for ``gamma >= 1`` the first term is ``0`` and the atom of
    F at 0 contributes nothing to the second).
    """
    t = _check_model_t(model, t)
    if model.ridge != 0.0:
        raise ValueError("ridge must be 0 for mp_train_loss")
    if model.temperature != 0.0:
        raise ValueError("temperature must be 0 for mp_train_loss")
    g, r2, s2 = model.gamma, model.signal, model.noise

    def fn(s):
        return math.exp(-2.0 * s * t) * (r2 * s + (g * s2 if s > 0 else 0.0))

    if g < 1.0:
        return 0.5 * (s2 * (1.0 - g) + _mp_integral(g, fn))
    return 0.5 * _mp_integral(g, fn)
