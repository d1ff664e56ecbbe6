"""Random features in the Gaussian covariate model, from deterministic equivalents (no sampled matrices).

The random-features model (Mei & Montanari, CPAM 75, 667 (2022), "MM";
Gerace, Loureiro, Krzakala, Mézard & Zdeborová, ICML 2020): inputs ``x ~
N(0, I_d)``, features ``v = sigma(F x / sqrt d)`` with ``F`` an ``N x d``
matrix of i.i.d. ``N(0, 1)`` entries, teacher on the inputs ``nu = theta0.x /
sqrt d`` (``|theta0|^2 / d = rho``, an isotropic direction), labels ``y ~
channel(nu)``, and the student ``h = w.v / sqrt N`` of the GCM convention
(:mod:`replica.gcm`) with ``p = N`` and ``alpha = n / N``.

Gaussian equivalence (Goldt et al., PRX 10, 041044 (2020); Gerace et al. 2020;
the coefficients as in MM eq. (8)): with ``(mu0, mu1, mu_star)`` of the activation
(:meth:`lmech.blocks.activations.Activation.coefficients`), ``v`` is replaced by
``mu0 1 + mu1 F x / sqrt d + mu_star z``, ``z ~ N(0, I_N)``, so that (teacher
features ``u = x``, ``k = d``)::

    Psi = I_d,   Phi = mu1 F^T / sqrt d  (d x N),
    Omega = mu0^2 1 1^T + mu1^2 F F^T / d + mu_star^2 I_N.

The spectral form (omega, theta2, rho_perp) follows without sampling ``F``:

* **Bulk**: ``Omega``'s eigenvalues are ``omega_i = mu1^2 s_i + mu_star^2``
  with ``s_i`` the eigenvalues of ``F F^T / d``, whose empirical law tends to
  the Marchenko–Pastur law of ratio ``gamma = N/d`` (atom ``1 - 1/gamma`` at
  0 when ``gamma > 1``).  The ``s_i`` are its midpoint quantiles
  (:func:`marchenko_pastur_quantiles`): every trace ``(1/p) sum_i
  f(omega_i, theta2_i)`` of the replica-symmetric equations is then the
  midpoint rule for ``int_0^1 f(Q(u)) du``, error ``O(p^(-5/3))`` (the
  quantile function behaves as ``u^(2/3)`` at the square-root edges) when the
  atom at 0 holds a whole number of modes; the constructor rounds ``p`` up
  to make it so when ``gamma`` is a ratio of integers (see
  :func:`rf_spectra`), else the atom's weight is off by at most
  ``1/(2p)``.
* **Teacher projections, averaged**: with the SVD ``F / sqrt d = U S V^T``,
  ``e_i^T Phi^T theta0 = mu1 sqrt(s_i) (V^T theta0)_i``, so ``theta_i =
  sqrt(N/d) mu1 sqrt(s_i) (V^T theta0)_i / omega_i``.  ``F`` Gaussian makes
  ``V`` Haar-distributed and independent of ``S`` and of ``theta0``; the
  ``(V^T theta0)_i^2`` are exchangeable of mean ``|theta0|^2 / d = rho`` and
  every trace of the RS equations, ``(1/p) sum_i g(omega_i) theta_i^2``
  with ``g`` bounded, concentrates on the same trace with ``(V^T
  theta0)_i^2`` replaced by ``rho`` (a weighted average of the coordinates
  of a uniform point of the sphere: fluctuations ``O(p^(-1/2))``).  So
  ``theta2_i = (N/d) rho mu1^2 s_i / omega_i^2`` is exact at the level of
  the RS equations (the ``p -> infinity`` limit), and ``rho_perp = rho -
  (1/p) sum_i omega_i theta2_i = rho (1 - (N/d) mean_i mu1^2 s_i / omega_i)``
  (the teacher's part the features cannot see linearly: ``mu_star`` noise
  and the ``d - N`` input directions missed when ``N < d``).
* **The mu0 mode is dropped.**  ``mu0^2 1 1^T`` adds one eigenvalue
  ``~ mu0^2 N`` along ``1 / sqrt N`` that carries teacher power ``O(1/N)``
  (``1^T F theta0`` is ``O(sqrt(N d))`` against an eigenvalue ``O(N)``).  One
  mode of ``p`` enters each trace of the RS equations with weight ``1/p``,
  so it moves the saddle point by ``O(1/p)`` and drops out of the limit
  (MM's asymptotic risk, Theorem 1, does not depend on ``mu0``; the
  comparison of :func:`mei_montanari_risk` with the GCM on these spectra
  tests it).  A finite-``N`` student with a ``mu0 != 0`` activation sees it
  as an (almost free) intercept; :mod:`validation.gcm` measures its effect.

Functions: :func:`marchenko_pastur_cdf`, :func:`marchenko_pastur_quantiles`,
:func:`rf_spectra`, :func:`random_features` (a
:class:`replica.GaussianCovariateModel`), the model :class:`RandomFeatures`
(its parameters, for configs and the finite-size simulator), :func:`gaussian_equivalent`
(the matrices above for a given ``F``) and :func:`mei_montanari_risk`
(MM's closed form, Definition 1 and Theorem 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import brentq

from lmech.blocks.activations import Activation, get_activation
from lmech.blocks.losses import Loss
from lmech.checks import check_array, check_int, check_real
from lmech.randmat import mp_cdf, mp_quantiles
from lmech.spec import Model, param, register_model

from .blocks import Channel
from .gcm import GaussianCovariateModel
from .gcm.model import resolve_loss_channel

__all__ = ["marchenko_pastur_cdf", "marchenko_pastur_quantiles", "rf_modes", "rf_spectra",
           "RandomFeatures", "random_features", "gaussian_equivalent", "mei_montanari_risk",
           "RF_CONVENTIONS"]

RF_CONVENTIONS = {
    "inputs": "x ~ N(0, I_d); features v = sigma(F x / sqrt d), F (N x d) i.i.d. N(0, 1)",
    "teacher": "nu = theta0.x / sqrt d with |theta0|^2 / d = rho, isotropic direction",
    "student": "h = w.v / sqrt N (p = N modes), alpha = n / N; N_over_d = N / d (psi1 of "
               "Mei-Montanari), n / d = alpha N_over_d (their psi2)",
    "gaussian_equivalence": "Omega = mu0^2 11^T + mu1^2 F F^T/d + mu_star^2 I, Phi = mu1 F^T/sqrt d, "
                            "Psi = I (Goldt et al. PRX 2020; Gerace et al. ICML 2020)",
    "spectrum": "omega_i = mu1^2 s_i + mu_star^2, s_i midpoint quantiles of Marchenko-Pastur of ratio N/d",
    "teacher_average": "theta2_i = (N/d) rho mu1^2 s_i / omega_i^2 (Haar average of (V^T theta0)_i^2 = rho)",
    "mu0_mode": "dropped (one mode of p, weight 1/p in every trace; O(1/p) at finite p)",
    "reg_vs_mei_montanari": "lambda (this package, sum of losses (y-h)^2/2 + lambda|w|^2/2) = "
                            "(n/d) lambda_MM (their (1/n) sum (y-f)^2 + (N lambda_MM / d)|a|^2, a = w/sqrt N)",
}


# ---------------------------------------------------------------------------
# Marchenko-Pastur law of F F^T / d, ratio gamma = N / d
# ---------------------------------------------------------------------------
def marchenko_pastur_cdf(x, ratio):
    """CDF of the Marchenko–Pastur law of ``F F^T / d`` at ratio ``N / d``: :func:`lmech.randmat.mp_cdf`."""
    return mp_cdf(x, ratio)


def _atom_count(n, gamma):
    """``(n_used, n_zero)``: modes and zero modes, the atom exact when ``gamma = N/d`` is a small ratio."""
    if gamma <= 1.0:
        return n, 0
    frac = Fraction(gamma).limit_denominator(10**6)
    if abs(float(frac) - gamma) <= 4e-16 * gamma and frac.numerator <= n:
        a = frac.numerator                      # atom (a - b)/a: n a multiple of a makes it whole
        n = -(-n // a) * a
        return n, n // a * (a - frac.denominator)
    return n, int(round(n * (1.0 - 1.0 / gamma)))


def marchenko_pastur_quantiles(n: int, ratio: float) -> np.ndarray:
    """``n`` midpoint quantiles of the Marchenko–Pastur law (ratio ``N/d``): :func:`lmech.randmat.mp_quantiles`.

    For ``gamma > 1`` the atom is ``n (1 - 1/gamma)`` zeros rounded to the nearest
    integer (exact when that is an integer, see :func:`rf_spectra`).
    """
    return mp_quantiles(n, ratio)


# ---------------------------------------------------------------------------
# RF spectra in the GCM convention
# ---------------------------------------------------------------------------
def _coefficients(activation):
    act = get_activation(activation)
    mu0, mu1, mus = (float(c) for c in act.coefficients())
    return act, mu0, mu1, mus


def rf_modes(n_modes: int, N_over_d: float) -> int:
    """The number of modes :func:`rf_spectra` uses for ``n_modes`` requested.

    ``n_modes`` itself for ``N/d <= 1``; for ``N/d = a/b > 1`` a ratio of
    integers (``a <= n_modes``, found by continued fractions to rounding) the
    next multiple of ``a``, so that the zero modes (fraction ``1 - b/a``) are a
    whole number; otherwise ``n_modes``.
    """
    n_modes = check_int("n_modes", n_modes, low=1)
    gamma = check_real("N_over_d", N_over_d, low=0.0, low_open=True)
    return _atom_count(n_modes, gamma)[0]


def rf_spectra(activation, N_over_d: float, *, rho: float = 1.0, n_modes: int = 4096):
    """Spectral arrays ``(omega, theta2, rho_perp)`` of random features, without sampling ``F``.

    Parameters
    ----------
    activation : str, Activation or callable
        ``sigma``; its ``(mu0, mu1, mu_star)`` come from
        :meth:`lmech.blocks.activations.Activation.coefficients` (closed form
        or adaptive quadrature).  ``mu_star > 0`` is needed when ``N > d``
        (else ``N - d`` student modes have ``omega = 0``).
    N_over_d : float
        ``N / d > 0`` (Mei & Montanari's ``psi1``).
    rho : float
        Teacher second moment ``|theta0|^2 / d > 0``.
    n_modes : int
        Number of quadrature modes ``p`` (rounded up by :func:`rf_modes` so
        that the atom of zero eigenvalues is whole when ``N/d > 1``).

    Returns
    -------
    omega, theta2 : ndarray (p,)
        ``omega_i = mu1^2 s_i + mu_star^2`` (decreasing) and ``theta2_i =
        (N/d) rho mu1^2 s_i / omega_i^2``, ``s_i`` the Marchenko–Pastur
        midpoint quantiles.
    rho_perp : float
        ``rho - (1/p) sum_i omega_i theta2_i``.

    Notes
    -----
    See the module docstring for the Gaussian equivalence, the averaging of
    the teacher's projections (exact at the level of the RS equations) and
    the ``mu0`` mode (dropped: ``O(1/p)``).  Accuracy of the traces of the RS
    equations: ``O(p^(-5/3))`` (whole atom), ``O(1/p)`` otherwise.  Measured
    against Mei & Montanari's closed form (ridge, relu/tanh/erf, ``N/d`` in
    [0.5, 3], ``n/d`` in [0.4, 3], ``lambda_MM`` in [1e-3, 0.3]): relative
    error at most ``3e-5`` at ``p = 1024``, ``3e-6`` at the default ``p =
    4096``, ``3e-7`` at ``p = 16384``, falling as ``p^(-5/3)``
    (tests/test_replica_gcm_rf.py).
    """
    gamma = check_real("N_over_d", N_over_d, low=0.0, low_open=True)
    rho = check_real("rho", rho, low=0.0, low_open=True)
    n_modes = check_int("n_modes", n_modes, low=2, high=10**8)
    act, mu0, mu1, mus = _coefficients(activation)
    if mus <= 0.0 and gamma >= 1.0:
        raise ValueError(f"activation: mu_star = 0 (a linear activation, {act!r}) with N_over_d = {gamma} >= 1 "
                         "gives student modes of zero variance (omega = 0); use N_over_d < 1 or a "
                         "nonlinear activation")
    if mu1 == 0.0 and mus == 0.0:
        raise ValueError(f"activation: mu1 = mu_star = 0 ({act!r}): the features are constant")
    n, n0 = _atom_count(n_modes, gamma)
    s = mp_quantiles(n, gamma, n_zero=n0)[::-1]
    omega = mu1 * mu1 * s + mus * mus
    theta2 = gamma * rho * mu1 * mu1 * s / (omega * omega)
    rho_perp = max(rho - float(np.mean(omega * theta2)), 0.0)
    return np.ascontiguousarray(omega), np.ascontiguousarray(theta2), rho_perp


# ---------------------------------------------------------------------------
# the model and the constructor
# ---------------------------------------------------------------------------
@register_model("replica.RandomFeatures")
@dataclass(frozen=True)
class RandomFeatures(Model):
    """Random-features regression or classification (Mei & Montanari 2022; Gerace et al. 2020).

    Parameters
    ----------
    activation : str or Activation
        Feature map ``sigma`` (a block of :mod:`lmech.blocks.activations`).
    N_over_d : float
        Features per input dimension ``N / d`` (MM's ``psi1``).
    rho : float
        Teacher second moment ``|theta0|^2 / d``.
    loss, reg, channel
        As :class:`replica.GaussianCovariateModel` (default: square loss,
        ``reg = 1``, linear channel without noise).
    n_modes : int
        Quadrature modes ``p`` of the spectral form (:func:`rf_spectra`).

    Notes
    -----
    :meth:`gcm` is the Gaussian covariate model of the Gaussian-equivalent
    features (see the module docstring); ``alpha = n / N`` is given to the
    solver.  :mod:`validation.gcm` simulates the real feature map at finite
    ``N`` for this model.
    """

    activation: Activation = param("tanh", type=(str, Activation), spec=False,
                                   help="feature activation sigma (lmech.blocks.activations)")
    N_over_d: float = param(2.0, low=0.0, low_open=True, help="N / d, features per input dimension")
    rho: float = param(1.0, low=0.0, low_open=True, help="teacher second moment |theta0|^2 / d")
    loss: Loss = param(None, type=(str, Loss), spec=False, help="training loss (default square)")
    reg: float = param(1.0, low=0.0, help="L2 strength lambda (penalty lambda |w|^2 / 2)")
    channel: Channel = param(None, type=(str, Channel), spec=False,
                             help="teacher channel (default linear with delta = 0)")
    n_modes: int = param(4096, low=2, high=10**8, help="quadrature modes p of the spectral form")

    def check(self):
        if not isinstance(self.activation, Activation):
            try:
                object.__setattr__(self, "activation", get_activation(self.activation))
            except ValueError as exc:
                raise ValueError(f"activation: {exc}") from None
        resolve_loss_channel(self)
        _, _, mu1, mus = _coefficients(self.activation)
        if mus <= 0.0 and self.N_over_d >= 1.0:
            raise ValueError(f"activation: mu_star = 0 (a linear activation) with N_over_d = {self.N_over_d} "
                             ">= 1 gives student modes of zero variance; use N_over_d < 1 or a nonlinear "
                             "activation")

    def coefficients(self) -> tuple:
        """``(mu0, mu1, mu_star)`` of the activation."""
        return _coefficients(self.activation)[1:]

    def spectra(self):
        """``(omega, theta2, rho_perp)`` of :func:`rf_spectra`."""
        return rf_spectra(self.activation, self.N_over_d, rho=self.rho, n_modes=self.n_modes)

    def gcm(self) -> GaussianCovariateModel:
        """The Gaussian covariate model of the Gaussian-equivalent features."""
        omega, theta2, rho_perp = self.spectra()
        return GaussianCovariateModel(omega=omega, theta2=theta2, rho_perp=rho_perp, loss=self.loss,
                                      reg=self.reg, channel=self.channel)

    def conventions(self) -> dict:
        mu0, mu1, mus = self.coefficients()
        return dict(RF_CONVENTIONS, coefficients=f"mu0 = {mu0!r}, mu1 = {mu1!r}, mu_star = {mus!r}")


def random_features(activation, N_over_d: float, *, rho: float = 1.0, loss=None, reg: float = 1.0,
                    channel=None, n_modes: int = 4096) -> GaussianCovariateModel:
    """The :class:`replica.GaussianCovariateModel` of random features ``sigma(F x / sqrt d)``.

    Shorthand for ``RandomFeatures(...).gcm()``; see :func:`rf_spectra` for the
    spectral arrays and the module docstring for the conventions.  The
    solvers take ``alpha = n / N``.

    Examples
    --------
    >>> import replica
    >>> m = replica.random_features("relu", N_over_d=2.0, reg=1e-3)
    >>> m.p
    4096
    """
    return RandomFeatures(activation=activation, N_over_d=N_over_d, rho=rho, loss=loss, reg=reg,
                          channel=channel, n_modes=n_modes).gcm()


def gaussian_equivalent(activation, F, *, include_mean: bool = True):
    """``(Psi, Omega, Phi)``: the Gaussian-equivalent covariances of ``sigma(F x / sqrt d)`` for a given ``F``.

    Parameters
    ----------
    activation : str, Activation or callable
    F : array (N, d)
        Feature matrix.
    include_mean : bool
        Add ``mu0^2 1 1^T`` to ``Omega`` (the second-moment matrix); without it
        ``Omega`` is the covariance.

    Returns
    -------
    Psi : (d, d) identity, Omega : (N, N), Phi : (d, N)
        ``Omega = [mu0^2 1 1^T] + mu1^2 F F^T / d + mu_star^2 I``,
        ``Phi = mu1 F^T / sqrt d`` (Gaussian equivalence, Goldt et al. 2020), for
        :meth:`replica.GaussianCovariateModel.from_matrices` with the teacher
        ``theta0`` on ``x``.  Uses the coefficients at unit pre-activation
        variance (rows of ``F`` of norm ``sqrt d`` on average).
    """
    F = check_array("F", F, ndim=2)
    N, d = F.shape
    _, mu0, mu1, mus = _coefficients(activation)
    Omega = (mu1 * mu1 / d) * (F @ F.T) + mus * mus * np.eye(N)
    if include_mean:
        Omega += mu0 * mu0
    return np.eye(d), Omega, (mu1 / math.sqrt(d)) * F.T


# ---------------------------------------------------------------------------
# Mei & Montanari's closed form (ridge, lambda > 0)
# ---------------------------------------------------------------------------
def mei_montanari_risk(psi1: float, psi2: float, lam: float, mu1: float, mu_star: float, *,
                       F1: float = 1.0, tau: float = 0.0, F_star: float = 0.0) -> dict:
    """Asymptotic test error of random-features ridge regression (Mei & Montanari, CPAM 75, 667 (2022)).

    Their Definition 1 and Theorem 1, in their variables: ``psi1 = N/d``,
    ``psi2 = n/d``, ridge ``lam`` of the objective ``(1/n) sum_i (y_i - sum_j
    a_j sigma(<theta_j, x_i>/sqrt d))^2 + (N lam / d) |a|^2`` (this package's
    ``reg`` is ``psi2 lam``: see :data:`RF_CONVENTIONS`), ``zeta = mu1 /
    mu_star``, ``lambda_bar = lam / mu_star^2``.  With ``xi = i (psi1 psi2
    lambda_bar)^(1/2)``, ``nu1, nu2`` solve ``nu1 = psi1 (-xi - nu2 -
    zeta^2 nu2 / (1 - zeta^2 nu1 nu2))^(-1)`` (and 1 <-> 2) in the upper half
    plane; on the imaginary axis ``nu_k = i a_k``, ``a_k > 0``, and the pair
    reduces to one monotone equation in ``P = a1 a2`` (solved by Brent's
    method to rounding)::

        s^2 P = (psi1 - g(P)) (psi2 - g(P)),  g(P) = P + zeta^2 P / (1 + zeta^2 P),  s^2 = psi1 psi2 lambda_bar,

    ``chi = nu1 nu2 = -P``; then ``B = E1/E0``, ``V = E2/E0`` with the
    polynomials ``E0, E1, E2`` of Definition 1 and

        R = F1^2 B + (tau^2 + F_star^2) V + F_star^2.

    Parameters
    ----------
    psi1, psi2, lam : float
        ``> 0``.
    mu1, mu_star : float
        Activation coefficients, ``mu_star > 0``.
    F1, tau, F_star : float
        Norm of the linear part of the target (``F1^2 = rho``), label-noise
        standard deviation, norm of the nonlinear part (``>= 0``).

    Returns
    -------
    dict
        ``risk`` (``R``: the excess test error ``E (f_d(x) - f_hat(x))^2``),
        ``bias`` (``B``), ``variance`` (``V``), ``chi``, ``nu1``, ``nu2`` (the
        imaginary parts ``a1, a2``).
    """
    psi1 = check_real("psi1", psi1, low=0.0, low_open=True)
    psi2 = check_real("psi2", psi2, low=0.0, low_open=True)
    lam = check_real("lam", lam, low=0.0, low_open=True)
    mu1 = check_real("mu1", mu1)
    mu_star = check_real("mu_star", mu_star, low=0.0, low_open=True)
    F1 = check_real("F1", F1, low=0.0)
    tau = check_real("tau", tau, low=0.0)
    F_star = check_real("F_star", F_star, low=0.0)
    z2 = (mu1 / mu_star) ** 2
    s2 = psi1 * psi2 * lam / mu_star ** 2
    mpsi = min(psi1, psi2)

    def g(P):
        return P + z2 * P / (1.0 + z2 * P)

    # g increases from 0: the root lies where both factors are positive, P < g^-1(min psi)
    if z2 > 0.0:
        c = 1.0 + z2 - mpsi * z2
        P_max = (-c + math.sqrt(c * c + 4.0 * z2 * mpsi)) / (2.0 * z2)
    else:
        P_max = mpsi

    def h(P):
        return s2 * P - (psi1 - g(P)) * (psi2 - g(P))

    P = brentq(h, 0.0, P_max, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    a1 = (psi1 - g(P)) / math.sqrt(s2)
    a2 = (psi2 - g(P)) / math.sqrt(s2)
    chi = -P
    z, p1, p2 = z2, psi1, psi2     # z = zeta^2 below: zeta^(2k) = z^k
    E0 = (-chi ** 5 * z ** 3 + 3 * chi ** 4 * z ** 2 + (p1 * p2 - p2 - p1 + 1) * chi ** 3 * z ** 3
          - 2 * chi ** 3 * z ** 2 - 3 * chi ** 3 * z + (p1 + p2 - 3 * p1 * p2 + 1) * chi ** 2 * z ** 2
          + 2 * chi ** 2 * z + chi ** 2 + 3 * p1 * p2 * chi * z - p1 * p2)
    E1 = p2 * chi ** 3 * z ** 2 - p2 * chi ** 2 * z + p1 * p2 * chi * z - p1 * p2
    E2 = (chi ** 5 * z ** 3 - 3 * chi ** 4 * z ** 2 + (p1 - 1) * chi ** 3 * z ** 3 + 2 * chi ** 3 * z ** 2
          + 3 * chi ** 3 * z + (-p1 - 1) * chi ** 2 * z ** 2 - 2 * chi ** 2 * z - chi ** 2)
    B, V = E1 / E0, E2 / E0
    return {"risk": F1 ** 2 * B + (tau ** 2 + F_star ** 2) * V + F_star ** 2, "bias": B, "variance": V,
            "chi": chi, "nu1": a1, "nu2": a2}
