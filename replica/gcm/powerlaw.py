"""Power-law (source and capacity) data, the asymptotic rate table and learning curves with fitted slopes.

Cui, Loureiro, Krzakala & Zdeborová, "Generalization error rates in kernel
regression: the crossover from the noiseless to noisy regime", NeurIPS 2021
(below: Cui et al.).  Their setup, in this package's convention
(:mod:`replica.gcm.model`): ``p`` modes with ``omega_k = k^-a`` (capacity
``a > 1``) and teacher power ``omega_k theta_k**2 / p = k^-(1 + 2 a r)`` (source
``r >= 0``, their convention; :func:`replica.convert_source_exponent` converts
to the others), noise variance ``sigma**2 = Delta``.  Their ridge ``lambda_C``
multiplies the penalty of the *mean* loss over features of covariance
``omega_k = k^-a``; here the penalty is on the sum of the losses, so
``lambda_C = lambda / alpha = lambda p / n``, and a ridge ``lambda_C ~ n^-l``
is ``lambda = alpha n^-l``.  A fixed ``lambda`` of this package is ``l = 1``.

Excess error ``E = eps_g - sigma**2 ~ n^-beta`` (Cui et al., Fig. 1, the phase
diagram of the decay exponents in the ``(n, l)`` plane, and their sec. 3), with
``m = min(r, 1)``:

* noiseless: ``beta = 2 a m`` for ``l >= a`` (effectively ridgeless; the optimal
  rate), ``beta = 2 l m`` for ``l < a``;
* noisy: ``beta = 2 a m / (1 + 2 a m)`` at the optimal ``l* = a / (1 + 2 a m)``;
  ``beta = 2 l m`` for ``l < l*`` (bias dominated); ``beta = 1 - l/a`` for
  ``l* < l < a`` (variance dominated); ``beta = 0`` for ``l > a`` (the noise is
  interpolated).  Noisy data follow the noiseless exponent while the excess error
  is far above the noise, and cross over to the noisy one (the crossover of the title).
"""

from __future__ import annotations

import math

import numpy as np

from lmech.checks import check_array, check_choice, check_int, check_memory, check_real
from lmech.fit import linear_fit
from lmech.result import Result, register_result
from lmech.status import Status

from .model import CONVENTIONS, GaussianCovariateModel
from .optimal import optimal_reg_gcm as optimal_reg
from .solve import solve_gcm

__all__ = ["power_law_model", "rate_exponent", "rate_table", "fit_slope", "learning_curve",
           "LearningCurveResult"]


def power_law_model(p, a, r=None, *, b=None, noise=0.0, reg=0.0, loss=None, channel=None
                    ) -> GaussianCovariateModel:
    """The GCM of Cui et al. (NeurIPS 2021): ``omega_k = k^-a``, teacher power ``k^-(1 + 2 a r)``, ``k = 1..p``.

    Give the source exponent ``r`` (Cui et al.'s convention) or the decay ``b`` of
    the teacher power per mode (``k^-b``, ``b = 1 + 2 a r``), not both.
    ``theta_k**2 = p k^-b / omega_k``; no matrix is built, so ``p = 1e6`` costs
    two arrays.  ``noise`` is the label-noise variance (linear channel, unless
    ``channel`` is given).  The teacher power ``rho = sum_{k <= p} k^-b`` tends
    to ``zeta(b)`` as ``p -> inf`` (finite for ``b > 1``, i.e. ``r > 0``).
    """
    p = check_int("p", p, low=1)
    a = check_real("a", a, low=0.0, low_open=True)
    if (r is None) == (b is None):
        raise ValueError("r, b: give the source exponent r or the teacher-power decay b (one of them)")
    if r is not None:
        r = check_real("r", r, low=0.0)
        b = 1.0 + 2.0 * a * r
    else:
        b = check_real("b", b, low=1.0)
    noise = check_real("noise", noise, low=0.0)
    check_memory("p", 48.0 * p, f"a power-law spectrum of {p} modes (the model and its temporaries)")
    k = np.arange(1, p + 1, dtype=np.float64)
    omega = k ** -a
    theta2 = p * k ** -b / omega
    if channel is None:
        from ..blocks import get_channel

        channel = get_channel("linear", delta=noise)
    return GaussianCovariateModel(omega=omega, theta2=theta2, rho_perp=0.0, reg=reg, loss=loss,
                                  channel=channel)


