"""Building blocks of replica models: priors, channels, losses, with registries.

The priors and channels here *extend* the base layer's blocks
(:mod:`lmech.blocks.priors`, :mod:`lmech.blocks.channels`: parameters,
``sample``, the GAMP denoisers ``denoise`` / ``gout`` and the teacher map)
with the replica free-entropy terms below, so that one object carries both.

Conventions (BKMMZ: Barbier, Krzakala, Macris, Miolane & Zdeborová, "Optimal
errors and phase transitions in high-dimensional generalized linear models",
PNAS 116, 5451 (2019)): data ``x ~ N(0, I_d)``, teacher weights with i.i.d.
prior ``P0`` of second moment ``rho``, pre-activation ``z = w*.x / sqrt(d)``,
label ``y ~ P_out(y | z)``, sample ratio ``alpha = n / d``; noise is a
variance (``Delta``).

Prior interface (scalar Gaussian channel ``B = r w* + sqrt(r) xi``):

``psi_minus(r)``
    ``Psi_P0(r) - r rho / 2`` where ``Psi_P0(r) = E log Z0(B, r)`` (BKMMZ eq. 14);
    written this way so that ``r -> inf`` stays finite for discrete priors.
``mmse(r)``
    ``rho - q(r)`` with ``q(r) = 2 dPsi_P0/dr = E[<w> w*]``.
``r_of_mmse(V)``
    the inverse of ``mmse`` (used to parametrise branches by ``V``).

Channel interface (``Z_out(y, omega, V) = E_{z ~ N(omega, V)} P_out(y|z)``):

``psi_out(q, rho)``
    ``Psi_out(q) = E_xi int dy Z_out log Z_out`` at ``omega = sqrt(q) xi``,
    ``V = rho - q`` (BKMMZ eq. 15).
``qhat_unit(q, rho)``
    ``qhat / alpha = E[Z_out g_out**2] = 2 dPsi_out/dq`` (``g_out = d_omega log Z_out``).
``mean_loglik(rho)``
    ``E_z int dy P_out log P_out`` (enters the mutual information).

Every method takes ``n``, the accuracy knob, where a quadrature is used;
closed forms ignore it.  Both ``q`` and ``V = rho - q`` may be passed to
avoid cancellation near perfect recovery.

Quadrature (the layer's rule, :mod:`replica._kernels`): every Gaussian
expectation whose integrand sharpens with a parameter (the Rademacher
posterior as ``r`` grows, the label-flip switch as ``eps -> 0``, the ReLU
output step as ``Delta / V -> 0``) is a composite Gauss–Legendre sum on
panels no wider than the integrand's smallest scale, with edges at its
kinks and graded around its steps (:func:`replica._kernels.panel_edges`),
``n // 8`` nodes per panel, with no lower clamp: these blocks refuse
``n < N_PANEL_MIN`` (64), so that ``2 n`` really doubles the nodes.
Smooth ones keep Gauss–Hermite with ``n``
nodes.  The error is estimated by refinement (``2 n``) in the solvers
(``error_estimate`` of the results), and each rule is tested against
mpmath across its parameter range.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass, fields

import numpy as np
from scipy.optimize import brentq

from lmech.blocks import channels as _channels
from lmech.blocks import priors as _priors
from lmech.blocks.priors import lookup as _lookup
from lmech.checks import check_int
from lmech.gauss import hermite
from lmech.spec import register_model

from . import _kernels as K

__all__ = ["Prior", "Gaussian", "Rademacher", "GaussBernoulli", "Spherical",
           "Channel", "SignFamily", "Linear", "Sign", "LabelFlip", "Probit", "ReLU",
           "get_prior", "get_channel", "PRIORS", "CHANNELS", "N_QUAD", "N_PANEL_MIN"]

#: default number of Gauss–Hermite nodes for the replica integrals
N_QUAD = 96


@lru_cache(maxsize=16)
def _legendre(n):
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _rule(n):
    n = check_int("n", n, low=2, high=300)
    return hermite(n)


#: smallest accuracy knob ``n`` (the solvers' ``n_quad``) accepted by the panel-rule blocks
#: (Rademacher, GaussBernoulli, Sign family, ReLU): at ``n >= N_PANEL_MIN`` every rule has
#: ``n // k`` nodes per panel with no lower clamp, so ``2 n`` at least doubles the nodes and
#: the solvers' ``n`` vs ``2 n`` refinement estimate sees the quadrature error
N_PANEL_MIN = 64


def _panel_n(n, k):
    """Nodes per panel ``n // k`` of a panel rule; ``n`` must be at least :data:`N_PANEL_MIN`."""
    n = check_int("n", n, low=2, high=600)
    if n < N_PANEL_MIN:
        raise ValueError(f"n_quad (the blocks' n) must be >= {N_PANEL_MIN} with a panel-rule prior or "
                         f"channel (so that doubling it doubles the nodes per panel); got {n}")
    return n // k


