"""Self-describing HDF5 archives of results.

Layout of a file::

    /                       attrs: format="lmech", format_version, package_version, created
    /provenance             attrs: python, numpy, scipy, numba, h5py versions, git commit,
                            command line, config text (when given)
    /<name>                 one result: attrs kind, success, status, message, n_iter,
                            residual, spec (JSON: model, options, conventions, timings,
                            scalars, meta, error_estimate) and, for reading by eye,
                            model.*, option.*, convention.*, scalar.*, error.* copies
                            of the scalar entries (error_estimate is new in 1.1; a
                            1.0 archive loads with an empty one)
    /<name>/<array>         one dataset per array (a "/" in an array name nests it)

Versions: 1.1 adds ``error_estimate``; 1.2 adds to a sweep the model spec of
each point (``model_index`` and ``model_specs``, see :mod:`lmech.sweep`).  A
reader loads every earlier minor version of its major one; a file that a newer
writer updates takes the newer version number.

:func:`save` and :func:`load` round-trip every registered :class:`~lmech.result.Result`
exactly: arrays bit for bit with their dtype, scalars and parameters through
JSON (shortest round-trip float ``repr``).  Archives never hold pickles and
loading never runs code: the result class is found in a registry by its
``kind``, importing at most one of the package's own layers
(:data:`lmech.spec.PACKAGES`).  An unknown kind loads as a plain dictionary
with a warning.

Every write goes to a temporary copy that replaces the file atomically
(:func:`updating`), so a process killed at any moment leaves the previous,
complete archive.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ._version import __version__
from .result import Result, result_class
from .spec import from_spec, import_layer, to_spec

__all__ = ["FORMAT", "FORMAT_VERSION", "save", "load", "ls", "updating", "provenance",
           "write_result", "read_result", "ArchiveError"]

FORMAT = "lmech"
#: ``major.minor``: readers accept any minor version of their own major.
FORMAT_VERSION = "1.2"

_COMPRESS_MIN = 1 << 16  # arrays with at least this many elements are chunked and compressed


class ArchiveError(ValueError):
    """The file is not a readable lmech archive (or not of a version we read)."""


# -- provenance -----------------------------------------------------------------
def _git_commit() -> str:
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        return ""
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def provenance(config_text: str | None = None) -> dict[str, str]:
    """Versions, git commit, command line and (optionally) the resolved config text."""
    import numba
    import scipy

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
        "learning_mechanics": __version__,
        "git_commit": _git_commit(),
        "command_line": " ".join(sys.argv),
    }
    if config_text is not None:
        info["config"] = config_text
    return info


def _version_tuple(version) -> tuple:
    try:
        return tuple(int(x) for x in str(version).split("."))
    except ValueError:
        return (0,)


def _check_format(f: h5py.File, path) -> None:
    if f.attrs.get("format") != FORMAT:
        raise ArchiveError(f"{path} is not an lmech archive (no format='lmech' attribute)")
    version = str(f.attrs.get("format_version", "0.0"))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise ArchiveError(f"{path}: unreadable format_version {version!r}") from None
    ours = int(FORMAT_VERSION.split(".")[0])
    if major > ours:
        raise ArchiveError(f"{path} has archive format_version {version}, newer than this "
                           f"package reads ({FORMAT_VERSION}); upgrade learning-mechanics")


def _init_file(f: h5py.File, config_text: str | None) -> None:
    if "format" not in f.attrs:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["package_version"] = __version__
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    elif _version_tuple(f.attrs.get("format_version", "0.0")) < _version_tuple(FORMAT_VERSION):
        f.attrs["format_version"] = FORMAT_VERSION  # what we write now is of our layout
    if "provenance" not in f:
        g = f.create_group("provenance")
        for k, v in provenance(config_text).items():
            g.attrs[k] = v
    elif config_text is not None and "config" not in f["provenance"].attrs:
        f["provenance"].attrs["config"] = config_text


def _file_mode(path: Path) -> int:
    """Permissions for the new file: the old file's, or what the umask gives a new file."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def updating(path, *, config_text: str | None = None):
    """Open ``path`` for writing through an atomic replace.

    Yields an :class:`h5py.File` open on a temporary copy of ``path`` (or on a
    new file); when the block ends without an exception, the copy is flushed,
    synced and renamed over ``path``.  If the process dies inside the block,
    ``path`` still holds the previous complete archive.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        if path.exists():
            with h5py.File(path, "r") as f:
                _check_format(f, path)
            shutil.copyfile(path, tmp)
            mode = "r+"
        else:
            mode = "w"
        with h5py.File(tmp, mode) as f:
            _init_file(f, config_text)
            yield f
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- one result <-> one group ---------------------------------------------------
def _attr_value(v: Any):
    if isinstance(v, (bool, np.bool_)):
        return np.bool_(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return v
    if isinstance(v, str):
        return v
    return None


def _flat_model_attrs(model: Any) -> dict:
    import dataclasses

    out = {}
    if dataclasses.is_dataclass(model) and not isinstance(model, type):
        for fld in dataclasses.fields(model):
            v = getattr(model, fld.name)
            if dataclasses.is_dataclass(v) and not isinstance(v, type):
                name = getattr(type(v), "_spec_name", type(v).__name__)
                out[f"model.{fld.name}"] = name
                for sub in dataclasses.fields(v):
                    a = _attr_value(getattr(v, sub.name))
                    if a is not None:
                        out[f"model.{fld.name}.{sub.name}"] = a
            else:
                a = _attr_value(v)
                if a is not None:
                    out[f"model.{fld.name}"] = a
    return out


def write_result(group: h5py.Group, result: Result) -> None:
    """Write ``result`` into an empty ``group`` (see the module docstring)."""
    if not isinstance(result, Result):
        raise TypeError(f"expected a lmech Result, got {type(result).__name__}")
    if result_class(result.kind) is not type(result):
        raise TypeError(f"{type(result).__qualname__} is not registered with lmech.register_result")
    spec = {
        "model": to_spec(result.model),
        "options": to_spec(result.options),
        "conventions": result.conventions,
        "timings": result.timings,
        "scalars": to_spec(result.scalars),
        "meta": to_spec(result.meta),
        "error_estimate": to_spec(result.error_estimate),
    }
    a = group.attrs
    a["kind"] = result.kind
    a["success"] = np.bool_(result.success)
    a["status"] = np.int64(result.status)
    a["message"] = result.message
    a["n_iter"] = np.int64(result.n_iter)
    a["residual"] = np.float64(result.residual)
    a["spec"] = json.dumps(spec, sort_keys=True)
    for k, v in _flat_model_attrs(result.model).items():
        a[k] = v
    for prefix, d in (("option", result.options), ("convention", result.conventions),
                      ("scalar", result.scalars), ("error", result.error_estimate)):
        for k, v in d.items():
            val = _attr_value(v)
            if val is not None:
                a[f"{prefix}.{k}"] = val
    dims = result.meta.get("dims", {}) if isinstance(result.meta, dict) else {}
    axes = result.meta.get("axes", []) if isinstance(result.meta, dict) else []
    for name, arr in result.arrays.items():
        _write_array(group, name, arr)
    # dimension scales, so that xarray (h5netcdf) sees the grid
    # (and any 1-D array whose one dimension is named after itself, a coordinate of its own)
    for ax in list(axes) + [k for k, v in dims.items() if list(v) == [k] and k not in axes]:
        if ax in group and isinstance(group[ax], h5py.Dataset) and group[ax].ndim == 1:
            group[ax].make_scale(ax)
    for name, names in dims.items():
        if name not in group:
            continue
        ds = group[name]
        for i, ax in enumerate(names):
            if i < ds.ndim and ax != name and ax in group and group[ax].is_scale:
                ds.dims[i].attach_scale(group[ax])


def _write_array(group: h5py.Group, name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "U":
        data = np.array([s.encode("utf-8") for s in arr.ravel()], dtype=object).reshape(arr.shape)
        ds = group.create_dataset(name, data=data, dtype=h5py.string_dtype("utf-8"))
        ds.attrs["lmech_dtype"] = arr.dtype.str
        return
    kwargs = {}
    if arr.size >= _COMPRESS_MIN and arr.ndim >= 1:
        kwargs = dict(chunks=True, compression="gzip", compression_opts=4, shuffle=True)
    group.create_dataset(name, data=arr, **kwargs)


def _read_arrays(group: h5py.Group) -> dict[str, np.ndarray]:
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            if h5py.check_string_dtype(obj.dtype) is not None:
                raw = obj.asstr()[()]
                dtype = obj.attrs.get("lmech_dtype", None)
                arr = np.array(raw, dtype=object).astype(str)
                if dtype is not None:
                    arr = arr.astype(np.dtype(str(dtype)))
                out[name] = arr
            elif obj.dtype.kind in "biufc":
                out[name] = obj[()]
                if not isinstance(out[name], np.ndarray):
                    out[name] = np.asarray(out[name], dtype=obj.dtype)
            else:
                warnings.warn(f"dataset {obj.name} of dtype {obj.dtype} skipped", stacklevel=3)

    group.visititems(visit)
    return out


def read_result(group: h5py.Group) -> Result | dict:
    """Read the result stored in ``group`` (see :func:`load`)."""
    kind = group.attrs.get("kind")
    cls = None
    if isinstance(kind, str):
        cls = result_class(kind)
        if cls is None and import_layer(kind):
            cls = result_class(kind)
    if cls is None or "spec" not in group.attrs:
        warnings.warn(f"{group.name}: unknown result kind {kind!r}; loaded as a plain group",
                      stacklevel=2)
        return {"kind": kind, "attrs": {k: group.attrs[k] for k in group.attrs},
                "arrays": _read_arrays(group)}
    spec = json.loads(group.attrs["spec"])
    fields = {
        "success": bool(group.attrs["success"]),
        "status": int(group.attrs["status"]),
        "message": str(group.attrs["message"]),
        "n_iter": int(group.attrs["n_iter"]),
        "residual": float(group.attrs["residual"]),
        "model": from_spec(spec["model"]),
        "options": from_spec(spec["options"]),
        "conventions": dict(spec["conventions"]),
        "timings": {k: float(v) for k, v in spec["timings"].items()},
        "arrays": _read_arrays(group),
        "scalars": from_spec(spec["scalars"]),
        "meta": from_spec(spec["meta"]),
        "error_estimate": {k: float(v) for k, v in from_spec(spec.get("error_estimate", {})).items()},
    }
    return cls._from_fields(fields)


# -- public API -----------------------------------------------------------------
def save(result: Result, path, name: str, *, overwrite: bool = False,
         config_text: str | None = None) -> None:
    """Write ``result`` as group ``name`` of the archive at ``path``.

    Creates the file if needed.  An existing group of that name raises
    :class:`ValueError` unless ``overwrite``.  The write is atomic.
    """
    if not isinstance(name, str) or not name or name.startswith("/") or name == "provenance":
        raise ValueError(f"name must be a non-empty relative group name other than 'provenance', got {name!r}")
    if not isinstance(result, Result):
        raise TypeError(f"expected a lmech Result, got {type(result).__name__}")
    with updating(path, config_text=config_text) as f:
        if name in f:
            if not overwrite:
                raise ValueError(f"{path} already holds {name!r}; pass overwrite=True to replace it")
            del f[name]
        write_result(f.create_group(name), result)


def load(path, name: str | None = None):
    """Read group ``name`` from the archive at ``path``.

    With ``name=None`` the file must hold exactly one result.  Unknown kinds
    load as a plain dictionary ``{"kind", "attrs", "arrays"}`` with a warning.

    Raises
    ------
    ArchiveError
        If the file is not an lmech archive or has a newer major format version.
    KeyError
        If there is no such group.
    """
    with h5py.File(path, "r") as f:
        _check_format(f, path)
        if name is None:
            names = [k for k in f if k != "provenance"]
            if len(names) != 1:
                raise KeyError(f"{path} holds {len(names)} results; name one of {names}")
            name = names[0]
        if name not in f or name == "provenance":
            raise KeyError(f"{path} has no result {name!r}; it holds {[k for k in f if k != 'provenance']}")
        return read_result(f[name])


def ls(path) -> dict[str, str]:
    """Names of the results in the archive, with their kinds."""
    out = {}
    with h5py.File(path, "r") as f:
        _check_format(f, path)

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and "kind" in obj.attrs:
                out[name] = str(obj.attrs["kind"])

        f.visititems(visit)
    return out
