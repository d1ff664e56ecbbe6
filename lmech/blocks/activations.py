"""Activations ``g(u)``: value, derivative and Gaussian-equivalence coefficients.

One home for every layer.  Two scalings of the error function are in use and
have distinct names here:

* ``erf_sqrt2``: ``g(u) = erf(u / sqrt 2)`` (Saad & Solla, PRE 52, 4225 (1995);
  what :mod:`odes` and :mod:`validation` call ``"erf"``, kept as an alias);
* ``erf_sqrtpi``: ``g(u) = erf(sqrt(pi) u / 2)``, of unit slope at 0 (the random
  RNN of :mod:`dmft`, whose ``"erf"`` means this one).

Each activation is a small frozen dataclass with ``name``, ``code`` (its row in
the Numba table ``act_g(code, u)``, ``act_dg(code, u)``; ``-1`` for
:class:`Custom`), vectorised :meth:`Activation.g`, :meth:`Activation.dg` and
:meth:`Activation.coefficients`, the Gaussian-equivalence coefficients
``(mu0, mu1, mu_star)`` with ``z ~ N(0, 1)``::

    mu0 = E g(z),  mu1 = E z g(z) = E g'(z),  mu_star = sqrt(E g(z)**2 - mu0**2 - mu1**2)

(Mei & Montanari, CPAM 75, 667 (2022), eq. (8); Goldt et al., PRX 10, 041044
(2020)), in closed form where one exists (erf: E g**2 from Williams, Neural
Comput. 10, 1203 (1998), ``E erf(a z)**2 = (2/pi) arcsin(2a**2/(1 + 2a**2))``)
and by adaptive quadrature with an error bound otherwise (tanh, custom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
from numba import njit

from lmech.spec import Model, param, register_model
from lmech.warm import register_warmup

__all__ = ["Activation", "ErfSqrt2", "ErfSqrtPi", "Relu", "Linear", "Quadratic", "Tanh", "Custom",
           "ACTIVATIONS", "get_activation", "act_g", "act_dg",
           "ERF_SQRT2", "RELU", "LINEAR", "QUADRATIC", "TANH", "ERF_SQRTPI"]

#: kernel codes; 0-3 are those of :mod:`odes` and :mod:`validation` before the move
ERF_SQRT2, RELU, LINEAR, QUADRATIC, TANH, ERF_SQRTPI = 0, 1, 2, 3, 4, 5

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_HALF_SQRTPI = 0.5 * math.sqrt(math.pi)


# ---------------------------------------------------------------------------
# the Numba table (add one branch per new activation)
# ---------------------------------------------------------------------------
@njit(cache=True)
def act_g(code, u):
    """Activation ``g(u)`` of the kernel ``code``."""
    if code == ERF_SQRT2:
        return math.erf(u * _INV_SQRT2)
    if code == RELU:
        return u if u > 0.0 else 0.0
    if code == LINEAR:
        return u
    if code == QUADRATIC:
        return u * u
    if code == TANH:
        return math.tanh(u)
    if code == ERF_SQRTPI:
        return math.erf(_HALF_SQRTPI * u)
    return math.nan


@njit(cache=True)
def act_dg(code, u):
    """Derivative ``g'(u)`` (ReLU: ``g'(0) = 0``)."""
    if code == ERF_SQRT2:
        return _SQRT_2_OVER_PI * math.exp(-0.5 * u * u)
    if code == RELU:
        return 1.0 if u > 0.0 else 0.0
    if code == LINEAR:
        return 1.0
    if code == QUADRATIC:
        return 2.0 * u
    if code == TANH:
        c = math.cosh(u)
        return 1.0 / (c * c) if c < 1e150 else 0.0
    if code == ERF_SQRTPI:
        return math.exp(-0.25 * math.pi * u * u)
    return math.nan


@njit(cache=True)
def _vec(which, code, u, out):
    for i in range(out.shape[0]):
        out[i] = act_g(code, u[i]) if which == 0 else act_dg(code, u[i])


def _gauss_moments(g, *, epsabs=1e-13):
    """``(E g, E z g, E g**2)`` over ``z ~ N(0, 1)`` by adaptive quadrature (QUADPACK, error bounded).

    Each integrand is integrated on ``[-40, 0]`` and ``[0, 40]`` (``0`` is
    where ReLU-like kinks sit; beyond ``|z| = 40`` the Gaussian weight is below
    ``1e-347``, negligible against any polynomially bounded ``g``); raises
    ValueError if QUADPACK's error estimate exceeds ``100 epsabs`` (a wild
    ``g``).
    """
    from scipy import integrate

    def phi(z):
        return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    out = []
    for f in (g, lambda z: z * g(z), lambda z: g(z) ** 2):
        tot, err = 0.0, 0.0
        for lo, hi in ((-40.0, 0.0), (0.0, 40.0)):
            v, e = integrate.quad(lambda z: f(z) * phi(z), lo, hi, epsabs=epsabs, epsrel=1e-12, limit=200)
            tot += v
            err += e
        if not err <= 100.0 * epsabs * max(1.0, abs(tot)):
            raise ValueError(f"activation: Gaussian moment not resolved (quadrature error {err:.1e})")
        out.append(tot)
    return tuple(out)


def _coefs(mu0, mu1, eg2):
    return mu0, mu1, math.sqrt(max(eg2 - mu0 * mu0 - mu1 * mu1, 0.0))


class Activation(Model):
    """Base of the activations: ``name``, ``code`` (``-1``: no kernel), :meth:`g`, :meth:`dg`,
    :meth:`coefficients` (closed form in the subclasses that have one, quadrature otherwise)."""

    name: ClassVar[str] = "activation"
    code: ClassVar[int] = -1

    def kernel_code(self, where: str = "this solver") -> int:
        """The kernel code; ValueError for an activation without a compiled kernel."""
        if self.code < 0:
            raise ValueError(f"activation: {where} needs a built-in activation "
                             f"({', '.join(sorted(ACTIVATIONS))}), got {self!r}")
        return self.code

    def _table(self, which, u):
        u = np.asarray(u, dtype=float)
        flat = np.ascontiguousarray(u, dtype=np.float64).ravel()
        out = np.empty(flat.size)
        _vec(which, self.kernel_code(), flat, out)
        return out.reshape(u.shape) if u.shape else float(out[0])

    def g(self, u):
        """``g(u)``, elementwise."""
        return self._table(0, u)

    def dg(self, u):
        """``g'(u)``, elementwise."""
        return self._table(1, u)

    def coefficients(self) -> tuple:
        """``(mu0, mu1, mu_star)``: ``E g(z)``, ``E z g(z)``, ``sqrt(E g**2 - mu0**2 - mu1**2)``, ``z ~ N(0,1)``.

        Default: adaptive quadrature of ``g`` (error below ``1e-12``); ``mu1`` as ``E z g(z)``,
        which needs no derivative.
        """
        return _coefs(*_gauss_moments(lambda z: float(self.g(z))))


