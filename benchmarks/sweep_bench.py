"""Overhead of lmech.sweep: seconds per point beyond the point function itself.

Runs a sweep of a trivial point function (serial and on a 2-process pool),
streaming into an archive, and prints the wall time per point and the share
spent writing checkpoints.  Usage: ``python benchmarks/sweep_bench.py``.
"""

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import lmech


def trivial(x, y):
    return {"s": x + y}


def run(n_side, executor=None, archive=None, checkpoint_seconds=2.0):
    grid = {"x": np.arange(float(n_side)), "y": np.arange(float(n_side))}
    t0 = time.perf_counter()
    res = lmech.sweep(trivial, grid, archive=archive, executor=executor,
                      checkpoint_seconds=checkpoint_seconds)
    dt = time.perf_counter() - t0
    assert res.success
    return dt / n_side**2


def main():
    lmech.warmup()
    with tempfile.TemporaryDirectory() as d:
        n = 40
        print(f"sweep of {n * n} trivial points")
        print(f"  serial, no archive:                 {1e6 * run(n):8.1f} us/point")
        print(f"  serial, archive (2 s checkpoints):  {1e6 * run(n, archive=os.path.join(d, 'a.h5')):8.1f} us/point")
        print(f"  serial, archive, checkpoint_seconds=0 (as often as the 10% write budget allows): "
              f"{1e6 * run(n, archive=os.path.join(d, 'b.h5'), checkpoint_seconds=0.0):8.1f} us/point")
        with ProcessPoolExecutor(2) as ex:
            run(4, executor=ex)  # start the workers
            print(f"  2 processes, archive:               "
                  f"{1e6 * run(n, executor=ex, archive=os.path.join(d, 'c.h5')):8.1f} us/point")


if __name__ == "__main__":
    main()
