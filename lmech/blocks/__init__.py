"""Pointwise physics shared by every layer: priors, channels (teachers), schedules.

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

Theory layers extend the blocks with their own terms (:mod:`replica.blocks`
attaches the free entropies) rather than redefining them.
"""

from . import channels, priors, schedules
from .channels import CHANNELS, Channel, get_channel
from .priors import PRIORS, Prior, get_prior
from .schedules import Constant, PowerLaw, Schedule, get_schedule

__all__ = ["priors", "channels", "schedules", "Prior", "Channel", "Schedule", "Constant", "PowerLaw",
           "PRIORS", "CHANNELS", "get_prior", "get_channel", "get_schedule"]
