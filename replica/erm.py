"""Convex empirical risk minimisation with L2 penalty: replica saddle point.

Estimator ``w_hat = argmin sum_mu l(y_mu, w.x_mu/sqrt d) + (lambda/2)|w|**2``
on teacher–student data (conventions of the layer: ``x ~ N(0, I_d)``, teacher
prior of second moment ``rho``, ``alpha = n/d``).  Replica-symmetric
equations of Aubin, Krzakala, Lu & Zdeborová, "Generalization error in
high-dimensional perceptrons: approaching Bayes error with convex
optimization", NeurIPS 2020 (eqs. 11-12), in the general form of Loureiro
et al., "Learning curves of generic features maps", NeurIPS 2021:

    V = 1/(lambda + Vhat),  m = rho mhat V,  q = (rho mhat**2 + qhat) V**2

    mhat = alpha E_xi sum_y d_omega Z0(y, omega0, V0) f_out(y, omega, V)
    qhat = alpha E_xi sum_y Z0 f_out**2
    Vhat = -alpha E_xi sum_y Z0 d_omega f_out

with ``omega = sqrt(q) xi``, ``omega0 = m xi / sqrt q``, ``V0 = rho - m**2/q``,
``f_out = (prox_{V l}(omega) - omega) / V``.  With an L2 penalty only the
second moment ``rho`` of the teacher prior enters.

Observables (the channel's :meth:`~lmech.blocks.channels.Channel.test_error`):
classification test error ``arccos(m / sqrt(rho q)) / pi`` (against the clean
teacher label; on the noisy label ``eps + (1 - 2 eps) arccos(m / sqrt(q (rho +
Delta))) / pi`` with label flips ``eps`` and probit noise ``Delta``),
regression excess error ``rho + q - 2m``, training loss ``E[l(y, prox)]``.

Ridge regression on a linear teacher has closed-form channel integrals and a
closed-form fixed point (:func:`ridge_closed_form`); every loss of
:mod:`lmech.blocks.losses` (square, logistic, hinge, squared hinge, ...) on a
sign-family teacher uses composite Gauss–Legendre panels placed at the
teacher's step and the loss kinks (its compiled margin prox), so that the
integrals stay accurate when ``V`` is in the thousands (``lambda -> 0``).  Any
other convex margin loss enters through its proximal operator
(:class:`ProxLoss`, integrated in NumPy).  ``lambda = 0`` is solved explicitly in rescaled
variables where the estimator interpolates (max-margin hinge, least-norm
square loss).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import ndtr

from lmech.blocks import losses as _bl
from lmech.blocks.losses import LOSSES, Hinge, Logistic, Loss, ProxLoss, Square, SquaredHinge, get_loss
from lmech.checks import check_choice, check_int, check_real
from lmech.result import Result, register_result
from lmech.spec import Model, Param, check_option, param, register_model
from lmech.status import Status

from . import _kernels as K
from .blocks import Channel, Linear, Prior, SignFamily, get_channel, get_prior, resolve_block
from .fixedpoint import iterate

__all__ = ["Loss", "Square", "Logistic", "Hinge", "ProxLoss", "SquaredHinge", "get_loss", "LOSSES", "ERM", "ERMResult",
           "solve_erm", "ridge_closed_form", "optimal_reg", "erm_diagram"]

CONVENTIONS = {
    "data": "x ~ N(0, I_d); pre-activation w.x / sqrt(d); alpha = n / d; teacher second moment rho",
    "penalty": "(lambda / 2) |w|^2 added to the sum (not mean) of the losses",
    "classification_error": "arccos(m / sqrt(rho q)) / pi against the clean teacher label sign(z)",
    "regression_error": "excess error rho + q - 2m (add Delta for the test error on noisy labels)",
    "training_loss": "E[l(y, prox_{V l}(omega))] per sample, without the penalty",
}


# The losses live in :mod:`lmech.blocks.losses` (one home for every layer); the four the
# layer had before the move are written under their old spec names ("replica.Square", ...).


@register_model("replica.ERM")
@dataclass(frozen=True)
class ERM(Model):
    """Convex ERM with L2 penalty on teacher–student GLM data.

    Parameters
    ----------
    loss : lmech.blocks.losses.Loss or str
        Any loss of :mod:`lmech.blocks.losses` (``square``, ``logistic``,
        ``hinge``, ``squared-hinge``, ...) or a :class:`ProxLoss`.
    reg : float
        L2 strength ``lambda >= 0`` (penalty ``lambda |w|**2 / 2``).
        ``lambda = 0`` is handled explicitly: square loss with ``alpha > 1``
        (unique minimiser), square loss with ``alpha < 1`` (least-norm
        interpolator) and hinge loss (max-margin classifier, the hard-margin
        SVM) are solved in the rescaled ``lambda -> 0`` variables; logistic
        loss on separable data has no minimiser (its direction tends to the
        max-margin one) and is reported as a failure.
    teacher_prior : Prior or str
        Only its second moment ``rho`` enters.
    channel : Channel or str
        Teacher channel: ``linear`` (a regression loss: square, huber, ...) or a sign family
        (``sign``, ``label-flip``, ``probit``).
    """

    loss: Loss = param(None, type=(str, Loss), spec=False,
                       help="training loss (a replica loss or its name; default logistic)")
    reg: float = param(1.0, low=0.0, help="L2 strength lambda (penalty lambda |w|^2 / 2)")
    teacher_prior: Prior = param(None, type=(str, Prior), spec=False,
                                 help="teacher prior (only its second moment rho enters; "
                                      "default gaussian)")
    channel: Channel = param(None, type=(str, Channel), spec=False,
                             help="teacher channel: linear (a regression loss) or a sign family "
                                  "(default sign)")

    def check(self):
        if self.loss is None or isinstance(self.loss, str):
            object.__setattr__(self, "loss", resolve_block("loss", self.loss, get_loss, "logistic"))
        if self.teacher_prior is None or isinstance(self.teacher_prior, str):
            object.__setattr__(self, "teacher_prior",
                               resolve_block("teacher_prior", self.teacher_prior, get_prior, "gaussian"))
        if self.channel is None or isinstance(self.channel, str):
            object.__setattr__(self, "channel", resolve_block("channel", self.channel, get_channel, "sign"))
        if not isinstance(self.loss, Loss):
            raise ValueError(f"loss must be a loss of lmech.blocks.losses, got {self.loss!r}")
        if not isinstance(self.teacher_prior, Prior):
            raise ValueError(f"teacher_prior must be a replica prior, got {self.teacher_prior!r}")
        if isinstance(self.channel, Linear):
            if not self.loss.regression or self.loss.code < 0:
                raise ValueError("loss: a linear teacher channel needs a regression loss with a kernel "
                                 "(Loss.regression: square, huber, ...)")
        elif not isinstance(self.channel, SignFamily):
            raise ValueError(f"channel must be linear or a sign family (sign, label-flip, probit), "
                             f"got {self.channel!r}")

    @property
    def rho(self) -> float:
        return float(self.teacher_prior.rho)

    @property
    def classification(self) -> bool:
        return isinstance(self.channel, SignFamily)


@register_result("replica.ERMResult")
class ERMResult(Result):
    """Replica saddle point of an :class:`ERM` at one ``alpha``."""

    #: codes before lmech.Status
    LEGACY_STATUS = {-2: Status.INVALID_STATE, -3: Status.NO_SOLUTION, -4: Status.TOLERANCE}


@lru_cache(maxsize=8)
def _legendre(n):
    return np.polynomial.legendre.leggauss(n)


def _hats(model: ERM, alpha, m, q, V, n):
    """``(mhat, qhat, Vhat, train_loss)``."""
    rho = model.rho
    ch = model.channel
    if isinstance(ch, Linear) and not isinstance(model.loss, _bl.Square):
        return _regression_hats(model.loss, alpha, m, q, V, rho + ch.delta, n)
    if isinstance(ch, Linear):
        d = ch.delta
        mh = alpha / (1.0 + V)
        qh = alpha * (rho + d + q - 2.0 * m) / (1.0 + V) ** 2
        tl = 0.5 * (rho + d + q - 2.0 * m) / (1.0 + V) ** 2
        return mh, qh, mh, tl
    d, e = ch._de()
    loss = model.loss
    if loss.code < 0:
        mh, qh, vh, tl = _prox_loss_hats(loss, q, m, V, rho, d, e, n)
    else:
        mh, qh, vh, tl = K.erm_sign_hats(loss.code, loss.par, q, m, V, rho, d, e, *_legendre(n),
                                         np.asarray(loss.kinks(V), dtype=np.float64))
    return alpha * mh, alpha * qh, alpha * vh, tl


_TAIL = 40.0   # Gaussian tail cut: phi(40) ~ 1e-348


def _regression_hats(loss, alpha, m, q, V, ey2, n):
    """Hats of a regression loss ``l(y, h) = rho(y - h)`` on a linear channel (``E y^2 = ey2``).

    Given ``omega = sqrt(q) xi``, the residual ``u = y - omega`` is Gaussian
    of variance ``s2 = ey2 + q - 2m`` and everything depends on it: with ``h =
    prox_{V l(u, .)}(0)`` (the prox at ``omega = 0`` of label ``u``), ``f_out
    = h / V``, ``d_omega f_out = (dh/dv - 1)/V = -d_y f_out``, so (Aubin et
    al., NeurIPS 2020, eqs. (13)-(14) for a Gaussian channel) ``qhat = alpha
    E f_out^2``, ``mhat = Vhat = alpha E (1 - dh/dv) / V`` and the training
    loss ``E l(u, h)``.  One Gaussian integral in ``u / sqrt(s2)``:
    ``n``-node Gauss-Legendre panels of unit width on ``[-40, 40]``, cut at
    the loss's :meth:`Loss.residual_kinks` (the integrand is smooth on each
    panel).  The square loss gives ``mhat = Vhat = alpha/(1+V)``.
    """
    s = math.sqrt(max(ey2 + q - 2.0 * m, 0.0))
    lp = loss.prox if s > 0.0 else None
    if s == 0.0:
        h, dh = loss.prox(0.0, 0.0, V)
        vh = (1.0 - dh) / V
        return alpha * vh, alpha * (h / V) ** 2, alpha * vh, float(loss.value(0.0, h))
    edges = np.arange(-_TAIL, _TAIL + 0.5)
    kinks = np.asarray(loss.residual_kinks(V), dtype=float) / s
    ed = np.unique(np.concatenate([edges, kinks[np.abs(kinks) < _TAIL]]))
    xg, wg = _legendre(n)
    a, b = ed[:-1], ed[1:]
    hw, c = 0.5 * (b - a), 0.5 * (a + b)
    xi = (c[:, None] + hw[:, None] * xg[None, :]).ravel()
    W = (hw[:, None] * wg[None, :]).ravel() * np.exp(-0.5 * xi * xi) / math.sqrt(2.0 * math.pi)
    u = s * xi
    h, dh = lp(u, 0.0, V)
    vh = float(np.dot(W, 1.0 - dh)) / V
    qh = float(np.dot(W, h * h)) / (V * V)
    tl = float(np.dot(W, loss.value(u, h)))
    return alpha * vh, alpha * qh, alpha * vh, tl


def _prox_loss_hats(loss, q, m, V, rho, delta, eps, n):
    """The integrals of :func:`replica._kernels.erm_sign_hats` for a loss without a kernel
    (:class:`ProxLoss`), in NumPy."""
    from lmech.special import Phi as _Phi

    V0 = max(rho - m * m / q, 0.0)
    s0 = math.sqrt(V0 + delta)
    sq = math.sqrt(q)
    pins = np.asarray(loss.kinks(V), dtype=np.float64)
    buf = np.empty(66 + 2 * pins.size)
    k = K._erm_edges(q, m, V, V0, delta, pins, buf)
    ed = np.unique(buf[:k])
    xg, wg = _legendre(n)
    a, b = ed[:-1], ed[1:]
    h, c = 0.5 * (b - a), 0.5 * (a + b)
    xi = (c[:, None] + h[:, None] * xg[None, :]).ravel()
    W = (h[:, None] * wg[None, :]).ravel() * np.exp(-0.5 * xi * xi) / math.sqrt(2.0 * math.pi)
    om = sq * xi
    cc = 1.0 - 2.0 * eps
    if s0 > 0.0:
        u = m * xi / sq / s0
        dz = cc * np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi) / s0
    else:
        u = np.where(xi > 0, np.inf, np.where(xi < 0, -np.inf, 0.0))
        dz = np.zeros_like(xi)
    Phi_v = np.vectorize(_Phi)
    mh = qh = vh = tl = 0.0
    for y in (1.0, -1.0):
        z0 = eps + cc * Phi_v(y * u)
        t, l, l2 = loss.prox_margin(y * om, V)
        f = y * (t - y * om) / V
        with np.errstate(invalid="ignore", divide="ignore"):
            df = np.where(np.isinf(l2), -1.0 / V, -l2 / (1.0 + V * l2))
        mh += float(np.dot(W, y * dz * f))
        qh += float(np.dot(W, z0 * f * f))
        vh -= float(np.dot(W, z0 * df))
        tl += float(np.dot(W, z0 * l))
    if s0 == 0.0 and m != 0.0:
        t0 = loss.prox_margin(np.zeros(1), V)[0][0]
        mh += 2.0 * cc * (sq / abs(m)) / math.sqrt(2.0 * math.pi) * t0 / V
    return mh, qh, vh, tl


def _train_error(model, m, q, V, n=16):
    """Training classification error ``E sum_y Z0(y) 1(y x_hat < 0)`` at the RS saddle point.

    The training pre-activation of a sample is the prox ``t(y omega)``, increasing
    in ``omega' = y omega``, with ``t = 0`` at ``omega'_0 = V l'(0)`` (``-V`` for
    hinge and square, ``-V/2`` for logistic: ``V l'(y=1, h=0)`` from the loss table;
    by bisection for a loss without a kernel, :class:`ProxLoss`).
    So the error is ``2 [eps Phi(kappa0) + c E Phi(a xi) 1(xi < kappa0)]`` with
    ``kappa0 = omega'_0/sqrt(q)``, ``a = m/(sqrt(q) s0)``: the teacher-step
    expectation of :func:`_mm_integrals` (unit width in the scaled variable).
    """
    rho = model.rho
    delta, eps = model.channel._de()
    c = 1.0 - 2.0 * eps
    if math.isinf(V):
        return 0.0
    if model.loss.code >= 0:
        om0 = V * float(model.loss.d1(1.0, 0.0))
    else:
        t = lambda o: float(model.loss.prox_margin(np.array([o]), V)[0][0])  # noqa: E731
        lo, hi = -1.0, 1.0
        while t(lo) > 0.0 and lo > -1e300:
            lo *= 2.0
        while t(hi) < 0.0 and hi < 1e300:
            hi *= 2.0
        om0 = brentq(t, lo, hi, xtol=1e-300, rtol=1e-15)
    sq = math.sqrt(q)
    kappa0 = om0 / sq
    s0sq = max(rho - m * m / q, 0.0) + delta
    R2rho = m * m / q
    den = math.sqrt(R2rho + s0sq)
    if s0sq == 0.0:
        step = max(0.0, float(ndtr(kappa0)) - 0.5)
    else:
        r, sig = math.copysign(math.sqrt(R2rho), m) / den, math.sqrt(s0sq) / den
        step = sig * _mm_integrals(r, sig, kappa0 / sig, n)[0]
    return 2.0 * (eps * float(ndtr(kappa0)) + c * step)


def _observables(model, alpha, m, q, V, hats, n=16):
    rho = model.rho
    mh, qh, vh, tl = hats
    sc = {"alpha": float(alpha), "reg": model.reg, "m": m, "q": q, "V": V, "mhat": mh, "qhat": qh,
          "Vhat": vh, "train_loss": tl}
    sc["test_error"] = model.channel.test_error(m, q, rho)
    sc["test_error_noisy"] = model.channel.test_error(m, q, rho, noisy=True)
    if model.classification:
        sc["train_error"] = _train_error(model, m, q, V, n)
    return sc


def ridge_closed_form(model: ERM, alpha) -> dict:
    """Closed-form fixed point of ridge regression on a linear teacher.

    ``V`` solves ``lambda V**2 + (lambda + alpha - 1) V - 1 = 0`` (from
    ``V = 1/(lambda + alpha/(1+V))``), then ``m = rho alpha V/(1+V)`` and
    ``q = V**2 [rho mhat**2 + alpha (rho + Delta - 2m)/(1+V)**2] / (1 - alpha V**2/(1+V)**2)``.
    At ``lambda = 0`` and ``alpha > 1``: ``V = 1/(alpha - 1)``; at ``lambda = 0``
    and ``alpha < 1`` the least-norm interpolator: ``V = inf``,
    ``m = rho alpha``, ``q = alpha rho + alpha Delta / (1 - alpha)``, excess
    error ``rho (1 - alpha) + alpha Delta / (1 - alpha)``.
    Returns ``{"m", "q", "V", "test_error"}`` (excess error ``rho + q - 2m``).
    """
    if not (isinstance(model.channel, Linear) and isinstance(model.loss, _bl.Square)):
        raise ValueError("model: ridge_closed_form needs the square loss and a linear teacher")
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    lam, rho, d = model.reg, model.rho, model.channel.delta
    if lam > 0.0:
        b = lam + alpha - 1.0
        V = (-b + math.sqrt(b * b + 4.0 * lam)) / (2.0 * lam) if b <= 0 else 2.0 / (b + math.sqrt(b * b + 4.0 * lam))
    elif alpha > 1.0:
        V = 1.0 / (alpha - 1.0)
    elif alpha < 1.0:
        # least-norm interpolator: V = inf, lambda V -> 1 - alpha, m = rho alpha,
        # q = alpha rho + alpha Delta / (1 - alpha)
        m = rho * alpha
        q = alpha * rho + alpha * d / (1.0 - alpha)
        return {"m": m, "q": q, "V": math.inf, "test_error": model.channel.test_error(m, q, rho)}
    else:
        raise ValueError("alpha: lambda = 0 at alpha = 1 (interpolation threshold) has an infinite error")
    mh = alpha / (1.0 + V)
    m = rho * mh * V
    k = alpha * V * V / (1.0 + V) ** 2
    q = V * V * (rho * mh * mh + alpha * (rho + d - 2.0 * m) / (1.0 + V) ** 2) / (1.0 - k)
    return {"m": m, "q": q, "V": V, "test_error": model.channel.test_error(m, q, rho)}


#: The numerical options of :func:`solve_erm` with bounds, declared once: the solver checks its
#: arguments against them (:func:`lmech.spec.check_option`) and the sweep kind ``replica.erm``
#: takes its schema from this table (``init``, ``damping`` and ``method`` are choices of the solver).
OPTIONS = {
    "rtol": Param(float, low=0.0, low_open=True, help="relative tolerance of the fixed point"),
    "max_iter": Param(int, low=1, help="iterations"),
    "memory": Param(int, low=0, high=50, help="Anderson memory"),
    "n_quad": Param(int, low=4, high=200, help="Gauss-Legendre nodes per panel"),
}
_OPTIONS = ("init", "damping", "method", "rtol", "max_iter", "memory", "n_quad")


def solve_erm(model: ERM, alpha, *, init=None, damping="adaptive", method="anderson", rtol=1e-10,
              max_iter=5_000, memory=5, n_quad=12) -> ERMResult:
    """Solve the ERM saddle point at ``alpha`` by damped Anderson iteration on ``(m, q, V)``.

    Parameters
    ----------
    model : ERM
    alpha : float
    init : None ("default"), dict {"m", "q", "V"} or a previous ERMResult
        Starting point (warm start).  Default ``m = q = 0.5 rho``, ``V = 1``
        (for small ``lambda`` the solver rescales: ``V = 1/(lambda + alpha)``).
        A previous result with ``V = inf`` (an interpolator) starts from the
        default ``V``.  Not used by the max-margin route (a bracketed root).
    rtol : float
        Relative tolerance per order parameter, for the fixed-point residual
        *and* for the error estimate (see below).
    n_quad : int
        Gauss–Legendre nodes per panel (classification channels): the
        starting rule; it is doubled (up to 200) until the error estimate
        meets ``rtol``.

    Returns
    -------
    ERMResult
        Scalars ``m, q, V, mhat, qhat, Vhat, test_error, test_error_noisy,
        train_loss`` and, for classification, ``train_error`` (the fraction
        of training labels the estimator gets wrong); plus ``lambda_V,
        support_fraction`` for interpolators and ``margin = 1/sqrt(q)`` for
        max-margin.  At ``lambda = 0`` on an interpolating branch (hinge /
        max-margin, square loss with ``alpha < 1``) the values are the
        ``lambda -> 0`` limits: ``V = inf`` and ``mhat = qhat = Vhat = 0``
        (they vanish like ``1/V``, ``1/V**2``, ``1/V``; the finite
        products enter ``m, q, lambda_V``).  The square loss at
        ``lambda = 0, alpha = 1`` (interpolation threshold) diverges:
        ``success = False``, ``status = Status.DIVERGED``.  ``error_estimate`` holds the estimated absolute error of
        ``m, q, V, test_error, train_loss`` (and ``train_error``; max-margin:
        ``test_error, m, q, lambda_V, support_fraction, margin``):
        one Newton step of the map with twice the nodes per panel, started
        from the converged state, gathers the quadrature error and the
        fixed-point residual amplified by ``(I - J)^-1``; the estimate is
        twice the move it causes, plus the rounding noise of the channel
        sums.  ``success`` requires each estimate within ``rtol (|obs| +
        sum_j |d obs/d x_j| |x_j|)`` (a relative ``rtol`` on each order
        parameter, and its image on the test error and training loss; an
        absolute floor ``1e-15``).  With the defaults (``rtol = 1e-10``) a
        successful result is right to about ``1e-10`` relative in ``m, q, V``
        and in the test error where it is not small; for the classification
        error ``e`` the image of ``rtol`` grows like ``rtol/e`` (``arccos`` near
        1).  ``success`` is False with a message if the iteration diverged
        (the norm of the estimator growing without bound, as for separable
        data at ``lambda = 0`` with the logistic loss), did not converge,
        reached ``m**2 > rho q`` or a negative variance, found no separating
        solution (max-margin on noisy labels), or if the error estimate stays
        above ``rtol`` at the finest rule.

    Notes
    -----
    Hinge loss at ``lambda = 0`` on a sign-family teacher (the max-margin
    classifier) does not iterate: see :func:`_solve_max_margin` (closed-form
    Gaussian integrals and a bracketed scalar root; no starting point, no
    false "not separable" at large ``alpha``).
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    rtol = check_option(OPTIONS, "rtol", rtol)
    max_iter = check_option(OPTIONS, "max_iter", max_iter)
    memory = check_option(OPTIONS, "memory", memory)
    n_quad = check_option(OPTIONS, "n_quad", n_quad)
    check_choice("method", method, ("anderson", "picard"))
    if damping != "adaptive":
        damping = check_real("damping", damping, low=0.0, high=1.0, low_open=True)
    rho = model.rho
    lam = model.reg
    if isinstance(init, str):
        check_choice("init", init, ("default", "uninformed"))
        init = None
    if lam == 0.0 and isinstance(model.loss, _bl.Hinge) and model.classification:
        opts = {"rtol": rtol, "n_quad": n_quad, "method": "bracketed root in theta (max-margin closed form)",
                "init": "not used"}
        return _solve_max_margin(model, alpha, rtol=rtol, n_quad=n_quad, t0=time.perf_counter(), opts=opts)
    if isinstance(init, Result):
        x0 = np.array([init.scalars["m"], init.scalars["q"], init.scalars["V"]], float)
        if not math.isfinite(x0[2]):  # from a lambda = 0 interpolator: V = inf
            x0[2] = 1.0 / (lam + min(alpha, 1.0))
    elif isinstance(init, dict):
        missing = [k for k in ("m", "q", "V") if k not in init]
        if missing:
            raise ValueError(f"init: a mapping needs the keys m, q, V; missing {', '.join(missing)}")
        x0 = np.array([check_real("init['m']", init["m"]), check_real("init['q']", init["q"], low=0.0, low_open=True),
                       check_real("init['V']", init["V"], low=0.0, low_open=True)])
    elif init is None:
        x0 = np.array([0.5 * rho, 0.5 * rho, 1.0 / (lam + min(alpha, 1.0))])
    else:
        raise ValueError(f"init must be None, a dict or a previous result, got {init!r}")
    t0 = time.perf_counter()

    def valid(x):
        m, q, V = x
        return q > 0.0 and V > 0.0 and m * m <= rho * q * (1.0 + 1e-12) and np.all(np.isfinite(x))

    if not valid(x0) or x0[0] <= 0.0:
        raise ValueError(f"init must satisfy 0 < m, m^2 <= rho q, V > 0; got m, q, V = {tuple(x0)}")
    if lam == 0.0 and isinstance(model.loss, _bl.Square) and alpha == 1.0:
        # interpolation threshold of least squares: the smallest singular value of the n x d data
        # matrix vanishes as n/d -> 1 and E|w|^2 (hence q, V and the test error) diverges like
        # 1/|alpha - 1| (see ridge_closed_form)
        return ERMResult(success=False, status=Status.DIVERGED,
                         message="diverges: least squares at lambda = 0 and alpha = 1 (the interpolation "
                                 "threshold) has q, V and the test error infinite; take lambda > 0 or alpha != 1",
                         n_iter=0, residual=math.nan, model=model,
                         options={"rtol": rtol, "n_quad": n_quad, "init": "not used"}, conventions=CONVENTIONS,
                         timings={"solve": time.perf_counter() - t0},
                         scalars={"alpha": alpha, "reg": 0.0, "q": math.inf, "V": math.inf,
                                  "test_error": math.inf if isinstance(model.channel, Linear) else math.nan})
    if lam == 0.0 and (isinstance(model.loss, _bl.Hinge) or (isinstance(model.loss, _bl.Square) and alpha < 1.0)):
        return _solve_interpolating(model, alpha, x0[:2], rtol=rtol, max_iter=max_iter, damping=damping,
                                    method=method, memory=memory, n_quad=n_quad, t0=t0)
    nq = {"n": n_quad}

    def Fn(x, n):
        m, q, V = x
        mh, qh, vh, tl = _hats(model, alpha, m, q, V, n)
        if not (lam + vh > 0.0):  # no curvature left: the estimator's norm diverges
            return np.full(3, math.nan), None
        Vn = 1.0 / (lam + vh)
        sc = _observables(model, alpha, m, q, V, (mh, qh, vh, tl), n)
        return np.array([rho * mh * Vn, (rho * mh * mh + qh) * Vn * Vn, Vn]), sc

    n_iter = 0
    rtol_it = rtol
    while True:
        out = iterate(lambda x: Fn(x, nq["n"])[0], x0, valid=valid, rtol=rtol_it, max_iter=max_iter,
                      damping=damping, method=method, memory=memory, floor=1e-300, newton=True)
        n_iter += out.n_iter
        if not (out.success and valid(out.x)):
            err, ok, info = {}, False, {"needed": math.nan}
            break
        err, ok, info = _refinement_error(Fn, out.x, nq["n"], _err_keys(model), rtol)
        if ok:
            break
        x0 = out.x
        if info["refine"] and 2 * nq["n"] <= _N_QUAD_MAX and not (isinstance(model.channel, Linear)
                                                                  and isinstance(model.loss, _bl.Square)):
            nq["n"] *= 2  # adaptive: refine the panel rule until the estimate meets rtol
        elif rtol_it > 1e-2 * rtol:
            rtol_it = 1e-2 * rtol  # the residual dominates (slow contraction): iterate further
        else:
            break
    reduced = False
    if not out.success and model.classification:
        # fallback: eliminate V by its scalar equation V (lambda + Vhat(m, q, V)) = 1 (monotone in V,
        # bracketed) and iterate (m, q) only.  At small lambda the V direction of the full map
        # contracts only by 1 - lambda V, which stalls Anderson for the hinge loss (lambda = 1e-4).
        xs = out.x if valid(out.x) else x0
        x2 = xs[:2].copy() if (xs[0] > 0.0 and valid(xs)) else np.array([0.5 * rho, 0.5 * rho])
        red = _solve_reduced(model, alpha, x2, nq["n"], rtol=rtol, max_iter=max_iter, damping=damping,
                             method=method, memory=memory)
        n_iter += red[1]
        if red[0].success:
            out, err, ok, nq["n"], reduced, info = red[0], red[2], red[3], red[4], True, red[5]
    m, q, V = (float(v) for v in out.x)
    success, status, message = out.success, out.status, out.message
    if reduced:
        message = "V eliminated by its scalar equation, (m, q) iterated: " + message
    if not valid(out.x):
        success, status = False, Status.INVALID_STATE
        message = f"impossible state (m^2 > rho q or a non-positive variance): m={m!r}, q={q!r}, V={V!r}"
    hats = _hats(model, alpha, m, q, V, nq["n"]) if valid(out.x) else (math.nan,) * 4
    sc = _observables(model, alpha, m, q, V, hats, nq["n"]) if valid(out.x) else {"alpha": alpha}
    if not success and lam == 0.0 and valid(out.x) and q > 1e6 * rho:
        message = "the norm of the estimator diverges (lambda = 0 on separable data or below interpolation): " + message
    if success and not ok:
        success, status = False, Status.TOLERANCE
        message = (f"error estimate above rtol={rtol:g} with n_quad={nq['n']} (it would meet "
                   f"rtol={info['needed']:.1e}; the map contracts slowly or rounding limits it): "
                   + ", ".join(f"{k}={v:.1e}" for k, v in err.items()))
    opts = {"damping": damping, "method": method, "rtol": rtol, "max_iter": max_iter, "memory": memory,
            "n_quad": nq["n"], "init": "default" if init is None else "warm"}
    return ERMResult(success=success, status=status, message=message, n_iter=n_iter,
                     residual=out.residual, model=model, options=opts, conventions=CONVENTIONS,
                     timings={"solve": time.perf_counter() - t0}, scalars=sc, error_estimate=err)