def rate_table(a, r) -> dict:
    """Every regime of Cui et al. (NeurIPS 2021, Fig. 1): ``{name: (l-range, beta)}``.

    ``E ~ n^-beta`` with ``lambda_C ~ n^-l`` (see the module docstring); ``l-range``
    is ``(l_low, l_high)``.  Keys: ``noiseless_ridge`` (``l < a``),
    ``noiseless_ridgeless`` (``l >= a``, the optimal noiseless rate),
    ``noisy_bias`` (``l < l*``), ``noisy_optimal`` (``l = l*``),
    ``noisy_variance`` (``l* < l < a``), ``noisy_ridgeless`` (``l > a``).
    ``beta`` is a number, or a function of ``l`` where it depends on it.
    The rates hold for capacity ``a > 1`` (a trace-class covariance); ``a <= 1`` raises ValueError.
    """
    a = check_real("a", a, low=1.0, low_open=True)
    r = check_real("r", r, low=0.0)
    m = min(r, 1.0)
    ls = a / (1.0 + 2.0 * a * m)
    return {
        "noiseless_ridge": ((0.0, a), lambda l: 2.0 * l * m),
        "noiseless_ridgeless": ((a, math.inf), 2.0 * a * m),
        "noisy_bias": ((0.0, ls), lambda l: 2.0 * l * m),
        "noisy_optimal": ((ls, ls), 2.0 * a * m / (1.0 + 2.0 * a * m)),
        "noisy_variance": ((ls, a), lambda l: 1.0 - l / a),
        "noisy_ridgeless": ((a, math.inf), 0.0),
    }


def rate_exponent(a, r, *, noisy, ell="optimal"):
    """Predicted slope ``-beta`` of ``log E`` against ``log n`` and the regime's name.

    Parameters
    ----------
    a, r : float
        Capacity and source exponents (Cui et al.'s convention).
    noisy : bool
        Label noise (``sigma > 0``) or not.
    ell : float, ``"optimal"`` or ``"ridgeless"``
        Decay of Cui et al.'s ridge ``lambda_C ~ n^-ell``; ``"optimal"`` the
        optimally tuned ridge at each ``n``; ``"ridgeless"`` ``lambda = 0``.
        A fixed ``lambda`` of this package is ``ell = 1``.

    Returns
    -------
    (slope, regime) : (float, str)
    """
    table = rate_table(a, r)
    m = min(r, 1.0)
    if ell == "ridgeless":
        ell = math.inf
    if ell == "optimal":
        name = "noisy_optimal" if noisy else "noiseless_ridgeless"
        return -table[name][1], name
    ell = check_real("ell", ell, low=0.0) if not (isinstance(ell, float) and math.isinf(ell)) else ell
    if not noisy:
        if ell >= a:
            return -2.0 * a * m, "noiseless_ridgeless"
        return -2.0 * ell * m, "noiseless_ridge"
    ls = a / (1.0 + 2.0 * a * m)
    if ell > a:
        return 0.0, "noisy_ridgeless"
    if ell > ls:
        return -(1.0 - ell / a), "noisy_variance"
    if ell == ls:
        return -table["noisy_optimal"][1], "noisy_optimal"
    return -2.0 * ell * m, "noisy_bias"


