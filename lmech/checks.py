"""Validation helpers shared by every layer.

Each raises :class:`ValueError` naming the parameter and the allowed range,
so that models can validate themselves in ``__post_init__`` before any work,
and solvers can reject unknown options with :class:`TypeError`.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["check_real", "check_int", "check_choice", "check_bool",
           "check_options", "check_psd", "check_shape"]


def check_real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float after checking it lies in the stated interval.

    Raises
    ------
    ValueError
        If ``value`` is not a real number, is NaN, is infinite (unless
        ``allow_inf``) or lies outside ``[low, high]`` (open ends as asked).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {x!r}")
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must lie in {rng}, got {x!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must lie in {rng}, got {x!r}")
    return x


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        rng = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must be an integer in {rng}, got {v!r}")
    return v


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_options(given: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise :class:`TypeError` for options not in ``allowed``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"{where}: unknown option(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(allowed))}")


def check_shape(name: str, value: Any, shape: tuple) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array of the given shape, all finite."""
    arr = np.ascontiguousarray(value, dtype=np.float64)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def check_psd(name: str, value: Any, *, tol: float = 1e-12) -> np.ndarray:
    """Return ``value`` as a symmetric positive-semidefinite float64 matrix."""
    arr = np.ascontiguousarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    scale = max(1.0, float(np.max(np.abs(arr)))) if arr.size else 1.0
    if not np.allclose(arr, arr.T, rtol=0.0, atol=tol * scale):
        raise ValueError(f"{name} must be symmetric")
    if arr.size and float(np.linalg.eigvalsh(arr).min()) < -tol * scale:
        raise ValueError(f"{name} must be positive semidefinite")
    return arr
