"""Converters between the conventions of the committee-machine literature.

This layer's conventions (recorded in every result): activation
``erf(u / sqrt 2)`` (Saad & Solla 1995), readout chosen per model
(``sum``, ``mean`` or ``sqrt``), time ``t = steps / N``, output noise given
as a *variance* ``sigma^2``.  Other papers use ``g(u) = erf(u)`` (Biehl &
Schwarze 1995), ``1/K`` or ``1/sqrt K`` readouts (Goldt et al. 2019 use a
sum with explicit second-layer weights), time ``alpha = eta * steps / N`` and
noise standard deviations.  Each converter below maps one convention to
another exactly, so that the converted problem has the same trajectory.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from lmech.checks import check_choice, check_real

from .model import READOUTS, CommitteeMachine, _norm

__all__ = ["readout_weights", "to_readout", "erf_scaling", "time_units", "noise_variance", "noise_std"]


def readout_weights(v, n: int, src: str, dst: str) -> np.ndarray:
    """Second-layer weights that give the same network under readout ``dst``.

    ``(1/c_src) sum v_k g = (1/c_dst) sum v'_k g``, so ``v' = v c_dst / c_src``
    with ``c`` = 1, ``n`` or ``sqrt n`` for ``sum``, ``mean``, ``sqrt``.
    """
    check_choice("src", src, READOUTS)
    check_choice("dst", dst, READOUTS)
    return np.asarray(v, dtype=float) * (_norm(dst, n) / _norm(src, n))


def to_readout(model: CommitteeMachine, readout: str, v0=None):
    """An equivalent model in another readout convention, and the converted ``v0``.

    Student and teacher second-layer weights scale by ``c_dst / c_src``
    (:func:`readout_weights`); the second-layer learning rate by
    ``(c_dst / c_src)^2`` (the gradient in ``v'`` is ``c_src / c_dst`` times
    the gradient in ``v``); the first layer is unchanged.  The trajectory of
    ``Q``, ``R`` and ``eg`` is identical, and ``v`` maps by the same factor.
    """
    check_choice("readout", readout, READOUTS)
    K, M = model.K, model.M
    fK = _norm(readout, K) / model.c_student
    vt = readout_weights(model.teacher_weights(), M, model.readout, readout)
    new = dataclasses.replace(model, readout=readout, v_teacher=tuple(float(x) for x in vt),
                              lr_v=model.eta_v * fK ** 2)
    v = np.ones(K) if v0 is None else np.asarray(v0, dtype=float)
    return new, v * fK


def erf_scaling(Q, R, T, lr: float, *, src: str = "erf(u)", dst: str = "erf(u/sqrt(2))",
                weight_decay: float = 0.0):
    """Map order parameters and rates between ``g = erf(u)`` and ``g = erf(u / sqrt 2)``.

    ``erf(w.x/sqrt N) = erf(W.x/sqrt(2N))`` with ``W = sqrt 2 w``, so
    ``Q, R, T`` double, the first-layer learning rate doubles (SGD in ``w``
    with rate ``eta`` is SGD in ``W`` with rate ``2 eta``) and the weight
    decay halves (``eta lambda`` is unchanged); ``v``, ``eta_v``, time and
    noise are unchanged.  ``src``/``dst`` name the direction.

    Returns
    -------
    Q, R, T, lr, weight_decay
    """
    names = ("erf(u)", "erf(u/sqrt(2))")
    check_choice("src", src, names)
    check_choice("dst", dst, names)
    lr = check_real("lr", lr, low=0.0)
    f = 1.0 if src == dst else (2.0 if dst == names[1] else 0.5)
    return (np.asarray(Q, float) * f, np.asarray(R, float) * f, np.asarray(T, float) * f, lr * f,
            weight_decay / f)


def time_units(t, lr: float, *, src: str = "steps/N", dst: str = "eta*steps/N"):
    """Convert times between ``t = steps/N`` and ``alpha = eta steps/N`` (constant ``eta``)."""
    names = ("steps/N", "eta*steps/N")
    check_choice("src", src, names)
    check_choice("dst", dst, names)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    t = np.asarray(t, dtype=float)
    if src == dst:
        return t.copy()
    return t * lr if dst == "eta*steps/N" else t / lr


def noise_variance(std: float) -> float:
    """Output-noise variance ``sigma^2`` from a standard deviation ``sigma >= 0``."""
    return check_real("std", std, low=0.0) ** 2


def noise_std(variance: float) -> float:
    """Output-noise standard deviation from a variance ``sigma^2 >= 0``."""
    return math.sqrt(check_real("variance", variance, low=0.0))
