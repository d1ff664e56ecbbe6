"""Priors of teacher (or signal) weights: sampling and the input-side denoiser, with a registry.

A prior ``P0`` is a distribution of one weight ``w``; vectors are drawn
i.i.d. (except :class:`Spherical`, uniform on a sphere).  Every prior is a
frozen dataclass whose parameters are :func:`lmech.spec.param` fields,
validated on construction (:class:`lmech.spec.Model`), and provides

``rho``
    the second moment ``E w**2``;
``sample(d, rng)``
    a vector of ``d`` weights drawn with a :class:`numpy.random.Generator`;
``denoise(r, s2)``
    the mean and variance of the scalar posterior of ``w`` given the
    observation ``r = w + sqrt(s2) xi``, ``xi ~ N(0, 1)``: the input function
    ``f_in`` of GAMP (Rangan, "Generalized approximate message passing for
    estimation with random linear mixing", ISIT 2011, Algorithm 1; the
    ``f_a``, ``f_v`` of Krzakala et al., J. Stat. Mech. P08009 (2012)).

Parametrisations: the replica layer writes the scalar channel as ``B = r w +
sqrt(r) xi`` (Barbier, Krzakala, Macris, Miolane & Zdeborová, PNAS 116, 5451
(2019), "BKMMZ", eq. 14, ``r`` the signal-to-noise ratio).  Dividing by ``r``,
``B / r = w + xi / sqrt(r)``: that is ``denoise(B / r, 1 / r)``.  The free
entropy ``Psi_P0(r)`` and ``mmse(r) = E[denoise(...)[1]]`` of the replica
layer are attached by :mod:`replica.blocks`, whose priors extend these.

Registry: :data:`PRIORS` and :func:`get_prior` (``get_prior("rademacher")``,
``get_prior("gauss-bernoulli", rho=0.1)``).  Specs: ``"lmech.priors.<Class>"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.special import expit

from lmech.checks import check_int
from lmech.spec import Model, param, register_model

__all__ = ["Prior", "Gaussian", "Spherical", "Rademacher", "GaussBernoulli", "PRIORS", "get_prior"]


def _generator(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _observation(r, s2):
    """``r`` and ``s2`` as float arrays (broadcast), ``s2 > 0`` checked."""
    r = np.asarray(r, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    if np.any(s2 <= 0.0):   # NaN passes through (a diverging iteration reports it)
        raise ValueError("s2 (the noise variance of r = w + sqrt(s2) xi) must be > 0 everywhere")
    return r, s2


class Prior(Model):
    """Base class of priors; concrete priors are frozen registered dataclasses.

    Subclasses provide :attr:`rho`, :meth:`sample` and :meth:`denoise`;
    ``name`` is the registry key, ``discrete`` marks priors with atoms only.
    """

    name = "prior"
    discrete = False

    @property
    def rho(self) -> float:  # pragma: no cover - every prior overrides it
        raise NotImplementedError

    def sample(self, d: int, rng: np.random.Generator) -> np.ndarray:
        """``d`` weights drawn from the prior with ``rng`` (a :class:`numpy.random.Generator`)."""
        raise NotImplementedError

    def denoise(self, r, s2):
        """Posterior mean and variance of ``w`` given ``r = w + sqrt(s2) xi``.

        The BKMMZ channel ``B = r w + sqrt(r) xi`` (signal-to-noise ``r``) is
        ``denoise(B / r, 1 / r)``; its ``E Var[w | B]`` is the replica
        layer's ``mmse(r)``.

        Parameters
        ----------
        r : array_like
            Observations.
        s2 : float or array_like
            Noise variances, ``> 0`` (broadcast against ``r``).

        Returns
        -------
        mean, var : ndarray
            ``E[w | r]`` and ``Var[w | r]`` under the prior (arrays of the
            broadcast shape of ``r`` and ``s2``).
        """
        raise NotImplementedError


@register_model("lmech.priors.Gaussian")
@dataclass(frozen=True)
class Gaussian(Prior):
    """Gaussian prior ``N(0, rho)``.

    Denoiser (closed form): ``E[w|r] = rho r / (rho + s2)``,
    ``Var[w|r] = rho s2 / (rho + s2)``.
    """

    rho: float = param(1.0, low=0.0, low_open=True,
                       help="second moment E w^2 (the variance; |w|^2 / d for the spherical prior)")
    name = "gaussian"

    def sample(self, d, rng):
        d = check_int("d", d, low=1)
        return math.sqrt(self.rho) * _generator(rng).standard_normal(d)

    def denoise(self, r, s2):
        r, s2 = _observation(r, s2)
        v = self.rho * s2 / (self.rho + s2)
        return r * self.rho / (self.rho + s2), np.broadcast_to(v, np.broadcast(r, s2).shape).copy()


@register_model("lmech.priors.Spherical")
@dataclass(frozen=True)
class Spherical(Gaussian):
    """Uniform prior on the sphere ``|w|**2 = rho d``.

    :meth:`sample` draws a Gaussian vector and rescales it to the sphere
    exactly.  Its scalar denoiser is the Gaussian one: in high dimension the
    Gaussian measure concentrates on the sphere, and the spherical
    constraint enters only through the norm (as in GAMP with a spherical
    prior at large ``d``).
    """

    name = "spherical"

    def sample(self, d, rng):
        d = check_int("d", d, low=1)
        w = _generator(rng).standard_normal(d)
        return w * math.sqrt(self.rho * d) / np.linalg.norm(w)


@register_model("lmech.priors.Rademacher")
@dataclass(frozen=True)
class Rademacher(Prior):
    """Binary prior ``(delta_{+1} + delta_{-1}) / 2`` (``rho = 1``).

    Denoiser: ``E[w|r] = tanh(r / s2)``, ``Var[w|r] = 1 - tanh(r / s2)**2``.
    """

    name = "rademacher"
    discrete = True

    @property
    def rho(self) -> float:
        return 1.0

    def sample(self, d, rng):
        d = check_int("d", d, low=1)
        return _generator(rng).choice(np.array([-1.0, 1.0]), size=d)

    def denoise(self, r, s2):
        r, s2 = _observation(r, s2)
        a = np.tanh(r / s2)
        return a, 1.0 - a * a


@register_model("lmech.priors.GaussBernoulli")
@dataclass(frozen=True)
class GaussBernoulli(Prior):
    """Sparse prior ``(1 - rho) delta_0 + rho N(0, 1)`` (second moment ``rho``).

    Denoiser: with probability ``p(r)`` the weight is non-zero, and then
    ``w | r ~ N(r / (1 + s2), s2 / (1 + s2))``; ``p = expit(L)`` with the
    log-odds ``L = log(rho / (1 - rho)) + log N(r; 0, 1 + s2) - log N(r; 0, s2)``,
    so ``E[w|r] = p r / (1 + s2)`` and ``Var[w|r] = p (v1 + m1**2) - E[w|r]**2``.
    """

    rho: float = param(0.5, low=0.0, high=1.0, low_open=True,
                       help="fraction of non-zero weights (= second moment)")
    name = "gauss-bernoulli"

    def sample(self, d, rng):
        d = check_int("d", d, low=1)
        rng = _generator(rng)
        return (rng.random(d) < self.rho) * rng.standard_normal(d)

    def denoise(self, r, s2):
        r, s2 = _observation(r, s2)
        rho = self.rho
        v1 = 1.0 / (1.0 + 1.0 / s2)                 # posterior variance given w != 0
        m1 = r / (1.0 + s2)
        # log-odds of w != 0: N(r; 0, 1 + s2) vs N(r; 0, s2)
        lo = (math.log(rho / (1.0 - rho)) if rho < 1.0 else math.inf) \
            - 0.5 * np.log((1.0 + s2) / s2) + 0.5 * r * r * (1.0 / s2 - 1.0 / (1.0 + s2))
        p = expit(lo)
        mean = p * m1
        return mean, p * (v1 + m1 * m1) - mean * mean


#: registry: name -> prior class (aliases included)
PRIORS = {"gaussian": Gaussian, "rademacher": Rademacher, "binary": Rademacher,
          "gauss-bernoulli": GaussBernoulli, "sparse": GaussBernoulli, "spherical": Spherical}


def lookup(registry: Mapping[str, type], kind: str, name, params: dict):
    """``registry[name](**params)``; ``name`` may be a ``{"kind": name, **params}`` mapping.

    Shared by :func:`get_prior` and :func:`lmech.blocks.channels.get_channel`
    (and the replica registries): keys are case-blind, ``_`` reads as ``-``.
    """
    if isinstance(name, Mapping):
        spec = dict(name)
        if "kind" not in spec:
            raise ValueError(f"{kind}: a mapping must name its kind, got {name!r}")
        name = spec.pop("kind")
        params = {**spec, **params}
    key = str(name).lower().replace("_", "-")
    if key not in registry:
        raise ValueError(f"{kind} must be one of {', '.join(sorted(registry))}; got {name!r}")
    return registry[key](**params)


def get_prior(name, **params) -> Prior:
    """A prior by name: ``gaussian(rho)``, ``rademacher``, ``gauss-bernoulli(rho)``, ``spherical(rho)``.

    A :class:`Prior` instance is returned as is; a mapping ``{"kind": name,
    **params}`` (a config table) is accepted.
    """
    if isinstance(name, Prior):
        return name
    return lookup(PRIORS, "prior", name, params)
