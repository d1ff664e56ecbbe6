"""Numba helpers shared by the :mod:`validation` kernels."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def dot(a, b):
    """``sum_i a[i] b[i]`` of two contiguous 1-D arrays with four interleaved partial sums.

    The summation order is fixed (deterministic, no ``fastmath``); the four
    independent chains hide the latency of the additions.
    """
    n = a.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = n - n % 4
    for i in range(0, n4, 4):
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
    for i in range(n4, n):
        s0 += a[i] * b[i]
    return (s0 + s1) + (s2 + s3)
