"""odes: the teacher-student committee-machine ODEs of online SGD.

Order-parameter ODEs for two-layer networks trained by online SGD in the
teacher-student setting (Saad & Solla, PRE 52, 4225 (1995); Biehl & Schwarze,
J. Phys. A 28, 643 (1995); Goldt et al., NeurIPS 2019): Gaussian-integral
kernels, adaptive integration, plateaus and escape times, fixed points and
their stability, convention converters and a sweep kind.
"""

from . import _kernels  # noqa: F401  (registers the warm-up)
from . import conventions, fixed_points, kinds  # noqa: F401  (kinds registers the sweep kind)
from .fixed_points import (FixedPoint, critical_lr, fastest_lr, jacobian, newton, noise_asymptote,
                           perfect_learning, spectrum, symmetric_fixed_point)
from .integrals import I2, I3, I4, J2, gauss_expect
from .integrate import System, Trajectory, integrate
from .model import ACTIVATIONS, READOUTS, CommitteeMachine, Custom

__all__ = ["CommitteeMachine", "Custom", "ACTIVATIONS", "READOUTS", "I2", "I3", "I4", "J2",
           "gauss_expect", "integrate", "Trajectory", "System", "FixedPoint", "jacobian", "spectrum",
           "newton", "symmetric_fixed_point", "perfect_learning", "critical_lr", "fastest_lr",
           "noise_asymptote", "conventions", "fixed_points"]