@register_model("lmech.activations.ErfSqrt2")
@dataclass(frozen=True)
class ErfSqrt2(Activation):
    """``g(u) = erf(u / sqrt 2)``: ``mu0 = 0``, ``mu1 = 1/sqrt(pi)``, ``E g**2 = 1/3``."""

    name: ClassVar[str] = "erf_sqrt2"
    code: ClassVar[int] = ERF_SQRT2

    def coefficients(self):
        return _coefs(0.0, 1.0 / math.sqrt(math.pi), 1.0 / 3.0)


@register_model("lmech.activations.ErfSqrtPi")
@dataclass(frozen=True)
class ErfSqrtPi(Activation):
    """``g(u) = erf(sqrt(pi) u / 2)`` (unit slope at 0; the random RNN of :mod:`dmft`):
    ``mu1 = 1/sqrt(1 + pi/2)``, ``E g**2 = (2/pi) arcsin(pi / (2 + pi))``."""

    name: ClassVar[str] = "erf_sqrtpi"
    code: ClassVar[int] = ERF_SQRTPI

    def coefficients(self):
        k = 0.5 * math.pi
        return _coefs(0.0, 1.0 / math.sqrt(1.0 + k), (2.0 / math.pi) * math.asin(k / (1.0 + k)))


@register_model("lmech.activations.Relu")
@dataclass(frozen=True)
class Relu(Activation):
    """``g(u) = max(0, u)``: ``mu0 = 1/sqrt(2 pi)``, ``mu1 = 1/2``, ``E g**2 = 1/2``."""

    name: ClassVar[str] = "relu"
    code: ClassVar[int] = RELU

    def coefficients(self):
        return _coefs(1.0 / math.sqrt(2.0 * math.pi), 0.5, 0.5)