def _v_of(model, alpha, m, q, n):
    """The ``V`` solving ``V (lambda + Vhat(m, q, V)) = 1`` (NaN if none in ``[1e-12, 1e15]``).

    ``V Vhat = alpha E[V l''/(1 + V l'')]`` grows with ``V`` for a convex loss,
    so the left side is increasing: a bracketed root in ``log V``.
    """
    lam = model.reg

    def g(lv):
        V = math.exp(lv)
        return V * (lam + _hats(model, alpha, m, q, V, n)[2]) - 1.0

    lo, hi = math.log(1e-12), math.log(1e15)
    glo, ghi = g(lo), g(hi)
    if not (glo < 0.0 < ghi):
        return math.nan
    return math.exp(brentq(g, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=300))


def _solve_reduced(model, alpha, x0, n, *, rtol, max_iter, damping, method, memory):
    """Iterate ``(m, q)`` with ``V`` eliminated (:func:`_v_of`), refining the rule like the full solve.

    Returns ``(outcome with x = (m, q, V), n_iter, error_estimate, ok, n, info)``.
    """
    rho = model.rho

    def Fn(x, nn):
        m, q = x
        V = _v_of(model, alpha, m, q, nn)
        if not math.isfinite(V):
            return np.full(2, math.nan), None
        mh, qh, vh, tl = _hats(model, alpha, m, q, V, nn)
        return np.array([rho * mh * V, (rho * mh * mh + qh) * V * V]), _observables(model, alpha, m, q, V,
                                                                                      (mh, qh, vh, tl), nn)

    def valid(x):
        return bool(np.all(np.isfinite(x))) and x[1] > 0.0 and x[0] > 0.0 and x[0] * x[0] <= rho * x[1]

    n_iter = 0
    x = np.asarray(x0, float)
    rtol_it = rtol
    while True:
        out = iterate(lambda y: Fn(y, n)[0], x, valid=valid, rtol=rtol_it, max_iter=max_iter, damping=damping,
                      method=method, memory=memory, floor=1e-300, newton=True)
        n_iter += out.n_iter
        if not (out.success and valid(out.x)):
            return out, n_iter, {}, False, n, {"needed": math.nan}
        err, ok, info = _refinement_error(Fn, out.x, n, _err_keys(model), rtol)
        if ok:
            break
        x = out.x
        if info["refine"] and 2 * n <= _N_QUAD_MAX:
            n *= 2
        elif rtol_it > 1e-2 * rtol:
            rtol_it = 1e-2 * rtol
        else:
            break
    V = _v_of(model, alpha, out.x[0], out.x[1], n)
    out.x = np.array([out.x[0], out.x[1], V])
    return out, n_iter, err, ok, n, info


