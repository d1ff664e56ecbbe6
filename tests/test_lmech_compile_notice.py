"""The one-line stderr notice when a layer's Numba kernels first compile (lmech.warm).

Each test runs Python in a subprocess with an empty NUMBA_CACHE_DIR of its own, so
Numba really compiles there (and nowhere else: the checkout's __pycache__ is not read).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTICE = "compiling the Numba kernels of"


def _run(code: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    return proc


def _notices(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if NOTICE in line]


# the smallest compiled kernel of the package: the activation table behind Activation.g
SMALL = ("from lmech.blocks.activations import get_activation\n"
         "print(get_activation('relu').g(0.3), get_activation('relu').dg(-1.0), get_activation('erf').g(0.0))\n")


def test_first_compile_says_so_once_and_a_cached_run_is_silent(tmp_path):
    cache = tmp_path / "numba-cache"
    first = _run(SMALL, cache, tmp_path)
    assert first.stdout.split() == ["0.3", "0.0", "0.0"]
    # one line for three calls (one compile): the layer, and that it happens once
    assert _notices(first) == ["lmech: compiling the Numba kernels of lmech (first run only, cached afterwards; "
                               "`lmech warmup` does it ahead of time)..."]
    second = _run(SMALL, cache, tmp_path)  # a new process loading the kernel from the disk cache
    assert second.stdout == first.stdout
    assert _notices(second) == []


def test_compile_notice_can_be_switched_off(tmp_path):
    proc = _run("import lmech.warm\nassert lmech.warm.compile_notice(False) is True\n" + SMALL,
                tmp_path / "numba-cache", tmp_path)
    assert _notices(proc) == []


@pytest.mark.slow
def test_first_odes_integrate_names_its_layer_once(tmp_path):
    code = ("import numpy as np, odes\n"
            "m = odes.CommitteeMachine(K=2, M=2, activation='erf', lr=0.5)\n"
            "kw = dict(Q0=np.diag([0.5, 0.5]), R0=1e-3 * np.array([[1, .5], [.2, .8]]))\n"
            "print(odes.integrate(m, 1000.0, **kw).t_escape)\n"
            "print(odes.integrate(m, 1000.0, **kw).t_escape)\n")
    proc = _run(code, tmp_path / "numba-cache", tmp_path)
    notices = _notices(proc)
    assert len(notices) == 1 and "kernels of odes " in notices[0]


def test_cold_layers_looks_where_numba_caches_only(tmp_path, monkeypatch):
    """A kernel cached in its __pycache__ is cold for a process whose NUMBA_CACHE_DIR is elsewhere:
    Numba then reads and writes that directory only."""
    from numba.core import config

    from lmech.warm import cold_layers

    pkg = tmp_path / "fakelayer"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kern.py").write_text("from numba import njit\n\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    subprocess.run([sys.executable, "-c", "import fakelayer.kern as k; k.f(1)"], cwd=tmp_path, check=True,
                   env={**env, "PYTHONPATH": str(tmp_path)})
    assert list((pkg / "__pycache__").glob("kern.f-*.nbi"))
    monkeypatch.setattr(config, "CACHE_DIR", "")
    assert cold_layers(["fakelayer"], root=str(tmp_path)) == []
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cold_layers(["fakelayer"], root=str(tmp_path)) == ["fakelayer"]
