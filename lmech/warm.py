"""Registry of Numba warm-up functions and :func:`warmup`."""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Callable

__all__ = ["register_warmup", "warmup", "cold_layers"]

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


def cold_layers(layers=("lmech", "odes", "dmft", "replica", "validation"), *, root: str | None = None) -> list[str]:
    """The layers among ``layers`` with a kernel module that has no Numba cache yet.

    A kernel module counts as cached when one of the directories Numba may
    cache it in (:func:`lmech.numba_cache.cache_dirs`) holds an index file
    (``*.nbi``) of that module.  Those layers will compile on first use
    (tens of seconds on a small machine).  ``root``: the directory holding the
    layers (default: this installation's).
    """
    from .numba_cache import _default_root, cache_dirs, kernel_modules

    root = _default_root() if root is None else root
    cold = []
    for layer in layers:
        for rel in kernel_modules(layer, root=root):
            src = os.path.join(root, rel)
            stem = os.path.splitext(os.path.basename(src))[0] + "."
            found = False
            for d, _ in cache_dirs(os.path.dirname(src)):
                try:
                    found = any(n.startswith(stem) and n.endswith(".nbi") for n in os.listdir(d))
                except OSError:
                    continue
                if found:
                    break
            # a module whose kernels are all compiled at call time only (custom user code) has
            # no index after warm-up either: count a module cold only if its source names cache=True
            if not found and b"cache=True" in open(src, "rb").read():
                cold.append(layer)
                break
    return cold


def warmup(layers=("lmech", "odes", "dmft", "replica", "validation"), *, verbose: bool = False,
           notice: bool = True) -> dict:
    """Compile every registered Numba kernel once, serially.

    Imports each package in ``layers`` (so that their kernels register), then
    runs every registered warm-up function in turn.  Call it before fanning
    work out to processes, so that workers load compiled kernels from the
    on-disk cache instead of compiling concurrently.  When some layer has not
    been compiled on this machine yet (:func:`cold_layers`), one line on
    stderr says so first (``notice=False`` silences it).

    Returns
    -------
    dict
        Seconds spent per registered warm-up function.
    """
    if notice:
        cold = cold_layers(layers)
        if cold:
            print(f"lmech: compiling the Numba kernels of {', '.join(cold)} (first run only, cached "
                  "afterwards; `lmech warmup` does it ahead of time)...", file=sys.stderr, flush=True)
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