_ERR_KEYS = ("m", "q", "V", "test_error", "train_loss")


def _err_keys(model):
    return _ERR_KEYS + ("train_error",) if model.classification else _ERR_KEYS
#: largest panel rule the adaptive refinement uses (it compares with twice as many nodes)
_N_QUAD_MAX = 200


def _refinement_error(Fn, x, n, keys, rtol):
    """Error estimate of a converged fixed point ``x = F_n(x)`` and of its observables.

    ``Fn(x, n) -> (F(x), scalars)`` with ``n`` Gauss–Legendre nodes per
    panel.  One Newton step for the refined map ``F_2n`` from ``x``,
    ``dx = (I - J)^-1 (F_2n(x) - x)`` (``J`` by central differences), gathers
    both the quadrature error (``F_2n - F_n``) and the fixed-point residual
    (``F_n(x) - x``); the estimate is twice the move of each observable,
    ``2 |obs_2n(x + dx) - obs_n(x)|``, plus the rounding noise of the
    channel sums (measured: the deviation of ``F`` from its linearisation
    under relative perturbations of ``1e-11``, at least 256 ulp) propagated
    through ``(I - J)^-1``.  Returns
    ``(error_estimate, ok, info)``: ``ok`` when every estimate is within
    ``rtol (|obs| + sum_j |d obs/d x_j| |x_j|)``, the image of a relative
    error ``rtol`` of the order parameters (for the classification error
    ``arccos(m/sqrt(rho q))/pi`` this is what a relative ``rtol`` on ``(m, q)``
    allows), with an absolute floor ``1e-15`` for observables that vanish
    (the training loss of an interpolator).  ``info["needed"]`` is the
    smallest ``rtol`` the estimate meets; ``info["refine"]`` says whether the
    quadrature part of the move is large enough for a finer rule to help
    (otherwise the limit is the conditioning of the fixed point).
    """
    x = np.asarray(x, float)
    f0, sc0 = Fn(x, n)
    f2, sc2 = Fn(x, 2 * n)
    fail = ({k: math.nan for k in keys}, False, {"needed": math.nan, "refine": False})
    if sc0 is None or sc2 is None:
        return fail
    ob0 = np.array([sc0[k] for k in keys], float)
    ob2 = np.array([sc2[k] for k in keys], float)
    d = x.size
    J = np.empty((d, d))
    G = np.empty((len(keys), d))
    for j in range(d):
        # central differences: the map can be strongly curved (slowly contracting small-lambda
        # hinge: d log V / d log m ~ -700 varying by 1e4 per unit), where forward differences
        # misjudge (I - J)^-1 by O(1)
        h = 1e-6 * abs(x[j]) if x[j] != 0.0 else 1e-9
        xp, xm = x.copy(), x.copy()
        xp[j] += h
        xm[j] -= h
        fp, scp = Fn(xp, 2 * n)
        fm, scm = Fn(xm, 2 * n)
        if scp is None or scm is None or not (np.all(np.isfinite(fp)) and np.all(np.isfinite(fm))):
            return fail
        J[:, j] = (fp - fm) / (2.0 * h)
        G[:, j] = (np.array([scp[k] for k in keys], float) - np.array([scm[k] for k in keys], float)) / (2.0 * h)
    try:
        dx = np.linalg.solve(np.eye(d) - J, f2 - x)
    except np.linalg.LinAlgError:
        return fail
    ref = ob2 + G @ dx
    eps = np.finfo(float).eps
    # rounding: the channel sums (and the inner prox solves) carry noise, measured as the
    # deviation of F from its linearisation under relative perturbations of 1e-11 (at least
    # 256 ulp of x), amplified by (I - J)^-1
    fnoise = 256.0 * eps * np.abs(x)
    for s in (1e-11, -1e-11, 2e-11):
        dxp = s * x
        fp, _ = Fn(x + dxp, 2 * n)
        if np.all(np.isfinite(fp)):
            fnoise = np.maximum(fnoise, np.abs(fp - f2 - J @ dxp))
    noise = np.abs(G) @ (np.abs(np.linalg.inv(np.eye(d) - J)) @ fnoise)
    est = 2.0 * np.abs(ref - ob0) + noise + 4.0 * eps * np.abs(ob0)
    tol = np.maximum(rtol * (np.abs(ob0) + np.abs(G) @ np.abs(x)), 1e-15)
    err = {k: float(e) for k, e in zip(keys, est)}
    ok = bool(np.all(np.isfinite(est)) and np.all(est <= tol))
    # the smallest rtol this estimate would meet, and whether a finer rule can help: the
    # quadrature part of the move, 2 |G (I - J)^-1 (F_2n - F_n)|, exceeds a tenth of the tolerance
    needed = float(rtol * np.max(est / tol)) if np.all(np.isfinite(est)) else math.nan
    quad = 2.0 * np.abs(G @ np.linalg.solve(np.eye(d) - J, f2 - f0))
    return err, ok, {"needed": needed, "refine": bool(np.any(quad > 0.1 * tol))}


