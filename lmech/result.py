"""The result object every solver of the package returns.

A :class:`Result` carries the outcome of one solve: whether it converged
(``success``, ``status``, ``message``, ``n_iter``, ``residual``), the model and
the options that produced it, the conventions it is expressed in, wall-clock
timings, named arrays and named scalar observables.  Failure is data: a solver
that does not converge returns a result with ``success=False``; it raises only
on invalid input.

Arrays and scalars are reachable as attributes (``res.Q``, ``res.eg``), in the
manner of :class:`scipy.optimize.OptimizeResult`.  Subclasses register a
``kind`` with :func:`register_result` so that :mod:`lmech.archive` can write
and read them back exactly.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

__all__ = ["Result", "register_result", "result_class", "result_kinds", "over_tolerance"]

_KINDS: dict[str, type["Result"]] = {}


def register_result(kind: str):
    """Class decorator registering a :class:`Result` subclass under ``kind``.

    ``kind`` is a dotted name whose first component is the package that
    defines the class (``"odes.Trajectory"``); :func:`lmech.archive.load`
    imports only the package named there, from a fixed allow-list, to find it.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError("kind must be a non-empty string")

    def deco(cls):
        if not (isinstance(cls, type) and issubclass(cls, Result)):
            raise TypeError("register_result decorates Result subclasses")
        old = _KINDS.get(kind)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise ValueError(f"result kind {kind!r} is already registered to {old!r}")
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return deco


def result_class(kind: str) -> type["Result"] | None:
    """The class registered under ``kind``, or ``None``."""
    return _KINDS.get(kind)


def result_kinds() -> dict[str, type["Result"]]:
    """A copy of the registry of result kinds."""
    return dict(_KINDS)


def _as_scalar(name: str, value: Any):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, complex, str)):
        return value
    raise TypeError(f"scalar {name!r} must be a number, bool, string or None, got {type(value).__name__}")


def over_tolerance(error_estimate: dict, values: dict, rtol: float) -> list[str]:
    """Names of the estimates that are not within ``rtol * max(1, |value|)``.

    The rule by which a solver's ``success`` holds its ``error_estimate``:
    a relative tolerance, absolute below magnitude 1.  A ``nan`` estimate
    (not estimated) is never within; a missing or non-finite value has scale 1.
    """
    bad = []
    for name, err in error_estimate.items():
        v = values.get(name)
        scale = (max(1.0, abs(float(v))) if isinstance(v, (int, float)) and not isinstance(v, bool)
                 and math.isfinite(v) else 1.0)
        if not err <= rtol * scale:
            bad.append(name)
    return bad


_CORE = ("success", "status", "message", "n_iter", "residual", "model", "options",
         "conventions", "timings", "arrays", "scalars", "meta", "error_estimate")


