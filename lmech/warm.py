"""Registry of Numba warm-up functions and :func:`warmup`."""

from __future__ import annotations

import importlib
import time
from typing import Callable

__all__ = ["register_warmup", "warmup"]

_WARMUPS: dict[str, Callable[[], None]] = {}


def register_warmup(name: str):
    """Decorator registering a no-argument function that compiles kernels.

    Each ``_kernels.py`` module registers one, under its module name, which
    calls every kernel once on tiny inputs so that Numba compiles (or loads
    from its on-disk cache) all signatures the package uses.
    """

    def deco(fn):
        _WARMUPS[name] = fn
        return fn

    return deco


def warmup(layers=("lmech", "odes", "dmft", "replica", "validation"), *, verbose: bool = False) -> dict:
    """Compile every registered Numba kernel once, serially.

    Imports each package in ``layers`` (so that their kernels register), then
    runs every registered warm-up function in turn.  Call it before fanning
    work out to processes, so that workers load compiled kernels from the
    on-disk cache instead of compiling concurrently.

    Returns
    -------
    dict
        Seconds spent per registered warm-up function.
    """
    for layer in layers:
        importlib.import_module(layer)
    seconds = {}
    for name, fn in list(_WARMUPS.items()):
        t0 = time.perf_counter()
        fn()
        seconds[name] = time.perf_counter() - t0
        if verbose:
            print(f"warmed up {name} in {seconds[name]:.2f} s")
    return seconds
