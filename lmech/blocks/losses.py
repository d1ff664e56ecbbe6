"""Losses ``l(y, h)`` of a label ``y`` and a pre-activation ``h``: value, derivatives, prox.

One home for every layer: :mod:`replica` (the ERM saddle point integrates the
proximal operator in the margin variable), :mod:`dmft` (the sampled effective
process calls value, derivatives and the prox in ``h``) and :mod:`validation`
(finite-size fits and gradient dynamics).  Each loss is a small frozen
dataclass (registered with :func:`lmech.spec.register_model`, so a model
holding it serialises) and carries

* ``name`` (its registry key), a spec name ``"lmech.losses.<Class>"`` (the
  four losses the replica layer had before the move are written under their
  old names ``"replica.Square"``, ``"replica.Logistic"``, ``"replica.Hinge"``,
  ``"replica.SquaredHinge"``, so that archived specs re-serialise unchanged;
  both names load), ``code`` (its row in the Numba table, ``-1``
  for a loss without a kernel) and its parameters as :func:`lmech.spec.param`
  fields (passed to the kernels as the float64 array :attr:`Loss.par`);
* vectorised :meth:`Loss.value`, :meth:`Loss.d1`, :meth:`Loss.d2` (derivatives
  in ``h``), :meth:`Loss.prox` (``h = prox_{c l(y, .)}(v) = argmin_h [l(y, h) +
  (h - v)**2/(2c)]`` and ``dh/dv``), :meth:`Loss.prox_margin` (the prox in the
  margin ``t = y h`` of a margin loss ``l(y, h) = ell(y h)``, ``y = +-1``, as
  the replica ERM channel integrals use it) and :meth:`Loss.kinks`.

The Numba table is one set of scalar kernels, each dispatching on the code:
``loss_value(code, par, y, h)``, ``loss_d1``, ``loss_d2``,
``loss_prox(code, par, y, v, c) -> (h, dh/dv)`` and
``prox_margin(code, par, om, V) -> (t, ell(t), ell''(t))`` (``ell'' = inf`` on
a kink).  Kernels of the layers call these with ``loss.code`` and
``loss.par``; the Python methods call them too, so the compiled and the
Python numbers are the same numbers.

Adding a loss touches this file only: its scalar kernels (value, d1, d2,
margin prox and/or prox in ``h``), one branch per dispatch kernel, and the
dataclass (with its ``kinks``; a regression loss ``rho(y - h)`` sets
``regression = True`` and gives ``residual_kinks``) in :data:`LOSSES`.
The layers take everything from here: :class:`replica.ERM` (margin prox on
sign channels; prox in ``h`` on the linear channel for regression losses),
:class:`dmft.GLMDynamics` (``method="sampled"``), the validation simulators
and the configs (``loss = {kind = "huber", delta = 1.0}``).  The test suite checks
every registered loss against finite differences and direct minimisation.

Conventions: margin losses (logistic, hinge, squared hinge) take labels
``y = +-1`` (their second derivative and prox use ``y**2 = 1``); the square
loss takes any real ``y``.  At a kink the derivative is the subgradient on
the flat side (hinge: ``l'(y, h) = 0`` at ``y h = 1``) and the second
derivative is 0; the margin prox reports ``ell'' = inf`` on a kink.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
from numba import njit

from lmech.checks import check_real
from lmech.spec import Model, param, register_model
from lmech.warm import register_warmup

__all__ = ["Loss", "Square", "Logistic", "Hinge", "SquaredHinge", "Huber", "ProxLoss", "Convex", "LOSSES",
           "get_loss", "SQUARE", "LOGISTIC", "HINGE", "SQUARED_HINGE", "HUBER",
           "loss_value", "loss_d1", "loss_d2", "loss_prox", "prox_margin", "sigmoid", "softplus"]

#: kernel codes (rows of the Numba table); the first three are those of every layer before the move
SQUARE, LOGISTIC, HINGE, SQUARED_HINGE, HUBER = 0, 1, 2, 3, 4


# ---------------------------------------------------------------------------
# scalar helpers
# ---------------------------------------------------------------------------
@njit(cache=True)
def sigmoid(x):
    """``1 / (1 + e^-x)`` without overflow."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def softplus(x):
    """``log(1 + e^x)`` without overflow."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


# ---------------------------------------------------------------------------
# square: l = (y - h)**2 / 2  (margin form ell(t) = (1 - t)**2 / 2 for y = +-1)
# ---------------------------------------------------------------------------
@njit(cache=True)
def _square_prox_margin(par, om, V):
    t = (om + V) / (1.0 + V)
    return t, 0.5 * (1.0 - t) ** 2, 1.0


@njit(cache=True)
def _square_prox(par, y, v, c):
    return (v + c * y) / (1.0 + c), 1.0 / (1.0 + c)


# ---------------------------------------------------------------------------
# logistic: l = log(1 + e^{-y h})
# ---------------------------------------------------------------------------
@njit(cache=True)
def _logistic_value(y, h):
    u = -y * h
    if u > 0.0:
        return u + math.log1p(math.exp(-u))
    return math.log1p(math.exp(u))


@njit(cache=True)
def _logistic_d1(y, h):
    u = y * h  # -y sigma(-y h)
    if u >= 0.0:
        e = math.exp(-u)
        return -y * e / (1.0 + e)
    return -y / (1.0 + math.exp(u))


@njit(cache=True)
def _logistic_d2(y, h):
    e = math.exp(-abs(y * h))
    return e / ((1.0 + e) * (1.0 + e))


@njit(cache=True)
def _logistic_prox_margin(par, om, V):
    # t = om + s with s = V sigma(-om - s) > 0.  In u = log s the equation
    # h(u) = u - log V + softplus(om + e^u) = 0 is convex and increasing, so
    # Newton started right of the root (s0 = V sigma(-om) >= s) decreases
    # monotonically to it: no cycling, quadratic convergence.
    lv = math.log(V)
    u = lv - softplus(om)
    for _ in range(200):
        eu = math.exp(u)
        h = u - lv + softplus(om + eu)
        if h <= 0.0:  # reached the root to rounding (iterates approach from h > 0)
            break
        hp = 1.0 + eu * sigmoid(om + eu)
        du = h / hp
        u -= du
        if du <= 1e-15 * max(1.0, abs(u)):
            break
    t = om + math.exp(u)
    sm = sigmoid(-t)
    return t, softplus(-t), sm * (1.0 - sm)


# ---------------------------------------------------------------------------
# hinge: l = max(0, 1 - y h)
# ---------------------------------------------------------------------------
@njit(cache=True)
def _hinge_prox_margin(par, om, V):
    if om >= 1.0:
        return om, 0.0, 0.0
    if om <= 1.0 - V:
        return om + V, 1.0 - om - V, 0.0
    return 1.0, 0.0, math.inf


# ---------------------------------------------------------------------------
# squared hinge: l = max(0, 1 - y h)**2 / 2
# ---------------------------------------------------------------------------
@njit(cache=True)
def _squared_hinge_prox_margin(par, om, V):
    if om >= 1.0:
        return om, 0.0, 0.0
    t = (om + V) / (1.0 + V)
    return t, 0.5 * (1.0 - t) ** 2, 1.0


# ---------------------------------------------------------------------------
# Huber (Huber, Ann. Math. Statist. 35, 73 (1964), eq. (8)): l = rho_delta(y - h),
# rho(r) = r**2/2 for |r| <= delta, delta |r| - delta**2/2 beyond; par = (delta,)
# ---------------------------------------------------------------------------
@njit(cache=True)
def _huber_rho(d, r):
    a = abs(r)
    return 0.5 * r * r if a <= d else d * (a - 0.5 * d)


@njit(cache=True)
def _huber_resid_prox(d, u, c):
    """``r = argmin_r rho(r) + (r - u)**2/(2c)`` and ``dr/du``: ``u/(1+c)`` for ``|u| <= d(1+c)``,
    else ``u - c d sign(u)`` (Huber's psi is the clip to ``[-d, d]``)."""
    if abs(u) <= d * (1.0 + c):
        return u / (1.0 + c), 1.0 / (1.0 + c)
    return u - math.copysign(c * d, u), 1.0


@njit(cache=True)
def _huber_prox(par, y, v, c):
    r, dr = _huber_resid_prox(par[0], y - v, c)  # h = y - r(y - v), dh/dv = r'(u)
    return y - r, dr


@njit(cache=True)
def _huber_prox_margin(par, om, V):
    # y = +-1: rho(y - h) = rho(1 - y h) (rho even), so ell(t) = rho(1 - t), t = 1 - r(1 - om)
    d = par[0]
    u = 1.0 - om
    r, _ = _huber_resid_prox(d, u, V)
    return 1.0 - r, _huber_rho(d, r), 1.0 if abs(u) <= d * (1.0 + V) else 0.0


# ---------------------------------------------------------------------------
# the Numba table: one dispatch per quantity (add one branch per new loss)
# ---------------------------------------------------------------------------
@njit(cache=True)
def loss_value(code, par, y, h):
    """``l(y, h)`` of the loss ``code`` with parameters ``par`` (float64 array)."""
    if code == SQUARE:
        return 0.5 * (y - h) * (y - h)
    if code == LOGISTIC:
        return _logistic_value(y, h)
    if code == HINGE:
        u = 1.0 - y * h
        return u if u > 0.0 else 0.0
    if code == SQUARED_HINGE:
        u = 1.0 - y * h
        return 0.5 * u * u if u > 0.0 else 0.0
    if code == HUBER:
        return _huber_rho(par[0], y - h)
    return math.nan


@njit(cache=True)
def loss_d1(code, par, y, h):
    """``d l / d h``; at a kink the subgradient on the flat side (hinge: 0 at ``y h = 1``)."""
    if code == SQUARE:
        return h - y
    if code == LOGISTIC:
        return _logistic_d1(y, h)
    if code == HINGE:
        return -y if y * h < 1.0 else 0.0
    if code == SQUARED_HINGE:
        u = 1.0 - y * h
        return -y * u if u > 0.0 else 0.0
    if code == HUBER:
        return -min(max(y - h, -par[0]), par[0])
    return math.nan


@njit(cache=True)
def loss_d2(code, par, y, h):
    """``d**2 l / d h**2`` (``y**2 = 1`` for margin losses; 0 at a kink)."""
    if code == SQUARE:
        return 1.0
    if code == LOGISTIC:
        return _logistic_d2(y, h)
    if code == HINGE:
        return 0.0
    if code == SQUARED_HINGE:
        return 1.0 if y * h < 1.0 else 0.0
    if code == HUBER:
        return 1.0 if abs(y - h) < par[0] else 0.0
    return math.nan


@njit(cache=True)
def prox_margin(code, par, om, V):
    """Proximal point in the margin variable: ``t = argmin_t (t - om)**2/(2V) + ell(t)``, ``V > 0``.

    Returns ``(t, ell(t), ell''(t))`` with ``ell'' = inf`` on a kink (the
    limit ``ell'' -> inf``: ``d t / d om = 1/(1 + V ell'') = 0`` there).
    Square ``(1 - t)**2/2`` and the hinges in closed form; logistic by
    Newton's method in ``log(t - om)`` (monotone, to rounding).
    """
    if code == SQUARE:
        return _square_prox_margin(par, om, V)
    if code == LOGISTIC:
        return _logistic_prox_margin(par, om, V)
    if code == HINGE:
        return _hinge_prox_margin(par, om, V)
    if code == SQUARED_HINGE:
        return _squared_hinge_prox_margin(par, om, V)
    if code == HUBER:
        return _huber_prox_margin(par, om, V)
    return math.nan, math.nan, math.nan


@njit(cache=True)
def _prox_from_margin(code, par, y, v, c):
    """``prox_{c l(y, .)}(v)`` of a margin loss (``y = +-1``): ``h = y t(y v)``, ``dh/dv = 1/(1 + c ell'')``."""
    t, _, l2 = prox_margin(code, par, y * v, c)
    if math.isinf(l2):
        return y * t, 0.0
    return y * t, 1.0 / (1.0 + c * l2)


@njit(cache=True)
def loss_prox(code, par, y, v, c):
    """``h = argmin_h [l(y, h) + (h - v)**2/(2c)]`` (``c > 0``) and ``dh/dv``.

    Equivalently the root of ``h + c l'(y, h) = v``.  The square loss in
    closed form for any real ``y``; margin losses through :func:`prox_margin`
    (``y = +-1``), with ``dh/dv = 0`` on a kink.
    """
    if code == SQUARE:
        return _square_prox(par, y, v, c)
    if code == HUBER:
        return _huber_prox(par, y, v, c)
    return _prox_from_margin(code, par, y, v, c)


# vectorised drivers of the Python methods
@njit(cache=True)
def _vec(which, code, par, y, h, out):
    for i in range(out.shape[0]):
        if which == 0:
            out[i] = loss_value(code, par, y[i], h[i])
        elif which == 1:
            out[i] = loss_d1(code, par, y[i], h[i])
        else:
            out[i] = loss_d2(code, par, y[i], h[i])


@njit(cache=True)
def _vec_prox(code, par, y, v, c, h, dh):
    for i in range(h.shape[0]):
        h[i], dh[i] = loss_prox(code, par, y[i], v[i], c[i])


@njit(cache=True)
def _vec_prox_margin(code, par, om, V, t, l, l2):
    for i in range(t.shape[0]):
        t[i], l[i], l2[i] = prox_margin(code, par, om[i], V)


# ---------------------------------------------------------------------------
# the blocks
# ---------------------------------------------------------------------------
def _flat(*arrays):
    b = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))
    return b[0].shape, [np.ascontiguousarray(x, dtype=np.float64).ravel() for x in b]


