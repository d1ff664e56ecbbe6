"""lmech.numba_cache: a kernel's Numba cache is dropped when a kernel it calls changes.

Numba decides that an ``@njit(cache=True)`` kernel is stale from its own
source file only, so a caller whose callee (in another module) was edited
would load its old machine code, with the old callee compiled in.  These
tests build a throw-away two-layer package (``base`` holds the callee,
``top`` the caller that may import ``base``), run it in fresh interpreters,
edit the callee and run again: with :func:`lmech.numba_cache.refresh` the
new callee runs; without it the stale one does (which shows the first test
can fail, and would tell us if Numba ever tracks such dependencies itself).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lmech import numba_cache
from lmech.spec import PACKAGES

REPO = Path(__file__).resolve().parent.parent

CALLEE = '''from numba import njit


@njit(cache=True)
def f(x):
    return x + {c}
'''

CALLER = '''from numba import njit

from base.callee import f


@njit(cache=True)
def g(x):
    return 2.0 * f(x)
'''

OTHER = '''from numba import njit


@njit(cache=True)
def h(x):
    return 3.0 * x
'''

RUN = '''
import json, os, sys
root, use = sys.argv[1], sys.argv[2] == "1"
removed = []
if use:
    from lmech.numba_cache import refresh
    removed = refresh({"base": ("base",), "top": ("base", "top")}, root=root, always=())
from base.other import h
from top.caller import g
print(json.dumps({"g": g(1.0), "h": h(1.0), "removed": sorted(os.path.basename(p) for p in removed)}))
'''


def make_package(root: Path, c: str = "1.0") -> None:
    for pkg in ("base", "top"):
        (root / pkg).mkdir(exist_ok=True)
        (root / pkg / "__init__.py").write_text("")
    (root / "base" / "callee.py").write_text(CALLEE.format(c=c))
    (root / "base" / "other.py").write_text(OTHER)
    (root / "top" / "caller.py").write_text(CALLER)


def run(root: Path, use: bool, cache_dir: Path | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(REPO)])
    env.pop("NUMBA_CACHE_DIR", None)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    out = subprocess.run([sys.executable, "-c", RUN, str(root), "1" if use else "0"], env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def caller_indexes(root: Path, cache_dir: Path | None) -> list[Path]:
    where = root / "top" / "__pycache__" if cache_dir is None else cache_dir
    return sorted(where.rglob("caller.g-*.nbi"))


@pytest.mark.parametrize("numba_cache_dir", [False, True], ids=["in-tree", "NUMBA_CACHE_DIR"])
def test_editing_a_callee_recompiles_its_caller(tmp_path, numba_cache_dir):
    root = tmp_path / "src"
    root.mkdir()
    cache_dir = tmp_path / "numba-cache" if numba_cache_dir else None
    make_package(root, "1.0")
    first = run(root, True, cache_dir)
    assert first["g"] == 2.0 * (1.0 + 1.0) and first["h"] == 3.0
    assert caller_indexes(root, cache_dir), "the caller was not cached: the test would prove nothing"
    # unchanged sources: every stamp matches, nothing is deleted
    assert run(root, True, cache_dir)["removed"] == []

    make_package(root, "2.0")          # edit the callee only
    second = run(root, True, cache_dir)
    assert second["g"] == 2.0 * (1.0 + 2.0)
    # the layer of the edit and the layer above it lost their caches (caller, callee, other) ...
    assert any(name.startswith("caller.g-") for name in second["removed"])
    assert any(name.startswith("other.h-") for name in second["removed"])

    # ... while an edit of the top layer leaves the base layer's caches alone
    (root / "top" / "caller.py").write_text(CALLER.replace("2.0 * f(x)", "4.0 * f(x)"))
    third = run(root, True, cache_dir)
    assert third["g"] == 4.0 * (1.0 + 2.0)
    assert third["removed"] and all(name.startswith("caller.") for name in third["removed"])


def test_without_refresh_the_caller_runs_the_old_callee(tmp_path):
    """Numba's own staleness check misses the edit: the defect :func:`refresh` repairs."""
    root = tmp_path / "src"
    root.mkdir()
    make_package(root, "1.0")
    assert run(root, False, None)["g"] == 2.0 * (1.0 + 1.0)
    assert caller_indexes(root, None)
    make_package(root, "2.0")
    assert run(root, False, None)["g"] == 2.0 * (1.0 + 1.0)    # stale: the new callee would give 6