def _solve_interpolating(model, alpha, x0, *, rtol, max_iter, damping, method, memory, n_quad, t0):
    """``lambda -> 0`` limit where the estimator interpolates: max-margin (hinge) or least norm (square).

    As ``lambda -> 0`` with all training margins reachable, ``V -> inf`` with
    ``lambda V -> 1 - V Vhat`` finite, and ``mhat V``, ``qhat V**2``, ``Vhat V`` have
    finite limits.  They are evaluated exactly by the same channel integrals at
    ``V_inf = 1e12 (1 + sqrt q)`` (beyond every quadrature node, so the hinge prox
    is exactly in its ``lambda = 0`` regimes; relative error ``1e-12`` for the
    square loss), and ``(m, q)`` iterated with ``m = rho (mhat V)``,
    ``q = rho (mhat V)**2 + qhat V**2``.  The limit exists iff
    ``lambda V = 1 - Vhat V > 0`` (hinge: the data are linearly separable, the
    hard-margin SVM; square: ``alpha < 1``); otherwise the result is a failure.
    """
    rho = model.rho

    def scaled(m, q):
        Vb = 1e12 * (1.0 + math.sqrt(q))
        mh, qh, vh, tl = _hats(model, alpha, m, q, Vb, n_quad)
        return mh * Vb, qh * Vb * Vb, vh * Vb, tl

    def F(x):
        mv, qv, _, _ = scaled(*x)
        return np.array([rho * mv, rho * mv * mv + qv])

    def valid(x):
        return bool(np.all(np.isfinite(x))) and x[1] > 0.0 and x[0] * x[0] <= rho * x[1] * (1.0 + 1e-12)

    out = iterate(F, np.asarray(x0, float), valid=valid, rtol=rtol, max_iter=max_iter, damping=damping,
                  method=method, memory=memory, floor=1e-300, newton=True)
    m, q = (float(v) for v in out.x)
    success, message, status = out.success, out.message, out.status
    err, ok = {}, True
    if success and valid(out.x):
        def Fn(x, n):
            Vb = 1e12 * (1.0 + math.sqrt(x[1]))
            mh, qh, vh, tl = _hats(model, alpha, x[0], x[1], Vb, n)
            sc = _observables(model, alpha, x[0], x[1], math.inf, (0.0, 0.0, 0.0, tl))
            sc["lambda_V"] = 1.0 - vh * Vb
            return np.array([rho * mh * Vb, rho * (mh * Vb) ** 2 + qh * Vb * Vb]), sc

        keys = ("m", "q", "test_error", "train_loss", "lambda_V")
        err, ok, _ = _refinement_error(Fn, out.x, n_quad, keys, rtol)
        # the V -> inf limit is taken at V_inf = 1e12 (1 + sqrt q): add its truncation error,
        # bounded by the change of the scaled map when V_inf grows tenfold
        mv0, qv0, vv0, _ = scaled(*out.x)
        Vb = 1e13 * (1.0 + math.sqrt(out.x[1]))
        mh1, qh1, vh1, tl1 = _hats(model, alpha, out.x[0], out.x[1], Vb, n_quad)
        trunc = {"m": rho * abs(mh1 * Vb - mv0), "q": abs(rho * (mh1 * Vb) ** 2 + qh1 * Vb * Vb - rho * mv0 ** 2 - qv0),
                 "lambda_V": abs(vh1 * Vb - vv0), "train_loss": abs(tl1 - scaled(*out.x)[3])}
        for k, v in trunc.items():
            err[k] += 2.0 * v
    sc = {"alpha": float(alpha)}
    if valid(out.x):
        mv, qv, vv, tl = scaled(m, q)
        lamV = 1.0 - vv
        sc = _observables(model, alpha, m, q, math.inf, (0.0, 0.0, 0.0, tl))
        sc["lambda_V"] = lamV
        sc["support_fraction"] = vv / alpha
        if lamV <= 0.0:
            success, status = False, Status.NO_SOLUTION
            message = ("no interpolating solution: lambda V = 1 - V Vhat <= 0 (data not separable / "
                       "alpha above the interpolation threshold); " + message)
        else:
            message = "lambda -> 0 limit (least-norm interpolator): " + message
            if not ok:
                success, status = False, Status.TOLERANCE
                message = f"error estimate above rtol={rtol:g}: " + ", ".join(f"{k}={v:.1e}" for k, v in err.items())
    else:
        success, status = False, Status.INVALID_STATE
        message = "impossible state in the lambda -> 0 iteration: " + message
    opts = {"damping": damping, "method": method, "rtol": rtol, "max_iter": max_iter, "memory": memory,
            "n_quad": n_quad, "init": "default"}
    return ERMResult(success=success, status=status, message=message, n_iter=out.n_iter,
                     residual=out.residual, model=model, options=opts, conventions=CONVENTIONS,
                     timings={"solve": time.perf_counter() - t0}, scalars=sc, error_estimate=err)