class Loss(Model):
    """Base of the losses ``l(y, h)``.

    A loss provides ``name`` and ``code`` (class attributes; ``code = -1``: no
    compiled kernel) and its parameters as :func:`lmech.spec.param` fields
    of a frozen dataclass.  A loss with a kernel gets every method here from
    the Numba table; a loss without one (:class:`ProxLoss`) overrides what it
    can provide, and layers needing a kernel refuse it with a ValueError
    (:meth:`kernel_code`).
    """

    name: ClassVar[str] = "loss"
    code: ClassVar[int] = -1
    #: a regression loss ``l(y, h) = rho(y - h)`` of the residual, for any real label ``y``
    #: (else a margin loss: labels ``+-1``)
    regression: ClassVar[bool] = False

    @property
    def par(self) -> np.ndarray:
        """The parameters as the float64 array the kernels take (empty array: none)."""
        vals = [float(getattr(self, f.name)) for f in dataclasses.fields(self)] \
            if dataclasses.is_dataclass(self) else []
        return np.array(vals if vals else [0.0], dtype=np.float64)

    def kernel_code(self, where: str = "this solver") -> int:
        """The kernel code; ValueError if the loss has no compiled kernel."""
        if self.code < 0:
            raise ValueError(f"loss: {where} needs a loss with a compiled kernel "
                             f"({', '.join(sorted(n for n, c in LOSSES.items() if c.code >= 0))}); "
                             f"got {self!r}")
        return self.code

    def _table(self, which, y, h):
        code = self.kernel_code("value/derivatives")
        shape, (yy, hh) = _flat(y, h)
        out = np.empty(yy.size)
        _vec(which, code, self.par, yy, hh, out)
        return out.reshape(shape) if shape else float(out[0])

    def value(self, y, h):
        """``l(y, h)``, broadcast over arrays."""
        return self._table(0, y, h)

    def d1(self, y, h):
        """``d l / d h`` (at a kink: the subgradient on the flat side)."""
        return self._table(1, y, h)

    def d2(self, y, h):
        """``d**2 l / d h**2`` (0 at a kink)."""
        return self._table(2, y, h)

    def prox(self, y, v, c):
        """``(h, dh/dv)`` with ``h = argmin_h [l(y, h) + (h - v)**2/(2c)]``, ``c > 0``; broadcast."""
        code = self.kernel_code("prox")
        shape, (yy, vv, cc) = _flat(y, v, c)
        if np.any(~(cc > 0.0)) or np.any(~np.isfinite(cc)):
            raise ValueError("c must lie in (0, inf)")
        h = np.empty(yy.size)
        dh = np.empty(yy.size)
        _vec_prox(code, self.par, yy, vv, cc, h, dh)
        if not shape:
            return float(h[0]), float(dh[0])
        return h.reshape(shape), dh.reshape(shape)

    def prox_margin(self, om, V):
        """Vectorised margin prox: ``t = argmin_t (t - om)**2/(2V) + ell(t)`` for an array ``om``.

        Returns ``(t, ell(t), ell''(t))`` as arrays (``ell'' = inf`` on a kink).
        """
        code = self.kernel_code("prox_margin")
        V = check_real("V", V, low=0.0, low_open=True)
        om = np.asarray(om, dtype=float)
        o = np.ascontiguousarray(om, dtype=np.float64).ravel()
        t, l, l2 = np.empty(o.size), np.empty(o.size), np.empty(o.size)
        _vec_prox_margin(code, self.par, o, V, t, l, l2)
        return t.reshape(om.shape), l.reshape(om.shape), l2.reshape(om.shape)

    def kinks(self, V) -> tuple:
        """Margins ``om`` where the prox ``t(om)`` (scale ``V``) is not smooth, or changes over a
        width of order 1: quadrature panels of integrals over ``om`` are cut there (default: none)."""
        return ()

    def residual_kinks(self, V) -> tuple:
        """For a regression loss: residuals ``u = y - v`` where its prox ``prox_{V l(y, .)}(v)`` is
        not smooth (quadrature panels are cut there; default: none)."""
        return ()


