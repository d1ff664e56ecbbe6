"""Parameter sweeps on any :class:`concurrent.futures.Executor`, streamed into an archive.

:func:`sweep` evaluates a point function over a Cartesian grid of named axes
(or an explicit list of points), on the executor it is given: none (serial,
in this process), a :class:`~concurrent.futures.ProcessPoolExecutor`,
``dask.distributed.Client(...).get_executor()``, or
``mpi4py.futures.MPIPoolExecutor``.  Only ``submit`` and ``result`` of the
executor are used (plus :func:`concurrent.futures.wait` when the futures are
standard ones).

Each point's scalars become observables on the grid, and so do its error
estimates (``<name>_err``).  Results stream into an
HDF5 archive as they finish, through atomic replaces (:func:`lmech.archive.updating`),
so a sweep killed at any moment leaves a readable archive, and
``resume=True`` continues it without recomputing finished points.  The sweep
holds the archive's write lock (:func:`lmech.archive.lock`) from start to end:
a second sweep or save to the same archive raises
:class:`~lmech.archive.ArchiveBusyError` naming this process.  A point
that raises, or that returns ``success=False``, is recorded with its message
and counted in the summary; it never stops the sweep.

Per point the archive holds ``done``, ``converged``, ``failed`` (the function
raised), ``status``, ``n_iter``, ``residual``, ``message`` and ``seconds``,
and the model the point solved: ``model_index`` (on the grid; -1 where the
point returned no model) into ``model_specs``, the distinct model specs of the
sweep as JSON (:func:`lmech.spec.to_json`), in order of first appearance in C
order.  A point's model object comes back with :meth:`SweepResult.model_at`;
the model specs are new in archive format 1.2 (an older sweep has none).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .archive import ArchiveError, lock, read_result, updating, write_result, _check_format, _open
from .config import resolve_callable
from .result import Result, register_result
from .spec import from_json, to_json, to_spec
from .status import Status

__all__ = ["sweep", "SweepResult", "grid_points"]

#: per-point bookkeeping arrays, with their fill values
_BOOK = {
    "done": (np.bool_, False),
    "converged": (np.bool_, False),
    "failed": (np.bool_, False),
    "status": (np.int64, 0),
    "n_iter": (np.int64, -1),
    "residual": (np.float64, math.nan),
    "seconds": (np.float64, math.nan),
}


@register_result("lmech.Sweep")
class SweepResult(Result):
    """A (possibly partial) sweep: observables on a grid plus per-point bookkeeping.

    ``arrays`` holds every axis (by name), every observable (grid-shaped, NaN
    where not done), and the bookkeeping arrays ``done``, ``converged``,
    ``failed``, ``status``, ``n_iter``, ``residual``, ``message``, ``seconds``.
    ``model_index`` (on the grid) points into ``model_specs``, the distinct
    JSON specs of the models the points solved (see :meth:`model_at`).
    ``meta`` holds ``axes`` (names, in order), ``mode`` (``"grid"`` or
    ``"points"``), ``function``, ``fixed``, ``observables`` and ``dims``.
    Each point's error estimates are the observables ``<name>_err``;
    ``error_estimate[name]`` is their largest value over the converged points
    (nan if any of those is nan, i.e. not estimated).
    """

    #: codes before lmech.Status (1 some points missing, 2 some failed or unconverged)
    LEGACY_STATUS = {1: Status.INCOMPLETE, 2: Status.INCOMPLETE}

    @property
    def axes(self) -> list[str]:
        """Axis names in grid order."""
        return list(self.meta["axes"])

    @property
    def observables(self) -> list[str]:
        """Names of the observables stored on the grid."""
        return list(self.meta["observables"])

    @property
    def shape(self) -> tuple:
        """Shape of the grid."""
        return tuple(self.arrays["done"].shape)

    def grid(self, name: str) -> np.ndarray:
        """Observable or bookkeeping array ``name`` on the grid."""
        return self.arrays[name]

    def points(self) -> list[dict]:
        """The parameters of each point, in flat (C) order, fixed ones included."""
        return grid_points(self.meta, self.arrays)

    def model_at(self, index):
        """The model object point ``index`` solved, rebuilt exactly from its stored spec.

        Parameters
        ----------
        index : int or tuple of int
            Flat (C-order) index of the point, or its index on the grid.

        Returns
        -------
        object or None
            The model (a registered frozen dataclass, built by
            :func:`lmech.spec.from_json`), or ``None`` where none was stored: the
            point is not done, failed, returned no :class:`~lmech.result.Result`
            with a registered model, or the archive predates format 1.2.
        """
        if "model_index" not in self.arrays:
            return None
        idx = self.arrays["model_index"]
        if isinstance(index, (int, np.integer)):
            if not -idx.size <= index < idx.size:
                raise IndexError(f"index: point {index} out of range for {idx.size} points")
            i = int(idx.ravel()[index])
        else:
            i = int(idx[tuple(index)])
        return None if i < 0 else from_json(str(self.arrays["model_specs"][i]))

    @classmethod
    def translate_legacy_points(cls, fields: dict) -> None:
        """Translate the per-point ``status`` of a sweep written before :class:`lmech.Status`.

        Called by :func:`lmech.archive.read_result` (after the layout check) for a group
        without ``status_vocabulary``.  A point whose function raised held ``-1``, one whose
        worker died ``-2`` (:attr:`Status.RAISED`, :attr:`Status.WORKER_DIED`); any other
        done point held its own result's code, translated with the ``LEGACY_STATUS`` table
        of the result class of the sweep kind (``meta["sweep_kind"]``,
        :attr:`lmech.config.SweepKind.result`) by :func:`lmech.status.legacy_status`
        (``converged`` standing for the point's ``success``).  Points not done keep their
        code.  The original codes are kept in the array ``legacy_status`` (also when the
        sweep is resumed: a point recomputed then has its new code in ``status`` only).
        """
        from .config import get_kind
        from .status import legacy_status

        arrays = fields["arrays"]
        if not {"status", "done", "failed", "converged"} <= set(arrays) or "legacy_status" in arrays:
            return  # not the layout of sweep() (a SweepResult built by hand), or translated already
        old = np.asarray(arrays["status"])
        kind = get_kind(fields["meta"].get("sweep_kind") or "") if fields["meta"].get("sweep_kind") else None
        table = getattr(getattr(kind, "result", None), "LEGACY_STATUS", None)
        done, failed, converged = arrays["done"], arrays["failed"], arrays["converged"]
        new = old.copy()
        for i in np.ndindex(old.shape):
            code = int(old[i])
            if failed[i]:
                new[i] = {-1: Status.RAISED, -2: Status.WORKER_DIED}.get(code, Status.FAILED)
            elif done[i]:
                new[i] = legacy_status(code, bool(converged[i]), table)
        arrays["legacy_status"] = old
        arrays["status"] = new

    @classmethod
    def _check_loaded(cls, fields: dict) -> None:
        """Check the layout of a sweep read from an archive (called by :func:`lmech.archive.read_result`).

        Raises :class:`~lmech.archive.ArchiveError` naming the dataset or meta
        entry that does not fit: axes, bookkeeping and observables on the grid,
        model indices into the stored model specs.
        """
        meta, arrays = fields["meta"], fields["arrays"]
        if not ({"mode", "axes", "coords", "observables", "dims"} & set(meta) or "done" in arrays):
            return  # not the layout of sweep(): a SweepResult built by hand, checked as any result

        def bad_meta(key, expected):
            return ArchiveError(f"attribute 'spec': entry meta.{key}: expected {expected}, got "
                                f"{meta.get(key)!r:.60}", item="spec")

        def bad(name, problem):
            return ArchiveError(f"dataset {name!r}: {problem}", item=name)

        def names(key):
            v = meta.get(key)
            if not (isinstance(v, list) and all(isinstance(x, str) and x for x in v)):
                raise bad_meta(key, "a list of names")
            return v

        if meta.get("mode") not in ("grid", "points"):
            raise bad_meta("mode", "'grid' or 'points'")
        if not isinstance(meta.get("function"), str):
            raise bad_meta("function", "a string")
        if not isinstance(meta.get("fixed"), dict):
            raise bad_meta("fixed", "a mapping")
        axes, coords, observables = names("axes"), names("coords"), names("observables")
        params = names("point_params") if meta["mode"] == "points" else axes
        if not axes or (meta["mode"] == "points" and axes != ["point"]):
            raise bad_meta("axes", "['point']" if meta["mode"] == "points" else "at least one axis")
        for a in coords + params:
            if a not in arrays:
                raise bad(a, "missing (an axis of the sweep)")
            v = arrays[a]
            if v.ndim != 1 or v.size == 0 or v.dtype.kind not in "biuf":
                raise bad(a, f"an axis must be a non-empty 1-D array of numbers, got {v.dtype} "
                          f"of shape {v.shape}")
        shape = tuple(arrays[a].shape[0] for a in axes)
        for p in params:
            if arrays[p].shape[0] != shape[0] and meta["mode"] == "points":
                raise bad(p, f"length {arrays[p].shape[0]}, expected {shape[0]} (one per point)")
        per_point = {k: np.dtype(dt).kind for k, (dt, _) in _BOOK.items()}
        per_point["message"] = "U"
        for k in observables:
            per_point.setdefault(k, "f")
        if "model_index" in arrays or "model_specs" in arrays:  # format >= 1.2
            per_point["model_index"] = "i"
        for k, kind in per_point.items():
            if k not in arrays:
                raise bad(k, "missing (one value per point of the grid)")
            v = arrays[k]
            if v.dtype.kind != kind:
                expected = {"b": "bool", "i": "integers", "f": "floats", "U": "strings"}[kind]
                raise bad(k, f"dtype {v.dtype}, expected {expected}")
            if v.shape[:len(shape)] != shape or (k not in observables and v.ndim != len(shape)):
                raise bad(k, f"shape {v.shape} does not match the grid {shape}")
        if "model_index" in arrays:
            specs = arrays.get("model_specs")
            if specs is None or specs.ndim != 1 or specs.dtype.kind != "U":
                raise bad("model_specs", "expected a 1-D array of JSON strings")
            idx = arrays["model_index"]
            if idx.size and (idx.min() < -1 or idx.max() >= specs.size):
                raise bad("model_index", f"indices must lie in [-1, {specs.size - 1}]")
            for i, text in enumerate(specs):
                try:
                    from_json(str(text))
                except Exception as exc:  # a damaged spec: the model it names cannot be rebuilt
                    raise bad("model_specs", f"entry {i} cannot be read ({type(exc).__name__}: "
                              f"{exc})") from None


def grid_points(meta: Mapping, arrays: Mapping) -> list[dict]:
    """Full parameter dictionaries of every point of a sweep, in C order."""
    fixed = dict(meta.get("fixed", {}))
    if meta["mode"] == "grid":
        axes = [np.asarray(arrays[a]) for a in meta["axes"]]
        mesh = np.meshgrid(*axes, indexing="ij")
        flat = [m.ravel() for m in mesh]
        return [{**fixed, **{a: flat[i][j].item() for i, a in enumerate(meta["axes"])}}
                for j in range(flat[0].size if flat else 0)]
    names = meta["point_params"]
    n = len(arrays["point"])
    return [{**fixed, **{p: np.asarray(arrays[p])[j].item() for p in names}} for j in range(n)]


def _fn_name(fn) -> str:
    if isinstance(fn, str):
        return fn
    mod = getattr(fn, "__module__", None)
    qual = getattr(fn, "__qualname__", None)
    if not mod or not qual:
        return type(fn).__qualname__
    return f"{mod}:{qual}"  # functions local to another one are named but not importable


_RESOLVED: dict[str, Callable] = {}


def _run_point(fn, index: int, kwargs: dict) -> dict:
    """Evaluate one point; never raises (exceptions become a failure record)."""
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"index": index}
    try:
        if isinstance(fn, str):
            f = _RESOLVED.get(fn)
            if f is None:
                f = _RESOLVED[fn] = resolve_callable(fn)
        else:
            f = fn
        out = f(**kwargs)
        if isinstance(out, Result):
            try:
                rec["model"] = "" if out.model is None else to_json(out.model)
            except TypeError:  # not a registered model: its spec cannot be stored
                rec["model"] = ""
            rec.update(failed=False, converged=out.success, status=out.status,
                       message=out.message, n_iter=out.n_iter, residual=out.residual,
                       scalars={**out.scalars,
                                **{f"{k}_err": v for k, v in out.error_estimate.items()
                                   if f"{k}_err" not in out.scalars}},
                       arrays=dict(out.arrays))
        elif isinstance(out, Mapping):
            rec.update(failed=False, converged=True, status=Status.CONVERGED, message="", n_iter=0,
                       residual=math.nan, scalars=dict(out), arrays={})
        else:
            rec.update(failed=False, converged=True, status=Status.CONVERGED, message="", n_iter=0,
                       residual=math.nan, scalars={"value": out}, arrays={})
    except Exception as exc:  # recorded, never propagated: one bad point must not stop a sweep
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        rec.update(failed=True, converged=False, status=Status.RAISED,
                   message=f"{type(exc).__name__}: {exc}{where}", n_iter=-1,
                   residual=math.nan, scalars={}, arrays={})
    rec["seconds"] = time.perf_counter() - t0
    return rec


class _State:
    """The sweep's arrays in memory; the single writer of the archive."""

    def __init__(self, meta: dict, axes_arrays: dict, shape: tuple, keep_arrays: Sequence[str]):
        self.meta = meta
        self.axes_arrays = axes_arrays
        self.shape = shape
        self.keep_arrays = list(keep_arrays)
        self.book = {k: np.full(shape, fill, dtype=dt) for k, (dt, fill) in _BOOK.items()}
        self.message = np.full(shape, "", dtype=object)
        self.model = np.full(shape, "", dtype=object)  # each point's model spec (JSON), "" if none
        self.obs: dict[str, np.ndarray] = {}
        self.legacy = None  # per-point codes of an archive written before lmech.Status, kept
        self.reserved = set(axes_arrays) | set(_BOOK) | {"message", "model_index", "model_specs",
                                                         "legacy_status"}

    @classmethod
    def from_result(cls, res: SweepResult, keep_arrays) -> "_State":
        meta = dict(res.meta)
        axes_arrays = {k: res.arrays[k] for k in meta["coords"]}
        st = cls(meta, axes_arrays, res.shape, keep_arrays)
        for k in _BOOK:
            st.book[k] = res.arrays[k].copy()
        st.message = np.asarray(res.arrays["message"], dtype=object).copy()
        if "model_index" in res.arrays:  # format >= 1.2
            specs = [str(m) for m in res.arrays["model_specs"]] + [""]
            st.model = np.array([specs[i] for i in res.arrays["model_index"].ravel()],
                                dtype=object).reshape(res.shape)
        for k in meta["observables"]:
            st.obs[k] = res.arrays[k].copy()
        if "legacy_status" in res.arrays:
            st.legacy = res.arrays["legacy_status"].copy()
        return st

    def record(self, rec: dict) -> None:
        idx = np.unravel_index(rec["index"], self.shape)
        values = {}
        for k, v in rec["scalars"].items():
            if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
                values[k] = float(v)
        for k in self.keep_arrays:
            if k in rec.get("arrays", {}):
                values[k] = np.asarray(rec["arrays"][k], dtype=np.float64)
        msg = rec["message"]
        for k, v in values.items():
            name = k if k not in self.reserved else f"{k}_obs"
            v = np.asarray(v, dtype=np.float64)
            if name not in self.obs:
                self.obs[name] = np.full(self.shape + v.shape, np.nan)
            target = self.obs[name]
            if target.shape[len(self.shape):] != v.shape:
                msg = (msg + "; " if msg else "") + f"observable {k!r} has shape {v.shape}, " \
                      f"expected {target.shape[len(self.shape):]}: not stored"
                continue
            target[idx] = v
        b = self.book
        b["done"][idx] = True
        b["failed"][idx] = rec["failed"]
        b["converged"][idx] = bool(rec["converged"]) and not rec["failed"]
        b["status"][idx] = rec["status"]
        b["n_iter"][idx] = rec["n_iter"]
        b["residual"][idx] = rec["residual"]
        b["seconds"][idx] = rec["seconds"]
        self.message[idx] = msg
        self.model[idx] = rec.get("model", "")

    def result(self) -> SweepResult:
        b = self.book
        n = int(np.prod(self.shape))
        n_done = int(b["done"].sum())
        n_failed = int(b["failed"].sum())
        n_unconv = int((b["done"] & ~b["converged"] & ~b["failed"]).sum())
        complete = n_done == n
        ok = complete and n_failed == 0 and n_unconv == 0
        message = (f"{n_done}/{n} points done; {n_failed} failed with an exception; "
                   f"{n_unconv} did not converge")
        meta = dict(self.meta)
        meta["observables"] = sorted(self.obs)
        dims = {k: list(meta["axes"]) for k in list(self.obs) + list(_BOOK) + ["message", "model_index"]}
        if meta["mode"] == "points":
            for p in meta["point_params"]:
                dims[p] = ["point"]
        dims["model_specs"] = ["model_specs"]
        meta["dims"] = dims
        arrays = dict(self.axes_arrays)
        arrays.update(self.book)
        arrays["message"] = np.array([str(m) for m in self.message.ravel()],
                                     dtype=str).reshape(self.shape)
        specs: dict[str, int] = {}  # distinct model specs, in order of first appearance
        for m in self.model.ravel():
            if m and m not in specs:
                specs[m] = len(specs)
        arrays["model_index"] = np.array([specs.get(m, -1) for m in self.model.ravel()],
                                         dtype=np.int64).reshape(self.shape)
        arrays["model_specs"] = np.array(list(specs), dtype=str) if specs else np.array([], dtype="<U1")
        arrays.update(self.obs)
        if self.legacy is not None:
            arrays["legacy_status"] = self.legacy
            dims["legacy_status"] = list(meta["axes"])
        # the sweep's error estimate of an observable: the largest of its points'
        # estimates over the converged points; nan when any of them is nan (not
        # estimated) or no point converged
        error_estimate = {}
        for k in self.obs:
            if k.endswith("_err") and k[:-4] in self.obs and self.obs[k].shape == self.shape:
                e = self.obs[k][b["converged"]]
                error_estimate[k[:-4]] = (math.nan if e.size == 0 or np.isnan(e).any()
                                          else float(e.max()))
        return SweepResult(success=ok, status=Status.CONVERGED if ok else Status.INCOMPLETE,
                           message=message, n_iter=n_done, model=None,
                           options={"function": meta["function"]},
                           scalars={"n_points": n, "n_done": n_done, "n_failed": n_failed,
                                    "n_unconverged": n_unconv},
                           arrays=arrays, meta=meta, error_estimate=error_estimate)


def _long_names(kind_name: str, params) -> dict:
    """``{parameter: "help text (name)"}`` from the sweep kind's schema (xarray's axis labels)."""
    from .config import get_kind

    try:
        kind = get_kind(kind_name)
    except (ImportError, ValueError):
        return {}
    if kind is None:
        return {}
    out = {}
    for p in params:
        par = kind.params.get(p) or kind.options.get(p)
        if par is not None and par.help:
            out[p] = f"{par.help} ({p})"
    return out


def _same_spec(a: dict, b: dict) -> str | None:
    for key in ("function", "mode", "axes", "fixed"):
        if to_spec(a.get(key)) != to_spec(b.get(key)):
            return key
    return None


def _write(path, name, state: _State, config_text) -> None:
    with updating(path, config_text=config_text) as f:
        if name in f:
            del f[name]
        write_result(f.create_group(name), state.result())


def _duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``12s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class _Progress:
    """Progress of a sweep on stderr.

    On a terminal: a tqdm bar (a dependency), rewritten in place, with rate
    and ETA.  Redirected to a file or a pipe: one plain line per 10 % of the
    points or per minute, whichever comes first (``k/N points (p %), elapsed
    E, ETA T``), never carriage returns.
    """

    def __init__(self, total, initial, enabled, desc):
        self.bar = None
        self.enabled = enabled and total > initial
        self.n = initial
        self.initial = initial
        self.total = total
        self.desc = desc
        self.t0 = time.monotonic()
        self.last_line = (self.t0, initial)
        if not self.enabled:
            return
        tty = getattr(sys.stderr, "isatty", lambda: False)()
        if tty:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=initial, desc=desc, file=sys.stderr,
                                dynamic_ncols=True, unit="point")
            except ImportError:  # pragma: no cover - tqdm is a dependency
                self.bar = None
        if self.bar is None:
            print(f"{desc}: {total - initial} of {total} points to compute", file=sys.stderr, flush=True)

    def _line(self) -> str:
        elapsed = time.monotonic() - self.t0
        done = self.n - self.initial
        left = self.total - self.n
        eta = _duration(elapsed / done * left) if done else "?"
        return (f"{self.desc}: {self.n}/{self.total} points ({100 * self.n / self.total:.0f} %), "
                f"elapsed {_duration(elapsed)}, ETA {eta}")

    def update(self):
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled:
            now = time.monotonic()
            t_last, n_last = self.last_line
            step = max(1, self.total // 10)
            if self.n == self.total or self.n - n_last >= step or now - t_last >= 60:
                print(self._line(), file=sys.stderr, flush=True)
                self.last_line = (now, self.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def sweep(fn: Callable | str, grid: Mapping[str, Sequence] | None = None, *,
          points: Sequence[Mapping[str, Any]] | None = None,
          fixed: Mapping[str, Any] | None = None, archive=None, name: str = "sweep",
          executor: cf.Executor | None = None, resume: bool = False,
          retry_failed: bool = False, keep_arrays: Sequence[str] = (),
          progress: bool = False, max_in_flight: int | None = None,
          checkpoint_seconds: float = 2.0, config_text: str | None = None,
          title: str | None = None, kind: str | None = None, overwrite: bool = False) -> SweepResult:
    """Evaluate ``fn`` over a parameter grid and stream the results into an archive.

    Parameters
    ----------
    fn : callable or str
        Point function, called as ``fn(**fixed, **point)``; returns a
        :class:`~lmech.result.Result` (its scalars become observables), a dict
        of scalars, or one number (observable ``"value"``).  With a process
        or distributed executor it must be importable: a module-level function
        or an import string ``"module:function"``.
    grid : mapping of str to sequence, optional
        Named axes; the points are their Cartesian product (C order).
    points : sequence of mappings, optional
        An explicit list of points (all with the same keys), instead of ``grid``.
    fixed : mapping, optional
        Keyword arguments passed unchanged to every call.
    archive : path, optional
        HDF5 file to stream into (group ``name``).  Without it nothing is written.
    executor : concurrent.futures.Executor, optional
        Where to run the points; ``None`` runs them here, one after another.
    resume : bool
        Continue the sweep stored in ``archive`` under ``name``: finished
        points are not recomputed.  The stored function, axes and fixed
        parameters must match.  Without ``resume`` (or ``overwrite``) an existing group is an error.
    retry_failed : bool
        With ``resume``, run again the points whose function raised.
    keep_arrays : sequence of str
        Names of arrays of each point's Result to store on the grid as well
        (they must have the same shape at every point).
    progress : bool
        Show a progress bar (tqdm if installed).  Off by default.
    max_in_flight : int, optional
        Points submitted but not finished at any time (default: 4 per worker,
        at least 8).
    overwrite : bool
        Replace a group ``name`` that ``archive`` already holds (a new sweep
        from scratch; not with ``resume``).
    checkpoint_seconds : float
        Minimum seconds between archive writes (grown automatically to keep
        writing under ~10 % of the run time); the archive is always written at
        the end, and on ``KeyboardInterrupt``.

    Returns
    -------
    SweepResult
        ``success`` is True when every point is done and converged (else
        ``status`` is ``Status.INCOMPLETE``); the scalars ``n_done``,
        ``n_failed`` and ``n_unconverged`` count the rest.
    """
    if (grid is None) == (points is None):
        raise ValueError("give exactly one of grid (named axes) or points (explicit list)")
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: continue the stored sweep, or replace it")
    fixed = dict(fixed or {})
    if checkpoint_seconds < 0 or not math.isfinite(checkpoint_seconds):
        raise ValueError(f"checkpoint_seconds must be finite and >= 0, got {checkpoint_seconds!r}")
    if grid is not None:
        if not isinstance(grid, Mapping) or not grid:
            raise ValueError("grid must be a non-empty mapping of axis name to values")
        axes = list(grid)
        axes_arrays = {}
        for a in axes:
            vals = np.asarray(grid[a])
            if vals.ndim != 1 or vals.size == 0 or vals.dtype.kind not in "biuf":
                raise ValueError(f"grid axis {a!r} must be a non-empty 1-D sequence of numbers")
            axes_arrays[a] = vals
            if a in fixed:
                raise ValueError(f"grid axis {a!r} is also in fixed")
        shape = tuple(len(axes_arrays[a]) for a in axes)
        meta = {"mode": "grid", "axes": axes, "coords": axes, "point_params": axes}
    else:
        points = [dict(p) for p in points]
        if not points:
            raise ValueError("points must not be empty")
        keys = list(points[0])
        if any(set(p) != set(keys) for p in points):
            raise ValueError("every point needs the same parameter names")
        if set(keys) & set(fixed):
            raise ValueError(f"point parameters {sorted(set(keys) & set(fixed))} are also in fixed")
        axes_arrays = {"point": np.arange(len(points), dtype=np.int64)}
        for k in keys:
            vals = np.asarray([p[k] for p in points])
            if vals.dtype.kind not in "biuf":
                raise ValueError(f"point parameter {k!r} must be numeric in every point")
            axes_arrays[k] = vals
        shape = (len(points),)
        meta = {"mode": "points", "axes": ["point"], "coords": ["point"] + keys, "point_params": keys}
    meta.update(function=_fn_name(fn), fixed=fixed, title=title or "", sweep_kind=kind or "")
    if kind:
        meta["long_names"] = _long_names(kind, meta["point_params"])

    # one writer at a time: the archive's lock is held from reading it to the last write
    # (another process writing it raises ArchiveBusyError, before any point runs)
    with (lock(archive) if archive is not None else contextlib.nullcontext()):
        state = None
        if archive is not None and Path(archive).exists():
            with _open(archive) as f:
                _check_format(f, archive)
                if name in f and not overwrite:  # (with overwrite the first write replaces it)
                    if not resume:
                        raise ValueError(f"{archive} already holds a sweep {name!r}; pass resume=True "
                                         "to continue it, overwrite=True to replace it, or choose another "
                                         "archive or name")
                    stored = read_result(f[name])
                    if not isinstance(stored, SweepResult):
                        raise ValueError(f"{archive}:{name} is not a sweep")
                    key = _same_spec(stored.meta, meta)
                    if key is None and any(not np.array_equal(stored.arrays[k], axes_arrays[k])
                                           for k in meta["coords"]):
                        key = "axes values"
                    if key is not None:
                        raise ValueError(f"cannot resume {archive}:{name}: its {key} differ from this sweep's")
                    state = _State.from_result(stored, keep_arrays)
        if state is None:
            state = _State(meta, axes_arrays, shape, keep_arrays)

        all_points = grid_points(meta, axes_arrays)
        todo = [i for i in range(len(all_points))
                if not state.book["done"].flat[i] or (retry_failed and state.book["failed"].flat[i])]

        write_every = float(checkpoint_seconds)
        last_write = time.perf_counter()

        def checkpoint(force=False):
            nonlocal last_write, write_every
            if archive is None:
                return
            now = time.perf_counter()
            if not force and now - last_write < write_every:
                return
            _write(archive, name, state, config_text)
            took = time.perf_counter() - now
            write_every = max(float(checkpoint_seconds), 10.0 * took)
            last_write = time.perf_counter()

        checkpoint(force=True)
        bar = _Progress(len(all_points), len(all_points) - len(todo), progress, title or name)
        try:
            if executor is None:
                for i in todo:
                    state.record(_run_point(fn, i, all_points[i]))
                    bar.update()
                    checkpoint()
            else:
                if max_in_flight is None:
                    workers = getattr(executor, "_max_workers", None) or 2
                    max_in_flight = max(8, 4 * int(workers))
                pending = {}
                queue = iter(todo)
                exhausted = False
                try:
                    while pending or not exhausted:
                        while not exhausted and len(pending) < max_in_flight:
                            try:
                                i = next(queue)
                            except StopIteration:
                                exhausted = True
                                break
                            pending[executor.submit(_run_point, fn, i, all_points[i])] = i
                        if not pending:
                            break
                        futs = list(pending)
                        if all(isinstance(f, cf.Future) for f in futs):
                            finished, _ = cf.wait(futs, return_when=cf.FIRST_COMPLETED)
                        else:
                            finished = [futs[0]]
                        for fut in finished:
                            i = pending.pop(fut)
                            try:
                                rec = fut.result()
                            except cf.CancelledError:
                                continue
                            except Exception as exc:  # the worker itself died
                                if isinstance(exc, getattr(cf, "BrokenExecutor", ())):
                                    raise
                                rec = {"index": i, "failed": True, "converged": False, "status": int(Status.WORKER_DIED),
                                       "message": f"worker error: {type(exc).__name__}: {exc}",
                                       "n_iter": -1, "residual": math.nan, "scalars": {}, "arrays": {},
                                       "seconds": math.nan}
                            state.record(rec)
                            bar.update()
                        checkpoint()
                finally:
                    for fut in pending:
                        fut.cancel()
        except BaseException:
            checkpoint(force=True)
            bar.close()
            raise
        checkpoint(force=True)
        bar.close()
        return state.result()