# ---------------------------------------------------------------------------
# max-margin (hinge loss, lambda = 0) on a sign-family teacher: the saddle point
# in the angle theta = arccos R and the margin kappa = 1/sqrt(q)
# ---------------------------------------------------------------------------
_SQ2PI = math.sqrt(2.0 * math.pi)


def _phi(x):
    return np.exp(-0.5 * np.square(x)) / _SQ2PI


def _ramp1(k):
    """``E(k - u)_+ = k Phi(k) + phi(k)`` for ``u ~ N(0, 1)``."""
    return k * ndtr(k) + math.exp(-0.5 * k * k) / _SQ2PI


def _ramp2(k):
    """``E(k - u)_+**2 = (k**2 + 1) Phi(k) + k phi(k)``."""
    return (k * k + 1.0) * ndtr(k) + k * math.exp(-0.5 * k * k) / _SQ2PI


@lru_cache(maxsize=8)
def _panel_rule(n):
    return np.polynomial.legendre.leggauss(n)


def _mm_integrals(r, sig, k, n):
    """``(T0, T2)`` with ``T_j = int_{-inf}^k phi(sig u) Phi(r u) (k - u)**j du``, ``r**2 + sig**2 = 1``.

    In the scaled variable ``u = xi / sig`` the integrand is an entire
    function whose scales are ``1/r >= 1`` (the teacher step) and
    ``1/sig >= 1`` (the Gaussian), and it decays like ``exp(-u**2/2)/|u|``
    as ``u -> -inf``: composite Gauss–Legendre with ``n`` nodes on unit
    panels of ``[max(-40, k - 40/sig - 40), k]`` (below ``-40`` the integrand
    is under ``1e-340``).  Nothing sharpens with ``alpha`` here: the teacher
    step of width ``1/a`` in ``xi`` has width ``1/r`` in ``u``.
    """
    lo = max(-40.0, k - 40.0 / max(sig, 1e-300) - 40.0)
    if k <= lo:
        return 0.0, 0.0
    hi = min(k, 40.0 / max(sig, 1e-300))
    if hi <= lo:
        return 0.0, 0.0
    npan = max(1, int(math.ceil(hi - lo)))
    e = np.linspace(lo, hi, npan + 1)
    xg, wg = _panel_rule(n)
    h = 0.5 * (e[1:] - e[:-1])
    c = 0.5 * (e[1:] + e[:-1])
    u = (c[:, None] + h[:, None] * xg[None, :]).ravel()
    W = (h[:, None] * wg[None, :]).ravel() * _phi(sig * u) * ndtr(r * u)
    d = k - u
    return float(np.dot(W, np.ones_like(d))), float(np.dot(W, d * d))