@register_model("replica.Square")  # the name archives written before the move hold (written)
@register_model("lmech.losses.Square")
@dataclass(frozen=True)
class Square(Loss):
    """``l(y, h) = (y - h)**2 / 2``; prox ``(v + c y)/(1 + c)``."""

    name: ClassVar[str] = "square"
    code: ClassVar[int] = SQUARE
    regression: ClassVar[bool] = True


@register_model("replica.Logistic")  # the name archives written before the move hold (written)
@register_model("lmech.losses.Logistic")
@dataclass(frozen=True)
class Logistic(Loss):
    """``l(y, h) = log(1 + exp(-y h))``, ``y = +-1``; prox by monotone Newton to rounding."""

    name: ClassVar[str] = "logistic"
    code: ClassVar[int] = LOGISTIC

    def kinks(self, V):
        # at large V the curvature term V ell''(t) crosses 1 at om ~ log V, over a width ~1
        if V <= 1.0:
            return ()
        lv = math.log(V)
        return tuple(lv + j for j in (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0) if lv + j > 0.0)


@register_model("replica.Hinge")  # the name archives written before the move hold (written)
@register_model("lmech.losses.Hinge")
@dataclass(frozen=True)
class Hinge(Loss):
    """``l(y, h) = max(0, 1 - y h)``, ``y = +-1``; prox in closed form (three regimes)."""

    name: ClassVar[str] = "hinge"
    code: ClassVar[int] = HINGE

    def kinks(self, V):
        return (1.0, 1.0 - V)


