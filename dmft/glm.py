"""Teacher–student generalized linear model trained by gradient flow: the square loss, closed.

Model (:class:`GLMDynamics`): ``n = alpha d`` samples ``x_mu ~ N(0, I_d)``,
labels ``y = f(x . beta*) + sigma z`` from a teacher ``f`` (``"linear"``,
``"sign"`` -- the perceptron --, ``"relu"``), ``|beta*|^2 = rho``; gradient
flow (or Langevin dynamics at ``temperature``) on
``|y - X beta|^2/(2n) + ridge |beta|^2/2`` from ``beta = 0``.

For the square loss the dynamics is linear in ``y`` and the DMFT sample
process involves the labels only through second moments, so the effective
process is closed exactly (Agoritsas, Biroli, Urbani & Zamponi, J. Phys. A 51,
085002 (2018); Mignacco, Krzakala, Urbani & Zdeborová, NeurIPS 2020, with the
square loss): by Gaussian regression (Stein's lemma), ``y = a h* + eps'`` with
``h* = x . beta*``, ``a = E[f(h*) h*]/rho`` and ``eps'`` uncorrelated with
``h*`` and with every cavity field, of second moment
``sigma_eff^2 = E[y^2] - a^2 rho`` (the same reduction as Hastie, Montanari,
Rosset & Tibshirani, Ann. Stat. 50, 949 (2022), Sec. 5, for ridgeless
least squares).  The model is therefore solved as
:class:`dmft.LinearRegressionGF` with signal ``a^2 rho`` and noise
``sigma_eff^2`` (:meth:`GLMDynamics.linear_equivalent`), and the GLM
observables are read off its ``C`` (``|beta - a beta*|^2``) and ``m``::

    M(t) = beta . beta* = (m + a^2 rho)/a,     Q(t) = |beta|^2 = C + 2m + a^2 rho,
    test error (sign teacher, sigma = 0) = arccos(M / sqrt(Q rho)) / pi,
    test risk E(y - x.beta)^2/2 = (E y^2 - 2 a M + Q)/2.

Logistic and hinge losses, SGD (``batch_fraction < 1``) and the sampled
(Monte Carlo) effective process are not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import lmech
from lmech.checks import check_choice, check_real

from .linreg import LinearRegressionGF

__all__ = ["GLMDynamics", "TEACHERS", "teacher_moments"]

TEACHERS = ("linear", "sign", "relu")


def teacher_moments(teacher: str, rho: float, noise: float) -> tuple[float, float]:
    """``(a, E[y^2])`` for ``y = f(h*) + sigma z``, ``h* ~ N(0, rho)``.

    linear: ``a = 1``, ``E f^2 = rho``; sign: ``a = sqrt(2/(pi rho))``,
    ``E f^2 = 1``; relu: ``a = 1/2``, ``E f^2 = rho/2``.
    """
    check_choice("teacher", teacher, TEACHERS)
    if teacher == "linear":
        a, ef2 = 1.0, rho
    elif teacher == "sign":
        a, ef2 = math.sqrt(2.0 / (math.pi * rho)), 1.0
    else:
        a, ef2 = 0.5, 0.5 * rho
    return a, ef2 + noise


@lmech.register_model("dmft.GLMDynamics")
@dataclass(frozen=True)
class GLMDynamics:
    """Gradient flow / Langevin dynamics of a teacher–student GLM (square loss).

    Parameters
    ----------
    alpha : float
        ``n/d > 0``.
    loss : {"square"}
        Training loss (only the square loss is implemented).
    ridge : float
        L2 penalty ``>= 0``.
    teacher : {"linear", "sign", "relu"}
        Teacher activation ``f``.
    noise : float
        Label-noise variance ``sigma^2 >= 0``.
    rho : float
        ``|beta*|^2 > 0``.
    temperature : float
        Langevin temperature ``>= 0``.
    batch_fraction : float
        Must be 1 (full-batch gradient flow; SGD is not implemented).
    """

    alpha: float = 2.0
    loss: str = "square"
    ridge: float = 0.0
    teacher: str = "sign"
    noise: float = 0.0
    rho: float = 1.0
    temperature: float = 0.0
    batch_fraction: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_real("alpha", self.alpha, low=0.0, low_open=True))
        if self.loss in ("logistic", "hinge"):
            raise ValueError(f"loss {self.loss!r} needs the sampled effective process, which is "
                             "not implemented; loss must be 'square'")
        check_choice("loss", self.loss, ("square",))
        object.__setattr__(self, "ridge", check_real("ridge", self.ridge, low=0.0))
        check_choice("teacher", self.teacher, TEACHERS)
        object.__setattr__(self, "noise", check_real("noise", self.noise, low=0.0))
        object.__setattr__(self, "rho", check_real("rho", self.rho, low=0.0, low_open=True))
        object.__setattr__(self, "temperature", check_real("temperature", self.temperature,
                                                           low=0.0))
        b = check_real("batch_fraction", self.batch_fraction, low=0.0, high=1.0, low_open=True)
        if b != 1.0:
            raise ValueError(f"batch_fraction must be 1 (SGD is not implemented), got {b!r}")
        object.__setattr__(self, "batch_fraction", b)

    def teacher_moments(self) -> tuple[float, float]:
        """``(a, E[y^2])`` of the teacher (see :func:`teacher_moments`)."""
        return teacher_moments(self.teacher, self.rho, self.noise)

    def linear_equivalent(self) -> LinearRegressionGF:
        """The least-squares model with the same DMFT (signal ``a^2 rho``, noise ``E y^2 - a^2 rho``)."""
        a, ey2 = self.teacher_moments()
        return LinearRegressionGF(alpha=self.alpha, noise=max(ey2 - a * a * self.rho, 0.0),
                                  ridge=self.ridge, signal=a * a * self.rho,
                                  temperature=self.temperature)

    def observables(self, C, m) -> dict:
        """GLM observables from the linear-equivalent ``C(t,t)`` and ``m(t)`` (arrays)."""
        a, ey2 = self.teacher_moments()
        s = a * a * self.rho
        C = np.asarray(C, dtype=float)
        m = np.asarray(m, dtype=float)
        M = (m + s) / a
        Q = C + 2.0 * m + s
        out = {"M": M, "Q": Q, "test_risk": 0.5 * (ey2 - 2.0 * a * M + Q)}
        if self.teacher == "sign":
            with np.errstate(invalid="ignore", divide="ignore"):
                cosang = np.clip(M / np.sqrt(Q * self.rho), -1.0, 1.0)
            err = np.arccos(cosang) / math.pi
            err = np.where(Q > 0, err, 0.5)
            # label noise y = sign(h*) + sigma z is not a flip model: report the clean error
            out["test_error"] = err
        return out

    def conventions(self) -> dict:
        return {
            "data": "x ~ N(0, I_d), y = f(x.beta*) + sqrt(noise) z, |beta*|^2 = rho",
            "loss": "|y - X beta|^2/(2n) + ridge |beta|^2/2 from beta = 0",
            "closure": "square loss closed exactly via y = a h* + eps' (Stein), "
                       "solved as LinearRegressionGF(signal=a^2 rho, noise=E y^2 - a^2 rho)",
            "M": "beta . beta*",
            "Q": "|beta|^2",
            "test_error": "P(sign(x.beta) != sign(x.beta*)) = arccos(M/sqrt(Q rho))/pi",
            "test_risk": "E (y - x.beta)^2 / 2",
        }
