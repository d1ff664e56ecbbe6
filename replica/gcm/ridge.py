"""Ridge regression on the Gaussian covariate model: the saddle point in closed form up to one root.

Square loss ``(y - h)**2 / 2``, linear channel ``y = nu + sqrt(Delta) xi``, ridge
``lambda``, in the spectral convention of :mod:`replica.gcm.model`.  The
replica-symmetric equations of Loureiro et al. (NeurIPS 2021, sec. 2
and its appendix, with a ridge penalty) written in ``Omega``'s eigenbasis) are

    V = <omega / (lambda + Vhat omega)>,   m = <mhat theta2 omega**2 / (lambda + Vhat omega)>,
    q = <omega (mhat**2 theta2 omega**2 + qhat omega) / (lambda + Vhat omega)**2>,
    mhat = Vhat = alpha / (1 + V),   qhat = alpha (rho + Delta + q - 2m) / (1 + V)**2,

with ``<.> = (1/p) sum_i``.  With ``t = lambda / Vhat`` (the effective ridge) and
``r_i = omega_i / (t + omega_i)``, the first and fifth give one equation for ``t``,

    alpha = lambda / t + <r>                                             (1)

(at ``lambda = 0``: ``t = 0`` for ``alpha > 1``; ``<r> = alpha`` for ``alpha < 1``,
the minimum-norm interpolator), and everything else is explicit:

    m = <theta2 omega r>,   Vhat = lambda / t = alpha - <r>,   V = <r> / Vhat,
    E = rho + q - 2m = [alpha (rho_perp + <theta2 omega (1-r)**2>) + Delta <r**2>] / (Vhat + <r (1-r)>),
    q = <theta2 omega r**2> + (Delta + E) <r**2> / alpha,

every term a sum of positive terms (no cancellation, also where ``E`` is many
orders below ``rho``).  ``alpha - <r**2> = Vhat + <r(1-r)>`` is the stability
denominator ``1 - gamma`` of Canatar et al. (Nat. Commun. 12, 2914 (2021), eq. (4))
times ``alpha``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lmech.checks import check_int, check_real
from lmech.result import Result, over_tolerance, register_result
from lmech.status import Status

from . import _kernels as K
from .model import CONVENTIONS, GaussianCovariateModel

__all__ = ["GCMResult", "solve_ridge", "ridge_root", "root_residual"]


@register_result("replica.GCMResult")
class GCMResult(Result):
    """Replica saddle point of a :class:`GaussianCovariateModel` at one ``alpha``."""


def _check(model, alpha):
    if not isinstance(model, GaussianCovariateModel):
        raise ValueError(f"model must be a replica.GaussianCovariateModel, got {type(model).__name__}")
    return check_real("alpha", alpha, low=0.0, low_open=True)


def ridge_root(omega, lam, alpha, *, max_iter=200, final_check=True):
    """Root ``t`` of ``alpha = lam/t + <omega/(t + omega)>`` (eq. (1) of the module).

    Newton on ``H(y) = lam y + <omega y/(1 + omega y)> - alpha`` in ``y = 1/t``:
    ``H`` is concave and increasing, so from ``y0 = alpha/(lam + <omega>)`` (where
    ``H <= 0``) the iterates increase monotonically to the root (a concave
    increasing function lies below its tangents), quadratically at the end.
    ``lam = 0, alpha > 1`` gives ``t = 0``; ``lam = 0, alpha = 1`` has no root
    (the interpolation threshold); ``lam = 0, alpha < 1`` is the minimum-norm
    interpolator's ``t``.

    Returns ``(t, dlog_t, n_iter)``: ``dlog_t`` bounds the relative error of
    ``t`` (the last Newton step plus the rounding of the equation over its slope;
    with ``final_check=False`` only the last step, the caller adding
    :func:`root_residual` from its own pass over the spectrum).
    """
    if lam == 0.0 and alpha >= 1.0:
        return 0.0, 0.0, 0
    n = 0
    step = prev = math.inf
    y = alpha / (lam + float(np.mean(omega)))
    while n < max_iter:
        n += 1
        D, C = K.root_sums(omega, 1.0 / y)
        h = lam * y + D - alpha
        dh = lam + C / y
        step = -h / dh
        y_new = y + step
        if not y_new > 0.0:
            y_new = 0.5 * y
        # monotone iterates: a step that turns back, or stops shrinking near rounding, is rounding
        done = abs(step) <= 4.0 * K.EPS * y or step * prev < 0.0 or (
            abs(step) <= 1e3 * K.EPS * y and abs(step) >= abs(prev))
        prev = step
        y = y_new
        if done:
            break
    t = 1.0 / y
    dlog = abs(step) / y
    if final_check:
        dlog += root_residual(omega.size, lam, alpha, t, *K.root_sums(omega, t))
    return t, dlog, n


def root_residual(p, lam, alpha, t, D, C):
    """Error of ``log t`` from the residual and rounding of eq. (1) at ``t`` over its slope
    (``D = <r>``, ``C = <r (1 - r)>`` at ``t``; ``t = 0`` is exact)."""
    if t == 0.0:
        return 0.0
    x = lam / t
    return (abs(x + D - alpha) + K.sum_rounding(p) * (x + D + alpha)) / (x + C)


def _observables(omega, theta2, rho_perp, lam, alpha, delta, t, vhat_fixed=None):
    """Observables at effective ridge ``t`` (module docstring) and ``(D, C)`` for the root's residual."""
    D, B, C, S1, M, A, P = K.observable_sums(omega, theta2, t)
    vhat = lam / t if vhat_fixed is None else vhat_fixed
    E = (alpha * (rho_perp + S1) + delta * B) / (vhat + C)
    q = A + (delta + E) * B / alpha
    V = D / vhat if vhat > 0.0 else math.inf
    ratio = vhat / alpha                       # 1 / (1 + V)
    obs = {"m": M, "q": q, "V": V, "mhat": vhat, "qhat": vhat * ratio * (delta + E),
           "Vhat": vhat, "test_error": E, "test_error_noisy": E + delta,
           "train_loss": 0.5 * (delta + E) * ratio * ratio, "kappa": alpha * t, "rho": P + rho_perp}
    return obs, (D, C)


