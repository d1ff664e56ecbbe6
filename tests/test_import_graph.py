"""The import graph of the package: no cycles between modules, no upward imports between layers.

The graph is read from the source with :mod:`ast` (nothing is imported or
run): every ``import`` and ``from ... import`` statement anywhere in a module,
inside functions too, with relative imports resolved.  ``from pkg import name``
points at ``pkg.name`` when that is a module of the package, else at ``pkg``.

Layers (DESIGN.md, "Layout"): ``lmech`` (base) <- ``odes``, ``dmft``,
``replica`` <- ``validation``.  The three theory layers never import each
other, and ``lmech`` imports no layer (its command line reaches them by
import strings).

To see the graph yourself::

    PYTHONPATH=$PWD python tests/test_import_graph.py          # edges, cycles, layer violations
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lmech", "odes", "dmft", "replica", "validation")

#: which packages each layer may import (itself included)
ALLOWED = {
    "lmech": {"lmech"},
    "odes": {"lmech", "odes"},
    "dmft": {"lmech", "dmft"},
    "replica": {"lmech", "replica"},
    "validation": {"lmech", "odes", "dmft", "replica", "validation"},
}

def modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _is_package(name: str, mods: dict[str, Path]) -> bool:
    return mods[name].name == "__init__.py"


def imports_of(name: str, mods: dict[str, Path]) -> set[str]:
    """Modules of the package that module ``name`` imports, anywhere in its source."""
    tree = ast.parse(mods[name].read_text(), filename=str(mods[name]))
    here = name if _is_package(name, mods) else name.rpartition(".")[0]
    out = set()

    def add(target: str):
        # the longest prefix of target that is a module of ours
        parts = target.split(".")
        for k in range(len(parts), 0, -1):
            cand = ".".join(parts[:k])
            if cand in mods:
                out.add(cand)
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                if sub in mods:
                    out.add(sub)
                else:
                    add(mod)
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports_of(m, mods) for m in mods}


def cycles(g: dict[str, set[str]], ignore=frozenset()) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if (v, w) in ignore:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(max(1000, 10 * len(g)))
    for v in sorted(g):
        if v not in index:
            strong(v)
    return sorted(comps)


def upward(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Edges from a layer to a package it may not import."""
    return sorted((a, b) for a, bs in g.items() for b in bs
                  if b.split(".")[0] not in ALLOWED[a.split(".")[0]])


# -- the tests -----------------------------------------------------------------
def test_graph_reader_sees_relative_and_function_level_imports(tmp_path, monkeypatch):
    # a throwaway package laid out like ours: a relative import at top level, one
    # inside a function, a from-package import of a submodule, and a two-module cycle
    pkg = tmp_path / "odes"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("def f():\n    from .b import g\n    return g\n")
    (pkg / "b.py").write_text("from . import a\nimport lmech.result\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from ..a import f\nfrom .. import b\nimport numpy\n")
    for other in ("lmech", "dmft", "replica", "validation"):
        (tmp_path / other).mkdir()
        (tmp_path / other / "__init__.py").write_text("")
    (tmp_path / "lmech" / "result.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    g = graph()
    assert g["odes"] == {"odes.a"}
    assert g["odes.a"] == {"odes.b"}
    assert g["odes.b"] == {"odes.a", "lmech.result"}
    assert g["odes.sub.c"] == {"odes.a", "odes.b"}
    assert cycles(g) == [["odes.a", "odes.b"]]
    assert cycles(g, ignore={("odes.b", "odes.a")}) == []
    assert upward(g) == []
    (tmp_path / "lmech" / "result.py").write_text("def f():\n    import odes.a\n")
    (pkg / "a.py").write_text("from dmft import x\n")
    g = graph()
    assert upward(g) == [("lmech.result", "odes.a"), ("odes.a", "dmft")]


def test_no_import_cycles():
    g = graph()
    found = cycles(g)
    assert not found, "import cycles between modules:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_upward_imports_between_layers():
    bad = upward(graph())
    assert not bad, "imports against the layering lmech <- odes|dmft|replica <- validation:\n" + \
        "\n".join(f"{a} imports {b}" for a, b in bad)


if __name__ == "__main__":
    g = graph()
    for m in sorted(g):
        print(f"{m} -> {', '.join(sorted(g[m])) or '-'}")
    print("\ncycles:", cycles(g) or "none")
    print("upward imports:", upward(g) or "none")


def test_dispatchers_sit_on_top_of_their_methods():
    # dmft.solve is a METHODS table over the method modules: no module imports it but the
    # package itself and the sweep kinds, and the methods take DMFTResult from dmft.result
    g = graph()
    assert {m for m, deps in g.items() if "dmft.solve" in deps} == {"dmft", "dmft.kinds"}
    for m in ("dmft.uniform", "dmft.stationary", "dmft.sampled", "dmft.doubling"):
        assert "dmft.result" in g[m] and "dmft" not in g[m], m