@register_model("lmech.activations.Linear")
@dataclass(frozen=True)
class Linear(Activation):
    """``g(u) = u``: ``(mu0, mu1, mu_star) = (0, 1, 0)``."""

    name: ClassVar[str] = "linear"
    code: ClassVar[int] = LINEAR

    def coefficients(self):
        return 0.0, 1.0, 0.0


@register_model("lmech.activations.Quadratic")
@dataclass(frozen=True)
class Quadratic(Activation):
    """``g(u) = u**2``: ``mu0 = 1``, ``mu1 = 0``, ``E g**2 = 3``."""

    name: ClassVar[str] = "quadratic"
    code: ClassVar[int] = QUADRATIC

    def coefficients(self):
        return _coefs(1.0, 0.0, 3.0)


@register_model("lmech.activations.Tanh")
@dataclass(frozen=True)
class Tanh(Activation):
    """``g(u) = tanh(u)``: no closed form; coefficients by adaptive quadrature (odd: ``mu0 = 0``)."""

    name: ClassVar[str] = "tanh"
    code: ClassVar[int] = TANH


@register_model("lmech.activations.Custom")
@dataclass(frozen=True)
class Custom(Activation):
    """A user activation: Python callables ``g`` and optionally ``dg`` (else a central difference
    of step ``1e-5 max(1, |u|)``).  No compiled kernel: layers that need one refuse it."""

    g_fn: Callable = param(type=object, spec=False, help="g(u), a scalar Python callable")
    dg_fn: Callable = param(None, type=object, spec=False, help="g'(u), optional")
    name: ClassVar[str] = "custom"

    def check(self):
        if not callable(self.g_fn):
            raise ValueError(f"g_fn must be callable, got {self.g_fn!r}")
        if self.dg_fn is not None and not callable(self.dg_fn):
            raise ValueError(f"dg_fn must be callable or None, got {self.dg_fn!r}")

    def g(self, u):
        return np.vectorize(lambda x: float(self.g_fn(x)), otypes=[float])(u)[()]

    def dg(self, u):
        if self.dg_fn is not None:
            return np.vectorize(lambda x: float(self.dg_fn(x)), otypes=[float])(u)[()]

        def cd(x):
            h = 1e-5 * max(1.0, abs(x))
            return (float(self.g_fn(x + h)) - float(self.g_fn(x - h))) / (2.0 * h)

        return np.vectorize(cd, otypes=[float])(u)[()]

    def coefficients(self):
        return _coefs(*_gauss_moments(lambda z: float(self.g_fn(z))))


#: registry: name -> class; ``erf`` is the alias of ``erf_sqrt2`` used by :mod:`odes` and :mod:`validation`
ACTIVATIONS = {"erf_sqrt2": ErfSqrt2, "erf": ErfSqrt2, "erf_sqrtpi": ErfSqrtPi, "relu": Relu,
               "linear": Linear, "quadratic": Quadratic, "tanh": Tanh}


def get_activation(name, **params) -> Activation:
    """An activation by name (see :data:`ACTIVATIONS`), a callable (wrapped in :class:`Custom`), or
    ``name`` itself if it is an :class:`Activation`."""
    if isinstance(name, Activation):
        return name
    if callable(name):
        return Custom(name, **params)
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(sorted(ACTIVATIONS))} or a callable; "
                         f"got {name!r}")
    return ACTIVATIONS[key](**params)


@register_warmup("lmech.blocks.activations")
def warmup():
    """Compile the activation table once."""
    u = np.array([-0.5, 0.3])
    for code in (ERF_SQRT2, RELU, LINEAR, QUADRATIC, TANH, ERF_SQRTPI):
        out = np.empty(2)
        _vec(0, code, u, out)
        _vec(1, code, u, out)
        act_g(code, 0.3)
        act_dg(code, 0.3)
