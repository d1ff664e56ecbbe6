"""replica layer of learning-mechanics: replica-symmetric saddle points, transitions, phase diagrams.

Building blocks (:mod:`replica.blocks`): priors, channels (and losses in
:mod:`replica.erm`) with registries ``get_prior``, ``get_channel``,
``get_loss``.  Models: :class:`BayesOptimalGLM` (Barbier et al., PNAS 2019),
:class:`ERM` (Aubin et al., NeurIPS 2020; Loureiro et al., 2021),
:class:`GardnerVolume` (Gardner 1988).  Solvers: :func:`solve` (one entry
point), :func:`transitions` (spinodals and first-order transitions),
:func:`continuation` (warm-started branch following).  Sweep kinds for
``lmech run`` are registered in :mod:`replica.kinds`.
"""

from . import _kernels  # noqa: F401  (registers the warm-up)
from .bayes import (BayesOptimalGLM, BayesOptimalResult, TransitionResult, alpha_of_mmse,
                    free_entropy_at, transitions)
from .blocks import (GaussBernoulli, Gaussian, LabelFlip, Linear, Probit, Rademacher, ReLU,
                     Sign, Spherical, get_channel, get_prior)
from .erm import (ERM, ERMResult, Hinge, Logistic, ProxLoss, Square, SquaredHinge, erm_diagram,
                  get_loss, optimal_reg, ridge_closed_form)
from .gcm import (CONVENTIONS as GCM_CONVENTIONS, GaussianCovariateModel, GCMResult, canatar_kappa,
                  canatar_learning_curve, convert_source_exponent, solve_gcm, optimal_reg,
                  learning_curve, power_law_model, rate_exponent, rate_table, LearningCurveResult)
from .gardner import GardnerResult, GardnerVolume, binary_rs_limit, capacity, spherical_capacity
from .solve import solve
from .continuation import continuation

__all__ = ["BayesOptimalGLM", "BayesOptimalResult", "TransitionResult", "solve", "transitions",
           "continuation", "alpha_of_mmse", "free_entropy_at", "get_prior", "get_channel",
           "Gaussian", "Rademacher", "GaussBernoulli", "Spherical", "Linear", "Sign",
           "LabelFlip", "Probit", "ReLU", "GardnerVolume", "GardnerResult", "capacity",
           "spherical_capacity", "binary_rs_limit", "ERM", "ERMResult", "Square", "Logistic",
           "Hinge", "get_loss",
           "optimal_reg", "ridge_closed_form", "erm_diagram", "ProxLoss", "SquaredHinge",
           "GaussianCovariateModel", "GCM_CONVENTIONS", "convert_source_exponent", "GCMResult", "solve_gcm",
           "canatar_kappa", "canatar_learning_curve", "learning_curve", "power_law_model", "rate_exponent",
           "rate_table", "LearningCurveResult"]

from . import kinds  # noqa: E402,F401  (registers the sweep kinds)

# random features in the GCM (gcm-rf)
from .gcm_rf import (RandomFeatures, gaussian_equivalent, marchenko_pastur_cdf,  # noqa: E402
                     marchenko_pastur_quantiles, mei_montanari_risk, random_features, rf_spectra)

__all__ += ["RandomFeatures", "random_features", "rf_spectra", "marchenko_pastur_cdf",
            "marchenko_pastur_quantiles", "gaussian_equivalent", "mei_montanari_risk"]
