"""Output channels (teachers): label sampling, the teacher map and the output-side denoiser.

A channel is the conditional law ``P_out(y | z)`` of a label given the
teacher's pre-activation ``z`` (Barbier, Krzakala, Macris, Miolane &
Zdeborová, PNAS 116, 5451 (2019), "BKMMZ", eq. 2: ``y ~ P_out(. | z)``,
``z = w*.x / sqrt(d)``).  Every channel is a frozen dataclass whose
parameters are :func:`lmech.spec.param` fields, validated on construction
(:class:`lmech.spec.Model`), and provides

``sample(z, rng)``
    labels ``y ~ P_out(y | z)`` drawn with a :class:`numpy.random.Generator`;
``pdf(y, z)``
    the density (real ``y``) or probability (``y = +-1``) ``P_out(y | z)``;
``teacher_map(z)``
    the clean teacher ``f(z)``, the label without its noise (``z`` for the
    linear channel, ``sign(z)`` for the sign family, ``max(0, z)`` for ReLU),
    as the dynamics simulators draw ``y = f(z) + sqrt(noise) nu``;
``teacher_moments(rho)``
    ``(a, E f(z)**2)`` with ``a = E[f(z) z] / rho`` (the Stein coefficient of
    the linear-equivalent teacher) for ``z ~ N(0, rho)``;
``gout(y, omega, V)``
    the output function of GAMP (Rangan, ISIT 2011, Algorithm 1; BKMMZ
    eq. 15): ``g = d_omega log Z_out`` and its derivative
    ``dg = d_omega g = d^2_omega log Z_out``, where ``Z_out(y, omega, V) =
    E_{z ~ N(omega, V)} P_out(y | z)``.  Note the sign: GAMP's ``tau_s`` is
    ``-dg > 0`` for log-concave channels.
``test_error(m, q, rho, noisy=False)``
    the generalisation error of a linear student ``h = w.x / sqrt(d)`` with
    overlaps ``m = w.w*/d``, ``q = |w|**2/d`` against a teacher of second
    moment ``rho`` (``(z, h)`` jointly Gaussian, ``E z**2 = rho``, ``E z h =
    m``, ``E h**2 = q``), the one formula every layer reports.

The replica layer's free-entropy terms (``psi_out``, ``qhat_unit``,
``mean_loglik``) are attached by :mod:`replica.blocks`, whose channels extend
these.

Registry: :data:`CHANNELS` and :func:`get_channel`
(``get_channel("probit", delta=0.1)``, ``get_channel({"kind": "probit",
"delta": 0.1})``).  Specs: ``"lmech.channels.<Class>"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr

from lmech.spec import Model, param, register_model

from .priors import _generator, lookup

__all__ = ["Channel", "Linear", "SignFamily", "Sign", "LabelFlip", "Probit", "ReLU",
           "CHANNELS", "get_channel"]

_LOG_2PI = math.log(2.0 * math.pi)


def _pre(z):
    return np.asarray(z, dtype=np.float64)


def _omega_V(y, omega, V):
    y = np.asarray(y, dtype=np.float64)
    omega = np.asarray(omega, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if np.any(V < 0.0):     # NaN passes through (a diverging iteration reports it)
        raise ValueError("V (the variance of z ~ N(omega, V)) must be >= 0 everywhere")
    return y, omega, V


def _log_normal(x, var):
    """``log N(x; 0, var)``."""
    return -0.5 * (x * x / var + np.log(var) + _LOG_2PI)


def _out(x):
    """A 0-d result as a Python ``float``, an array as is."""
    return float(x) if np.ndim(x) == 0 else x


def _mills(u):
    """``phi(u) / Phi(u)``, stable in the far left tail."""
    return np.exp(-0.5 * u * u - 0.5 * _LOG_2PI - log_ndtr(u))


class Channel(Model):
    """Base class of output channels; concrete channels are frozen registered dataclasses.

    ``classification``: labels are ``+-1``; ``deterministic``: ``y = f(z)``
    without noise.
    """

    name = "channel"
    classification = False
    deterministic = False

    def sample(self, z, rng: np.random.Generator) -> np.ndarray:
        """Labels ``y ~ P_out(y | z)`` for the pre-activations ``z`` (drawn with ``rng``)."""
        raise NotImplementedError

    def pdf(self, y, z):
        """``P_out(y | z)`` (a density in ``y`` for real labels, a probability for ``+-1``)."""
        raise NotImplementedError

    def teacher_map(self, z) -> np.ndarray:
        """The clean teacher ``f(z)`` (the label without noise), as a new float array."""
        raise NotImplementedError

    def teacher_moments(self, rho: float) -> tuple[float, float]:
        """``(a, E f(z)**2)``, ``a = E[f(z) z] / rho``, for ``z ~ N(0, rho)`` (noise excluded)."""
        raise NotImplementedError

    def gout(self, y, omega, V):
        """``(g, dg)``: ``g = d_omega log Z_out(y, omega, V)`` and ``dg = d_omega g``.

        ``Z_out = E_{z ~ N(omega, V)} P_out(y | z)``; arrays broadcast.
        """
        raise NotImplementedError

    def test_risk(self, m, q, rho, *, noise=0.0):
        """Square-loss test risk ``E (y - h)**2 / 2`` of the student ``h`` with overlaps
        ``m = E z h``, ``q = E h**2``, on the label ``y = f(z) + sqrt(noise) nu``.

        ``f`` is the clean teacher (:meth:`teacher_map`; this channel's own noise is not
        included, ``noise`` is the variance of an additive Gaussian label noise) and
        ``z ~ N(0, rho)`` jointly Gaussian with ``h``, so that ``E f(z) h = a m`` with
        ``a = E[f(z) z] / rho`` (Stein's lemma; :meth:`teacher_moments` gives ``a`` and
        ``E f**2``)::

            E (y - h)**2 / 2 = (E y**2 - 2 a m + q) / 2,   E y**2 = E f**2 + noise.

        Arrays broadcast.
        """
        a, ef2 = self.teacher_moments(rho)
        ey2 = ef2 + noise
        return 0.5 * (ey2 - 2.0 * a * np.asarray(m, dtype=np.float64) + np.asarray(q, dtype=np.float64))

    def test_error(self, m, q, rho, *, noisy=False):
        """Generalisation error of the student ``h`` with overlaps ``m = E z h``, ``q = E h**2``.

        Regression convention (this base class, every real-valued channel):
        the pre-activation error ``E (z - h)**2 = rho + q - 2 m`` (the
        excess error of the estimator, without the label noise; Engel & Van
        den Broeck, *Statistical Mechanics of Learning*, CUP 2001, sec. 2.2,
        for ``(z, h)`` jointly Gaussian).  ``noisy=True`` (the error on the
        noisy label) is defined where the label is ``z`` plus noise
        (:class:`Linear`).  Sign-family channels override this with the
        classification error.  Arrays broadcast; scalars give a ``float``.
        """
        if noisy:
            raise ValueError(f"noisy: the error on the noisy label is not defined for the {self.name} "
                             "channel (its label is not the pre-activation plus noise)")
        return _out(np.asarray(rho, dtype=np.float64) + np.asarray(q, dtype=np.float64)
                    - 2.0 * np.asarray(m, dtype=np.float64))


@register_model("lmech.channels.Linear")
@dataclass(frozen=True)
class Linear(Channel):
    """``y = z + sqrt(Delta) nu``, ``nu ~ N(0, 1)``.

    ``Z_out = N(y; omega, Delta + V)``: ``g = (y - omega) / (Delta + V)``,
    ``dg = -1 / (Delta + V)``.
    """

    delta: float = param(1.0, low=0.0, help="variance Delta of the Gaussian label noise")
    name = "linear"

    def sample(self, z, rng):
        z = _pre(z)
        return z + math.sqrt(self.delta) * _generator(rng).standard_normal(z.shape)

    def pdf(self, y, z):
        if self.delta == 0.0:
            raise ValueError("delta: the noiseless linear channel has no density (delta = 0)")
        return np.exp(_log_normal(np.asarray(y, dtype=float) - _pre(z), self.delta))

    def teacher_map(self, z):
        return np.array(z, dtype=np.float64)

    def teacher_moments(self, rho):
        return 1.0, float(rho)

    def gout(self, y, omega, V):
        y, omega, V = _omega_V(y, omega, V)
        s = self.delta + V
        return (y - omega) / s, np.full_like(omega, -1.0) / s

    def test_error(self, m, q, rho, *, noisy=False):
        """``E (z - h)**2 = rho + q - 2 m``; with ``noisy=True`` ``E (y - h)**2``, that plus ``Delta``."""
        e = Channel.test_error(self, m, q, rho)
        return e + self.delta if noisy else e


class SignFamily(Channel):
    """``P_out(y|z) = eps + (1 - 2 eps) Phi(y z / sqrt(Delta))``, ``y = +-1``.

    The sign teacher (``Delta = eps = 0``, ``Phi`` read as the step
    ``1(y z >= 0)``), label flips with probability ``eps`` and probit noise
    ``y = sign(z + sqrt(Delta) nu)``.  ``probit_delta`` and ``flip_eps``
    are ``Delta`` and ``eps``.  Teacher map ``sign(z)`` with ``sign(0) = +1``.

    ``Z_out = eps + (1 - 2 eps) Phi(u)``, ``u = y omega / sqrt(V + Delta)``;
    ``g = y R / sqrt(V + Delta)`` with ``R = (1 - 2 eps) phi(u) / Z_out``,
    ``dg = -R (u + R) / (V + Delta)`` (``R = phi(u) / Phi(u)`` through
    ``log Phi`` when ``eps = 0``, stable in the far tail).
    """

    classification = True
    probit_delta = 0.0
    flip_eps = 0.0

    def sample(self, z, rng):
        z = _pre(z)
        return np.where(z >= 0, 1.0, -1.0)

    def pdf(self, y, z):
        y, z = np.asarray(y, dtype=float), _pre(z)
        d, e = self.probit_delta, self.flip_eps
        P = ndtr(y * z / math.sqrt(d)) if d > 0 else np.where(y * z >= 0, 1.0, 0.0)
        return e + (1.0 - 2.0 * e) * P

    def teacher_map(self, z):
        return np.where(_pre(z) >= 0, 1.0, -1.0)

    def teacher_moments(self, rho):
        return math.sqrt(2.0 / (math.pi * rho)), 1.0

    def gout(self, y, omega, V):
        y, omega, V = _omega_V(y, omega, V)
        d_, e_ = self.probit_delta, self.flip_eps
        s = np.sqrt(V + d_)
        u = y * omega / s
        # Z = eps + (1 - 2 eps) Phi(u); dZ/domega = (1 - 2 eps) phi(u) y / s
        logphi = -0.5 * u * u - 0.5 * _LOG_2PI
        if e_ == 0.0:
            ratio = np.exp(logphi - log_ndtr(u))        # phi(u)/Phi(u), stable in the far tail
        else:
            ratio = (1.0 - 2.0 * e_) * np.exp(logphi) / (e_ + (1.0 - 2.0 * e_) * ndtr(u))
        g = y * ratio / s
        dg = -(ratio * (u + ratio)) / (s * s)           # d g / d omega (y^2 = 1)
        return g, dg

    def clean_error_to_label_error(self, e):
        """Test error against the noisy label from the error ``e`` against ``sign(z)`` (label flips only)."""
        return self.flip_eps + (1.0 - 2.0 * self.flip_eps) * e

    def test_error(self, m, q, rho, *, noisy=False):
        """Classification error ``P(sign h != label)`` of the student with overlaps ``(m, q)``.

        Against the clean label ``sign(z)`` (default): ``arccos(R) / pi``
        with ``R = m / sqrt(q rho)`` (the probability that a random
        hyperplane separates two vectors at angle ``arccos R``; Engel & Van
        den Broeck, *Statistical Mechanics of Learning*, CUP 2001, eq. (2.3)),
        and ``1/2`` at ``q <= 0`` (the student ``h = 0``, chance).  Against
        the noisy label (``noisy=True``): the probit noise enters as a teacher
        ``z + sqrt(Delta) nu`` of second moment ``rho + Delta`` and the same
        overlap ``m``, the flips as ``eps + (1 - 2 eps) e``
        (:meth:`clean_error_to_label_error`), so
        ``eps + (1 - 2 eps) arccos(m / sqrt(q (rho + Delta))) / pi``.
        Limits: ``m = 0`` gives ``1/2`` (and ``1/2`` on noisy labels),
        ``m**2 = q rho`` (``m > 0``) gives 0 (``eps`` plus the probit term on
        noisy labels).  NaN passes through.  Arrays broadcast; scalars give a
        ``float``.
        """
        m = np.asarray(m, dtype=np.float64)
        q = np.asarray(q, dtype=np.float64)
        rho = np.asarray(rho, dtype=np.float64)
        if noisy:
            rho = rho + self.probit_delta
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.clip(m / np.sqrt(q * rho), -1.0, 1.0)
            if c.ndim == 0:     # scalars through libm's acos (numpy's SIMD arccos differs by an ulp)
                e = 0.5 if q <= 0.0 else math.acos(float(c)) / math.pi
            else:
                e = np.where(q <= 0.0, 0.5, np.arccos(c) / math.pi)
        return _out(self.clean_error_to_label_error(e) if noisy else e)


@register_model("lmech.channels.Sign")
@dataclass(frozen=True)
class Sign(SignFamily):
    """Noiseless perceptron teacher ``y = sign(z)`` (``sign(0) = +1``)."""

    name = "sign"
    deterministic = True


@register_model("lmech.channels.LabelFlip")
@dataclass(frozen=True)
class LabelFlip(SignFamily):
    """``y = sign(z)`` flipped with probability ``eps`` in ``[0, 1/2)``."""

    eps: float = param(0.1, low=0.0, high=0.5, high_open=True, help="label-flip probability")
    name = "label-flip"

    @property
    def flip_eps(self):
        return self.eps

    def sample(self, z, rng):
        z = _pre(z)
        flip = _generator(rng).random(z.shape) < self.eps
        return np.where(z >= 0, 1.0, -1.0) * np.where(flip, -1.0, 1.0)


@register_model("lmech.channels.Probit")
@dataclass(frozen=True)
class Probit(SignFamily):
    """``y = sign(z + sqrt(Delta) nu)``, i.e. ``P_out(y|z) = Phi(y z / sqrt(Delta))``."""

    delta: float = param(0.1, low=0.0, low_open=True, help="variance Delta of the noise before the sign")
    name = "probit"

    @property
    def probit_delta(self):
        return self.delta

    def sample(self, z, rng):
        z = _pre(z)
        return np.where(z + math.sqrt(self.delta) * _generator(rng).standard_normal(z.shape) >= 0, 1.0, -1.0)


@register_model("lmech.channels.ReLU")
@dataclass(frozen=True)
class ReLU(Channel):
    """``y = max(0, z) + sqrt(Delta) nu``.

    ``Z_out = A + B`` with ``A = Phi(-omega/sqrt V) N(y; 0, Delta)`` (the
    ``z < 0`` half) and ``B = N(y; omega, S) Phi(mu / sigma)``, ``S = V +
    Delta``, ``mu = (omega Delta + y V) / S``, ``sigma**2 = V Delta / S`` (the
    ``z > 0`` half, by completing the square).  ``g`` and ``dg`` from the
    closed-form first and second ``omega``-derivatives of ``A`` and ``B``,
    weighted by ``A / Z``, ``B / Z`` computed in logs (no overflow in the
    tails).  Teacher map ``max(0, z)``: ``a = 1/2``, ``E f**2 = rho / 2``.
    """

    delta: float = param(0.1, low=0.0, low_open=True, help="variance Delta of the Gaussian label noise")
    name = "relu"

    def sample(self, z, rng):
        z = _pre(z)
        return np.maximum(z, 0.0) + math.sqrt(self.delta) * _generator(rng).standard_normal(z.shape)

    def pdf(self, y, z):
        return np.exp(_log_normal(np.asarray(y, dtype=float) - np.maximum(_pre(z), 0.0), self.delta))

    def teacher_map(self, z):
        return np.maximum(_pre(z), 0.0)

    def teacher_moments(self, rho):
        return 0.5, 0.5 * float(rho)

    def gout(self, y, omega, V):
        y, omega, V = _omega_V(y, omega, V)
        D = self.delta
        sV = np.sqrt(V)
        u = omega / sV
        S = V + D
        sig = np.sqrt(V * D / S)
        m = (omega * D + y * V) / (S * sig)
        c = (D / S) / sig                                # d m / d omega
        logA = log_ndtr(-u) + _log_normal(y, D)
        logB = _log_normal(y - omega, S) + log_ndtr(m)
        L = np.logaddexp(logA, logB)
        wA, wB = np.exp(logA - L), np.exp(logB - L)
        RA, RB = _mills(-u), _mills(m)
        e = (y - omega) / S
        d1 = wA * (-RA / sV) + wB * (e + c * RB)                               # Z'/Z
        d2 = wA * (u / V) * RA + wB * (e * e - 1.0 / S + 2.0 * e * c * RB - m * c * c * RB)  # Z''/Z
        return d1, d2 - d1 * d1


#: registry: name -> channel class (aliases included)
CHANNELS = {"linear": Linear, "gaussian": Linear, "sign": Sign, "label-flip": LabelFlip,
            "probit": Probit, "relu": ReLU}


def get_channel(name, **params) -> Channel:
    """A channel by name: ``linear(delta)``, ``sign``, ``label-flip(eps)``, ``probit(delta)``, ``relu(delta)``.

    A :class:`Channel` instance is returned as is; a mapping ``{"kind": name,
    **params}`` (a config table) is accepted.
    """
    if isinstance(name, Channel):
        return name
    return lookup(CHANNELS, "channel", name, params)
