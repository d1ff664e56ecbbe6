"""``solve_gcm``: the saddle point of a :class:`GaussianCovariateModel` at one ``alpha``."""

from __future__ import annotations

import importlib
import time

from lmech.checks import check_options

from .model import CONVENTIONS, GaussianCovariateModel
from .ridge import GCMResult, solve_ridge

__all__ = ["solve_gcm"]

_RIDGE_OPTIONS = ("rtol", "max_iter")
_ERM_OPTIONS = ("rtol", "max_iter", "init")


def solve_gcm(model: GaussianCovariateModel, alpha, **options) -> GCMResult:
    """Replica-symmetric saddle point of ``model`` at ``alpha = n/p``.

    Square loss on a linear channel: :func:`replica.gcm.ridge.solve_ridge`
    (closed form up to one root).  Any other loss and channel: the spectral
    solver ``solve_spectral`` of :mod:`replica.gcm_erm` (options ``rtol``,
    ``max_iter``, ``init``).  Unknown options raise :class:`TypeError`.
    """
    if not isinstance(model, GaussianCovariateModel):
        raise ValueError(f"model must be a replica.GaussianCovariateModel, got {type(model).__name__}")
    if model.ridge:
        check_options(options, _RIDGE_OPTIONS, "replica.solve(GaussianCovariateModel, square loss)")
        return solve_ridge(model, alpha, **options)
    check_options(options, _ERM_OPTIONS, "replica.solve(GaussianCovariateModel)")
    try:
        # ``from ..gcm_erm import solve_spectral`` once replica.gcm_erm is merged; an import
        # string until then (the import-graph test reads a missing module as the package itself)
        solve_spectral = importlib.import_module("replica.gcm_erm").solve_spectral
    except ImportError:
        raise NotImplementedError("GaussianCovariateModel with a loss other than square on a linear channel "
                                  "needs replica.gcm_erm.solve_spectral (not available in this build)") from None
    t0 = time.perf_counter()
    omega, theta2, rho_perp = model.spectra()
    out = solve_spectral(omega, theta2, rho_perp, alpha, model.reg, model.loss, model.channel, **options)
    keys = ("m", "q", "V", "mhat", "qhat", "Vhat", "test_error", "train_loss")
    sc = {"alpha": float(alpha), "reg": model.reg, **{k: float(out[k]) for k in keys}, "rho": model.rho}
    status = out["status"]
    return GCMResult(success=int(status) == 0, status=status, message=out.get("message", ""),
                     n_iter=int(out.get("n_iter", 0)), residual=float(out.get("residual", float("nan"))),
                     model=model, options=dict(options), conventions=CONVENTIONS,
                     timings={"solve": time.perf_counter() - t0}, scalars=sc,
                     error_estimate=dict(out.get("error_estimate", {})))
