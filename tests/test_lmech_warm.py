"""lmech.warmup's first-run notice and the `lmech warmup` command."""

import os
import subprocess
import sys
from pathlib import Path

from lmech.warm import cold_layers

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "from numba import njit\n\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n"


def test_a_layer_without_cached_kernels_is_cold_until_numba_writes_its_index(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    pkg = tmp_path / "fakelayer"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kern.py").write_text(KERNEL)
    (pkg / "plain.py").write_text("x = 1\n")
    assert cold_layers(["fakelayer"], root=str(tmp_path)) == ["fakelayer"]
    # compile it for real: Numba writes kern.f-<line>.pyXY.nbi next to the source
    subprocess.run([sys.executable, "-c", "import fakelayer.kern as k; k.f(1)"], cwd=tmp_path, check=True,
                   env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert cold_layers(["fakelayer"], root=str(tmp_path)) == []


def test_lmech_warmup_command_compiles_or_loads_and_says_which(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "lmech", "warmup", "odes"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("lmech warmup: kernels of lmech, odes ")
    bad = subprocess.run([sys.executable, "-m", "lmech", "warmup", "nolayer"], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "LAYER: unknown layer 'nolayer'" in bad.stderr
