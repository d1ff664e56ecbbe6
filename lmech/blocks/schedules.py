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

Three further schedules are evaluated in Python (vectorised NumPy), not by
:func:`lr_at`: :class:`WarmupCosine` (linear warm-up then cosine decay, Loshchilov
& Hutter, ICLR 2017, with the linear warm-up of Goyal et al., arXiv:1706.02677),
:class:`Piecewise` (piecewise-constant multipliers) and :class:`FromCallable` (any
vectorised function).  Solvers that integrate over blocks of steps (the linear
SGD risk curves of :mod:`odes`) call :meth:`Schedule.rate` and split their
blocks at :meth:`Schedule.breakpoints`, the times where ``eta`` or its derivative
jumps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit

from lmech.spec import Model, param, register_model
from lmech.warm import register_warmup

__all__ = ["CONSTANT", "POWER_LAW", "Schedule", "Constant", "PowerLaw", "WarmupCosine",
           "Piecewise", "FromCallable", "SCHEDULES", "register_schedule", "get_schedule", "lr_at"]

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

    def rate(self, t) -> np.ndarray:
        """The multiplier ``s(t) = eta(t)/lr`` at an array of times (float64 array)."""
        ts = np.asarray(t, dtype=float)
        return np.asarray(self(ts.ravel(), 1.0), dtype=float).reshape(ts.shape)

    def breakpoints(self) -> tuple:
        """Times where ``s(t)`` or its derivative jumps (``()`` for a smooth schedule)."""
        return ()


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


class _PythonSchedule(Schedule):
    """A schedule evaluated by vectorised NumPy (:meth:`rate`), without a :func:`lr_at` branch."""

    def kernel_args(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} has no lr_at kernel form; solvers evaluate "
                                  "it with Schedule.rate (the committee-machine ODEs take Constant "
                                  "and PowerLaw only)")

    def _s(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, t, lr: float = 1.0):
        ts = np.asarray(t, dtype=float)
        out = float(lr) * np.asarray(self._s(ts.ravel()), dtype=float)
        return float(out[0]) if ts.ndim == 0 else out.reshape(ts.shape)


@register_model("lmech.blocks.schedules.WarmupCosine")
@dataclass(frozen=True)
class WarmupCosine(_PythonSchedule):
    """Linear warm-up, then cosine decay to a floor.

    ``s(t) = t / warmup`` for ``t < warmup``; ``s(t) = final + (1 - final)
    (1 + cos(pi (t - warmup) / (total - warmup))) / 2`` for ``warmup <= t <=
    total``; ``s(t) = final`` after ``total`` (cosine annealing, Loshchilov &
    Hutter, ICLR 2017, Eq. 5, without restarts; linear warm-up as in Goyal et
    al., arXiv:1706.02677, Sec. 2.2).  ``warmup = 0`` starts at the peak.

    Parameters
    ----------
    warmup : float
        Length of the linear warm-up, ``0 <= warmup < total``.
    total : float
        End of the cosine, ``> 0``.
    final : float
        Floor multiplier ``0 <= final <= 1`` reached at ``total``.
    """

    warmup: float = param(0.0, low=0.0, help="length of the linear warm-up")
    total: float = param(1.0, low=0.0, low_open=True, help="time at which the cosine reaches final")
    final: float = param(0.0, low=0.0, high=1.0, help="floor multiplier after total")

    def check(self):
        if not self.warmup < self.total:
            raise ValueError(f"warmup must lie in [0, total={self.total}), got {self.warmup!r}")

    def _s(self, t):
        w, T, f = self.warmup, self.total, self.final
        u = np.clip((t - w) / (T - w), 0.0, 1.0)
        cos = f + (1.0 - f) * 0.5 * (1.0 + np.cos(np.pi * u))
        return np.where(t < w, t / w if w > 0 else 1.0, cos)

    def breakpoints(self) -> tuple:
        return tuple(x for x in (self.warmup, self.total) if x > 0)


@register_model("lmech.blocks.schedules.Piecewise")
@dataclass(frozen=True)
class Piecewise(_PythonSchedule):
    """Piecewise-constant multipliers: ``s(t) = values[k]`` for ``boundaries[k-1] <= t < boundaries[k]``.

    Parameters
    ----------
    boundaries : tuple of float
        Increasing times ``> 0`` where the multiplier changes.
    values : tuple of float
        ``len(boundaries) + 1`` multipliers ``>= 0``.
    """

    boundaries: tuple = param((), spec=False, help="increasing times where the multiplier changes")
    values: tuple = param((1.0,), spec=False, help="multipliers, one more than boundaries")

    def check(self):
        b = tuple(float(x) for x in self.boundaries)
        v = tuple(float(x) for x in self.values)
        if any(not math.isfinite(x) or x <= 0 for x in b) or any(y <= x for x, y in zip(b, b[1:])):
            raise ValueError(f"boundaries must be increasing finite times > 0, got {self.boundaries!r}")
        if len(v) != len(b) + 1 or any(not math.isfinite(x) or x < 0 for x in v):
            raise ValueError(f"values must hold len(boundaries) + 1 = {len(b) + 1} finite multipliers "
                             f">= 0, got {self.values!r}")
        object.__setattr__(self, "boundaries", b)
        object.__setattr__(self, "values", v)

    def _s(self, t):
        return np.asarray(self.values)[np.searchsorted(np.asarray(self.boundaries), t, side="right")]

    def breakpoints(self) -> tuple:
        return self.boundaries


@register_model("lmech.blocks.schedules.FromCallable")
@dataclass(frozen=True)
class FromCallable(_PythonSchedule):
    """Any multiplier ``s(t) = fn(t)``: a vectorised callable (NumPy array in, array out).

    ``breakpoints`` lists the times where ``fn`` or its derivative jumps, so that
    block integrators split there.  A stored spec holds the callable's name only
    (nothing named in a file is imported): such a schedule describes a run but
    cannot drive one.
    """

    fn: Any = param(None, spec=False, help="vectorised s(t)")
    points: tuple = param((), spec=False, help="times where fn or its derivative jumps")

    def check(self):
        if not (callable(self.fn) or isinstance(self.fn, str)):
            raise ValueError(f"fn must be callable, got {self.fn!r}")
        object.__setattr__(self, "points", tuple(float(x) for x in self.points))

    def _s(self, t):
        if not callable(self.fn):
            raise ValueError(f"fn: {self.fn!r} is a stored name, not a callable")
        out = np.broadcast_to(np.asarray(self.fn(t), dtype=float), t.shape)
        if not np.all(np.isfinite(out)) or np.any(out < 0):
            raise ValueError("fn must return finite multipliers >= 0")
        return out

    def breakpoints(self) -> tuple:
        return self.points


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
register_schedule("warmup_cosine", WarmupCosine)
register_schedule("piecewise", Piecewise)
register_schedule("callable", FromCallable)


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
