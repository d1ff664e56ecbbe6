"""Spherical p-spin model: the model, its Hamiltonian conventions and static helpers.

The Hamiltonian ``H(s)`` on the sphere ``|s|^2 = N`` is a centred Gaussian
field with covariance ``E[H(s) H(s')] = N xi(s.s'/N)``.  Two normalisations
are in use and each is an explicit *convention*:

``"half"``
    ``xi(q) = q^p / 2`` (Crisanti & Sommers, Z. Phys. B 87, 341 (1992);
    Cugliandolo & Kurchan, PRL 71, 173 (1993); T_d = sqrt(3/8) for p = 3).
``"full"``
    ``xi(q) = q^p`` (common in the mathematics literature).

Since ``H_full = sqrt(2) H_half`` in law, Langevin dynamics in the ``full``
convention at temperature ``T`` and time ``t`` is the ``half`` dynamics at
``T / sqrt(2)`` and time ``sqrt(2) t``, with energies ``e_full = sqrt(2)
e_half``; :func:`convert` applies this (for any pair of conventions, the
factor is ``kappa = sqrt(c_target / c_source)`` with ``xi = c q^p``).

The helpers return, for the pure p-spin in a given convention, the dynamical
temperature ``T_d`` (``T_d^2 = max_q xi'(q)(1-q)/q``), the threshold energy
(zero-temperature limit of the aging energy) and the asymptotic aging
solution of Cugliandolo & Kurchan (1993): the plateau ``q`` from the
marginality condition ``xi''(q) (1-q)^2 = T^2``, the fluctuation–dissipation
ratio ``x = (p-2)(1-q)/q`` and the energy
``e_inf = -(1/T) [xi(1) - (1-x) xi(q)]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

import lmech
from lmech.checks import check_choice, check_int, check_real

__all__ = ["SphericalPSpin", "CONVENTIONS", "xi_scale", "convert", "dynamical_temperature",
           "threshold_energy", "aging_plateau", "aging_fdr", "aging_energy",
           "equilibrium_energy"]

#: Hamiltonian normalisations: name -> c in xi(q) = c q^p.
CONVENTIONS = {"half": 0.5, "full": 1.0}


def xi_scale(convention: str) -> float:
    """The factor ``c`` of ``xi(q) = c q^p`` in ``convention``."""
    check_choice("convention", convention, tuple(CONVENTIONS))
    return CONVENTIONS[convention]


def convert(*, source: str, target: str, T: float | None = None, t: float | None = None,
            energy: float | None = None) -> dict:
    """Convert a temperature, a time and/or an energy between Hamiltonian conventions.

    Parameters
    ----------
    source, target : {"half", "full"}
    T, t, energy : float, optional
        Values in the ``source`` convention.

    Returns
    -------
    dict
        The given quantities in the ``target`` convention: with ``kappa =
        sqrt(c_target / c_source)``, ``T -> kappa T``, ``t -> t / kappa``,
        ``energy -> kappa energy`` (Langevin dynamics with ``<xi xi> = 2T``).
    """
    check_choice("source", source, tuple(CONVENTIONS))
    check_choice("target", target, tuple(CONVENTIONS))
    kappa = math.sqrt(xi_scale(target) / xi_scale(source))
    out = {}
    if T is not None:
        out["T"] = kappa * check_real("T", T, low=0.0)
    if t is not None:
        out["t"] = check_real("t", t, low=0.0) / kappa
    if energy is not None:
        out["energy"] = kappa * check_real("energy", energy)
    for name, v in out.items():
        if not math.isfinite(v):  # kappa = sqrt(2) beyond 1.27e308
            raise ValueError(f"{name} must be at most {1.7e308 / kappa:.3g} in absolute value "
                             f"to convert by kappa = {kappa:g}, got "
                             f"{dict(T=T, t=t, energy=energy)[name]!r}")
    return out


def _check_p(p):
    return check_int("p", p, low=2, high=64)


def dynamical_temperature(p: int = 3, convention: str = "half") -> float:
    """Dynamical (mode-coupling) temperature of the pure spherical p-spin.

    ``T_d^2 = max_q xi'(q) (1-q) / q = c p q*^(p-2) (1-q*)`` at ``q* =
    (p-2)/(p-1)``; ``sqrt(3/8)`` for p = 3 in the ``half`` convention
    (Crisanti, Horner & Sommers, Z. Phys. B 92, 257 (1993)).  For p = 2 it is
    the critical temperature ``sqrt(2c)``.
    """
    p = _check_p(p)
    c = xi_scale(convention)
    if p == 2:
        return math.sqrt(2.0 * c)
    q = (p - 2) / (p - 1)
    return math.sqrt(c * p * q ** (p - 2) * (1.0 - q))


def equilibrium_energy(T: float, p: int = 3, convention: str = "half") -> float:
    """Paramagnetic energy per spin ``-xi(1)/T`` (valid for ``T > T_d``)."""
    _check_p(p)
    T = check_real("T", T, low=0.0, low_open=True)
    return -xi_scale(convention) / T


def aging_plateau(T: float, p: int = 3, convention: str = "half") -> float:
    """Plateau ``q`` of the aging solution: largest root of ``xi''(q)(1-q)^2 = T^2``.

    Cugliandolo & Kurchan, PRL 71, 173 (1993), marginality condition; ``q =
    0.63882`` at p = 3, T = 0.5 (``half``).
    """
    p = check_int("p", p, low=3, high=64)
    c = xi_scale(convention)
    T = check_real("T", T, low=0.0, low_open=True)
    g = lambda q: c * p * (p - 1) * q ** (p - 2) * (1.0 - q) ** 2 - T * T  # noqa: E731
    qs = (p - 2) / p  # maximum of xi''(q)(1-q)^2
    if g(qs) < 0:
        raise ValueError(f"T must lie below {math.sqrt(g(qs) + T * T):.6g} for an aging "
                         f"solution, got {T!r}")
    return brentq(g, qs, 1.0, xtol=1e-15, rtol=1e-15, maxiter=200)


def aging_fdr(T: float, p: int = 3, convention: str = "half") -> float:
    """Fluctuation–dissipation ratio ``x = (p-2)(1-q)/q`` of the aging solution."""
    q = aging_plateau(T, p, convention)
    return (p - 2) * (1.0 - q) / q


def aging_energy(T: float, p: int = 3, convention: str = "half") -> float:
    """Asymptotic aging energy ``e_inf = -(1/T)[xi(1) - (1-x) xi(q)]`` (CK 1993).

    ``-0.88669`` at p = 3, T = 0.5 in the ``half`` convention.
    """
    q = aging_plateau(T, p, convention)
    x = (p - 2) * (1.0 - q) / q
    c = xi_scale(convention)
    return -(c / T) * (1.0 - (1.0 - x) * q ** p)


def threshold_energy(p: int = 3, convention: str = "half") -> float:
    """Threshold energy ``-2 sqrt(c (p-1)/p)``, the T -> 0 limit of :func:`aging_energy`.

    ``-sqrt(4/3)`` for p = 3 (``half``): Cugliandolo & Kurchan (1993),
    Kurchan & Laloux, J. Phys. A 29, 1929 (1996).
    """
    p = check_int("p", p, low=3, high=64)
    return -2.0 * math.sqrt(xi_scale(convention) * (p - 1) / p)


@lmech.register_model("dmft.SphericalPSpin")
@dataclass(frozen=True)
class SphericalPSpin(lmech.Model):
    """Langevin dynamics of the spherical (mixed) p-spin model from a random start.

    ``ds/dt = -grad H(s) - mu(t) s + eta``, ``<eta_i(t) eta_j(t')> = 2 T
    delta_ij delta(t-t')``, ``|s|^2 = N`` enforced by the Lagrange multiplier
    ``mu``; ``s(0)`` uniform on the sphere, independent of the couplings.  The
    DMFT closure is the Cugliandolo–Kurchan system (PRL 71, 173 (1993), eqs.
    (5)-(7)) with ``Sig = xi''(C) R``, ``D = xi'(C)``.

    Parameters
    ----------
    p : int
        Degree of the pure term, ``2 <= p <= 64``.
    T : float
        Temperature, ``T >= 0``.
    convention : {"half", "full"}
        Hamiltonian normalisation ``xi(q) = c (q^p + sum_k mixture[k-2] q^k)``
        with ``c = 1/2`` or ``1``.
    mixture : tuple of float
        Extra non-negative coefficients of ``q^2, q^3, ...`` (default none:
        pure p-spin).
    """

    p: int = lmech.param(3, low=2, high=64, help="degree of the p-spin interaction")
    T: float = lmech.param(0.5, low=0.0, help="temperature")
    convention: str = lmech.param("half", choices=tuple(CONVENTIONS),
                                  help="Hamiltonian normalisation xi(q) = q^p/2 (half) or q^p (full)")
    mixture: tuple = lmech.param((), spec=False, help="coefficients of q^2, q^3, ... (mixed p-spin)")

    def check(self):
        if not isinstance(self.mixture, tuple):
            raise ValueError(f"mixture must be a tuple of coefficients, got {self.mixture!r}")
        if len(self.mixture) > 63:
            raise ValueError("mixture must have at most 63 coefficients (q^2 .. q^64)")
        mix = tuple(check_real(f"mixture[{k}]", a, low=0.0) for k, a in enumerate(self.mixture))
        object.__setattr__(self, "mixture", mix)

    @property
    def pure(self) -> bool:
        """True if there is no mixture term."""
        return not any(self.mixture)

    def xi_coefficients(self) -> np.ndarray:
        """Coefficients ``a`` of ``xi(q) = sum_k a[k] q^k`` including the normalisation."""
        kmax = max(self.p, len(self.mixture) + 1)
        a = np.zeros(kmax + 1)
        a[self.p] += 1.0
        for k, b in enumerate(self.mixture):
            a[k + 2] += b
        return xi_scale(self.convention) * a

    def xi(self, q):
        """Covariance function ``xi(q)``."""
        return np.polynomial.polynomial.polyval(q, self.xi_coefficients())

    # helpers (pure model only)
    def _pure(self, what):
        if not self.pure:
            raise ValueError(f"mixture must be empty for {what} (pure p-spin formula)")

    def dynamical_temperature(self) -> float:
        """T_d in this model's convention (see :func:`dynamical_temperature`)."""
        self._pure("dynamical_temperature")
        return dynamical_temperature(self.p, self.convention)

    def equilibrium_energy(self) -> float:
        """Paramagnetic energy ``-xi(1)/T``."""
        return -float(self.xi(1.0)) / check_real("T", self.T, low=0.0, low_open=True)

    def threshold_energy(self) -> float:
        """Threshold energy in this model's convention."""
        self._pure("threshold_energy")
        return threshold_energy(self.p, self.convention)

    def aging_energy(self) -> float:
        """Asymptotic aging energy at this T (below T_d)."""
        self._pure("aging_energy")
        return aging_energy(self.T, self.p, self.convention)

    def aging_plateau(self) -> float:
        """Plateau ``q`` of the aging solution at this T."""
        self._pure("aging_plateau")
        return aging_plateau(self.T, self.p, self.convention)

    def aging_fdr(self) -> float:
        """Fluctuation–dissipation ratio ``x`` of the aging solution at this T."""
        self._pure("aging_fdr")
        return aging_fdr(self.T, self.p, self.convention)

    def converted(self, convention: str) -> "SphericalPSpin":
        """The same dynamics in another convention (temperature rescaled; see :func:`convert`).

        Times of the new model are ``t / kappa`` and energies ``kappa e``.
        """
        T = convert(source=self.convention, target=convention, T=self.T)["T"]
        return SphericalPSpin(p=self.p, T=T, convention=convention, mixture=self.mixture)

    def conventions(self) -> dict:
        c = xi_scale(self.convention)
        return {
            "hamiltonian": f"E[H(s)H(s')] = N xi(q), xi(q) = {c:g} (q^{self.p}"
                           + (" + mixture" if not self.pure else "") + f") [{self.convention}]",
            "dynamics": "ds/dt = -grad H - mu s + eta, <eta eta> = 2 T delta; |s|^2 = N",
            "initial": "s(0) uniform on the sphere, independent of J",
            "correlation": "C(t,t') = s(t).s(t')/N",
            "response": "R(t,t') = (1/N) sum_i d<s_i(t)>/dh_i(t'), R(t'^+,t') = 1",
            "energy": "e(t) = H(s(t))/N = -int_0^t xi'(C(t,s)) R(t,s) ds",
            "fdt_ratio": "X(t,t') = T R(t,t') / d_t' C(t,t')",
        }
