"""The soft committee machine in the teacher-student setting, as a frozen model.

Student ``phi(x) = (1/c_K) sum_k v_k g(w_k . x / sqrt N)`` with ``K`` hidden
units, teacher ``phi*(x) = (1/c_M) sum_m v*_m g(w*_m . x / sqrt N)`` with
``M``, inputs ``x ~ N(0, I_N)``, labels ``y = phi*(x) + sigma zeta`` and
online SGD on ``(1/2)(phi - y)^2`` (Saad & Solla, PRE 52, 4225 (1995);
Biehl & Schwarze, J. Phys. A 28, 643 (1995); Goldt et al., NeurIPS 2019)::

    w_k <- w_k - (eta / sqrt N) (dL/dlambda_k) x - (eta * weight_decay / N) w_k
    v_k <- v_k - (eta_v / N) dL/dv_k            (only if train_second)

with ``lambda_k = w_k . x / sqrt N``, so the first line is ``w <- w - eta grad_w L``.

The readout normalisation ``c_K`` is ``1`` (``"sum"``), ``K`` (``"mean"``)
or ``sqrt K`` (``"sqrt"``); time is ``t = steps / N``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lmech.blocks import activations as _act
from lmech.blocks.schedules import Constant, PowerLaw, Schedule
from lmech.checks import check_array, check_int
from lmech.spec import Model, param, register_model

from . import _kernels

__all__ = ["CommitteeMachine", "Custom", "ACTIVATIONS", "READOUTS", "odes_activation"]

#: Activations with closed-form (or reduced) Gaussian integrals: rows of the
#: :mod:`lmech.blocks.activations` table (``erf`` is ``erf(x/sqrt 2)``, codes 0-3 as the kernels').
ACTIVATIONS = {"erf": _act.ERF_SQRT2, "relu": _act.RELU, "linear": _act.LINEAR,
               "quadratic": _act.QUADRATIC}
#: Gauss-Hermite node counts tried, in order, when a :class:`Custom` activation has ``n_nodes=None``.
NODE_LEVELS = (12, 16, 20, 24, 32, 40, 48, 60)
#: Relative agreement of two successive levels that ends the refinement.
NODE_RTOL = 1e-8
#: Readout normalisations.
READOUTS = ("sum", "mean", "sqrt")


@register_model("odes.Custom")
@dataclass(frozen=True)
class Custom:
    """Any vectorised activation, integrated by a Gauss-Hermite product rule with refinement.

    Parameters
    ----------
    g : callable
        Vectorised activation ``g(u)`` (numpy arrays in and out).  A string
        (the qualified name a loaded archive holds) is accepted so that
        stored results load, but such an activation cannot be integrated.
    dg : callable, optional
        Its derivative; if omitted, a central difference with step
        ``1e-5 * max(1, |u|)`` is used (relative error about ``1e-10``).
    n_nodes : int or None
        Gauss-Hermite nodes per dimension.  ``None`` (default): chosen by
        refinement through the levels :data:`NODE_LEVELS` until two successive
        levels agree to ``1e-8`` relative (the ODE right-hand side at the first
        state it is evaluated at, in :class:`odes.System`; the integral itself
        in :func:`odes.I2` and friends); the last difference is the error
        estimate.  Gauss-Hermite converges slowly for activations with complex
        poles near the real axis (``tanh``: poles at ``+-i pi/2``): about 32
        nodes for ``1e-8`` in one dimension, 60 in the 2-D ODE averages of
        ``K = M = 1`` (where refinement stops at the top level with about
        ``5e-8`` relative, which the error estimate reports).  The ODE averages are one rule in ``rank(C) <= K + M``
        dimensions (:func:`odes.integrals.custom_coefficients`).  Exact for
        polynomial activations of degree ``<= (2 n_nodes - 1) / 2``.
    name : str
        Label recorded in the conventions.
    """

    g: Callable
    dg: Callable | None = None
    n_nodes: int | None = None
    name: str = "custom"

    def __post_init__(self):
        # a string is the stored name of a callable (as archives and specs hold it: nothing
        # named in a file is ever imported); such an activation describes a run but cannot
        # integrate one
        if not (callable(self.g) or isinstance(self.g, str)):
            raise ValueError(f"g must be callable, got {self.g!r}")
        if self.dg is not None and not (callable(self.dg) or isinstance(self.dg, str)):
            raise ValueError(f"dg must be callable or None, got {self.dg!r}")
        if self.n_nodes is not None:
            object.__setattr__(self, "n_nodes", check_int("n_nodes", self.n_nodes, low=2, high=100))

    @property
    def resolved(self) -> bool:
        """Whether ``g`` (and ``dg``) are callables rather than stored names."""
        return callable(self.g) and (self.dg is None or callable(self.dg))

    def derivative(self, u):
        """``g'(u)``: ``dg`` if given, else a central difference."""
        if self.dg is not None:
            return self.dg(u)
        h = 1e-5 * np.maximum(1.0, np.abs(u))
        return (self.g(u + h) - self.g(u - h)) / (2.0 * h)


