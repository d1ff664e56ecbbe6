"""odes: the teacher-student committee-machine ODEs of online SGD, and linear SGD risk curves.

Order-parameter ODEs for two-layer networks trained by online SGD in the
teacher-student setting (Saad & Solla, PRE 52, 4225 (1995); Biehl & Schwarze,
J. Phys. A 28, 643 (1995); Goldt et al., NeurIPS 2019): Gaussian-integral
kernels, adaptive integration, plateaus and escape times, fixed points and
their stability, convention converters and a sweep kind.

One-pass SGD on Gaussian least squares (:mod:`odes.linear_sgd`): the exact expected risk
of :class:`odes.LinearSGD` (any covariance spectrum, batch size, schedule, heavy ball,
weight decay) by :func:`odes.risk_curve`, its stability threshold
(:func:`odes.stability_threshold`, the kernel norm of the risk's Volterra equation reaching
1), the population-GD limit and the continuous-time (Volterra) limit; sweep kind
``odes.linear_sgd``.

Contract for implementers
-------------------------
The **model** is :class:`odes.CommitteeMachine`, a frozen dataclass whose
fields are declared once with :func:`lmech.spec.param` (bounds and help;
cross-field constraints in ``check()``).  Its activation is a name of
:data:`ACTIVATIONS` (the activations of :mod:`lmech.blocks.activations` whose
ODE integrals have closed forms, with the blocks' codes) or an
:class:`odes.Custom` (any other ``g``, by quadrature), its
learning-rate schedule a block of :mod:`lmech.blocks.schedules`.  It provides
``kernel_args(T, v0)``: the one typed structure (:class:`odes._kernels.CommitteeArgs`)
that every kernel takes, the ODE right-hand side, the Euler and DOP853
steppers, and the finite-N simulator of :mod:`validation` alike.

A **solver** (:func:`integrate`, :func:`newton`, :func:`symmetric_fixed_point`,
:func:`critical_lr`, ...) takes the model and keyword-only options with their
defaults in its signature; an unknown option raises TypeError, a bad value a
ValueError naming it, before any work.

A **result** (:class:`Trajectory`, :class:`FixedPoint`) is a
:class:`lmech.Result`: ``success``, ``status`` (a :class:`lmech.Status`:
STOPPED when ``eg_tol`` ended the run), ``message``, ``n_iter`` (accepted steps
or Newton iterations), ``residual``, the model and options, the conventions,
and ``error_estimate`` for ``eg`` (and the fixed point's rates): ``success``
requires each within the requested tolerance.
"""

from . import _kernels, _linear_kernels  # noqa: F401  (register the warm-ups)
from . import conventions, fixed_points, kinds  # noqa: F401  (kinds registers the sweep kind)
from .fixed_points import (FixedPoint, critical_lr, fastest_lr, jacobian, newton, noise_asymptote,
                           perfect_learning, spectrum, symmetric_fixed_point)
from .integrals import I2, I3, I4, J2, gauss_expect
from .integrate import System, Trajectory, integrate
from .model import ACTIVATIONS, READOUTS, CommitteeMachine, Custom
from .plrf import PLRF  # noqa: F401  (power-law random features: odes.plrf)
from . import linear_sgd  # noqa: E402
from .linear_sgd import (LinearSGD, RiskCurve, kernel_norm, log_times, population_gd_risk,
                         risk_curve, stability_threshold)

__all__ = ["CommitteeMachine", "Custom", "ACTIVATIONS", "READOUTS", "I2", "I3", "I4", "J2",
           "gauss_expect", "integrate", "Trajectory", "System", "FixedPoint", "jacobian", "spectrum",
           "newton", "symmetric_fixed_point", "perfect_learning", "critical_lr", "fastest_lr",
           "noise_asymptote", "conventions", "fixed_points", "PLRF",
           "LinearSGD", "RiskCurve", "risk_curve", "kernel_norm", "stability_threshold",
           "population_gd_risk", "log_times", "linear_sgd"]
