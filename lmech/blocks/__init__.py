"""Pointwise physics shared by every layer: the one home of the building blocks.

:mod:`replica`, :mod:`dmft`, :mod:`odes` and :mod:`validation` use the same
objects.  Contract for a block (one file, plus its test):

* it is a small frozen dataclass subclassing its kind's base (which mixes in
  :class:`lmech.spec.Model`), with its parameters declared once as
  :func:`lmech.spec.param` fields (validated on construction), registered with
  :func:`lmech.spec.register_model` under ``"lmech.<kind>.<Class>"`` so that a
  model holding it serialises, and by name in its kind's registry
  (``get_<kind>(name, **params)``);
* it has an integer ``code`` (``-1``: no compiled kernel), its row in the
  kind's Numba dispatch table, which is kept in the same file as the
  dataclasses so that a new block touches one file; layers whose kernels need
  a code refuse a block without one with a ValueError (``kernel_code()``);
* its Python methods are vectorised and, for blocks with a code, evaluate the
  same compiled table the layers' kernels call.

Theory layers extend the blocks with their own terms (free entropies)
rather than redefining them.
"""

# ---- losses and activations (blocks-loss) -------------------------------------------
# losses: value, d1, d2 in h, prox in h, margin prox, kinks; table loss_value/loss_d1/
# loss_d2/loss_prox/prox_margin(code, par, ...).  activations: g, g', (mu0, mu1, mu_star);
# table act_g/act_dg(code, u).
from ._numba_cache import purge_package_caches as _purge  # noqa: E402

_purge()  # a layer's cached kernel holds the base kernels it calls: drop them when those change
from . import activations, losses  # noqa: E402
from .activations import ACTIVATIONS, Activation, get_activation  # noqa: E402
from .losses import LOSSES, Loss, get_loss  # noqa: E402

__all__ = ["losses", "activations", "Loss", "LOSSES", "get_loss", "Activation", "ACTIVATIONS",
           "get_activation"]
# ---- end losses and activations -------------------------------------------------------
