"""Learning-rate schedules ``eta(t) = lr * s(t)``: one block, one Numba evaluator.

A schedule is a small frozen dataclass (:class:`Constant`, :class:`PowerLaw`)
with a kernel code (:attr:`Schedule.code`) and kernel parameters
(:meth:`Schedule.kernel_args`, always ``(code, t0, power)``).  Every Numba
kernel that needs the rate at time ``t`` calls the one evaluator
:func:`lr_at` with them: the order-parameter ODEs of :mod:`odes` and the
finite-N online-SGD simulator of :mod:`validation` evaluate the same
function, with the same floating-point operations.

Time is that of the caller (``t = steps / N`` for online SGD).  The
power-law schedule ``eta(t) = lr (1 + t/t0)^(-power)`` is the annealed rate of
online learning (Saad & Solla, PRE 52, 4225 (1995), the asymptotic phase with
``eta ~ 1/t``; Biehl & Schwarze, J. Phys. A 28, 643 (1995)); ``power = 0``
is a constant rate.

Add a schedule by giving it a new code, a branch in :func:`lr_at` and a
:func:`register_schedule` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from lmech.spec import Model, param, register_model
from lmech.warm import register_warmup

__all__ = ["CONSTANT", "POWER_LAW", "Schedule", "Constant", "PowerLaw", "SCHEDULES",
           "register_schedule", "get_schedule", "lr_at"]

#: Kernel codes.
CONSTANT, POWER_LAW = 0, 1


@njit(cache=True)
def lr_at(code, t, lr, t0, power):
    """Learning rate ``eta(t)`` of schedule ``code`` at time ``t``.

    ``CONSTANT``: ``lr``.  ``POWER_LAW``: ``lr (1 + t/t0)^(-power)``, which is
    ``lr`` exactly for ``power = 0``.  The one evaluator of every kernel.
    """
    if code == CONSTANT or power == 0.0:
        return lr
    return lr * (1.0 + t / t0) ** (-power)


class Schedule(Model):
    """Interface of a learning-rate schedule block.

    Subclasses are frozen dataclasses with :func:`lmech.spec.param` fields and
    a class attribute ``code`` (the branch of :func:`lr_at`); they provide
    :meth:`kernel_args`.
    """

    code: ClassVar[int] = -1

    def kernel_args(self) -> tuple:
        """``(code, t0, power)``: the arguments :func:`lr_at` takes after ``t`` and ``lr``."""
        raise NotImplementedError

    def __call__(self, t, lr: float = 1.0):
        """``eta(t)`` for a scalar or an array of times (through :func:`lr_at`)."""
        code, t0, power = self.kernel_args()
        ts = np.asarray(t, dtype=float)
        out = np.array([lr_at(code, float(x), float(lr), t0, power) for x in ts.ravel()])
        return float(out[0]) if ts.ndim == 0 else out.reshape(ts.shape)


@register_model("lmech.blocks.schedules.Constant")
@dataclass(frozen=True)
class Constant(Schedule):
    """Constant rate ``eta(t) = lr``."""

    code: ClassVar[int] = CONSTANT

    def kernel_args(self) -> tuple:
        return CONSTANT, 1.0, 0.0


@register_model("lmech.blocks.schedules.PowerLaw")
@dataclass(frozen=True)
class PowerLaw(Schedule):
    """Power-law decay ``eta(t) = lr (1 + t/t0)^(-power)``.

    Parameters
    ----------
    t0 : float
        Time scale ``t0 > 0`` after which the decay sets in.
    power : float
        Exponent ``power >= 0`` (``0``: constant rate; ``1``: the ``1/t``
        annealing of the asymptotic phase of online learning).
    """

    code: ClassVar[int] = POWER_LAW
    t0: float = param(1.0, low=0.0, low_open=True, help="time scale t0 of eta(t) = lr (1 + t/t0)^(-power)")
    power: float = param(0.0, low=0.0, help="exponent of eta(t) = lr (1 + t/t0)^(-power) (0: constant)")

    def kernel_args(self) -> tuple:
        return POWER_LAW, float(self.t0), float(self.power)


#: Registry: name -> schedule class.
SCHEDULES: dict[str, type] = {}


def register_schedule(name: str, cls: type) -> type:
    """Register a schedule class under ``name`` (configs name it so)."""
    if not (isinstance(cls, type) and issubclass(cls, Schedule)):
        raise TypeError(f"register_schedule takes a Schedule subclass, got {cls!r}")
    SCHEDULES[name] = cls
    return cls


register_schedule("constant", Constant)
register_schedule("power_law", PowerLaw)


def get_schedule(spec) -> Schedule:
    """A schedule from a block, a registered name, or ``{"kind": name, **params}``.

    Raises
    ------
    ValueError
        Naming ``schedule`` for an unknown name or kind.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if isinstance(spec, dict):
        kw = dict(spec)
        kind = kw.pop("kind", None)
        cls = SCHEDULES.get(kind)
        if cls is None:
            raise ValueError(f"schedule: unknown kind {kind!r}, expected one of "
                             f"{', '.join(map(repr, SCHEDULES))}")
        return cls(**kw)
    raise ValueError(f"schedule must be a Schedule, a name or a dict with 'kind', got {spec!r}")


@register_warmup("lmech.blocks.schedules")
def warmup():
    """Compile :func:`lr_at` once."""
    lr_at(POWER_LAW, 1.0, 0.5, 2.0, 0.5)
    lr_at(CONSTANT, 1.0, 0.5, 1.0, 0.0)