def _mm_state(theta, alpha, rho, delta, eps, n):
    """Everything of the max-margin saddle point at the angle ``theta = arccos R``.

    Returns ``(h, kappa, n_sv)``: ``h = 1 - R**2 - 2 alpha [eps J2 + c I2]``
    is the residual of the ``q`` equation, ``kappa = 1/sqrt(q)`` solves the
    ``m`` equation, ``n_sv = V Vhat`` (support vectors per dimension).
    """
    R, S = math.cos(theta), math.sin(theta)
    c = 1.0 - 2.0 * eps
    s0sq = rho * S * S + delta
    r = R * math.sqrt(rho / (rho + delta))          # a / sqrt(1 + a**2), a = R sqrt(rho) / s0
    sig = math.sqrt(s0sq / (rho + delta))           # 1 / sqrt(1 + a**2)
    # m equation: R = sqrt(rho) 2 alpha c sig**2 / (s0 sqrt(2 pi)) [k Phi(k) + phi(k)], kappa = sig k
    G = R * math.sqrt(s0sq) * _SQ2PI / (2.0 * alpha * c * math.sqrt(rho) * sig * sig)
    k = _ramp1_inverse(G)
    kappa = sig * k
    T0, T2 = _mm_integrals(r, sig, k, n)
    h = S * S - 2.0 * alpha * (eps * _ramp2(kappa) + c * sig ** 3 * T2)
    n_sv = 2.0 * alpha * (eps * float(ndtr(kappa)) + c * sig * T0)
    return h, kappa, n_sv