def _panel_rule(n):
    """Gauss–Legendre nodes and weights of the layer's panel rule for the knob ``n``: ``n // 8`` per panel."""
    return _legendre(_panel_n(n, 8))


# ---------------------------------------------------------------------------
# priors
# ---------------------------------------------------------------------------
class Prior(_priors.Prior):
    """Base class of replica priors: a :class:`lmech.blocks.priors.Prior` with the free-entropy terms.

    Subclasses are frozen registered dataclasses deriving from the base
    layer's prior first (parameters, ``sample``, ``denoise``) and from this
    class (``psi_minus``, ``mmse``, and what derives from them).
    """

    #: smallest accuracy knob ``n`` the block accepts (:data:`N_PANEL_MIN` for panel rules)
    n_min = 2

    def psi(self, r, n=N_QUAD):
        """``Psi_P0(r) = E log Z0(r w* + sqrt(r) xi, r)`` (BKMMZ eq. 14)."""
        return self.psi_minus(r, n) + 0.5 * r * self.rho

    def q_of_r(self, r, n=N_QUAD):
        """Overlap ``q(r) = rho - mmse(r)``."""
        return self.rho - self.mmse(r, n)

    def r_of_mmse(self, V, n=N_QUAD):
        """Inverse of :meth:`mmse`: the ``r >= 0`` with ``mmse(r) = V``.

        Monotone root-finding in ``log r`` (Brent, ``xtol = 1e-14`` relative);
        ``V >= rho`` gives 0, ``V <= 0`` gives ``inf``.
        """
        rho = self.rho
        if V >= rho:
            return 0.0
        if V <= 0.0:
            return math.inf
        lo, hi = -40.0, 0.0
        while self.mmse(math.exp(hi), n) > V:
            hi += 3.0
            if hi > 700:
                return math.inf
        while self.mmse(math.exp(lo), n) < V:
            lo -= 10.0
            if lo < -700:
                return 0.0
        f = lambda t: math.log(self.mmse(math.exp(t), n)) - math.log(V)  # noqa: E731
        return math.exp(brentq(f, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=200))


@register_model("replica.Gaussian")
@dataclass(frozen=True)
class Gaussian(_priors.Gaussian, Prior):
    """Gaussian prior ``N(0, rho)``; ``mmse(r) = rho / (1 + r rho)`` (closed form)."""

    def psi_minus(self, r, n=N_QUAD):
        return -0.5 * math.log1p(r * self.rho) if math.isfinite(r) else -math.inf

    def mmse(self, r, n=N_QUAD):
        return self.rho / (1.0 + r * self.rho) if math.isfinite(r) else 0.0

    def r_of_mmse(self, V, n=N_QUAD):
        if V >= self.rho:
            return 0.0
        if V <= 0.0:
            return math.inf
        return (self.rho - V) / (self.rho * V)


@register_model("replica.Spherical")
@dataclass(frozen=True)
class Spherical(Gaussian, _priors.Spherical):
    """Uniform prior on the sphere ``|w|**2 = rho d``.

    In the Bayes-optimal state evolution it coincides with :class:`Gaussian`
    (the Gaussian measure concentrates on the sphere); it differs for the
    Gardner volume, where the norm is a hard constraint.
    """


@register_model("replica.Rademacher")
@dataclass(frozen=True)
class Rademacher(_priors.Rademacher, Prior):
    """Binary prior ``(delta_{+1} + delta_{-1}) / 2`` (``rho = 1``).

    ``mmse(r) = exp(-r/2) E sech(sqrt(r) z)`` and ``psi_minus`` by the
    layer's panel rule (:data:`replica._kernels.LIM`, panels at the scale
    ``1/sqrt r`` of the integrand), accurate to a few ulp relative for every
    ``r >= 0`` at the default ``n``.
    """

    n_min = N_PANEL_MIN

    def psi_minus(self, r, n=N_QUAD):
        return K.rademacher_psi_minus(float(r), *_panel_rule(n))

    def mmse(self, r, n=N_QUAD):
        return K.rademacher_mmse(float(r), *_panel_rule(n))


