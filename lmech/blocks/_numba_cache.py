"""Keep Numba's on-disk caches of the layers consistent with the base layer's kernels.

Numba (``cache=True``) compiles a kernel together with the njit functions it
calls and keys the cached machine code on the source of the kernel's *own*
file only (Numba >= 0.59 hashes its contents).  A layer kernel that calls a
base kernel (``replica._kernels.erm_sign_hats`` calls
:func:`lmech.blocks.losses.prox_margin`) therefore keeps running the old
base code from its cache after the base file changes: a loss added to the
table returns NaN there, a changed formula silently gives the old numbers.

:func:`purge_if_changed` fixes this by a fingerprint of the base kernel
sources: when it differs from the one recorded at the last import, every
Numba cache file of the packages is removed (they recompile once, as in a
fresh checkout) and the new fingerprint is recorded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["fingerprint", "purge_if_changed", "purge_package_caches"]


def fingerprint(sources) -> str:
    """SHA-256 of the contents of ``sources`` (in the given order, names included)."""
    h = hashlib.sha256()
    for p in sources:
        p = Path(p)
        h.update(p.name.encode())
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()


def purge_if_changed(sources, cache_dirs, stamp_path) -> bool:
    """Remove the Numba cache files (``*.nbi``, ``*.nbc``) in ``cache_dirs`` if ``sources`` changed.

    ``stamp_path`` holds the fingerprint of ``sources`` at the last purge (no
    file: purge).  Returns True if caches were purged.  Never raises on I/O
    errors (a read-only install keeps its caches, as Numba itself would).
    """
    new = fingerprint(sources)
    stamp_path = Path(stamp_path)
    try:
        old = stamp_path.read_text().strip()
    except OSError:
        old = None
    if old == new:
        return False
    for d in cache_dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for f in d.iterdir():
            if f.suffix in (".nbi", ".nbc"):
                try:
                    f.unlink()
                except OSError:
                    pass
    try:
        stamp_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp_path.with_name(f"{stamp_path.name}.{os.getpid()}")
        tmp.write_text(new)
        os.replace(tmp, stamp_path)
    except OSError:
        pass
    return True


def _cache_dirs(pkg_dirs):
    from numba.core import config

    out = []
    for p in pkg_dirs:
        out.append(p / "__pycache__")
        if config.CACHE_DIR:
            out.append(Path(config.CACHE_DIR) / str(p.resolve()).lstrip(os.sep))
    return out


def purge_package_caches() -> bool:
    """:func:`purge_if_changed` for this checkout: the njit sources of :mod:`lmech` and
    :mod:`lmech.blocks` against the caches of every package of :data:`lmech.spec.PACKAGES`
    found next to :mod:`lmech` (and their subpackages)."""
    from lmech.spec import PACKAGES

    base = Path(__file__).resolve().parent.parent          # lmech/
    root = base.parent
    sources = sorted(p for p in list(base.glob("*.py")) + list(base.glob("blocks/*.py"))
                     if "@njit" in _text(p))
    pkgs = []
    for name in PACKAGES:
        top = root / name
        if top.is_dir():
            pkgs.extend(d for d in [top, *top.rglob("*")] if d.is_dir() and (d / "__init__.py").exists())
    return purge_if_changed(sources, _cache_dirs(pkgs), base / "blocks" / "__pycache__" / "kernel-sources.sha256")


def _text(p):
    try:
        return p.read_text()
    except OSError:
        return ""