def _ramp1_inverse(G):
    """The ``k`` with ``k Phi(k) + phi(k) = G > 0`` (increasing, convex in ``k``)."""
    if G >= 1.0:
        hi = G + 1.0
        lo = G - 1.0
    else:
        hi = 1.0
        lo = -1.0
        while _ramp1(lo) > G and lo > -1e3:
            lo *= 2.0
    if _ramp1(lo) >= G:
        return lo
    return brentq(lambda k: _ramp1(k) - G, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=200)


def _mm_solve_theta(alpha, rho, delta, eps, n):
    """Root ``theta`` of the max-margin ``q`` equation (bracketed: ``h > 0`` at ``theta = pi/2``)
    and Brent's iterations (``nan, 0`` without a bracket)."""
    hi = 0.5 * math.pi
    lo = min(0.5, 0.05 / alpha)
    while _mm_state(lo, alpha, rho, delta, eps, n)[0] > 0.0:
        lo *= 0.1
        if lo < 1e-200:
            return math.nan, 0
    th, info = brentq(lambda t: _mm_state(t, alpha, rho, delta, eps, n)[0], lo, hi, xtol=1e-300,
                      rtol=1e-15, maxiter=500, full_output=True)
    return th, info.iterations



def _mm_observables(theta, alpha, rho, delta, eps, n):
    """``(test_error, m, q, lambda_V, support_fraction, kappa, h)`` at the angle ``theta``."""
    h, kappa, n_sv = _mm_state(theta, alpha, rho, delta, eps, n)
    q = 1.0 / (kappa * kappa) if kappa > 0.0 else math.inf
    m = math.cos(theta) * math.sqrt(rho) / kappa if kappa > 0.0 else math.inf
    return {"test_error": theta / math.pi, "m": m, "q": q, "lambda_V": 1.0 - n_sv,
            "support_fraction": n_sv / alpha, "margin": kappa}, h