@register_model("replica.SquaredHinge")  # the name archives written before the move hold (written)
@register_model("lmech.losses.SquaredHinge")
@dataclass(frozen=True)
class SquaredHinge(Loss):
    """``l(y, h) = max(0, 1 - y h)**2 / 2``, ``y = +-1``; margin prox ``t = om`` for ``om >= 1``,
    else ``(om + V)/(1 + V)``."""

    name: ClassVar[str] = "squared-hinge"
    code: ClassVar[int] = SQUARED_HINGE

    def kinks(self, V):
        return (1.0,)


@register_model("lmech.losses.Huber")
@dataclass(frozen=True)
class Huber(Loss):
    """Huber's loss (Huber, Ann. Math. Statist. 35, 73 (1964), eq. (8)): ``l(y, h) = rho(y - h)``,
    ``rho(r) = r**2/2`` for ``|r| <= delta``, ``delta |r| - delta**2/2`` beyond.

    A regression loss (any real ``y``); for ``y = +-1`` it is also the margin
    loss ``ell(t) = rho(1 - t)`` (``rho`` is even).  Prox in closed form:
    ``r = y - h = u/(1 + c)`` for ``|u| <= delta (1 + c)``, else ``u - c delta
    sign(u)``, with ``u = y - v``.  ``delta -> inf`` is the square loss.
    """

    delta: float = param(1.0, low=0.0, low_open=True, help="threshold delta between the quadratic "
                                                             "and the linear part")
    name: ClassVar[str] = "huber"
    code: ClassVar[int] = HUBER
    regression: ClassVar[bool] = True

    def check(self):
        if not math.isfinite(self.delta):
            raise ValueError(f"delta must lie in (0, inf), got {self.delta!r}")

    def kinks(self, V):
        d = self.delta * (1.0 + V)
        return (1.0 - d, 1.0 + d)

    def residual_kinks(self, V):
        d = self.delta * (1.0 + V)
        return (-d, d)


