"""Invalidate Numba's on-disk caches when a kernel's *dependencies* change.

Numba (``@njit(cache=True)``) decides that a cached kernel is stale from the
source of the kernel's own file only.  A kernel that calls an ``njit``
function of another module (``odes._kernels`` calls
:func:`lmech.blocks.schedules.lr_at`) has the callee compiled into its cached
machine code, so editing the callee alone would leave the caller's cache
"fresh" and the old code would run, silently.

:func:`refresh`, called once by ``import lmech`` (before any kernel module
is imported, hence before anything compiles), closes that hole per layer:

1. The *kernel modules* of each layer are found by scanning its sources:
   every module with a Numba decorator, plus every module of :data:`ALWAYS`
   (the blocks, whose code tables kernels freeze in as constants).
2. A layer's digest (SHA-256) covers the kernel modules of the layer and of
   every layer it may import (:data:`LAYERS`, the same table as the import
   rule of DESIGN.md that ``tests/test_import_graph.py`` enforces), so no
   cross-module call can escape it.
3. Each cache directory of the layer's kernel modules (``__pycache__`` next to
   the source, the ``NUMBA_CACHE_DIR`` subdirectory when that is set, and
   Numba's user-wide fallback when it exists) holds a stamp file
   (:data:`STAMP`) with the digest its caches were compiled under.  When the
   stamp differs or is missing, the ``*.nbi``/``*.nbc`` files of that
   directory are deleted and the new stamp is written (atomically).

Numba then recompiles what was deleted, on first call or in
:func:`lmech.warmup`.  Editing a module of ``lmech`` recompiles every layer;
editing ``odes`` recompiles ``odes`` and ``validation`` only.  A directory
that cannot be written (a read-only install) is left alone: Numba itself
then caches in the user-wide directory, which is checked the same way.  The
check reads the kernel sources once (a few milliseconds).  Installed into a directory
shared with other distributions (site-packages), only the packages the project's own
install ``RECORD`` lists are scanned and stamped (:func:`owned_packages`): another
project's top-level ``replica`` or ``validation`` is never touched.

Limits: a process started before an edit that compiles after it may still
write caches built from the old sources (restart it); kernels compiled from
user code at run time (custom activations) are not cached by Numba.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from typing import Mapping, Sequence

__all__ = ["LAYERS", "ALWAYS", "STAMP", "DISTRIBUTION", "owned_packages", "kernel_modules", "digests",
           "cache_dirs", "refresh"]

#: Which packages each layer may import, itself included (DESIGN.md, "Layout").
LAYERS: dict[str, tuple[str, ...]] = {
    "lmech": ("lmech",),
    "odes": ("lmech", "odes"),
    "dmft": ("lmech", "dmft"),
    "replica": ("lmech", "replica"),
    "validation": ("lmech", "odes", "dmft", "replica", "validation"),
}

#: Directories (relative to the root) whose modules all count as kernel modules.
ALWAYS: tuple[str, ...] = ("lmech/blocks",)

#: The distribution (``setup.cfg`` ``name``) whose packages these are.
DISTRIBUTION = "learning-mechanics"

#: Name of the stamp file kept in each cache directory.
STAMP = "lmech-kernels.sha256"

#: A line that compiles with Numba: a decorator ``@njit``/``@numba.njit(...)``
#: (or jit, vectorize, guvectorize, cfunc, stencil, overload*, intrinsic), or
#: an assignment ``f = njit(...)(g)``.
_COMPILES = re.compile(
    rb"^[ \t]*(?:@[ \t]*|[\w.]+[ \t]*=[ \t]*)(?:numba\.)?"
    rb"(?:njit|jit|vectorize|guvectorize|cfunc|stencil|overload\w*|intrinsic)\b", re.MULTILINE)
_CACHE_SUFFIXES = (".nbi", ".nbc")


def _default_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _normalized(name: str) -> str:
    """A distribution name in its PEP 503 normal form."""
    return re.sub(r"[-_.]+", "-", name).lower()


def owned_packages(root: str, packages, *, distribution: str = DISTRIBUTION) -> set[str]:
    """Which of ``packages`` (top-level names) under ``root`` belong to this project.

    A directory holding installed distributions (any ``*.dist-info``: site-packages)
    is shared with other projects, whose top-level ``replica`` or ``validation``
    are not ours: there a package is ours only when the ``RECORD`` of the
    ``distribution``'s own ``.dist-info`` (its ``METADATA`` ``Name``) lists a file
    of it.  Any other directory (a source checkout, an editable install's source
    tree, a test's throw-away tree) holds only this project: every package is ours.
    """
    try:
        infos = sorted(n for n in os.listdir(root) if n.endswith(".dist-info"))
    except OSError:
        return set()
    if not infos:
        return set(packages)
    want = _normalized(distribution)
    listed: set[str] = set()
    for info in infos:
        try:
            with open(os.path.join(root, info, "METADATA"), encoding="utf-8", errors="replace") as f:
                name = next((line.split(":", 1)[1].strip() for line in f
                             if line.lower().startswith("name:")), "")
            if _normalized(name) != want:
                continue
            with open(os.path.join(root, info, "RECORD"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    path = line.split(",", 1)[0].strip().replace("\\", "/")
                    if "/" in path and not path.startswith(("..", "/")):
                        listed.add(path.split("/", 1)[0])
        except OSError:
            continue
    return {p for p in packages if p in listed}


def kernel_modules(package: str, *, root: str | None = None,
                   always: Sequence[str] = ALWAYS) -> dict[str, bytes]:
    """Kernel modules of one package: relative path -> source bytes.

    A module counts when a line compiles with Numba (a decorator such as
    ``@njit(cache=True)`` or ``@numba.vectorize``, at any indentation, or an
    assignment ``f = njit(...)(g)``) or it lies under one of the ``always``
    directories.
    ``__pycache__`` and hidden directories are skipped.  A package missing
    under ``root`` has none.
    """
    root = _default_root() if root is None else root
    top = os.path.join(root, package)
    always_dirs = tuple(os.path.normpath(a) for a in always)
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        reldir = os.path.relpath(dirpath, root)
        forced = any(reldir == a or reldir.startswith(a + os.sep) for a in always_dirs)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if forced or (b"numba" in data and _COMPILES.search(data)):  # substring test first: fast
                out[os.path.join(reldir, name)] = data
    return out


def digests(layers: Mapping[str, Sequence[str]] = LAYERS, *, root: str | None = None,
            always: Sequence[str] = ALWAYS) -> dict[str, tuple[str, list[str]]]:
    """Per layer: (hex digest of its kernel closure, its kernel module paths).

    The digest is SHA-256 over the relative path, length and bytes of every
    kernel module of the layer and of the packages it may import.
    """
    root = _default_root() if root is None else root
    found = {}
    packages = sorted({p for deps in layers.values() for p in deps} | set(layers))
    ours = owned_packages(root, packages)
    for pkg in packages:  # a package of that name that is not ours has no kernels of ours
        found[pkg] = kernel_modules(pkg, root=root, always=always) if pkg in ours else {}
    out = {}
    for layer, deps in layers.items():
        h = hashlib.sha256()
        for pkg in sorted(set(deps) | {layer}):
            for rel, data in sorted(found[pkg].items()):
                h.update(f"{rel}\0{len(data)}\0".encode())
                h.update(data)
        out[layer] = (h.hexdigest(), sorted(found[layer]))
    return out


def _cache_subpath(source_dir: str) -> str:
    """The subdirectory Numba uses for ``source_dir`` under a cache root."""
    try:
        from numba.core.caching import _CacheLocator
        return _CacheLocator.get_suitable_cache_subpath(os.path.join(source_dir, "m.py"))
    except (ImportError, AttributeError):  # pragma: no cover - the same rule, for other Numba versions
        path = os.path.abspath(source_dir)
        return "_".join([os.path.split(path)[-1], hashlib.sha1(path.encode()).hexdigest()])


def cache_dirs(source_dir: str) -> list[tuple[str, bool]]:
    """Where Numba may cache kernels of the modules in ``source_dir``.

    Returns ``(directory, create)`` pairs in Numba's order of preference:
    ``$NUMBA_CACHE_DIR/<subpath>`` when set, ``source_dir/__pycache__``, and
    the user-wide fallback; ``create`` says whether the stamp may create the
    directory (not the user-wide one, which Numba uses only when the others
    cannot be written).
    """
    out = []
    try:
        from numba.core import config
        user_dir = config.CACHE_DIR
    except ImportError:  # pragma: no cover
        user_dir = os.environ.get("NUMBA_CACHE_DIR", "")
    if user_dir:
        out.append((os.path.join(user_dir, _cache_subpath(source_dir)), True))
    out.append((os.path.join(source_dir, "__pycache__"), True))
    try:
        from numba.misc.appdirs import AppDirs
        wide = AppDirs(appname="numba", appauthor=False).user_cache_dir
        out.append((os.path.join(wide, _cache_subpath(source_dir)), False))
    except ImportError:  # pragma: no cover
        pass
    return out


def _refresh_dir(cache_dir: str, digest: str, create: bool) -> list[str] | None:
    """Make ``cache_dir`` hold caches of ``digest`` only; None if it cannot be written."""
    stamp = os.path.join(cache_dir, STAMP)
    try:
        with open(stamp, encoding="ascii") as f:
            if f.read().strip() == digest:
                return []
    except (OSError, UnicodeDecodeError):
        pass
    if not os.path.isdir(cache_dir):
        if not create:
            return []
        try:
            os.makedirs(cache_dir, exist_ok=True)
        except OSError:
            return None
    if not os.access(cache_dir, os.W_OK):
        return None
    removed = []
    try:
        for name in sorted(os.listdir(cache_dir)):
            if name.endswith(_CACHE_SUFFIXES):
                path = os.path.join(cache_dir, name)
                try:
                    os.unlink(path)
                    removed.append(path)
                except FileNotFoundError:  # another process got there first
                    pass
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=STAMP, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(digest + "\n")
            os.replace(tmp, stamp)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return None
    return removed


def refresh(layers: Mapping[str, Sequence[str]] = LAYERS, *, root: str | None = None,
            always: Sequence[str] = ALWAYS) -> list[str]:
    """Delete the Numba caches of every layer whose kernel closure changed.

    Parameters
    ----------
    layers : mapping
        Package name -> the packages it may import (itself included).
        Default :data:`LAYERS`, the layers of this project.
    root : str, optional
        Directory holding the packages; default: the one holding ``lmech``.
    always : sequence of str
        Directories (relative to ``root``) whose modules all count as kernel
        modules, importing Numba or not.

    Returns
    -------
    list of str
        The cache files deleted (empty when every stamp matched).  Never
        raises on file-system errors: a directory that cannot be written is
        skipped.
    """
    root = _default_root() if root is None else root
    removed = []
    for layer, (digest, mods) in digests(layers, root=root, always=always).items():
        for source_dir in sorted({os.path.dirname(os.path.join(root, m)) for m in mods}):
            for cache_dir, create in cache_dirs(source_dir):
                got = _refresh_dir(cache_dir, digest, create)
                if got:
                    removed.extend(got)
    return removed
