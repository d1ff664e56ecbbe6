"""``replica.solve``: one entry point for every replica model."""

from __future__ import annotations

__all__ = ["solve"]


def solve(model, alpha, **options):
    """Solve the replica-symmetric saddle point of ``model`` at sample ratio ``alpha``.

    Dispatches on the model type:

    - :class:`replica.BayesOptimalGLM` -> :func:`replica.bayes.solve_bayes`
      (state evolution of BKMMZ 2019);
    - :class:`replica.ERM` -> :func:`replica.erm.solve_erm`;
    - :class:`replica.GardnerVolume` -> :func:`replica.gardner.solve_gardner`.

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
    raise ValueError(f"model must be a replica model (BayesOptimalGLM, ERM, GardnerVolume); got {model!r}")
