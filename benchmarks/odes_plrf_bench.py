"""Benchmark of power-law random features (odes.plrf; issue 13, part 2).

Prints, after Numba warm-up:

* the deterministic equivalent of the spectrum and forcing measure of
  ``K = W^T D W`` at d = 10^4, v = 4 d, alpha = 1, beta = 0.7 (default
  ``rtol = 1e-8``): wall time (best of 3), bands, nodes and the error checks
  (band counts, trace, forcing total against their exact values);
* the exact risk curve at 200 log-spaced steps up to 10^8 on it;
* one compute-optimal frontier (sizes 64..4096, two per octave);
* the (alpha, beta) phase diagram of examples/odes_plrf_phase_diagram.toml
  (50 x 50 points, sizes 32..512) by ``lmech run --workers 2``: wall time.

Targets: spectrum at d = 10^4 in seconds; the 50 x 50 phase diagram <= 5 min
on 2 cores.

Run: ``python benchmarks/odes_plrf_bench.py [--skip-diagram]``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from odes.plrf import PLRF, frontier, risk_curve, spectrum

ROOT = Path(__file__).resolve().parents[1]


def main():
    m = PLRF(alpha=1.0, beta=0.7, d=200, v=800)
    spectrum(m)                                             # warm-up (compiles or loads the kernels)
    m = PLRF(alpha=1.0, beta=0.7, d=10_000, v=40_000)
    best, spec = np.inf, None
    for _ in range(3):
        t0 = time.perf_counter()
        spec = spectrum(m)
        best = min(best, time.perf_counter() - t0)
    print(f"spectrum d=1e4 v=4e4: {best:.2f} s; {spec.message}; success={spec.success}; "
          f"errors {spec.error_estimate}; Newton solves {spec.n_eval}")
    t = np.unique(np.round(np.geomspace(1, 1e8, 200)))
    t0 = time.perf_counter()
    r = risk_curve(m, t, spec=spec)
    print(f"risk curve, {t.size} steps to 1e8 on {spec.x.size} nodes: {time.perf_counter() - t0:.3f} s; "
          f"error estimate {r.error_estimate['risk']:.2e}; P(1e8) = {r.risk[-1]:.6e}")
    t0 = time.perf_counter()
    fr = frontier(1.0, 0.7, d_min=64, d_max=4096)
    print(f"frontier alpha=1 beta=0.7, 13 sizes 64..4096: {time.perf_counter() - t0:.1f} s; "
          f"eta = {fr.eta:.4f} +- {fr.eta_err:.4f} (phase {fr.phase}: {fr.eta_theory:.4f}), "
          f"xi = {fr.xi:.4f} +- {fr.xi_err:.4f} ({fr.xi_theory:.4f})")
    if "--skip-diagram" in sys.argv:
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "diagram.h5"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([sys.executable, "-m", "lmech", "run", str(ROOT / "examples/odes_plrf_phase_diagram.toml"),
                               "-o", str(out), "--workers", "2", "--quiet"], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:])
        print(f"phase diagram 50 x 50 (lmech run --workers 2): {wall:.0f} s wall, {cpu:.0f} CPU s in all "
              f"processes (= {cpu / 2:.0f} s on 2 free cores; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
