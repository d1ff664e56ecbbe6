"""Pointwise physics shared by every layer: losses, activations, priors, channels (teachers), schedules.

The one home of the building blocks that :mod:`replica`, :mod:`dmft` and
:mod:`validation` share.  Each block is a small frozen dataclass declared with
:func:`lmech.spec.param` fields (validated on construction), registered for
specs (``"lmech.priors.Gaussian"``) and by name in a registry
(:func:`get_prior`, :func:`get_channel`).

Contract for a new block (one file, plus its test):

* a **prior** subclasses :class:`Prior` and provides ``rho`` (second moment),
  ``sample(d, rng)`` and ``denoise(r, s2) -> (mean, var)``, the posterior of
  ``w`` given ``r = w + sqrt(s2) xi``; it is added to :data:`PRIORS`;
* a **channel** subclasses :class:`Channel` and provides ``sample(z, rng)``,
  ``pdf(y, z)``, the clean ``teacher_map(z)``, ``teacher_moments(rho)`` and
  ``gout(y, omega, V) -> (g, dg)``; it is added to :data:`CHANNELS`;
* a **schedule** subclasses :class:`Schedule` (a learning rate ``eta(t)``
  evaluated by the one Numba function :func:`lmech.blocks.schedules.lr_at`).

* a **loss** subclasses :class:`Loss`: ``value``, ``d1``, ``d2`` in ``h``, the
  proximal operator ``prox(y, v, c)``, the margin prox, its ``kinks``; an
  **activation** subclasses :class:`Activation`: ``g``, ``g'`` and the
  Gaussian-equivalence coefficients ``(mu0, mu1, mu_star)``.  Each has an integer
  ``code`` (``-1``: no compiled kernel), its row in the kind's Numba dispatch
  table kept in the same file as the dataclasses, so that a new loss or
  activation touches one file (plus its test); layers whose kernels need a code
  refuse a block without one (``kernel_code()``).

Numba caches a layer's kernel together with the base kernels it calls, keyed on
the layer's own file only; ``import lmech`` therefore first drops the cached
kernels of every layer whose kernel sources or those below it changed
(:mod:`lmech.numba_cache`).

Theory layers extend the blocks with their own terms (:mod:`replica.blocks`
attaches the free entropies) rather than redefining them.
"""

from . import activations, channels, losses, priors, schedules
from .activations import ACTIVATIONS, Activation, get_activation
from .losses import LOSSES, Loss, get_loss
from .channels import CHANNELS, Channel, get_channel
from .priors import PRIORS, Prior, get_prior
from .schedules import Constant, PowerLaw, Schedule, get_schedule

__all__ = ["losses", "activations", "priors", "channels", "schedules", "Loss", "Activation", "Prior",
           "Channel", "Schedule", "Constant", "PowerLaw", "LOSSES", "ACTIVATIONS", "PRIORS", "CHANNELS",
           "get_loss", "get_activation", "get_prior", "get_channel", "get_schedule"]
