"""Random recurrent neural network of Sompolinsky, Crisanti & Sommers (PRL 61, 259 (1988)).

``dx_i/dt = -x_i + sum_j J_ij phi(x_j) + eta_i``, ``J_ij`` iid ``N(0, g^2/N)``
(no symmetry), ``<eta_i(t) eta_j(s)> = noise delta_ij delta(t-s)``, ``x_i(0)``
iid ``N(0, x0_var)``.  The DMFT effective process is Gaussian: ``dx/dt = -x +
h(t) + eta`` with ``<h(t) h(s)> = g^2 C_phi(t,s)``, ``C_phi(t,s) =
E[phi(x(t)) phi(x(s))]``; there is no response memory term (``J`` is
asymmetric), so ``Sig = 0``, ``mu = 1`` and ``D = g^2 C_phi``, computed by a
2-D Gauss–Hermite product rule (``lmech.gauss``) at every pair of times.

Stationary solution (``noise = 0``): ``Delta(tau) = C(t+tau, t)`` obeys
``Delta'' = Delta - g^2 C_phi(Delta; Delta_0)``, Newtonian motion in the
potential ``V(Delta) = -Delta^2/2 + g^2 E[Psi(x) Psi(x')]`` (``Psi' = phi``,
``Var x = Delta_0``, ``Cov(x, x') = Delta``); a decaying solution needs
``V(Delta_0) = V(0)``, i.e. (SCS 1988, eq. (7))::

    Delta_0^2 / 2 = g^2 ( E[Psi(sqrt(Delta_0) z)^2] - E[Psi(sqrt(Delta_0) z)]^2 ),

which has a root ``Delta_0 > 0`` exactly when ``g phi'(0) > 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf

import lmech
from lmech import gauss
from lmech.checks import check_choice, check_real

from . import _kernels

__all__ = ["RandomRNN", "PHI_CODES", "stationary_variance"]

#: Activation names -> kernel codes.  ``erf`` is ``erf(sqrt(pi) x / 2)`` (slope 1 at 0).
PHI_CODES = {"tanh": _kernels.PHI_TANH, "erf": _kernels.PHI_ERF, "relu": _kernels.PHI_RELU,
             "linear": _kernels.PHI_LINEAR}


@lmech.register_model("dmft.RandomRNN")
@dataclass(frozen=True)
class RandomRNN:
    """Sompolinsky–Crisanti–Sommers random network.

    Parameters
    ----------
    g : float
        Coupling gain, ``g >= 0``.
    phi : {"tanh", "erf", "relu", "linear"}
        Activation; ``erf`` means ``erf(sqrt(pi) x / 2)``.
    noise : float
        White-noise variance per unit time, ``>= 0``.
    x0_var : float
        Variance of the iid Gaussian initial condition, ``> 0``.
    """

    g: float = 1.5
    phi: str = "tanh"
    noise: float = 0.0
    x0_var: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "g", check_real("g", self.g, low=0.0))
        check_choice("phi", self.phi, tuple(PHI_CODES))
        object.__setattr__(self, "noise", check_real("noise", self.noise, low=0.0))
        object.__setattr__(self, "x0_var", check_real("x0_var", self.x0_var, low=0.0,
                                                      low_open=True))

    def conventions(self) -> dict:
        return {
            "dynamics": "dx/dt = -x + J phi(x) + eta, J_ij ~ N(0, g^2/N), <eta eta> = noise delta",
            "activation": "erf means erf(sqrt(pi) x/2)" if self.phi == "erf" else self.phi,
            "correlation": "C(t,t') = x(t).x(t')/N",
            "response": "R(t,t') = e^{-(t-t')} (no feedback through asymmetric J)",
            "initial": "x_i(0) iid N(0, x0_var)",
        }


def _Psi(phi: str, x):
    """Primitive ``Psi(x) = int_0^x phi``."""
    if phi == "tanh":
        ax = np.abs(x)
        return ax + np.log1p(np.exp(-2.0 * ax)) - math.log(2.0)  # log cosh, overflow-safe
    if phi == "erf":
        a = 0.5 * math.sqrt(math.pi)
        return x * erf(a * x) + (np.exp(-(a * x) ** 2) - 1.0) / (a * math.sqrt(math.pi))
    raise ValueError(f"phi must be 'tanh' or 'erf' for the stationary solution, got {phi!r}")


def stationary_variance(model: RandomRNN, *, n_quad: int = 200) -> float:
    """Stationary variance ``Delta_0`` of the noiseless chaotic state (0 if ``g <= 1``).

    Solves the SCS condition above by Brent's method, with Gaussian averages
    by an ``n_quad``-node Gauss–Hermite rule (``lmech.gauss``).

    Raises
    ------
    ValueError
        If ``noise > 0`` or ``phi`` is not ``tanh``/``erf``.
    """
    if model.noise != 0.0:
        raise ValueError("noise must be 0 for the stationary variance (SCS potential)")
    _Psi(model.phi, 0.0)
    if model.g <= 1.0:
        return 0.0
    z, w = gauss.hermite(n_quad)

    def F(d0):
        P = _Psi(model.phi, math.sqrt(d0) * z)
        var = float(np.dot(w, P * P) - np.dot(w, P) ** 2)
        return 0.5 * d0 * d0 - model.g ** 2 * var

    # F < 0 for small d0 (F ~ d0^2 (1 - g^2)/2), F > 0 for large d0 (Psi grows linearly)
    lo = 1e-8
    hi = 1.0
    while F(hi) < 0:
        hi *= 2.0
        if hi > 1e8:  # pragma: no cover - not reached for tanh/erf
            raise RuntimeError("no stationary variance found")
    return brentq(F, lo, hi, xtol=1e-14, rtol=1e-13)