@register_model("replica.GaussBernoulli")
@dataclass(frozen=True)
class GaussBernoulli(_priors.GaussBernoulli, Prior):
    """Sparse prior ``(1 - rho) delta_0 + rho N(0, 1)`` (second moment ``rho``).

    ``psi_minus`` and ``mmse`` by the layer's panel rule in ``B``: panels no
    wider than the standard deviation of ``B``, graded geometrically around
    the nearest complex singularity of ``log Z0`` (the switch of the
    posterior, width ``~ (1 + r) / B*``), ``n // 4`` nodes per panel
    (``n >= N_PANEL_MIN``).  ``psi_minus`` integrates the quadratic part of
    ``log Z0`` in closed form, free of the cancellation against ``r rho / 2``.
    At the default ``n``, for ``log r`` in ``[-6, 8]`` and ``rho`` in
    ``[0.01, 0.99]``, both are at their rounding floor (checked against
    mpmath: ``mmse`` within 1e-15 relative, ``psi_minus`` within a few ulp
    of ``min(r rho / 2, |log rho| + log(1 + r) / 2)``, the scale of the
    terms it adds).
    """

    n_min = N_PANEL_MIN

    def psi_minus(self, r, n=N_QUAD):
        if math.isinf(r):
            return -math.inf
        return K.gauss_bernoulli_psi_mmse(float(r), self.rho, *_legendre(_panel_n(n, 4)))[0]

    def mmse(self, r, n=N_QUAD):
        if math.isinf(r):
            return 0.0
        return K.gauss_bernoulli_psi_mmse(float(r), self.rho, *_legendre(_panel_n(n, 4)))[1]


def _extend(registry, block):
    """The replica block extending the base-layer ``block`` (same parameters)."""
    cls = registry.get(block.name)
    if cls is None or type(block) not in cls.__mro__:
        raise ValueError(f"{block!r} has no replica free-entropy terms")
    return cls(**{f.name: getattr(block, f.name) for f in fields(block) if f.init})


PRIORS = {"gaussian": Gaussian, "rademacher": Rademacher, "binary": Rademacher,
          "gauss-bernoulli": GaussBernoulli, "sparse": GaussBernoulli,
          "spherical": Spherical}


def get_prior(name, **params) -> Prior:
    """A prior by name: ``gaussian(rho)``, ``rademacher``, ``gauss-bernoulli(rho)``, ``spherical(rho)``.

    A replica prior is returned as is; a base-layer prior
    (:mod:`lmech.blocks.priors`) becomes the replica prior extending it, with
    the same parameters; a mapping ``{"kind": name, **params}`` is accepted.
    """
    if isinstance(name, Prior):
        return name
    if isinstance(name, _priors.Prior):
        return _extend(PRIORS, name)
    return _lookup(PRIORS, "prior", name, params)


# ---------------------------------------------------------------------------
# channels
# ---------------------------------------------------------------------------
class Channel(_channels.Channel):
    """Base class of replica channels: a :class:`lmech.blocks.channels.Channel` with the free-entropy terms.

    Subclasses derive from the base layer's channel first (parameters,
    ``sample``, ``gout``, the teacher map) and from this class.
    """

    #: smallest accuracy knob ``n`` the block accepts (:data:`N_PANEL_MIN` for panel rules)
    n_min = 2
    sharp = False

    def psi_out(self, q, rho, V=None, n=N_QUAD):
        raise NotImplementedError

    def qhat_unit(self, q, rho, V=None, n=N_QUAD):
        raise NotImplementedError


@register_model("replica.Linear")
@dataclass(frozen=True)
class Linear(_channels.Linear, Channel):
    """``y = z + sqrt(Delta) nu``: ``Psi_out = -log(2 pi e (Delta + V)) / 2``, ``qhat = alpha/(Delta + V)``."""

    def psi_out(self, q, rho, V=None, n=N_QUAD):
        V = rho - q if V is None else V
        return -0.5 * math.log(2.0 * math.pi * math.e * (self.delta + V))

    def qhat_unit(self, q, rho, V=None, n=N_QUAD):
        V = rho - q if V is None else V
        return 1.0 / (self.delta + V)

    @property
    def sharp(self):
        """True without noise: ``qhat = alpha / V`` diverges as ``V -> 0``."""
        return self.delta == 0.0

    def mean_loglik(self, rho, n=N_QUAD):
        if self.delta == 0.0:
            return math.inf  # noiseless: infinite information per sample
        return -0.5 * math.log(2.0 * math.pi * math.e * self.delta)