def fit_slope(n, err, *, decades=1.0):
    """Local slope of ``log err`` against ``log n`` over the last ``decades`` of ``n``, with its uncertainty.

    Least squares over the points with ``n >= n_max 10^-decades`` gives the
    slope ``s``.  The local slope of a learning curve approaches its asymptotic
    exponent with a drift; the window is cut in thirds, the slopes ``s1, s2, s3``
    fitted on each, and the drift extrapolated geometrically (ratio ``q = (s3 -
    s2)/(s2 - s1)``; tail ``|s3 - s2| q/(1 - q)`` for ``0 < q < 1``, else
    ``3 |s3 - s2|``).  The uncertainty is ``|s - s3| + tail`` plus the regression's
    standard error: an estimate of how far ``s`` is from the exponent the curve
    tends to, not only the scatter about a line.  It is an estimate, not a
    bound: a local slope that turns back beyond the window (a correction of the
    other sign taking over) is not seen.

    Returns
    -------
    dict
        ``slope``, ``slope_err``, ``slope_extrapolated`` (``s3`` plus the signed
        tail), ``n_points``.  NaN where fewer than 7 points lie in the window.
    """
    n = check_array("n", n, ndim=1, min_size=2)
    e = check_array("err", err, shape=n.shape, finite=False)
    decades = check_real("decades", decades, low=0.0, low_open=True)
    ok = np.isfinite(e) & (e > 0.0) & (n > 0.0)
    x, y = np.log10(n[ok]), np.log10(e[ok])
    if x.size:
        sel = x >= x.max() - decades
        x, y = x[sel], y[sel]
    out = {"slope": math.nan, "slope_err": math.nan, "slope_extrapolated": math.nan, "n_points": int(x.size)}
    if x.size < 7:
        return out

    def fit(xx, yy):
        return linear_fit(xx, yy)[:2]

    s, se = fit(x, y)
    k = x.size // 3
    s1 = fit(x[:k + 1], y[:k + 1])[0]
    s2 = fit(x[k:2 * k + 1], y[k:2 * k + 1])[0]
    s3 = fit(x[2 * k:], y[2 * k:])[0]
    d1, d2 = s2 - s1, s3 - s2
    q = d2 / d1 if d1 != 0.0 else math.nan
    tail = abs(d2) * q / (1.0 - q) if 0.0 < q < 1.0 else 3.0 * abs(d2)
    out.update(slope=s, slope_err=abs(s - s3) + tail + se, slope_extrapolated=s3 + math.copysign(tail, d2))
    return out


def _optimal_path(model, alphas, options):
    """:func:`optimal_reg` along ``alphas``, each search bracketed around the previous optimum
    (two decades either side, 9 grid points), widened to the full default range when the
    optimum lands on an edge of that bracket or is the ``lambda = 0`` limit."""
    out = []
    prev = None
    for x in alphas:
        r = None
        if prev is not None and prev > 0.0:
            r = optimal_reg(model, float(x), bounds=(prev * 1e-2, prev * 1e2), n_grid=9, **options)
            lam = r.scalars["reg"]
            if not r.success or lam == 0.0 or not (prev * 1.01e-2 < lam < prev * 0.99e2):
                r = None
        if r is None:
            r = optimal_reg(model, float(x), **options)
        prev = r.scalars["reg"] if r.success else None
        out.append(r)
    return out


@register_result("replica.LearningCurveResult")
class LearningCurveResult(Result):
    """A learning curve of a GCM: the excess error against ``alpha`` with the fitted slope
    beside the predicted exponent."""


