"""Random recurrent neural network of Sompolinsky, Crisanti & Sommers (PRL 61, 259 (1988)).

``dx_i/dt = -x_i + sum_j J_ij phi(x_j) + eta_i``, ``J_ij`` iid ``N(0, g^2/N)``
(no symmetry), ``<eta_i(t) eta_j(s)> = noise delta_ij delta(t-s)``, ``x_i(0)``
iid ``N(0, x0_var)``.  The DMFT effective process is Gaussian: ``dx/dt = -x +
h(t) + eta`` with ``<h(t) h(s)> = g^2 C_phi(t,s)``, ``C_phi(t,s) =
E[phi(x(t)) phi(x(s))]``; there is no response memory term (``J`` is
asymmetric), so ``Sig = 0``, ``mu = 1`` and ``D = g^2 C_phi``, computed at every
pair of times by :func:`phi_correlation` (closed forms for erf and linear, a
trapezoid rule with an a-priori error bound for tanh) or, for relu and with
``closed_form=False``, a 2-D Gauss–Hermite product rule (``lmech.gauss``).

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
from lmech.blocks import activations as _blocks_act
from lmech.checks import check_choice, check_int, check_real

from ._kernels import common as _kernels

__all__ = ["RandomRNN", "PHI_CODES", "stationary_variance", "stationary_profile",
           "phi_correlation"]

#: Activation names -> kernel codes.  ``erf`` is ``erf(sqrt(pi) x / 2)`` (slope 1 at 0).
#: activation name -> row of the :mod:`lmech.blocks.activations` table (``erf`` is
#: ``erf(sqrt(pi) x/2)``, the table's ``erf_sqrtpi``; its own ``erf`` is ``erf(x/sqrt 2)``)
PHI_CODES = {"tanh": _blocks_act.TANH, "erf": _blocks_act.ERF_SQRTPI, "relu": _blocks_act.RELU,
             "linear": _blocks_act.LINEAR}


@lmech.register_model("dmft.RandomRNN")
@dataclass(frozen=True)
class RandomRNN(lmech.Model):
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

    g: float = lmech.param(1.5, low=0.0, help="coupling gain")
    phi: str = lmech.param("tanh", choices=tuple(PHI_CODES), help="activation")
    noise: float = lmech.param(0.0, low=0.0, help="white-noise variance")
    x0_var: float = lmech.param(1.0, low=0.0, low_open=True, help="initial variance")

    @property
    def activation(self):
        """The :mod:`lmech.blocks.activations` block of ``phi`` (dmft's "erf" is ``erf_sqrtpi``)."""
        return _blocks_act.get_activation({"erf": "erf_sqrtpi"}.get(self.phi, self.phi))

    def conventions(self) -> dict:
        return {
            "dynamics": "dx/dt = -x + J phi(x) + eta, J_ij ~ N(0, g^2/N), <eta eta> = noise delta",
            "activation": "erf means erf(sqrt(pi) x/2)" if self.phi == "erf" else self.phi,
            "correlation": "C(t,t') = x(t).x(t')/N",
            "response": "R(t,t') = e^{-(t-t')} (no feedback through asymmetric J)",
            "initial": "x_i(0) iid N(0, x0_var)",
        }


def phi_correlation(phi: str, c11: float, c12: float, c22: float) -> tuple[float, float]:
    """``E[phi(u) phi(v)]`` for ``(u, v) ~ N(0, [[c11, c12], [c12, c22]])`` and its error bound.

    What the uniform-grid solver uses for the memory kernel ``D = g^2
    E[phi phi]`` (``closed_form=True``): for ``erf`` (``erf(sqrt(pi) x/2)``)
    and ``linear`` the closed forms (Williams, Neural Comput. 10, 1203
    (1998); bound 0, i.e. rounding), for ``tanh`` the trapezoid rule in both
    Cholesky variables with steps set by the strip of analyticity of tanh,
    which narrows as the variances grow (Trefethen & Weideman, SIAM Rev. 56,
    385 (2014), Th. 5.1): an a-priori bound of about ``1e-11`` at any
    variance, and a cost growing like the product of the two standard
    deviations.

    Returns
    -------
    value, bound : float
        ``|value - E[phi(u) phi(v)]| <= bound`` (up to rounding).

    Raises
    ------
    ValueError
        For another ``phi``, or a covariance that is not positive semi-definite.
    """
    phi = check_choice("phi", phi, ("tanh", "erf", "linear"))
    c11 = check_real("c11", c11, low=0.0)
    c22 = check_real("c22", c22, low=0.0)
    c12 = check_real("c12", c12)
    if c12 * c12 > c11 * c22 * (1.0 + 1e-12):
        raise ValueError(f"c12 must satisfy c12^2 <= c11 c22, got c12={c12!r}, c11={c11!r}, "
                         f"c22={c22!r}")
    if phi == "tanh":
        v, b = _kernels.tanh_corr(c11, c12, c22, _kernels.TANH_CORR_EPS)
        return float(v), float(b)
    return float(_kernels.phi_corr_exact(PHI_CODES[phi], c11, c12, c22)), 0.0


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
    if not isinstance(model, RandomRNN):
        raise ValueError(f"model must be a RandomRNN, got {type(model).__name__}")
    n_quad = check_int("n_quad", n_quad, low=2, high=300)
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


def _Phi(model: RandomRNN, d0: float, delta, n_quad: int) -> np.ndarray:
    """``E[Psi(x) Psi(x')]`` with ``Var x = Var x' = d0``, ``Cov = delta`` (2-D Gauss–Hermite)."""
    out = []
    for d in np.atleast_1d(delta):
        d = min(max(float(d), -d0), d0)
        uv, w = gauss.hermite2d(n_quad, [[d0, d], [d, d0]])
        out.append(float(np.dot(w, _Psi(model.phi, uv[:, 0]) * _Psi(model.phi, uv[:, 1]))))
    return np.array(out)


def stationary_profile(model: RandomRNN, tau_max: float, *, n_points: int = 200,
                       n_quad: int = 48, rtol: float = 1e-9, delta_min: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """Stationary autocorrelation ``Delta(tau)`` of the noiseless chaotic network.

    Energy conservation in the SCS potential (Sompolinsky, Crisanti &
    Sommers 1988), ``Delta'^2/2 + V(Delta) = V(Delta_0)`` with ``V(Delta) =
    -Delta^2/2 + g^2 E[Psi(x) Psi(x')]``, gives ``tau(Delta) = int_Delta^Delta_0
    du / sqrt(2 (V(Delta_0) - V(u)))``.  With ``u = Delta_0 - w^2`` the
    integrand is regular at ``w = 0``; ``tau(w)`` is integrated with
    :func:`scipy.integrate.solve_ivp` (``rtol``), the Gaussian averages by an
    ``n_quad x n_quad`` Gauss–Hermite rule.

    Returns
    -------
    tau, delta : ndarray
        Increasing ``tau`` from 0 (at most ``tau_max``) and ``Delta(tau)``,
        down to ``Delta = delta_min * Delta_0`` at most.
    """
    from scipy.integrate import solve_ivp

    if not isinstance(model, RandomRNN):
        raise ValueError(f"model must be a RandomRNN, got {type(model).__name__}")
    tau_max = check_real("tau_max", tau_max, low=0.0, low_open=True)
    n_points = check_int("n_points", n_points, low=2, high=10 ** 10)
    n_quad = check_int("n_quad", n_quad, low=2, high=300)
    rtol = check_real("rtol", rtol, low=1e-14, high=1e-2)
    delta_min = check_real("delta_min", delta_min, low=0.0, high=1.0, low_open=True,
                           high_open=True)
    d0 = stationary_variance(model, n_quad=n_quad)  # same rule as Phi: V(Delta_0) = V(0) exactly
    if d0 == 0.0:
        raise ValueError(f"g must exceed 1 for a chaotic stationary state, got {model.g!r}")
    g2 = model.g ** 2
    V0 = -0.5 * d0 * d0 + g2 * _Phi(model, d0, d0, n_quad)[0]
    # V'(Delta_0) = -Delta_0 + g^2 E[phi(x)^2] > 0
    z, wz = gauss.hermite(n_quad)
    x = math.sqrt(d0) * z
    ph = np.array([_kernels.phi_eval(PHI_CODES[model.phi], xi) for xi in x])
    Vp0 = -d0 + g2 * float(np.dot(wz, ph * ph))
    if Vp0 <= 0:  # pragma: no cover - excluded by the SCS condition
        raise RuntimeError("V'(Delta_0) <= 0: no decaying stationary solution")

    def rhs(w, y):
        if w * w < 1e-8 * d0:  # gap = V'(Delta_0) w^2 (1 + O(w^2)); avoids cancellation
            return [2.0 / math.sqrt(2.0 * Vp0)]
        u = d0 - w * w
        gap = V0 - (-0.5 * u * u + g2 * _Phi(model, d0, u, n_quad)[0])
        return [2.0 * w / math.sqrt(2.0 * max(gap, 1e-300))]

    def too_long(w, y):
        return y[0] - tau_max
    too_long.terminal = True

    # stop at Delta = delta_min Delta_0, where V(Delta_0) - V(Delta) ~ Delta^2 is still far
    # above the rounding of the quadratures (tau diverges logarithmically as Delta -> 0)
    w_end = math.sqrt(d0 * (1.0 - delta_min))
    sol = solve_ivp(rhs, (0.0, w_end), [0.0], rtol=rtol, atol=1e-12, events=too_long,
                    dense_output=True, max_step=w_end / 50)
    w_stop = sol.t[-1]
    ws = np.linspace(0.0, w_stop, n_points)
    if sol.status < 0:  # pragma: no cover
        raise RuntimeError(f"stationary profile integration failed: {sol.message}")
    tau = sol.sol(ws)[0]
    ok = np.isfinite(tau)
    return tau[ok], (d0 - ws * ws)[ok]
