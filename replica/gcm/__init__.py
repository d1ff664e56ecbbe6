"""The Gaussian covariate model (Loureiro et al., NeurIPS 2021) on its spectral form.

:mod:`replica.gcm.model` (the model, its conventions, the source-exponent
converter), :mod:`replica.gcm.ridge` (ridge saddle point in closed form up to
one root), :mod:`replica.gcm.solve` (one entry point: ridge here, other losses
in :mod:`replica.gcm_erm`).
"""

from . import _kernels  # noqa: F401  (registers the warm-up)
from .model import CONVENTIONS, SOURCE_CONVENTIONS, GaussianCovariateModel, convert_source_exponent
from .ridge import GCMResult, ridge_root, solve_ridge
from .kernel import canatar_kappa, canatar_learning_curve
from .solve import solve_gcm
from .optimal import optimal_reg, optimal_reg_gcm
from .powerlaw import (LearningCurveResult, fit_slope, learning_curve, power_law_model, rate_exponent,
                       rate_table)

__all__ = ["CONVENTIONS", "SOURCE_CONVENTIONS", "GaussianCovariateModel", "convert_source_exponent",
           "GCMResult", "solve_ridge", "ridge_root", "solve_gcm", "canatar_kappa",
           "canatar_learning_curve", "optimal_reg", "optimal_reg_gcm", "LearningCurveResult", "fit_slope", "learning_curve",
           "power_law_model", "rate_exponent", "rate_table"]
