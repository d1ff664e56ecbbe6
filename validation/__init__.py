"""validation: finite-N simulators of the models of odes, dmft and replica, and comparison reports.

Simulators (Numba kernels in :mod:`validation._kernels`, one module each; seeded with
:class:`numpy.random.Generator`) take the theory layers' own model objects
and follow their conventions; :func:`compare` runs them over sizes and seeds
(through :func:`lmech.sweep.sweep`, on any executor) and returns a
:class:`ValidationReport`: simulation means and standard errors, theory
values, z-scores, a finite-size extrapolation and a three-way verdict
(agree within a stated tolerance, proved by an equivalence test; disagree;
inconclusive, with the smallest detectable deviation).

Contract for implementers
-------------------------
A **simulator** takes a theory layer's own model object (never a copy of its
parameters), a size, and keyword-only options (``seed`` first); it draws data
and teachers through the blocks of :mod:`lmech.blocks` (``prior.sample``,
``channel.sample``, ``channel.teacher_map``), fits or denoises with them
(``loss.prox``, ``prior.denoise``, ``channel.gout``), and returns a
:class:`lmech.Result` whose observables have the theory's names and
conventions, with their Monte Carlo errors in ``error_estimate``.  It is
registered with :func:`register_simulator` for the model type, so that
:func:`compare` finds it; an unknown option raises TypeError before any run.

A **report** (:class:`ValidationReport`) answers with ``status`` the verdict
(:class:`lmech.Status` CONVERGED for agree, INCONCLUSIVE, DISAGREE;
INCOMPLETE when simulations failed); ``success`` says every simulation ran
and the theory converged.
"""

from . import kinds  # noqa: F401  (registers the lmech run sweep kinds)
from . import plrf  # noqa: F401  (registers the PLRF simulator)
from .compare import (Simulator, ValidationReport, compare, extrapolate, get_simulator,
                      register_simulator, theory_values)
from .committee import SGDRun, compile_activation, escape_time, simulate_committee, weights_with_overlaps
from .capacity import CapacityReport, capacity_scan, cover_probability, max_stability, simulate_capacity
from .erm import GLMRun, replica_theory, simulate_erm, simulate_gamp
from .gradflow import (FlowRun, pspin_theory, simulate_glm, simulate_linreg, simulate_pspin,
                       simulate_pspin2, simulate_rnn)
from .glm import simulate_glm_dynamics
from .scaling import ScalingRun, simulate_scaling
from .gcm import GCMRun, gcm_theory, simulate_gcm, simulate_random_features
from .linear_sgd import simulate_linear_sgd

__all__ = ["compare", "ValidationReport", "Simulator", "register_simulator", "get_simulator",
           "extrapolate", "theory_values", "SGDRun", "simulate_committee", "weights_with_overlaps",
           "compile_activation", "escape_time", "max_stability",
           "CapacityReport", "capacity_scan", "simulate_capacity", "cover_probability",
           "GLMRun", "simulate_erm", "simulate_gamp", "replica_theory", "FlowRun", "simulate_linreg", "simulate_glm",
           "simulate_glm_dynamics", "simulate_pspin", "simulate_pspin2", "simulate_rnn", "pspin_theory",
           "ScalingRun", "simulate_scaling",
           "GCMRun", "simulate_gcm", "simulate_random_features", "gcm_theory",
           "simulate_linear_sgd"]
