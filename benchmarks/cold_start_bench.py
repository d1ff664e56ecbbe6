"""Cold start: the first call of each solver from an empty Numba cache.

Each case runs in a fresh Python process whose ``NUMBA_CACHE_DIR`` is a new
empty directory (Numba then reads and writes its cache there only, so
nothing compiled earlier -- the checkout's ``__pycache__`` included -- is
reused).  The child reports, for the import and for the first and second
call, the wall time and the CPU time (user + sys of the process, the fair
figure on a shared machine); the case is then run once more in a new process
on the now-filled cache ("cached": a later session, loading from disk).

Usage: ``python benchmarks/cold_start_bench.py [CASE ...]`` from the
repository root (``PYTHONPATH=.`` if the package is not installed); no
argument runs every case; ``--json`` prints
one JSON line per case as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

CASES = {
    "odes.integrate": (
        "import numpy as np, odes\n"
        "m = odes.CommitteeMachine(K=2, M=2, activation='erf', lr=0.5)\n"
        "kw = dict(Q0=np.diag([0.5, 0.5]), R0=1e-3 * np.array([[1, .5], [.2, .8]]))\n",
        "odes.integrate(m, 1000.0, **kw)"),
    "replica.solve BayesOptimalGLM": (
        "import replica\nm = replica.BayesOptimalGLM('rademacher', 'sign')\n",
        "replica.solve(m, 1.3)"),
    "replica.solve ERM logistic": (
        "import replica\nm = replica.ERM('logistic', 1e-4, 'gaussian', 'sign')\n",
        "replica.solve(m, 2.0)"),
    "dmft.solve SphericalPSpin uniform": (
        "import dmft\nm = dmft.SphericalPSpin(p=3, T=0.8)\n",
        "dmft.solve(m, 10.0, dt=0.05, rtol=1e-3)"),
    "dmft.solve SphericalPSpin doubling": (
        "import dmft\nm = dmft.SphericalPSpin(p=3, T=0.5)\n",
        "dmft.solve(m, 100.0, method='doubling', n_window=128)"),
    "dmft.solve GLMDynamics": (
        "import dmft\nm = dmft.GLMDynamics(alpha=2.0, teacher='sign')\n",
        "dmft.solve(m, 10.0, dt=0.1)"),
    "validation.simulate_committee": (
        "import numpy as np, odes, validation\n"
        "m = odes.CommitteeMachine(K=2, M=2, activation='erf', lr=0.5)\n"
        "kw = dict(Q0=np.diag([0.5, 0.5]), R0=0.05 * np.array([[1.0, 0.2], [0.2, 0.9]]))\n",
        "validation.simulate_committee(m, 200, [0.0, 1.0, 2.0], **kw)"),
}

_CHILD = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
def clock():
    t = os.times()
    return time.perf_counter(), t.user + t.system
w0, c0 = clock()
exec(compile(sys.argv[1], "<setup>", "exec"))
w1, c1 = clock()
eval(compile(sys.argv[2], "<call>", "eval"))
w2, c2 = clock()
eval(compile(sys.argv[2], "<call>", "eval"))
w3, c3 = clock()
print(json.dumps({"import": [w1 - w0, c1 - c0], "first": [w2 - w1, c2 - c1], "second": [w3 - w2, c3 - c2]}))
"""


def run_case(setup: str, call: str, cache_dir: str) -> dict:
    """Run one case in a fresh process with ``NUMBA_CACHE_DIR=cache_dir``; timings in seconds."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, setup, call], env=env, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"case failed ({proc.returncode}):\n{err}")
    res = json.loads(out.strip().splitlines()[-1])
    res["process"] = [time.perf_counter() - t0, usage.ru_utime + usage.ru_stime]
    res["stderr"] = [line for line in err.splitlines() if line.strip()]
    return res


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    names = [a for a in argv if not a.startswith("--")] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; choose from {list(CASES)}", file=sys.stderr)
        return 2
    print(f"{'case':38s} {'empty cache: first call':>26s} {'whole process':>16s} "
          f"{'cached: first call':>20s} {'warm call':>10s}   (wall / CPU seconds)")
    for name in names:
        setup, call = CASES[name]
        with tempfile.TemporaryDirectory(prefix="lmech-cold-") as cache:
            cold = run_case(setup, call, cache)
            hot = run_case(setup, call, cache)
        f, p, h, s = cold["first"], cold["process"], hot["first"], hot["second"]
        print(f"{name:38s} {f[0]:12.1f} / {f[1]:5.1f} {p[0]:9.1f} / {p[1]:5.1f} {h[0]:13.2f} / {h[1]:5.2f} "
              f"{s[0]:10.3f}", flush=True)
        for line in cold["stderr"]:
            print(f"{'':38s} stderr: {line}")
        if as_json:
            print(json.dumps({"case": name, "cold": cold, "cached": hot}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