class SignFamily(_channels.SignFamily, Channel):
    """``P(y|z) = eps + (1 - 2 eps) Phi(y z / sqrt(Delta))``, ``y = +-1``."""

    n_min = N_PANEL_MIN

    def _de(self):
        return float(self.probit_delta), float(self.flip_eps)

    @property
    def sharp(self):
        """True without probit noise: ``qhat -> inf`` as ``V -> 0`` (a step in ``z``)."""
        return self.probit_delta == 0.0

    def psi_out(self, q, rho, V=None, n=N_QUAD):
        V = rho - q if V is None else V
        d, e = self._de()
        return K.sign_psi_out(float(q), float(V), float(rho), d, e, *_panel_rule(n))

    def qhat_unit(self, q, rho, V=None, n=N_QUAD):
        V = rho - q if V is None else V
        d, e = self._de()
        return K.sign_qhat_unit(float(q), float(V), float(rho), d, e, *_panel_rule(n))

    def mean_loglik(self, rho, n=N_QUAD):
        """``Psi_out`` at ``q = rho`` (``V = 0``), i.e. ``E_z sum_y P log P``."""
        return self.psi_out(rho, rho, 0.0, n)


@register_model("replica.Sign")
@dataclass(frozen=True)
class Sign(_channels.Sign, SignFamily):
    """Noiseless perceptron teacher ``y = sign(z)``."""


@register_model("replica.LabelFlip")
@dataclass(frozen=True)
class LabelFlip(_channels.LabelFlip, SignFamily):
    """``y = sign(z)`` flipped with probability ``eps`` in ``[0, 1/2)``."""


@register_model("replica.Probit")
@dataclass(frozen=True)
class Probit(_channels.Probit, SignFamily):
    """``y = sign(z + sqrt(Delta) nu)``, i.e. ``P(y|z) = Phi(y z / sqrt(Delta))``."""


@register_model("replica.ReLU")
@dataclass(frozen=True)
class ReLU(_channels.ReLU, Channel):
    """``y = max(0, z) + sqrt(Delta) nu``.

    Inner ``y`` integrals by Gauss–Hermite (``n`` nodes, ``y ~ N(0, Delta)``)
    and by the layer's panel rule (``n // 8`` nodes per panel, graded at the
    step of ``Phi(mu/s)``, of width ``sqrt(Delta/V)``), outer ``xi``
    integral by Gauss–Legendre panels (``n // 6`` nodes each) refined around
    the step of ``H(omega/sqrt V)`` at ``omega = 0``.
    """

    n_min = N_PANEL_MIN

    def _both(self, q, rho, V, n):
        V = rho - q if V is None else V
        z, w = _rule(n)
        return K.relu_integrals(float(q), float(V), float(self.delta), z, w, *_legendre(_panel_n(n, 6)),
                                *_legendre(_panel_n(n, 8)))

    def psi_out(self, q, rho, V=None, n=N_QUAD):
        return self._both(q, rho, V, n)[0]

    def qhat_unit(self, q, rho, V=None, n=N_QUAD):
        return self._both(q, rho, V, n)[1]

    def mean_loglik(self, rho, n=N_QUAD):
        return -0.5 * math.log(2.0 * math.pi * math.e * self.delta)


CHANNELS = {"linear": Linear, "gaussian": Linear, "sign": Sign, "label-flip": LabelFlip,
            "probit": Probit, "relu": ReLU}


def get_channel(name, **params) -> Channel:
    """A channel by name: ``linear(delta)``, ``sign``, ``label-flip(eps)``, ``probit(delta)``, ``relu(delta)``.

    A replica channel is returned as is; a base-layer channel
    (:mod:`lmech.blocks.channels`) becomes the replica channel extending it,
    with the same parameters; a mapping ``{"kind": name, **params}`` is accepted.
    """
    if isinstance(name, Channel):
        return name
    if isinstance(name, _channels.Channel):
        return _extend(CHANNELS, name)
    return _lookup(CHANNELS, "channel", name, params)


def resolve_block(field: str, value, getter, default: str):
    """Resolve a model field given as ``None`` (the default), a name or a block.

    ``None`` gives ``getter(default)``; a name goes through ``getter`` (one of
    :func:`get_prior`, :func:`get_channel`, :func:`lmech.blocks.losses.get_loss`).
    An empty name or one the registry does not know raises :class:`ValueError`
    whose message starts with ``field``.
    """
    if value is None:
        return getter(default)
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{field} must be a non-empty name (default {default!r}), got {value!r}")
    try:
        return getter(value)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{field}: {exc}") from None