class ProxLoss(Loss):
    """A convex margin loss ``l(y, h) = ell(y h)`` given only through its proximal operator.

    Subclass it (as a frozen dataclass registered with
    :func:`lmech.register_model`, so that models holding it serialise) and
    implement :meth:`prox_margin` (vectorised, NumPy) and, where the prox is
    not smooth, :meth:`kinks`.  There is no compiled kernel (``code = -1``):
    the replica ERM integrates it in NumPy; layers that need a kernel refuse
    it with a ValueError.
    """

    code: ClassVar[int] = -1

    def prox_margin(self, om, V):
        """Vectorised prox: ``t = argmin_t (t - om)**2/(2V) + ell(t)`` for an array ``om``.

        Returns ``(t, ell(t), ell''(t))`` as arrays; ``ell''`` may be ``inf``
        on a kink (then ``d_omega f_out = -1/V``).
        """
        raise NotImplementedError


@register_model("lmech.losses.Convex")
@dataclass(frozen=True)
class Convex(Loss):
    """Any convex loss given by its value: a Python callable ``fn(y, h)``, convex in ``h``.

    No compiled kernel (layers whose kernels need one refuse it with a
    ValueError; the replica ERM integrates it through :meth:`prox_margin`
    in NumPy: about 0.5 s per evaluation of its channel integrals, minutes
    per saddle point, so for exploration only: a loss used in earnest gets
    its kernel in this file).  Derivatives by central differences (``d1``
    step ``e = eps**(1/3) max(1, |h|)``, error ~1e-10 relative for a smooth
    loss; ``d2`` step ``eps**(1/4) max(1, |h|)``, error ~1e-7); the prox as
    the root of the increasing ``h - v + c l'(y, h)`` by Brent's method
    (:func:`scipy.optimize.brentq`, ``xtol = 4 eps max(1, |v|)``), so to
    ~1e-10 for a smooth loss, and to within the step ``e`` where the prox
    sits on a kink (the difference quotient smooths the kink over ``+-e``);
    ``dh/dv = 1/(1 + c l''(y, h))``.  A spec stores ``fn`` by name only: a
    loaded model keeps the name and refuses to evaluate.
    """

    fn: Callable = param(type=object, spec=False, help="l(y, h), a scalar Python callable convex in h")
    name: ClassVar[str] = "convex"

    def check(self):
        if not (callable(self.fn) or isinstance(self.fn, str)):
            raise ValueError(f"fn must be a callable l(y, h), got {self.fn!r}")

    @property
    def par(self):
        return np.zeros(1)

    def _f(self, y, h):
        if not callable(self.fn):
            raise ValueError(f"fn: the loss callable was stored by name only ({self.fn!r}); "
                             "rebuild the model with the callable")
        return float(self.fn(y, h))

    def _d1(self, y, h):
        e = 6.06e-6 * max(1.0, abs(h))  # eps**(1/3)
        return (self._f(y, h + e) - self._f(y, h - e)) / (2.0 * e)

    def _d2(self, y, h):
        e = 1.22e-4 * max(1.0, abs(h))  # eps**(1/4)
        return (self._f(y, h + e) - 2.0 * self._f(y, h) + self._f(y, h - e)) / (e * e)

    def _prox(self, y, v, c):
        from scipy.optimize import brentq

        g = lambda x: x - v + c * self._d1(y, x)  # noqa: E731  (increasing, slope >= 1)
        g0 = g(v)
        if g0 == 0.0:
            h = v
        else:
            step = max(1.0, abs(g0))
            lo, hi = (v - step, v) if g0 > 0.0 else (v, v + step)
            while g(lo) > 0.0:
                lo -= 2.0 * (hi - lo)
            while g(hi) < 0.0:
                hi += 2.0 * (hi - lo)
            h = brentq(g, lo, hi, xtol=4.0 * np.finfo(float).eps * max(1.0, abs(v)), rtol=4.0 * np.finfo(float).eps)
        return h, 1.0 / (1.0 + c * max(self._d2(y, h), 0.0))

    def _each(self, fn, *arrays):
        shape, flat = _flat(*arrays)
        out = np.array([fn(*args) for args in zip(*flat)], dtype=float)
        return out.reshape(shape + out.shape[1:]) if shape else (out[0] if out.ndim == 1 else tuple(out[0]))

    def value(self, y, h):
        return self._each(self._f, y, h)

    def d1(self, y, h):
        return self._each(self._d1, y, h)

    def d2(self, y, h):
        return self._each(self._d2, y, h)

    def prox(self, y, v, c):
        shape, (yy, vv, cc) = _flat(y, v, c)
        if np.any(~(cc > 0.0)) or np.any(~np.isfinite(cc)):
            raise ValueError("c must lie in (0, inf)")
        out = np.array([self._prox(a, b, d) for a, b, d in zip(yy, vv, cc)], dtype=float).reshape(-1, 2)
        if not shape:
            return float(out[0, 0]), float(out[0, 1])
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)

    def prox_margin(self, om, V):
        V = check_real("V", V, low=0.0, low_open=True)
        om = np.asarray(om, dtype=float)
        t = np.empty(om.size)
        l = np.empty(om.size)
        l2 = np.empty(om.size)
        for i, o in enumerate(om.ravel()):
            t[i] = self._prox(1.0, float(o), V)[0]
            l[i] = self._f(1.0, t[i])
            l2[i] = max(self._d2(1.0, t[i]), 0.0)
        return t.reshape(om.shape), l.reshape(om.shape), l2.reshape(om.shape)


#: registry: name -> class (aliases included: ``ridge`` is the square loss)
LOSSES = {"square": Square, "ridge": Square, "logistic": Logistic, "hinge": Hinge,
          "squared-hinge": SquaredHinge, "squared_hinge": SquaredHinge, "huber": Huber}


def get_loss(name, **params) -> Loss:
    """A loss by name (``square`` or ``ridge``, ``logistic``, ``hinge``, ``squared-hinge``, ``huber``), a
    callable ``l(y, h)`` (a :class:`Convex` loss), or ``name`` itself if it is a :class:`Loss`."""
    if isinstance(name, Loss):
        if params:
            raise ValueError("loss: parameters are given with a loss name, not with a Loss object")
        return name
    if callable(name):
        return Convex(name)
    key = str(name).lower()
    if key not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(sorted(LOSSES))}; got {name!r}")
    return LOSSES[key](**params)


@register_warmup("lmech.blocks.losses")
def warmup():
    """Compile the loss table once."""
    one = np.ones(2)
    for cls in {c for c in LOSSES.values() if c.code >= 0}:
        loss = cls()
        loss.value(one, one)
        loss.d1(one, one)
        loss.d2(one, one)
        loss.prox(one, one, one)
        loss.prox_margin(one, 2.0)
