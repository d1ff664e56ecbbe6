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
           "check_options", "check_psd", "check_shape", "check_array", "available_memory",
           "check_memory", "memory_budget", "MEMORY_FRACTION", "MEMORY_CAP_BYTES"]


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
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range (10**400)
        raise ValueError(f"{name} must be finite (a float), got an integer of "
                         f"about {int(int(value).bit_length() * 0.30103)} digits") from None
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


#: the range of the integers every check accepts: NumPy's and Numba's int64, what archives store
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if not INT64_MIN <= v <= INT64_MAX:  # what NumPy, Numba and archives hold
        rng = f"[{'-2**63' if low is None else low}, {'2**63 - 1' if high is None else high}]"
        raise ValueError(f"{name} must be an integer in {rng} (64 bits), got one of about "
                         f"{int(abs(v).bit_length() * 0.30103)} digits")
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
    try:
        known = value in choices
    except (TypeError, ValueError):  # an array (no truth value of ==) or the like
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_options(given: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise :class:`TypeError` for options not in ``allowed``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"{where}: unknown option(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(allowed))}")


def _short(value: Any, n: int = 60) -> str:
    """``repr(value)`` cut to ``n`` characters, for messages about bad input or damaged data."""
    r = repr(value.item() if isinstance(value, np.generic) else value)
    return r if len(r) <= n else r[: n - 3] + "..."


def check_array(name: str, value: Any, *, shape: tuple | None = None, ndim: int | None = None,
                finite: bool = True, min_size: int = 0) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array after checking what it holds.

    Rejects, with a :class:`ValueError` naming ``name``, what NumPy would
    fail on or silently mangle: strings, ``None``, ragged nested lists,
    complex numbers (NumPy would drop the imaginary part), booleans and
    other non-numeric entries; then the number of dimensions ``ndim``, the
    ``shape`` (an entry ``None`` matches any length), at least ``min_size``
    entries and, with ``finite``, NaN and infinite entries.
    """
    if value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be an array of real numbers, got {_short(value)}")
    try:
        raw = np.asarray(value)
    except (ValueError, TypeError):  # ragged nesting, objects NumPy cannot hold
        raise ValueError(f"{name} must be an array of real numbers of a regular shape, "
                         f"got {_short(value)}") from None
    if raw.dtype.kind == "c":
        raise ValueError(f"{name} must be real, got complex entries: {_short(value)}")
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be an array of real numbers, got {_short(value)} "
                         f"(dtype {raw.dtype})")
    arr = np.ascontiguousarray(raw, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None and (arr.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(arr.shape, shape))):
        want = "(" + ", ".join("any" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must hold at least {min_size} value(s), got {arr.size}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def check_shape(name: str, value: Any, shape: tuple) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array of the given shape, all finite
    (:func:`check_array`)."""
    return check_array(name, value, shape=tuple(shape))


def check_psd(name: str, value: Any, *, tol: float = 1e-12) -> np.ndarray:
    """Return ``value`` as a symmetric positive-semidefinite float64 matrix
    (entries checked by :func:`check_array`)."""
    arr = check_array(name, value, finite=False)
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


#: used when the available memory cannot be read from the system
MEMORY_CAP_BYTES = 8 * 2 ** 30


def available_memory() -> int:
    """Bytes of memory available now: ``MemAvailable`` (else free pages, else
    :data:`MEMORY_CAP_BYTES`), capped by a cgroup v2 limit (``memory.max -
    memory.current``) where there is one."""
    import os

    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            avail = MEMORY_CAP_BYTES
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                used = int(f.read().strip())
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


#: The one memory rule of the package: a computation may plan to use at most this fraction of the
#: memory available when it starts (:func:`available_memory`); every layer's up-front estimate is
#: checked with :func:`check_memory`.
MEMORY_FRACTION = 0.5


def memory_budget() -> float:
    """Bytes a computation may plan to use now: :data:`MEMORY_FRACTION` of :func:`available_memory`."""
    return MEMORY_FRACTION * available_memory()


def check_memory(name: str, nbytes: float, what: str, *, hint: str = "") -> None:
    """Raise :class:`ValueError` naming ``name`` before any work if ``what`` needs more than
    :data:`MEMORY_FRACTION` of the memory available now (``nbytes``, an up-front estimate;
    ``inf`` and ``nan`` are refused too).  ``hint`` says what to change (default: reduce ``name``)."""
    avail = available_memory()
    if not nbytes <= MEMORY_FRACTION * avail:
        raise ValueError(f"{name}: {what} needs about {nbytes / 2**30:.3g} GiB, more than "
                         f"{MEMORY_FRACTION:g} of the {avail / 2**30:.3g} GiB available; "
                         f"{hint or 'reduce ' + name}")
