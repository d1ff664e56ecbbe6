"""learning-mechanics base package: results, archives, sweeps, Gaussian rules, CLI.

The theory layers (:mod:`odes`, :mod:`dmft`, :mod:`replica`) and
:mod:`validation` build on what is here; this package imports none of them
except by name, on demand (:func:`warmup`, :func:`lmech.archive.load`, the
command line).
"""

from ._version import __version__
from .checks import check_choice, check_int, check_options, check_real
from .result import Result, register_result
from .spec import Model, param, register_model
from .status import Status
from .warm import register_warmup, warmup
from . import archive
from .sweep import SweepResult, sweep
from . import testing as _testing  # registers the base package's sweep kind
from . import blocks  # noqa: E402  (priors, channels: registers their specs)

__all__ = ["__version__", "Model", "param", "Status", "Result", "SweepResult", "sweep", "archive", "blocks", "register_result", "register_model", "register_warmup",
           "warmup", "check_real", "check_int", "check_choice", "check_options"]
