"""Optional dependencies: one way to ask for them, one message when one is missing.

The extras are declared in ``setup.cfg`` (``plot``: matplotlib; ``dask``:
dask and distributed; ``test``: pytest, hypothesis, xarray, h5netcdf).  The
message names the README's install spelling (``pip install ".[plot]"`` in a
clone) and the PyPI one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependency", "require", "EXTRAS"]

#: module -> extra of ``setup.cfg`` that installs it
EXTRAS = {"matplotlib": "plot", "distributed": "dask", "dask": "dask", "xarray": "test",
          "h5netcdf": "test"}


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message says how to install it."""

    def __init__(self, module: str, what: str):
        extra = EXTRAS.get(module, "all")
        self.module, self.extra = module, extra
        super().__init__(f"{what} needs {module}, an optional dependency: pip install \".[{extra}]\" in a "
                         f"clone of the repository, or pip install \"learning-mechanics[{extra}]\"")


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` saying that ``what`` needs it.

    Examples
    --------
    >>> np = require("numpy", "this example")
    """
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise MissingDependency(module, what) from None
    return mod
