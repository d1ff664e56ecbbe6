"""Up-front cost of a dmft run: memory (refused when it would not fit) and time (a warning).

Every method of :func:`dmft.solve` estimates, from its arguments alone and
before allocating anything, the bytes its largest arrays need and the seconds
the run should take on the reference machine of ``benchmarks/README.md``
(one core; an order of magnitude, from the measured cost laws quoted at each
method).  :func:`check_cost` then raises :class:`ValueError` naming the
parameters that set the size when the memory would not fit in what is
available (:func:`lmech.checks.check_memory`, the package's one memory rule), and
warns with :class:`CostWarning` when the expected time exceeds :data:`SLOW_SECONDS`.
"""

from __future__ import annotations

import math
import os
import sys
import warnings

from lmech.checks import MEMORY_CAP_BYTES, MEMORY_FRACTION, available_memory, check_memory

__all__ = ["CostWarning", "SLOW_SECONDS", "MEMORY_CAP_BYTES", "MEMORY_FRACTION", "available_memory",
           "check_cost", "format_seconds"]

#: A run expected to take longer than this (seconds, reference machine) warns first.
SLOW_SECONDS = 60.0


class CostWarning(UserWarning):
    """A dmft run expected to take long (:data:`SLOW_SECONDS`); the message states the estimate."""


def format_seconds(s: float) -> str:
    """``s`` seconds in a readable unit."""
    if not math.isfinite(s):
        return "forever"
    for unit, size in (("years", 3.156e7), ("days", 86400.0), ("hours", 3600.0),
                       ("minutes", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def check_cost(method: str, names: str, need_bytes: float, seconds: float, detail: str = "",
               hint: str = "") -> None:
    """Refuse (ValueError naming ``names``) a run whose memory would not fit; warn
    (:class:`CostWarning`) when it is expected to take more than :data:`SLOW_SECONDS`.

    ``names`` are the parameters that set the size (e.g. ``"t_max/dt"``), ``detail`` what
    the memory is for, ``hint`` what to change.
    """
    # the package's one memory rule (lmech.checks.MEMORY_FRACTION of what is available)
    check_memory(names, need_bytes, f"method {method!r}{' for ' + detail if detail else ''}",
                 hint=hint)
    if not seconds <= SLOW_SECONDS:
        warnings.warn(
            f"{names}: method {method!r} is expected to take about {format_seconds(seconds)} "
            f"(rough estimate, one core of the reference machine) and "
            f"{need_bytes / 2 ** 30:.3g} GiB{'; ' + hint if hint else ''}",
            CostWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside this package (the user's call)."""
    pkg = os.path.dirname(os.path.abspath(__file__))
    f, level = sys._getframe(1), 1  # check_cost, the caller of warnings.warn
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) == pkg:
        f, level = f.f_back, level + 1
    return level
