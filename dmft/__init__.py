"""dmft layer of learning-mechanics: two-time dynamical mean-field solvers.

Models (frozen, validated, registered dataclasses):

* :class:`SphericalPSpin` -- Langevin dynamics of the spherical (mixed) p-spin
  model, Cugliandolo–Kurchan equations; Hamiltonian normalisation is an
  explicit convention (:func:`dmft.pspin.convert`).
* :class:`LinearRegressionGF` -- gradient flow on ridge least squares with
  Gaussian data, a closed Gaussian DMFT.
* :class:`RandomRNN` -- the Sompolinsky–Crisanti–Sommers random network.
* :class:`RandomFeatureScaling` -- linear random features (N) trained on P
  samples of power-law data, the dynamical model of neural scaling laws: a
  one-frequency-pair closed form, :func:`scaling_loss` (:mod:`dmft.scaling`).
* :class:`GLMDynamics` -- teacher–student GLM with square, logistic or hinge
  loss, trained by gradient flow, Langevin dynamics or persistent SGD; the
  sampled non-Gaussian effective process (``method="sampled"``) for every
  case, and the square loss at full batch also closed exactly.

:func:`solve` integrates any of them with the uniform-grid second-order
predictor–corrector, Richardson-extrapolated with an error estimate
(``method="uniform"``; a p-spin run longer than t = 50 goes to
``"doubling"`` unless a method is given); the p-spin paramagnet and the
chaotic RNN also have a one-time stationary solver (``"stationary"``); the
spherical p-spin has a time-doubling integrator with a fixed window of
points for long and aging runs (``"doubling"``, :mod:`dmft.doubling`).  It
returns a :class:`DMFTResult`.  The methods are the table :data:`METHODS`;
the contract a model, a method and a result satisfy is at the top of
:mod:`dmft.solve`.

Layout: :mod:`dmft.result` (:class:`DMFTResult`), one module per method
(:mod:`dmft.uniform`, :mod:`dmft.stationary`, :mod:`dmft.sampled`,
:mod:`dmft.doubling`), each with its kernels in :mod:`dmft._kernels`, and
:mod:`dmft.solve` on top (imported by nothing in the package but this file).
Every method estimates its memory and time up front (:mod:`dmft.cost`): a run
that would not fit in memory is refused with a ValueError naming the
parameters that set its size, a long one is announced by a
:class:`CostWarning` before any work.
"""

from .cost import CostWarning
from .glm import GLMDynamics
from .linreg import LinearRegressionGF, mp_error, mp_train_loss
from .pspin2 import Pspin2Exact, pspin2_exact
from .pspin import (SphericalPSpin, aging_energy, aging_fdr, aging_plateau, convert,
                    dynamical_temperature, equilibrium_energy, threshold_energy)
from .rnn import RandomRNN, stationary_variance
from .scaling import RandomFeatureScaling, limit_loss, scaling_loss
from .result import DMFTResult
from .solve import METHODS, solve
from . import kinds  # noqa: F401,E402  (registers the sweep kinds)

__all__ = ["SphericalPSpin", "LinearRegressionGF", "RandomRNN", "GLMDynamics", "DMFTResult", "solve",
           "METHODS",
           "convert", "dynamical_temperature", "equilibrium_energy", "threshold_energy",
           "aging_plateau", "aging_fdr", "aging_energy", "mp_error", "mp_train_loss",
           "stationary_variance", "pspin2_exact", "Pspin2Exact", "CostWarning",
           "RandomFeatureScaling", "scaling_loss", "limit_loss"]