class Result:
    """Outcome of a solve.

    Parameters
    ----------
    success : bool
        Whether the solver met its stopping criterion.
    status : int, optional
        Solver-specific code; ``0`` means converged, negative values failures.
    message : str, optional
        Human-readable description of how the solve ended.
    n_iter : int, optional
        Iterations (or steps, or right-hand-side evaluations) used.
    residual : float, optional
        Final residual in the solver's own (stated) norm; ``nan`` if none.
    model : object, optional
        The model (a frozen dataclass) that was solved.
    options : dict, optional
        The numerical options used, after defaults were filled in.
    conventions : dict, optional
        The conventions the numbers are expressed in (activation scaling,
        time unit, noise as variance, ...): ``{name: str}``.
    timings : dict, optional
        Wall-clock seconds by phase, e.g. ``{"solve": 0.12}``.
    arrays : dict, optional
        Named :class:`numpy.ndarray` outputs.  A ``"/"`` in a name nests it
        in the archive (``"branch0/m"``).
    scalars : dict, optional
        Named scalar observables (float, int, bool, complex, str or None).
    meta : dict, optional
        Any other JSON-serialisable information.
    error_estimate : dict, optional
        The solver's own estimate of the absolute error of its main
        observables, ``{name: float}`` in the observable's units (for an
        array, the largest error over its entries).  It comes from the
        method: an embedded error or a refinement for ODEs, Richardson or a
        doubled-window difference for DMFT, quadrature refinement plus the
        residual for saddle points, Monte Carlo standard errors for sampled
        methods.  ``nan`` means the solver could not estimate it.  For the
        theory solvers, ``success=True`` means every estimate lies within
        the requested tolerance (Monte Carlo errors of sampled methods are
        reported, not held to a tolerance).

    Notes
    -----
    Arrays and scalars are also attributes: ``res.arrays["Q"] is res.Q``;
    where a name coincides with a core field (``n_iter``), the core field wins
    and the array stays reachable through ``res.arrays``.
    """

    kind: ClassVar[str] = "lmech.Result"

    def __init__(self, *, success: bool, status: int = 0, message: str = "",
                 n_iter: int = 0, residual: float = math.nan, model: Any = None,
                 options: dict | None = None, conventions: dict | None = None,
                 timings: dict | None = None, arrays: dict | None = None,
                 scalars: dict | None = None, meta: dict | None = None,
                 error_estimate: dict | None = None):
        d = self.__dict__
        d["success"] = bool(success)
        d["status"] = int(status)
        d["message"] = str(message)
        d["n_iter"] = int(n_iter)
        d["residual"] = float(residual)
        d["model"] = model
        d["options"] = dict(options or {})
        d["conventions"] = {str(k): str(v) for k, v in (conventions or {}).items()}
        d["timings"] = {str(k): float(v) for k, v in (timings or {}).items()}
        d["arrays"] = {}
        for k, v in (arrays or {}).items():
            arr = np.asarray(v)
            if arr.dtype.kind not in "biufcU":
                raise TypeError(f"array {k!r} has dtype {arr.dtype}; numeric, bool or str arrays only")
            d["arrays"][str(k)] = arr
        d["scalars"] = {}
        for k, v in (scalars or {}).items():
            if k in d["arrays"]:
                raise ValueError(f"{k!r} is both an array and a scalar")
            d["scalars"][str(k)] = _as_scalar(k, v)
        d["meta"] = dict(meta or {})
        d["error_estimate"] = {str(k): float(v) for k, v in (error_estimate or {}).items()}

    # -- attribute access -------------------------------------------------
    def __getattr__(self, name: str):
        d = self.__dict__
        if "arrays" in d and name in d["arrays"]:
            return d["arrays"][name]
        if "scalars" in d and name in d["scalars"]:
            return d["scalars"][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        raise AttributeError("Result objects are read-only; build a new one")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.arrays) | set(self.scalars))

    # -- comparison and display --------------------------------------------
    def same_as(self, other: "Result") -> bool:
        """True if ``other`` holds exactly the same data (arrays bit for bit)."""
        if type(other) is not type(self):
            return False
        a, b = self.__dict__, other.__dict__
        for key in _CORE:
            if key == "arrays":
                if set(a[key]) != set(b[key]):
                    return False
                for name in a[key]:
                    x, y = a[key][name], b[key][name]
                    if x.dtype != y.dtype or x.shape != y.shape:
                        return False
                    if x.tobytes() != y.tobytes():
                        return False
            elif key == "residual":
                if not (a[key] == b[key] or (math.isnan(a[key]) and math.isnan(b[key]))):
                    return False
            elif key == "scalars":
                if set(a[key]) != set(b[key]):
                    return False
                for name, x in a[key].items():
                    y = b[key][name]
                    if type(x) is not type(y):
                        return False
                    if isinstance(x, float) and math.isnan(x) and math.isnan(y):
                        continue
                    if x != y:
                        return False
            elif key == "error_estimate":
                if set(a[key]) != set(b[key]):
                    return False
                for name, x in a[key].items():
                    y = b[key][name]
                    if not (x == y or (math.isnan(x) and math.isnan(y))):
                        return False
            elif a[key] != b[key]:
                return False
        return True

    def summary(self) -> dict:
        """The scalar summary of the solve: convergence data and scalars."""
        out = {"success": self.success, "status": self.status, "n_iter": self.n_iter,
               "residual": self.residual}
        out.update(self.scalars)
        for name, err in self.error_estimate.items():
            out[f"{name}_err"] = err
        return out

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}(kind={self.kind!r})",
                 f"     success: {self.success}",
                 f"      status: {self.status}",
                 f"     message: {self.message!r}",
                 f"      n_iter: {self.n_iter}",
                 f"    residual: {self.residual:.3e}"]
        if self.model is not None:
            lines.append(f"       model: {self.model!r}")
        if self.options:
            lines.append(f"     options: {self.options!r}")
        if self.conventions:
            lines.append(f" conventions: {self.conventions!r}")
        for name, value in self.scalars.items():
            lines.append(f"  {name:>10}: {value!r}")
        if self.error_estimate:
            e = ", ".join(f"{k}={v:.2e}" for k, v in self.error_estimate.items())
            lines.append(f"   error est: {e}")
        for name, arr in self.arrays.items():
            lines.append(f"  {name:>10}: array{arr.shape} {arr.dtype}")
        if self.timings:
            t = ", ".join(f"{k}={v:.3g}s" for k, v in self.timings.items())
            lines.append(f"     timings: {t}")
        return "\n".join(lines)

    # -- used by lmech.archive ---------------------------------------------
    #: this kind's codes from before :class:`lmech.Status` (old code -> member), applied
    #: on loading an archive group written without the shared vocabulary
    LEGACY_STATUS: dict = {}

    @classmethod
    def legacy_status(cls, code: int, success: bool, message: str) -> int:
        """The :class:`lmech.Status` of ``code`` written by an older version of this kind."""
        from .status import legacy_status

        return legacy_status(code, success, cls.LEGACY_STATUS)

    @classmethod
    def _from_fields(cls, fields: dict) -> "Result":
        """Rebuild an instance from stored fields without calling ``__init__``."""
        obj = cls.__new__(cls)
        for key in _CORE:
            obj.__dict__[key] = fields.get(key, {}) if key == "error_estimate" else fields[key]
        return obj


register_result("lmech.Result")(Result)