def learning_curve(model: GaussianCovariateModel, alphas, *, reg="fixed", a=None, r=None,
                   fit_decades=2.0, executor=None, **options) -> LearningCurveResult:
    """The excess test error of ``model`` along ``alphas``, with its fitted and predicted slopes.

    Parameters
    ----------
    model : GaussianCovariateModel
    alphas : array
        Sample ratios ``n/p`` (increasing; a log grid for a slope).
    reg : ``"fixed"`` or ``"optimal"``
        The model's ``lambda`` at every point, or :func:`optimal_reg` at each point.
    a, r : float, optional
        Capacity and source exponents (Cui et al.'s convention) of a power-law
        model (:func:`power_law_model`); given, the result carries the predicted
        slope of its regime (:func:`rate_exponent`; ``"fixed"`` ``lambda > 0`` is
        ``ell = 1``, ``lambda = 0`` is ridgeless).
    fit_decades : float
        Window of the fitted slope: the last decades of ``alpha`` (:func:`fit_slope`).
        The uncertainty sees the drift of the local slope inside the window, not a
        turn beyond it: with noise 0.1 (a = 1.5, r = 2/3, optimal ridge, p = 1e5) the
        local slope passes -2/3, reaches -0.66564 at n = 5e4 and turns back, so that a
        one-decade window on n in [1e4, 1e5] gives -0.66572 +- 0.00008, 1e-3 from
        -2/3; two decades (the default) give -0.66664 +- 0.0012.
    executor : concurrent.futures.Executor, optional
        Points are submitted to it (independent solves); serial if None.

    Returns
    -------
    LearningCurveResult
        Arrays ``alpha``, ``n`` (``alpha p``), ``test_error`` (excess),
        ``test_error_err`` (its error estimate), ``reg`` (the ``lambda`` used),
        ``converged``; scalars ``slope``, ``slope_err``, ``slope_extrapolated``
        (:func:`fit_slope`), ``slope_points``,
        ``predicted_slope``, ``regime``, ``slope_agrees`` (``|slope -
        predicted| <= slope_err``), ``p``, ``a``, ``r``, ``noisy``.
        ``success`` requires every point converged.
    """
    import time

    al = check_array("alphas", alphas, ndim=1, min_size=2)
    if not np.all(al > 0.0):
        raise ValueError("alphas must be > 0")
    check_choice("reg", reg, ("fixed", "optimal"))
    noisy = bool(getattr(model.channel, "delta", 0.0) > 0.0)
    if a is not None and r is not None:     # the prediction first: bad a, r raise before any solve
        ell = "optimal" if reg == "optimal" else ("ridgeless" if model.reg == 0.0 else 1.0)
        pred, regime = rate_exponent(a, r, noisy=noisy, ell=ell)
    t0 = time.perf_counter()
    if reg == "optimal" and executor is None:
        res = _optimal_path(model, al, options)
    elif reg == "optimal":
        futs = [executor.submit(optimal_reg, model, float(x), **options) for x in al]
        res = [f.result() for f in futs]
    elif executor is None:
        res = [solve_gcm(model, float(x), **options) for x in al]
    else:
        futs = [executor.submit(solve_gcm, model, float(x), **options) for x in al]
        res = [f.result() for f in futs]
    E = np.array([x.test_error if x.success else math.nan for x in res])
    Eerr = np.array([x.error_estimate.get("test_error", math.nan) for x in res])
    regs = np.array([x.scalars.get("reg", model.reg) for x in res])
    conv = np.array([bool(x.success) for x in res])
    n = al * model.p
    fit = fit_slope(n, E, decades=fit_decades)
    slope, slope_err = fit["slope"], fit["slope_err"]
    sc = {"slope": slope, "slope_err": slope_err, "slope_extrapolated": fit["slope_extrapolated"],
          "slope_points": fit["n_points"], "p": model.p, "noisy": noisy, "reg_mode": reg,
          "fit_decades": float(fit_decades)}
    if a is not None and r is not None:
        sc.update(a=float(a), r=float(r), predicted_slope=pred, regime=regime,
                  slope_agrees=bool(abs(slope - pred) <= slope_err))
    ok = bool(conv.all())
    msg = "all points converged" if ok else f"{int((~conv).sum())} of {conv.size} points did not converge"
    return LearningCurveResult(success=ok, status=Status.CONVERGED if ok else Status.INCOMPLETE, message=msg,
                               n_iter=int(sum(x.n_iter for x in res)), model=model,
                               options={"reg": reg, "fit_decades": fit_decades, **options},
                               conventions=CONVENTIONS, timings={"solve": time.perf_counter() - t0},
                               arrays={"alpha": al, "n": n, "test_error": E, "test_error_err": Eerr,
                                       "reg": regs, "converged": conv}, scalars=sc,
                               error_estimate={"slope": slope_err})