#: the odes name of each block kernel code with closed-form integrals
_NAMES = {code: name for name, code in ACTIVATIONS.items()}


def odes_activation(activation):
    """The form :mod:`odes` integrates of an activation given as a name, an :class:`odes.Custom`
    or a :mod:`lmech.blocks.activations` block (the one home of activations).

    A block with closed-form integrals becomes its name in :data:`ACTIVATIONS`
    (``ErfSqrt2()`` -> ``"erf"``, ``Relu()``, ``Linear()``, ``Quadratic()``); any other block
    (``Tanh()``, ``ErfSqrtPi()``, ``lmech.blocks.activations.Custom``) an :class:`odes.Custom`
    of its vectorised ``g`` and ``g'``, integrated by Gauss-Hermite with refinement.  Names
    and :class:`odes.Custom` objects are returned unchanged (checked where they are used).
    """
    if isinstance(activation, _act.Activation):
        if activation.code in _NAMES:
            return _NAMES[activation.code]
        return Custom(g=activation.g, dg=activation.dg, name=activation.name)
    return activation


def _norm(readout: str, n: int) -> float:
    return {"sum": 1.0, "mean": float(n), "sqrt": math.sqrt(n)}[readout]


@register_model("odes.CommitteeMachine")
@dataclass(frozen=True)
class CommitteeMachine(Model):
    """Teacher-student soft committee machine trained by online SGD.

    Parameters
    ----------
    K, M : int
        Hidden units of the student and of the teacher (``>= 1``).
    activation : str, Custom or lmech.blocks.activations.Activation
        ``"erf"`` (meaning ``erf(u / sqrt 2)``, Saad & Solla's ``g``),
        ``"relu"``, ``"linear"``, ``"quadratic"`` (``u**2``), or a
        :class:`Custom` activation integrated by Gauss-Hermite quadrature;
        a block of :mod:`lmech.blocks.activations` is stored in that form
        (:func:`odes_activation`: ``ErfSqrt2()`` as ``"erf"``, ``Tanh()`` as a
        :class:`Custom`).
    lr : float
        First-layer learning rate ``eta >= 0``.
    train_second : bool
        Whether the second-layer weights ``v`` are trained.
    lr_v : float, optional
        Second-layer learning rate ``eta_v >= 0`` (default: ``lr``).
    v_teacher : tuple of float, optional
        Teacher second-layer weights ``v*`` (default: all ones), length ``M``.
    noise : float
        Output-noise *variance* ``sigma^2 >= 0``.
    weight_decay : float
        First-layer weight decay ``lambda >= 0`` (update ``-(eta lambda/N) w``).
    schedule_t0, schedule_power : float
        Learning-rate schedule ``eta(t) = lr (1 + t/t0)^(-power)`` applied to
        both layers; ``power = 0`` (default) is a constant rate.
    readout : str
        Readout normalisation ``"sum"`` (``c_K = 1``), ``"mean"`` (``1/K``)
        or ``"sqrt"`` (``1/sqrt K``), for student and teacher alike.
    quad_nodes : int
        Gauss-Legendre nodes per panel of the 1-D integral in the ReLU ``I4``
        (4-variable orthant probability, :func:`odes.integrals.legendre01`);
        unused for other activations.
    """

    K: int = param(low=1, high=10_000, help="student hidden units")
    M: int = param(low=1, high=10_000, help="teacher hidden units")
    activation: Any = param("erf", type=(str, Custom, _act.Activation), choices=tuple(ACTIVATIONS),
                            help="erf means erf(u/sqrt 2); or an odes.Custom activation or a "
                                 "lmech.blocks.activations block")
    lr: float = param(0.5, low=0.0, help="first-layer learning rate eta")
    train_second: bool = param(False, help="train the second layer (rate lr_v)")
    lr_v: float | None = param(None, type=float, low=0.0,
                               help="second-layer learning rate eta_v (default: lr)")
    v_teacher: tuple | None = param(None, spec=False, help="teacher second-layer weights v*")
    noise: float = param(0.0, low=0.0, help="output-noise variance sigma^2")
    weight_decay: float = param(0.0, low=0.0, help="first-layer weight decay")
    schedule_t0: float = param(1.0, low=0.0, low_open=True,
                               help="learning-rate schedule time scale t0")
    schedule_power: float = param(0.0, low=0.0,
                                  help="learning-rate schedule power (0: constant rate)")
    readout: str = param("sum", choices=READOUTS, help="readout normalisation")
    quad_nodes: int = param(12, low=2, high=100,
                            help="Gauss-Legendre nodes per panel of the ReLU I4 integral")

    def check(self):
        object.__setattr__(self, "activation", odes_activation(self.activation))
        if self.v_teacher is not None:
            vt = check_array("v_teacher", self.v_teacher)
            if vt.shape != (self.M,):
                raise ValueError(f"v_teacher must have length M={self.M}, got shape {vt.shape}")
            if not np.all(np.isfinite(vt)):
                raise ValueError("v_teacher must be finite")
            object.__setattr__(self, "v_teacher", tuple(float(x) for x in vt))

    # -- derived quantities -------------------------------------------------
    @property
    def act_code(self) -> int:
        """Kernel code of the activation, ``-1`` for :class:`Custom`."""
        return ACTIVATIONS[self.activation] if isinstance(self.activation, str) else -1

    @property
    def eta_v(self) -> float:
        """Second-layer learning rate as given (``lr`` if ``lr_v`` is None)."""
        return self.lr if self.lr_v is None else self.lr_v

    @property
    def c_student(self) -> float:
        """Readout normalisation ``c_K``."""
        return _norm(self.readout, self.K)

    @property
    def c_teacher(self) -> float:
        """Readout normalisation ``c_M``."""
        return _norm(self.readout, self.M)

    def teacher_weights(self) -> np.ndarray:
        """``v*`` as given (length ``M``)."""
        return np.ones(self.M) if self.v_teacher is None else np.asarray(self.v_teacher, dtype=float)

    @property
    def schedule(self) -> Schedule:
        """The learning-rate schedule block of ``schedule_t0``, ``schedule_power``
        (:class:`lmech.blocks.schedules.Constant` for ``power = 0``)."""
        if self.schedule_power == 0.0:
            return Constant()
        return PowerLaw(t0=self.schedule_t0, power=self.schedule_power)

    def kernel_args(self, T=None, v0=None) -> _kernels.CommitteeArgs:
        """The model in kernel form: one :class:`odes._kernels.CommitteeArgs`, the single
        argument every Numba kernel of the model takes (the ODE right-hand side, ``eg``, the
        Euler and DOP853 steppers, the finite-N online SGD of :mod:`validation`).

        Parameters
        ----------
        T : array_like (M, M), optional
            Teacher-teacher overlaps (default identity).
        v0 : array_like (K,), optional
            Initial (or, without ``train_second``, fixed) student second-layer
            weights in the model's normalisation (default all ones).

        Fields are typed once here (ints, a bool, floats, C-contiguous writable
        float64 arrays) so that every caller hits the same compiled signature.
        """
        K, M = self.K, self.M
        T = np.eye(M) if T is None else np.array(check_array("T", T, finite=False), order="C")
        if T.shape != (M, M) or not np.all(np.isfinite(T)):
            raise ValueError(f"T must be a finite array of shape ({M}, {M}), got shape {T.shape}")
        v0 = np.ones(K) if v0 is None else np.array(check_array("v0", v0, finite=False), order="C")
        if v0.shape != (K,) or not np.all(np.isfinite(v0)):
            raise ValueError(f"v0 must be a finite array of shape ({K},), got shape {v0.shape}")
        code, t0, power = self.schedule.kernel_args()
        u, wu = _kernels.legendre01(self.quad_nodes)
        return _kernels.CommitteeArgs(
            act=int(self.act_code), K=int(K), M=int(M), train_v=bool(self.train_second),
            lr=float(self.lr), lr_v=float(self.eta_v), schedule=int(code), t0=float(t0),
            power=float(power), noise=float(self.noise), wd=float(self.weight_decay),
            c_k=float(self.c_student), c_m=float(self.c_teacher),
            vt=np.array(self.teacher_weights(), dtype=np.float64), T=T, v0=v0,
            u=np.array(u), wu=np.array(wu))  # copies: writable arrays, one Numba signature

    def conventions(self) -> dict:
        """The conventions the ODEs and their outputs are expressed in."""
        act = self.activation if isinstance(self.activation, str) else f"custom:{self.activation.name}"
        if act == "erf":
            act = "erf(u/sqrt(2))"
        return {"activation": act,
                "readout": {"sum": "sum_k v_k g", "mean": "(1/K) sum_k v_k g",
                            "sqrt": "(1/sqrt K) sum_k v_k g"}[self.readout],
                "time": "t = steps/N",
                "noise": "variance sigma^2 of additive output noise",
                "eg": "(1/2) E[(student - teacher)^2], noise excluded",
                "lr": "w <- w - (eta/sqrt N) (dL/dlambda) x = w - eta grad_w L, lambda = w.x/sqrt N; v <- v - (eta_v/N) grad_v L",
                "order_parameters": "Q = w w^T/N, R = w w*^T/N, T = w* w*^T/N; v as given"}