#: bounds on |d log x / d log t| for each observable: every sum is over terms r^i rc^j (i + j <= 2;
#: log-derivative <= 2), Vhat = lambda/t (1); E = N/(Vhat + C) <= 2 + 2, q = A + (Delta + E) B/alpha
#: <= 4 + 2, V = D/Vhat <= 1 + 1, train_loss ~ (Delta + E) Vhat^2 <= 4 + 2, m = M <= 1
_LOGDERIV = {"m": 1.0, "q": 6.0, "V": 2.0, "test_error": 4.0, "train_loss": 6.0}


#: observables that carry an error estimate
ERR_KEYS = ("m", "q", "V", "test_error", "train_loss")
#: floating-point operations after the sums, counted generously (rounding of the formulas)
_OPS = 8


def solve_ridge(model: GaussianCovariateModel, alpha, *, rtol=1e-10, max_iter=200) -> GCMResult:
    """Ridge saddle point of the GCM at ``alpha`` (square loss, linear channel).

    Parameters
    ----------
    model : GaussianCovariateModel
        Square loss and a linear channel (``delta`` is the label-noise variance).
    alpha : float
        ``n / p``.
    rtol : float
        Tolerance of :func:`lmech.result.over_tolerance` on every error estimate.
    max_iter : int
        Newton steps of the root (it takes 5-40).

    Returns
    -------
    GCMResult
        Scalars ``alpha, reg, m, q, V, mhat, qhat, Vhat, test_error`` (excess error
        ``rho + q - 2m``), ``test_error_noisy`` (``+ Delta``), ``train_loss``,
        ``kappa`` (``alpha t``: Canatar's ``kappa`` for the kernel map of
        :meth:`GaussianCovariateModel.from_kernel`), ``rho``; for the
        minimum-norm interpolator (``lambda = 0``, ``alpha < 1``) ``V = inf``,
        ``mhat = qhat = Vhat = 0``, ``train_loss = 0`` (the limits) and
        ``lambda_V`` (the finite limit of ``lambda V``).  ``error_estimate``:
        the error of ``log t`` (last Newton step + rounding of eq. (1) over its
        slope) times a bound on each observable's derivative in ``log t``
        (every sum is over ``r^i (1-r)^j`` with ``i + j <= 2``: ``|dlog E/dlog t|
        <= 4``, ``q`` and ``train_loss`` 6, ``V`` 2, ``m`` 1), plus the rounding bound of the blocked sums and of the final
        formulas.  The result is right to about ``1e-13`` relative for
        ``p <= 1e6`` away from the interpolation threshold.  ``lambda = 0`` at
        ``alpha = 1`` diverges: ``success = False``, ``status = DIVERGED``.
    """
    alpha = _check(model, alpha)
    rtol = check_real("rtol", rtol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    if not model.ridge:
        raise ValueError("model: solve_ridge needs the square loss and a linear channel")
    t0 = time.perf_counter()
    omega, theta2, rho_perp = model.spectra()
    lam, delta = model.reg, model.channel.delta
    opts = {"rtol": rtol, "max_iter": max_iter, "method": "closed form; Newton root of alpha = lambda/t + <r>"}
    common = dict(model=model, options=opts, conventions=CONVENTIONS)
    if lam == 0.0 and alpha == 1.0:
        sc = {"alpha": alpha, "reg": lam, "test_error": math.inf}
        return GCMResult(success=False, status=Status.DIVERGED,
                         message="lambda = 0 at alpha = 1 (interpolation threshold): the excess error is infinite",
                         timings={"solve": time.perf_counter() - t0}, scalars=sc,
                         error_estimate={"test_error": math.nan}, **common)
    t, du, n = ridge_root(omega, lam, alpha, max_iter=max_iter, final_check=False)
    vfix = None
    if lam == 0.0:
        vfix = alpha - 1.0 if alpha > 1.0 else 0.0
    obs, DC = _observables(omega, theta2, rho_perp, lam, alpha, delta, t, vfix)
    du += root_residual(omega.size, lam, alpha, t, *DC)
    rel = K.sum_rounding(omega.size) + _OPS * K.EPS
    err = {}
    for k in ERR_KEYS:
        x = obs[k]
        # the exact limit V = inf has no error
        err[k] = 0.0 if math.isinf(x) else (_LOGDERIV[k] * du + 4.0 * rel) * abs(x)
    sc = {"alpha": alpha, "reg": lam, **obs}
    if lam == 0.0 and alpha < 1.0:
        sc["lambda_V"] = t * alpha           # lambda V = t <r> = t alpha
    bad = over_tolerance(err, sc, rtol)
    if n >= max_iter and du > rtol:
        status, success, msg = Status.MAX_ITER, False, f"root of alpha = lambda/t + <r> not converged in {n} steps"
    elif bad:
        status, success = Status.TOLERANCE, False
        msg = "error estimate above rtol: " + ", ".join(f"{k}={err[k]:.1e}" for k in bad)
    else:
        status, success, msg = Status.CONVERGED, True, "converged (closed form up to a root solved to rounding)"
    return GCMResult(success=success, status=status, message=msg, n_iter=n, residual=du,
                     timings={"solve": time.perf_counter() - t0}, scalars=sc, error_estimate=err, **common)