def test_an_unwritable_cache_directory_is_left_alone(tmp_path):
    make_package(tmp_path, "1.0")
    (tmp_path / "base" / "__pycache__").write_text("not a directory")   # cannot hold caches or a stamp
    layers = {"base": ("base",), "top": ("base", "top")}
    assert numba_cache.refresh(layers, root=str(tmp_path), always=()) == []
    assert (tmp_path / "base" / "__pycache__").read_text() == "not a directory"
    assert (tmp_path / "top" / "__pycache__" / numba_cache.STAMP).exists()


def test_every_module_with_a_numba_kernel_is_covered():
    """Each source file of the project with an ``@njit`` line (found by a plain text scan here)
    is a kernel module of its layer, and so is every module of lmech/blocks."""
    scanned = {str(p.relative_to(REPO)) for pkg in numba_cache.LAYERS for p in (REPO / pkg).rglob("*.py")
               if re.search(r"^\s*@(numba\.)?njit\b", p.read_text(), re.MULTILINE)}
    blocks = {str(p.relative_to(REPO)) for p in (REPO / "lmech" / "blocks").glob("*.py")}
    found = {m for layer, (_, mods) in numba_cache.digests().items() for m in mods}
    assert scanned and scanned | blocks <= found
    assert "odes/_kernels.py" in found and "lmech/blocks/schedules.py" in found


def test_layers_follow_the_import_rule():
    """A layer's digest must cover every package it may import: the same table the import-graph
    test enforces (tests/test_import_graph.py, DESIGN.md "Layout")."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from test_import_graph import ALLOWED
    finally:
        sys.path.pop(0)
    assert {k: set(v) for k, v in numba_cache.LAYERS.items()} == ALLOWED
    assert set(numba_cache.LAYERS) == set(PACKAGES)


# -- installed beside other distributions: only the packages of our own RECORD are ours --------
def _site(tmp_path, with_ours=True):
    """A site-packages-like directory: our packages base/top, another project's 'other'
    (a Numba kernel module with a cache file), each with its .dist-info."""
    root = tmp_path / "site-packages"
    for pkg, src in (("base", CALLEE.format(c=1.0)), ("top", CALLER), ("other", OTHER)):
        (root / pkg / "__pycache__").mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
        (root / pkg / "mod.py").write_text(src)
        (root / pkg / "__pycache__" / "mod.h-1.py311.nbi").write_bytes(b"cache")
    dists = [("other_project-2.0", "other-project", ["other"])]
    if with_ours:
        dists.append(("learning_mechanics-1.0", "learning-mechanics", ["base", "top"]))
    for info, name, pkgs in dists:
        d = root / f"{info}.dist-info"
        d.mkdir()
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (d / "RECORD").write_text("".join(f"{p}/__init__.py,sha256=x,0\n{p}/mod.py,sha256=x,1\n"
                                          for p in pkgs) + f"{info}.dist-info/RECORD,,\n")
    return root


LAYERS3 = {"base": ("base",), "top": ("base", "top"), "other": ("other",)}


@pytest.mark.parametrize("with_ours,touched", [(True, {"base", "top"}), (False, set())])
def test_installed_refresh_touches_only_the_packages_of_our_record(tmp_path, with_ours, touched):
    root = _site(tmp_path, with_ours)
    assert numba_cache.owned_packages(str(root), ["base", "top", "other"]) == touched
    removed = numba_cache.refresh(LAYERS3, root=str(root))
    for pkg in ("base", "top", "other"):
        cache = root / pkg / "__pycache__"
        ours = pkg in touched
        assert (cache / numba_cache.STAMP).exists() is ours, pkg
        assert (cache / "mod.h-1.py311.nbi").exists() is not ours, pkg
        assert any(str(cache) in r for r in removed) is ours, pkg


def test_a_source_tree_is_all_ours(tmp_path):
    # no .dist-info beside the packages (a checkout, an editable install's source tree)
    root = _site(tmp_path)
    for d in root.glob("*.dist-info"):
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
    assert numba_cache.owned_packages(str(root), ["base", "top", "other"]) == {"base", "top", "other"}