def _solve_max_margin(model, alpha, *, rtol, n_quad, t0, opts):
    """Hard-margin SVM (hinge loss, ``lambda = 0``) on a sign-family teacher, in closed form.

    As ``lambda -> 0`` on separable data the hinge prox is in its
    ``lambda = 0`` regimes (``t = omega'`` for ``omega' = y omega >= 1``,
    else ``t = 1``), and with ``R = m/sqrt(rho q) = cos(theta)`` and the
    margin ``kappa = 1/sqrt(q)`` of the normalised estimator the equations
    of :func:`solve_erm` reduce to (``c = 1 - 2 eps``, ``s0**2 = rho
    sin(theta)**2 + Delta``, ``a = R sqrt(rho)/s0``, ``sig = 1/sqrt(1 + a**2)``,
    ``k = kappa/sig``)

        R = 2 alpha c sqrt(rho) sig**2 / (sqrt(2 pi) s0) [k Phi(k) + phi(k)]        (m equation)
        1 - R**2 = 2 alpha [eps E(kappa - u)_+**2 + c E Phi(a u) (kappa - u)_+**2]  (q equation)
        lambda V = 1 - 2 alpha [eps Phi(kappa) + c E Phi(a u) 1(u < kappa)]          (V equation)

    with ``u ~ N(0, 1)``: Gardner's maximal-stability perceptron with a
    teacher (Opper, Kinzel, Kleinz & Nehl, J. Phys. A 23, L581 (1990);
    Engel & Van den Broeck, *Statistical Mechanics of Learning* (2001),
    sec. 4.1).  The ``m`` equation is inverted for ``k`` in closed form
    (a monotone scalar root); the two remaining expectations are written in
    ``u = xi/sig`` where the teacher step has unit width at every ``alpha``
    (:func:`_mm_integrals`, composite Gauss–Legendre on unit panels).  The
    ``q`` equation is a scalar root in ``theta`` bracketed on
    ``(0, pi/2]``: no starting point is needed.  The data are separable (a
    max-margin solution exists) iff the root has ``kappa > 0`` and
    ``lambda V > 0``.  Error estimate: the difference between ``n_quad`` and
    ``2 n_quad`` nodes per panel, plus the bracket width propagated to each
    observable.
    """
    rho = model.rho
    delta, eps = model.channel._de()
    sc = {"alpha": float(alpha), "reg": 0.0}
    obs = {}
    thetas = {}
    n_iter = 0  # Brent iterations on theta, summed over the n_quad and 2 n_quad solves
    for n in (n_quad, 2 * n_quad):
        th, its = _mm_solve_theta(alpha, rho, delta, eps, n)
        n_iter += its
        thetas[n] = th
        if math.isnan(th):
            break
        obs[n] = _mm_observables(th, alpha, rho, delta, eps, n)
    n2 = 2 * n_quad
    common = {"n_iter": n_iter, "model": model, "options": opts, "conventions": CONVENTIONS}
    if n2 not in obs:
        return ERMResult(success=False, status=Status.NO_SOLUTION,
                         message="max-margin: no root of the q equation in theta",
                         residual=math.nan, timings={"solve": time.perf_counter() - t0}, scalars=sc, **common)
    th = thetas[n2]
    o, h = obs[n2]
    o1 = obs[n_quad][0]
    # bracket and residual: d(obs)/d(theta) by central differences, |theta - theta*| <= |h / h'| + 4e-15 theta
    dth = 1e-6 * th
    op, hp = _mm_observables(th + dth, alpha, rho, delta, eps, n2)
    om, hm = _mm_observables(th - dth, alpha, rho, delta, eps, n2)
    dh = (hp - hm) / (2.0 * dth)
    d_theta = abs(h / dh) + 4e-15 * th if dh != 0.0 else math.inf
    err = {}
    for key in ("test_error", "m", "q", "lambda_V", "support_fraction", "margin"):
        slope = (op[key] - om[key]) / (2.0 * dth)
        err[key] = abs(o[key] - o1[key]) + abs(slope) * d_theta + 4.0 * np.finfo(float).eps * abs(o[key])
    sc.update({"m": o["m"], "q": o["q"], "V": math.inf, "mhat": 0.0, "qhat": 0.0, "Vhat": 0.0,
               "train_loss": 0.0, "train_error": 0.0, "test_error": o["test_error"]})
    # on the noisy label, from the angle theta of the normalised estimator (q = 1, m = cos(theta) sqrt(rho))
    sc["test_error_noisy"] = model.channel.test_error(math.cos(th) * math.sqrt(rho), 1.0, rho, noisy=True)
    sc.update({"lambda_V": o["lambda_V"], "support_fraction": o["support_fraction"], "margin": o["margin"]})
    err["train_loss"] = 0.0
    err["train_error"] = 0.0
    success, status = True, Status.CONVERGED
    message = f"max-margin (hinge, lambda = 0): theta = arccos R bracketed, |q residual| {abs(h):.1e}"
    if not (o["margin"] > 0.0 and o["lambda_V"] > 0.0):
        success, status = False, Status.NO_SOLUTION
        message = (f"no max-margin solution: the training data are not linearly separable at alpha={alpha!r} "
                   f"(margin kappa = {o['margin']:.3e}, lambda V = {o['lambda_V']:.3e}; label noise makes "
                   f"the data non-separable above a threshold)")
    elif any(not (err[k] <= max(rtol * abs(sc[k]), 1e-15)) for k in ("test_error", "m", "q", "lambda_V")):
        success, status = False, Status.TOLERANCE
        message = "max-margin: error estimate above rtol: " + ", ".join(f"{k}={v:.1e}" for k, v in err.items())
    return ERMResult(success=success, status=status, message=message, residual=abs(h),
                     timings={"solve": time.perf_counter() - t0}, scalars=sc, error_estimate=err, **common)



def optimal_reg(model: ERM, alpha, *, bounds=(1e-5, 1e2), xtol=1e-4, **options) -> ERMResult:
    """The ``lambda`` minimising the test error at ``alpha`` (bounded Brent in ``log lambda``).

    Each evaluation is warm-started from the previous one.  Returns the
    :class:`ERMResult` at the optimum, with scalar ``reg`` the optimal lambda;
    ``xtol`` is the tolerance in ``log lambda``.
    """
    lo, hi = (math.log(check_real("bounds", b, low=0.0, low_open=True)) for b in bounds)
    state = {"init": options.pop("init", None)}

    def err(t):
        r = solve_erm(replace(model, reg=math.exp(t)), alpha, init=state["init"], **options)
        if not r.success:
            return math.inf
        state["init"] = r
        return r.test_error

    res = minimize_scalar(err, bounds=(lo, hi), method="bounded", options={"xatol": xtol})
    return solve_erm(replace(model, reg=math.exp(res.x)), alpha, init=state["init"], **options)


def _row(model: ERM, alphas, reg, options):
    """Test errors along ``alphas`` at one ``reg``, warm-started point to point."""
    m = replace(model, reg=float(reg))
    out = np.full((len(alphas), 4), np.nan)
    state = None
    for i, a in enumerate(alphas):
        r = solve_erm(m, float(a), init=state, **options)
        if not r.success and state is not None:
            r = solve_erm(m, float(a), **options)
        state = r if r.success else None
        if r.success:
            out[i] = (r.test_error, r.train_loss, r.q, r.n_iter)
    return out


def erm_diagram(model: ERM, alphas, regs, *, executor=None, **options) -> dict:
    """Test error of ``model`` on the grid ``alphas x regs``, one warm-started row per ``reg``.

    Each row follows ``alpha`` by continuation (:func:`solve_erm` warm-started
    from the previous point; a failed warm start is retried cold).  Rows are
    submitted to ``executor`` (any :class:`concurrent.futures.Executor`;
    serial if None).  Returns arrays ``test_error``, ``train_loss``, ``q`` and
    ``n_iter`` of shape ``(len(alphas), len(regs))`` (NaN where a solve failed).
    """
    alphas = np.asarray(alphas, float)
    regs = np.asarray(regs, float)
    if executor is None:
        rows = [_row(model, alphas, lam, options) for lam in regs]
    else:
        futs = [executor.submit(_row, model, alphas, lam, options) for lam in regs]
        rows = [f.result() for f in futs]
    arr = np.stack(rows, axis=1)  # (alpha, reg, 4)
    return {"alpha": alphas, "reg": regs, "test_error": arr[..., 0], "train_loss": arr[..., 1],
            "q": arr[..., 2], "n_iter": arr[..., 3]}


# ---------------------------------------------------------------------------
# public within the package: the channel side of the saddle point, shared with
# replica.gcm_erm (the Gaussian covariate model changes only the prior side)
# ---------------------------------------------------------------------------
#: largest panel rule of the adaptive refinement (public name of ``_N_QUAD_MAX``)
N_QUAD_MAX = _N_QUAD_MAX


def channel_hats(model: ERM, alpha, m, q, V, n=12):
    """``(mhat, qhat, Vhat, train_loss)`` of the channel side at ``(m, q, V)``, ``n`` nodes per panel.

    The integrals of :func:`solve_erm` (the hats of Aubin et al. 2020, eq. 12),
    which depend on the model only through its loss, its channel and the
    teacher second moment ``model.rho``.
    """
    return _hats(model, alpha, m, q, V, n)


def saddle_observables(model: ERM, alpha, m, q, V, hats, n=16) -> dict:
    """The scalars :func:`solve_erm` reports at ``(m, q, V)`` with channel ``hats``
    (test errors, training loss and, for classification, training error)."""
    return _observables(model, alpha, m, q, V, hats, n)


def error_keys(model: ERM) -> tuple:
    """The observables whose error :func:`solve_erm` estimates for ``model``."""
    return _err_keys(model)

