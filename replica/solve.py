"""``replica.solve``: one entry point for every replica model.

Contract for implementers
-------------------------
A **model** (:class:`replica.BayesOptimalGLM`, :class:`replica.ERM`,
:class:`replica.GardnerVolume`) is a frozen dataclass whose fields are declared
once with :func:`lmech.spec.param`; its priors, channels and losses are blocks
of :mod:`lmech.blocks` (by name or object), extended in :mod:`replica.blocks`
with their free-entropy terms (``psi_minus``, ``mmse``, ``psi_out``,
``qhat_unit``), never redefined.

A **solver** (``solve_bayes``, ``solve_erm``, ``solve_gardner``) iterates the
model's saddle-point map with :mod:`replica.fixedpoint` from an ``init`` (a
state, a previous result, or a named start), takes keyword-only options with
defaults in its signature (unknown ones raise TypeError here, before any work),
refines its quadrature (``n_quad`` and ``2 n_quad``) to estimate the error of
each observable, and never imports this dispatcher (:mod:`replica.continuation`
follows branches on top of the solvers).

A **result** is a :class:`lmech.Result`: ``success`` (every error estimate
within ``rtol``), ``status`` (a :class:`lmech.Status`: MAX_ITER, DIVERGED,
INVALID_STATE, TOLERANCE, NO_SOLUTION), ``message``, ``n_iter`` (map
iterations), ``residual`` (the fixed-point increment), the order parameters
and conjugates as scalars, and ``error_estimate``.
"""

from __future__ import annotations

__all__ = ["solve"]


def solve(model, alpha, **options):
    """Solve the replica-symmetric saddle point of ``model`` at sample ratio ``alpha``.

    Dispatches on the model type:

    - :class:`replica.BayesOptimalGLM` -> :func:`replica.bayes.solve_bayes`
      (state evolution of BKMMZ 2019);
    - :class:`replica.ERM` -> :func:`replica.erm.solve_erm`;
    - :class:`replica.GardnerVolume` -> :func:`replica.gardner.solve_gardner`;
    - :class:`replica.GaussianCovariateModel` -> :func:`replica.gcm.solve_gcm`.

    Options are keyword-only and specific to the solver; unknown options
    raise :class:`TypeError`.  Common ones: ``init`` ("uninformed",
    "informed", a state or a previous result), ``damping`` ("adaptive" or a
    float), ``method`` ("anderson" or "picard"), ``rtol`` (relative
    tolerance, default ``1e-10``), ``max_iter``, ``n_quad``.
    """
    from lmech.checks import check_options

    from .bayes import _OPTIONS as BO_OPTIONS, BayesOptimalGLM, solve_bayes

    if isinstance(model, BayesOptimalGLM):
        check_options(options, BO_OPTIONS, "replica.solve(BayesOptimalGLM)")
        return solve_bayes(model, alpha, **options)
    try:
        from .erm import _OPTIONS as ERM_OPTIONS, ERM, solve_erm
    except ImportError:  # pragma: no cover
        ERM = None
    if ERM is not None and isinstance(model, ERM):
        check_options(options, ERM_OPTIONS, "replica.solve(ERM)")
        return solve_erm(model, alpha, **options)
    try:
        from .gardner import _OPTIONS as G_OPTIONS, GardnerVolume, solve_gardner
    except ImportError:  # pragma: no cover
        GardnerVolume = None
    if GardnerVolume is not None and isinstance(model, GardnerVolume):
        check_options(options, G_OPTIONS, "replica.solve(GardnerVolume)")
        return solve_gardner(model, alpha, **options)
    from .gcm import GaussianCovariateModel, solve_gcm

    if isinstance(model, GaussianCovariateModel):
        return solve_gcm(model, alpha, **options)
    raise ValueError(f"model must be a replica model (BayesOptimalGLM, ERM, GardnerVolume, "
                     f"GaussianCovariateModel); got {model!r}")
