"""Registry of Numba warm-up functions, :func:`warmup`, and the first-compile notice.

Compiling the kernels of a layer from an empty Numba cache takes seconds to
tens of seconds on a small machine; it happens once, the kernels are cached on
disk afterwards.  So that this wait is never silent, the first time in a
process that Numba starts compiling (not loading from its cache) a kernel of
one of the package's layers, one line on stderr says so
(:func:`compile_notice` switches it off; :func:`warmup` prints its own).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Callable

__all__ = ["register_warmup", "warmup", "cold_layers", "compile_notice", "LAYER_NAMES"]

_WARMUPS: dict[str, Callable[[], None]] = {}

#: The packages whose kernels the first-compile notice watches.
LAYER_NAMES = ("lmech", "odes", "dmft", "replica", "validation")

_notice = {"enabled": True, "depth": 0, "said": set(), "installed": False, "quiet": 0}


def _notice_line(layer: str) -> str:
    return (f"lmech: compiling the Numba kernels of {layer} (first run only, cached afterwards; "
            "`lmech warmup` does it ahead of time)...")


def compile_notice(enabled: bool = True) -> bool:
    """Switch the one-line stderr notice printed when a layer's kernels first compile; returns
    the previous setting.

    The notice is printed at most once per layer and process, when Numba starts compiling (not
    loading from its disk cache) a kernel defined in that layer (:data:`LAYER_NAMES`) called
    from Python; the kernels it calls in turn, and later compiles of the layers it builds on
    (:data:`lmech.numba_cache.LAYERS`: ``validation`` on ``odes``, every layer on ``lmech``),
    are covered by the same line.
    """
    old = _notice["enabled"]
    _notice["enabled"] = bool(enabled)
    _install_listener()
    return old


def _install_listener() -> None:
    """Register (once) the Numba compile-event listener behind the first-compile notice."""
    if _notice["installed"]:
        return
    try:
        from numba.core import event
    except ImportError:  # pragma: no cover - numba is a dependency
        return

    class _FirstCompile(event.Listener):
        def on_start(self, ev):
            depth = _notice["depth"]
            _notice["depth"] = depth + 1
            if depth or not _notice["enabled"] or _notice["quiet"]:
                return
            disp = (ev.data or {}).get("dispatcher")
            module = getattr(getattr(disp, "py_func", None), "__module__", None) or ""
            layer = module.split(".", 1)[0]
            if layer not in LAYER_NAMES or layer in _notice["said"]:
                return
            from .numba_cache import LAYERS
            if any(layer in LAYERS.get(said, ()) for said in _notice["said"]):
                return  # kernels of a layer below one announced (validation -> odes): same line
            _notice["said"].add(layer)
            try:
                print(_notice_line(layer), file=sys.stderr, flush=True)
            except (OSError, ValueError):  # no usable stderr: the notice is not worth a failed compile
                pass

        def on_end(self, ev):
            _notice["depth"] = max(0, _notice["depth"] - 1)

    event.register("numba:compile", _FirstCompile())
    _notice["installed"] = True


def register_warmup(name: str):
    """Decorator registering a no-argument function that compiles kernels.

    Each ``_kernels.py`` module registers one, under its module name, which
    calls every kernel once on tiny inputs so that Numba compiles (or loads
    from its on-disk cache) all signatures the package uses.
    """

    _install_listener()  # a module registering a warm-up has kernels: watch their compiles

    def deco(fn):
        _WARMUPS[name] = fn
        return fn

    return deco


def _writable(d: str) -> bool:
    """Whether Numba could use the cache directory ``d`` (it exists and is writable, or its
    nearest existing parent is)."""
    while not os.path.isdir(d):
        parent = os.path.dirname(d)
        if parent == d:
            return False
        d = parent
    return os.access(d, os.W_OK)


def cold_layers(layers=("lmech", "odes", "dmft", "replica", "validation"), *, root: str | None = None) -> list[str]:
    """The layers among ``layers`` with a kernel module that has no Numba cache yet.

    A kernel module counts as cached when the directory Numba caches it in
    (the first writable one of :func:`lmech.numba_cache.cache_dirs`) holds an
    index file (``*.nbi``) of that module.  Those layers will compile on first use
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
                # Numba reads and writes the first of these directories it can write (or create)
                # only: caches elsewhere (a checkout's __pycache__ under NUMBA_CACHE_DIR) do not count
                if not _writable(d):
                    continue
                try:
                    found = any(n.startswith(stem) and n.endswith(".nbi") for n in os.listdir(d))
                except OSError:
                    found = False
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
            print(_notice_line(", ".join(cold)), file=sys.stderr, flush=True)
    for layer in layers:
        importlib.import_module(layer)
    seconds = {}
    _notice["quiet"] += 1  # the line above replaces the per-layer notice of the compile listener
    try:
        for name, fn in list(_WARMUPS.items()):
            t0 = time.perf_counter()
            fn()
            seconds[name] = time.perf_counter() - t0
            if verbose:
                print(f"warmed up {name} in {seconds[name]:.2f} s")
    finally:
        _notice["quiet"] -= 1
    return seconds
