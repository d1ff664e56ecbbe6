"""``optimal_reg``: the ridge that minimises the test error of a GCM at one ``alpha``."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from lmech.checks import check_int, check_real

from .model import GaussianCovariateModel
from .solve import solve_gcm

__all__ = ["optimal_reg", "optimal_reg_gcm"]


def optimal_reg(model, alpha, **options):
    """The ridge ``lambda >= 0`` minimising the test error of ``model`` at ``alpha``.

    A :class:`GaussianCovariateModel` goes to :func:`optimal_reg_gcm` (below);
    a :class:`replica.ERM` to :func:`replica.erm.optimal_reg` (its own defaults).
    """
    if isinstance(model, GaussianCovariateModel):
        return optimal_reg_gcm(model, alpha, **options)
    from ..erm import ERM, optimal_reg as optimal_reg_erm

    if isinstance(model, ERM):
        return optimal_reg_erm(model, alpha, **options)
    raise ValueError(f"model must be a replica.GaussianCovariateModel or replica.ERM, got {type(model).__name__}")


def optimal_reg_gcm(model: GaussianCovariateModel, alpha, *, bounds=(1e-14, 1e4), n_grid=19, xtol=1e-6,
                    **options):
    """The ridge ``lambda >= 0`` minimising the test error of a GCM at ``alpha``.

    A grid of ``n_grid`` values of ``log lambda`` over ``bounds`` locates the
    best decade (the test error need not be unimodal over 18 decades); bounded
    Brent in ``log lambda`` between the grid neighbours of the best point then
    refines it to ``xtol`` (in ``log lambda``).  The ``lambda -> 0`` limit is
    evaluated explicitly (least squares for ``alpha > 1``, the minimum-norm
    interpolator for ``alpha < 1``; not at ``alpha = 1``) and chosen when it is
    at least as good (within the two error estimates): this is where the noiseless optimum lies when no positive
    ridge helps.  Options go to :func:`replica.gcm.solve_gcm`.

    Returns
    -------
    GCMResult
        The saddle point at the optimal ``lambda`` (scalar ``reg``), with the
        extra scalars ``reg_opt_xtol`` (the tolerance in ``log lambda``, ``0`` for
        the explicit ``lambda = 0`` limit) and ``n_solves``.  ``success`` is that of
        the solve at the optimum; if no ``lambda`` of the grid gave a converged
        solve the last failure is returned.
    """
    if not isinstance(model, GaussianCovariateModel):
        raise ValueError(f"model must be a replica.GaussianCovariateModel, got {type(model).__name__}")
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    lo, hi = (check_real("bounds", b, low=0.0, low_open=True) for b in bounds)
    if not lo < hi:
        raise ValueError(f"bounds must be increasing, got {bounds!r}")
    n_grid = check_int("n_grid", n_grid, low=3)
    xtol = check_real("xtol", xtol, low=0.0, low_open=True)
    count = [0]

    def solve(lam):
        count[0] += 1
        return solve_gcm(model.with_(reg=float(lam)), alpha, **options)

    def err(u):
        r = solve(math.exp(u))
        return r.test_error if r.success else math.inf

    us = np.linspace(math.log(lo), math.log(hi), n_grid)
    es = np.array([err(u) for u in us])
    if not np.any(np.isfinite(es)):
        r = solve(math.exp(us[-1]))
        return _with(r, xtol, count[0])
    j = int(np.argmin(es))
    a, b = us[max(j - 1, 0)], us[min(j + 1, n_grid - 1)]
    res = minimize_scalar(err, bounds=(a, b), method="bounded", options={"xatol": xtol})
    u_best, e_best = (res.x, res.fun) if res.fun <= es[j] else (us[j], es[j])
    best = solve(math.exp(u_best))
    if alpha != 1.0:
        zero = solve(0.0)
        tol = zero.error_estimate.get("test_error", 0.0) + best.error_estimate.get("test_error", 0.0)
        if zero.success and zero.test_error <= e_best + tol:   # ties within rounding go to the limit
            return _with(zero, 0.0, count[0])
    return _with(best, xtol, count[0])


def _with(r, xtol, n):
    sc = dict(r.scalars)
    sc["reg_opt_xtol"] = float(xtol)
    sc["n_solves"] = int(n)
    return type(r)(success=r.success, status=r.status, message=r.message, n_iter=r.n_iter,
                   residual=r.residual, model=r.model, options=r.options, conventions=r.conventions,
                   timings=r.timings, scalars=sc, error_estimate=r.error_estimate)
