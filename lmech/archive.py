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
complete archive.  One process writes an archive at a time: a writer holds the
lock file ``.<name>.lock`` next to it (:func:`lock`), which names its process
id and host; a second writer raises :class:`ArchiveBusyError` naming the
holder, and never touches the holder's temporary copy.  A lock whose holder
died (killed, or crashed) is stale and taken over.

Reading checks what it reads: every attribute and dataset has the type and
shape the layout above gives it, and any failure to read a result (a damaged,
truncated or hand-edited file) is an :class:`ArchiveError` naming the file,
the group and the attribute or dataset.  Datasets hold numbers, or strings
(attribute ``lmech_dtype``, and named in the spec's ``string_arrays``, an
additive entry older archives lack); anything else (opaque bytes, compounds,
references) is refused, never loaded as data.  HDF5 strings cannot hold NUL:
attributes and string datasets hold it as the text ``\\x00``, the spec (which
the message, scalars, options and conventions are read from) exactly.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import glob as _glob
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ._version import __version__
from .checks import _short, memory_budget as _memory_budget
from .result import Result, result_class
from .spec import from_spec, import_layer, to_spec
from .status import VOCABULARY

__all__ = ["FORMAT", "FORMAT_VERSION", "save", "load", "ls", "updating", "lock", "provenance",
           "write_result", "read_result", "ArchiveError", "ArchiveBusyError"]

FORMAT = "lmech"
#: ``major.minor``: readers accept any minor version of their own major.
FORMAT_VERSION = "1.2"

_COMPRESS_MIN = 1 << 16  # arrays with at least this many elements are chunked and compressed


class ArchiveError(ValueError):
    """The file is not a readable lmech archive (or not of a version we read).

    The message (one line) names the file and, for a damaged result, the
    group and the attribute or dataset that could not be read; so do the
    attributes ``group`` and ``item`` (``None`` where not applicable).
    """

    def __init__(self, message: str, *, group: str | None = None, item: str | None = None):
        super().__init__(" ".join(str(message).split()))  # one line, whatever h5py's text held
        self.group = group
        self.item = item


class ArchiveBusyError(RuntimeError):
    """Another process is writing the archive (it holds the archive's lock file).

    ``pid`` and ``host`` name the holder (``None`` if its lock file is not
    readable yet), ``lock_path`` the lock file.
    """

    def __init__(self, path, lock_path, pid, host):
        self.path, self.lock_path, self.pid, self.host = str(path), str(lock_path), pid, host
        who = (f"process {pid} on host {host}" if pid is not None
               else "another process (its lock file names none yet)")
        super().__init__(f"{path} is being written by {who}; wait for it to finish, or, if no such "
                         f"process runs any more, remove the lock file {lock_path}")


# -- provenance -----------------------------------------------------------------
def _git_commit() -> str:
    """The source commit: of the checkout this code runs from, else the one recorded at install.

    An installed copy carries ``lmech/SOURCE_COMMIT``, written by ``setup.py``
    when the wheel was built from a git checkout (``+dirty`` when it had
    uncommitted changes).  Empty when neither is known.
    """
    here = Path(__file__).resolve().parent.parent
    if (here / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                 text=True, timeout=2)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    try:
        return (Path(__file__).resolve().parent / "SOURCE_COMMIT").read_text().strip()
    except OSError:
        return ""


def _installed_version() -> str:
    """The version pip installed (``importlib.metadata``), or "" when running from a checkout."""
    from importlib import metadata

    try:
        dist = metadata.distribution("learning-mechanics")
    except metadata.PackageNotFoundError:
        return ""
    where = Path(str(dist.locate_file("lmech"))).resolve()
    return dist.version if where == Path(__file__).resolve().parent else ""


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
        "installed_version": _installed_version(),
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


def _open(path) -> h5py.File:
    """``h5py.File(path, "r")``; a file that is not readable HDF5 raises :class:`ArchiveError`.

    A missing file stays a :class:`FileNotFoundError`.
    """
    if Path(path).is_dir():
        raise ArchiveError(f"{path} is a directory, not an archive file")
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # not HDF5, truncated, unreadable
        raise ArchiveError(f"{path} is not a readable HDF5 file ({exc})") from None


def _get_attr(obj, key: str, where: str):
    """Attribute ``key`` of ``obj`` (None if absent); an unreadable one raises :class:`ArchiveError`."""
    try:
        if key not in obj.attrs:
            return None
        return obj.attrs[key]
    except Exception as exc:  # h5py: OSError, TypeError for a type it cannot convert
        raise ArchiveError(f"{where}, attribute {key!r}: unreadable ({type(exc).__name__}: {exc})",
                           group=obj.name, item=key) from None


def _check_format(f: h5py.File, path) -> None:
    fmt = _get_attr(f, "format", str(path))
    if not (isinstance(fmt, str) and fmt == FORMAT):
        raise ArchiveError(f"{path} is not an lmech archive (no format='lmech' attribute)",
                           group="/", item="format")
    version = _get_attr(f, "format_version", str(path))
    if version is None:
        version = "0.0"
    if not (isinstance(version, str) and re.fullmatch(r"\d+(\.\d+)*", version)):
        raise ArchiveError(f"{path}: group '/', attribute 'format_version': unreadable format_version "
                           f"{_short(version)}", group="/", item="format_version")
    major = int(version.split(".")[0])
    ours = int(FORMAT_VERSION.split(".")[0])
    if major > ours:
        raise ArchiveError(f"{path} has archive format_version {version}, newer than this "
                           f"package reads ({FORMAT_VERSION}); upgrade learning-mechanics",
                           group="/", item="format_version")


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


# -- one writer at a time --------------------------------------------------------
try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX: the lock file's contents alone decide
    _fcntl = None

#: locks this process holds: lock path -> [fd, depth, pid] (re-entrant; a forked child holds none)
_HELD: dict[str, list] = {}


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _read_holder(fd: int) -> dict | None:
    """The ``{"pid", "host"}`` a lock file names, or None (empty: its writer is just starting)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if (isinstance(data, dict) and isinstance(data.get("pid"), int)
            and isinstance(data.get("host"), str)):
        return {"pid": data["pid"], "host": data["host"]}
    return None


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - os.kill would terminate it: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists but belongs to someone else (or an absurd number: not ours to judge)
    return True


def _stale(holder: dict) -> bool:
    """The holder is a process of this host that no longer runs (another host's cannot be checked)."""
    return holder["host"] == socket.gethostname() and holder["pid"] != os.getpid() \
        and not _alive(holder["pid"])


def _flock(fd: int) -> str:
    """Try to lock ``fd`` exclusively: ``"locked"``, ``"busy"`` or ``"unsupported"``."""
    if _fcntl is None:  # pragma: no cover
        return "unsupported"
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return "busy"
        return "unsupported"  # e.g. a file system without locks: the PID check alone decides
    return "locked"


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fs = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fs.st_dev, fs.st_ino)


def _remove_stale_copies(path: Path) -> None:
    """Delete temporary copies of ``path`` that a killed writer left (call holding the lock)."""
    # tempfile.mkstemp's names: prefix, 8 random characters, suffix (not another archive's copies)
    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.tmp")
    for stale in path.parent.glob(f".{_glob.escape(path.name)}.*.tmp"):
        if pattern.fullmatch(stale.name):
            stale.unlink(missing_ok=True)


def _acquire(path: Path, lock_path: Path) -> int:
    me = _me()
    waited = 0
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies
        try:
            state = _flock(fd)
            holder = _read_holder(fd) if state != "locked" else None
            if state == "busy":
                if holder is None and waited < 100:  # its writer has not written its name yet
                    waited += 1
                    time.sleep(0.01)
                    os.close(fd)
                    continue
                if holder is not None and _stale(holder):
                    # its holder died, but a child it forked still has the file open:
                    # drop that file (the child keeps an unlinked one) and start over
                    if _same_file(fd, lock_path):
                        lock_path.unlink(missing_ok=True)
                    os.close(fd)
                    continue
                if holder is None:
                    raise ArchiveBusyError(path, lock_path, None, None)
                raise ArchiveBusyError(path, lock_path, holder["pid"], holder["host"])
            if state == "unsupported" and holder is not None and holder["pid"] != me["pid"] \
                    and not _stale(holder):
                raise ArchiveBusyError(path, lock_path, holder["pid"], holder["host"])
            if not _same_file(fd, lock_path):  # removed or replaced since we opened it
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(me).encode("utf-8") + b"\n")
            os.fsync(fd)
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


@contextlib.contextmanager
def lock(path):
    """Hold the write lock of the archive at ``path`` for the duration of the block.

    The lock is the file ``.<name>.lock`` next to the archive, holding the
    process id and host of its holder; it is removed when the block ends.
    Where the system offers it (POSIX), an ``flock`` on that file decides who
    holds it, so the lock of a killed process is released by the kernel;
    a lock file whose holder is a process of this host that no longer runs is
    stale and taken over.  Holding the lock, the writer removes the temporary
    copies a killed writer left.  Re-entrant within a process.

    Raises
    ------
    ArchiveBusyError
        If another (live) process holds the lock.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    lock_path = _lock_path(path)
    key = os.path.realpath(lock_path)
    held = _HELD.get(key)
    if held is not None and held[2] == os.getpid():
        held[1] += 1
        try:
            yield lock_path
        finally:
            held[1] -= 1
        return
    fd = _acquire(path, lock_path)
    _HELD[key] = [fd, 1, os.getpid()]
    try:
        _remove_stale_copies(path)
        yield lock_path
    finally:
        del _HELD[key]
        try:
            if _same_file(fd, lock_path):
                lock_path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the flock


@contextlib.contextmanager
def updating(path, *, config_text: str | None = None):
    """Open ``path`` for writing through an atomic replace, holding its lock.

    Yields an :class:`h5py.File` open on a temporary copy of ``path`` (or on a
    new file); when the block ends without an exception, the copy is flushed,
    synced and renamed over ``path``.  If the process dies inside the block,
    ``path`` still holds the previous complete archive.  The write lock
    (:func:`lock`) is held throughout: another writer raises
    :class:`ArchiveBusyError`.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    with lock(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
        try:
            if path.exists():
                with _open(path) as f:
                    _check_format(f, path)
                shutil.copyfile(path, tmp)
                mode = "r+"
            else:
                mode = "w"
            # libver v110+: metadata checksums, so a damaged header fails to read instead of
            # sending the HDF5 library into a loop (seen on random byte flips with the default)
            with h5py.File(tmp, mode, libver=("v110", "latest")) as f:
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
def _hdf5_text(s: str) -> str:
    """``s`` as HDF5 can hold it: a NUL character (which HDF5 strings cannot hold) is written
    as the four characters ``\\x00``.  Values that must round-trip exactly (the message,
    scalars, options, conventions) are also in the JSON spec, which holds NUL as ``\\u0000``;
    an array of strings loads with the escape (the one lossy case)."""
    return s.replace("\x00", "\\x00") if "\x00" in s else s


def _attr_value(v: Any):
    if isinstance(v, (bool, np.bool_)):
        return np.bool_(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return v
    if isinstance(v, str):
        return _hdf5_text(v)
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
        # the arrays of strings this result holds: a string dataset not named here is not
        # data lmech wrote (a forged lmech_dtype), and is refused on reading
        "string_arrays": sorted(k for k, v in result.arrays.items() if v.dtype.kind == "U"),
    }
    if "\x00" in result.message:  # the attribute holds it escaped; the spec exactly
        spec["message"] = result.message
    a = group.attrs
    a["kind"] = result.kind
    a["success"] = np.bool_(result.success)
    a["status"] = np.int64(result.status)
    a["status_vocabulary"] = np.int64(VOCABULARY)
    a["message"] = _hdf5_text(result.message)
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
        if name not in group or not isinstance(group[name], h5py.Dataset):
            continue
        ds = group[name]
        # netCDF (xarray) refuses a variable with some dimensions labelled and others not:
        # label every dimension, or none (trailing component dimensions stay unnamed)
        if len(names) != ds.ndim or name in names:
            continue
        if all(ax in group and isinstance(group[ax], h5py.Dataset) and group[ax].is_scale
               and group[ax].shape == (ds.shape[i],) for i, ax in enumerate(names)):
            for i, ax in enumerate(names):
                ds.dims[i].attach_scale(group[ax])
    _write_cf_attrs(group, result)


#: long names of the book-keeping arrays every sweep holds
_LONG_NAMES = {
    "done": "point computed", "converged": "point converged (success)", "failed": "point raised an exception",
    "n_iter": "iterations or steps of the point's solver", "residual": "residual of the point's solver",
    "seconds": "wall-clock time of the point in seconds", "status": "lmech.Status code of the point",
    "message": "the point's message", "model_index": "index of the point's model in model_specs",
    "model_specs": "model specs (JSON) of the sweep's points",
}


def _write_cf_attrs(group: h5py.Group, result: Result) -> None:
    """CF-style ``long_name`` (and ``units = "1"``: every quantity of the models is
    dimensionless) on every numeric array, so that xarray labels its plots.

    ``result.meta["long_names"]`` and ``result.meta["units"]`` override the defaults
    (the array's name; ``"error estimate of X"`` for ``X_err``).  Wall-clock
    seconds get no ``units`` (xarray would decode them as time deltas).
    """
    meta = result.meta if isinstance(result.meta, dict) else {}
    long_names = meta.get("long_names", {}) if isinstance(meta.get("long_names"), dict) else {}
    units = meta.get("units", {}) if isinstance(meta.get("units"), dict) else {}
    for name, arr in result.arrays.items():
        if name not in group or not isinstance(group[name], h5py.Dataset):
            continue
        if name in long_names:
            long_name = str(long_names[name])
        elif name in _LONG_NAMES:
            long_name = _LONG_NAMES[name]
        elif name.endswith("_err") and name[:-4] in result.arrays:
            long_name = f"error estimate of {name[:-4]}"
        else:
            long_name = name
        attrs = group[name].attrs
        attrs["long_name"] = long_name
        if arr.dtype.kind in "iuf" and name != "seconds":
            attrs["units"] = str(units.get(name, "1"))


def _write_array(group: h5py.Group, name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "U":
        texts = [_hdf5_text(str(s)) for s in arr.ravel()]
        data = np.array([t.encode("utf-8") for t in texts], dtype=object).reshape(arr.shape)
        ds = group.create_dataset(name, data=data, dtype=h5py.string_dtype("utf-8"))
        # (long enough for the escaped NULs, if any: they load as the text \x00)
        ds.attrs["lmech_dtype"] = (np.result_type(arr.dtype, np.array(texts).dtype).str
                                   if texts else arr.dtype.str)
        return
    kwargs = {}
    if arr.size >= _COMPRESS_MIN and arr.ndim >= 1:
        kwargs = dict(chunks=True, compression="gzip", compression_opts=4, shuffle=True)
    group.create_dataset(name, data=arr, **kwargs)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _where(group) -> str:
    return f"{group.file.filename}: group {group.name!r}"


def _read_arrays(group: h5py.Group, where: str, strings=None) -> dict[str, np.ndarray]:
    """Every dataset under ``group``, by relative name; a damaged one raises :class:`ArchiveError`.

    ``strings``: the names of the string arrays the result's spec lists (archives written
    before the list: None, any dataset with a ``lmech_dtype`` may hold strings).  Datasets
    of any other type than numbers and strings (opaque bytes, compounds, references) are
    refused: they are never data lmech wrote.
    """
    out = {}

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return

        def bad(problem):
            return ArchiveError(f"{where}, dataset {name!r}: {problem}", group=group.name, item=name)

        try:
            if h5py.check_string_dtype(obj.dtype) is not None:
                # strings are written with the NumPy dtype they had ("<U5"): one without is
                # not an array lmech wrote (strings where numbers belong)
                dtype = _get_attr(obj, "lmech_dtype", f"{where}, dataset {name!r}")
                if dtype is None:
                    raise bad("holds strings but no lmech_dtype attribute (not a string array "
                              "lmech wrote; numbers belong here)")
                if strings is not None and name not in strings:
                    raise bad("holds strings, but the result's spec lists no string array of that "
                              "name (a forged lmech_dtype; numbers belong here)")
                if not isinstance(dtype, str) or not re.fullmatch(r"[<>|=]?U\d+", dtype):
                    raise bad(f"attribute 'lmech_dtype': expected a NumPy string dtype, got {_short(dtype)}")
                itemsize = np.dtype(dtype).itemsize
                if itemsize * obj.size > _memory_budget():
                    raise bad(f"attribute 'lmech_dtype' {dtype} declares "
                              f"{itemsize * obj.size / 2**30:.3g} GiB of strings, more than the "
                              "memory allows (a forged dtype)")
                raw = np.array(obj.asstr()[()], dtype=object).astype(str)
                arr = raw.astype(np.dtype(dtype))
                if raw.shape != arr.shape or (raw != arr).any():
                    raise bad(f"strings longer than its lmech_dtype {dtype}")
            elif obj.dtype.kind in "biufc":
                arr = obj[()]
                if not isinstance(arr, np.ndarray):
                    arr = np.asarray(arr, dtype=obj.dtype)
            else:  # opaque bytes, compounds, references, ...: never interpreted (never unpickled)
                raise bad(f"of dtype {obj.dtype}: neither numbers nor strings, not data lmech wrote")
        except ArchiveError:
            raise
        except Exception as exc:  # h5py: OSError for damaged data, UnicodeDecodeError, ...
            raise bad(f"unreadable ({type(exc).__name__}: {exc})") from None
        out[name] = arr

    try:
        group.visititems(visit)
    except ArchiveError:
        raise
    except Exception as exc:
        raise ArchiveError(f"{where}: its datasets cannot be listed ({type(exc).__name__}: {exc})",
                           group=group.name) from None
    return out


def _check_dims(arrays: dict, meta: dict, fail) -> None:
    """Every array has, along each named dimension, the length of that dimension's coordinate."""
    dims = meta.get("dims")
    if dims is None:
        return
    if not isinstance(dims, dict):
        raise fail("spec", f"meta.dims: expected a mapping, got {_short(dims)}")
    for name, names in dims.items():
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise fail("spec", f"meta.dims[{name!r}]: expected a list of dimension names, got {_short(names)}")
        if name not in arrays:
            continue
        arr = arrays[name]
        for i, ax in enumerate(names):
            coord = arrays.get(ax)
            if ax == name or coord is None or coord.ndim != 1:
                continue
            if i >= arr.ndim or arr.shape[i] != coord.shape[0]:
                raise fail(name, f"shape {arr.shape} does not match its dimension {i} {ax!r} of "
                           f"length {coord.shape[0]}", "dataset")


def read_result(group: h5py.Group) -> Result | dict:
    """Read the result stored in ``group`` (see :func:`load`).

    Every attribute and dataset is checked against the layout; anything
    missing, of the wrong type or shape, or unreadable raises
    :class:`ArchiveError` naming the group and the attribute or dataset.
    """
    if not isinstance(group, h5py.Group):
        raise ArchiveError(f"{group.file.filename}: {group.name!r} is a dataset, not a result group",
                           group=group.name)
    where = _where(group)

    def fail(item, problem, what="attribute"):
        return ArchiveError(f"{where}, {what} {item!r}: {problem}", group=group.name, item=item)

    def attr(key, check, expected):
        v = _get_attr(group, key, where)
        if v is None:
            raise fail(key, "missing")
        if not check(v):
            raise fail(key, f"expected {expected}, got {type(v).__name__} {_short(v)}")
        return v

    kind = attr("kind", lambda v: isinstance(v, str) and v != "", "a non-empty string")
    cls = result_class(kind)
    if cls is None and import_layer(kind):
        cls = result_class(kind)
    if cls is None:
        warnings.warn(f"{group.name}: unknown result kind {kind!r}; loaded as a plain group",
                      stacklevel=2)
        return {"kind": kind, "attrs": {k: _get_attr(group, k, where) for k in group.attrs},
                "arrays": _read_arrays(group, where)}
    success = bool(attr("success", lambda v: isinstance(v, (bool, np.bool_)), "a bool"))
    status = int(attr("status", _is_int, "an integer"))
    message = str(attr("message", lambda v: isinstance(v, str), "a string"))
    n_iter = int(attr("n_iter", _is_int, "an integer"))
    residual = float(attr("residual", _is_real, "a real number"))
    text = attr("spec", lambda v: isinstance(v, str), "a JSON string")
    try:
        spec = json.loads(text)
    except RecursionError:
        raise fail("spec", "JSON nested too deeply to read") from None
    except ValueError as exc:
        raise fail("spec", f"not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise fail("spec", f"expected a JSON object, got {type(spec).__name__}")

    strings = spec.get("string_arrays")  # written since the list exists; older archives: None
    if strings is not None and not (isinstance(strings, list) and all(isinstance(x, str) for x in strings)):
        raise fail("spec", f"entry 'string_arrays': expected a list of names, got {_short(strings)}")
    if "message" in spec:  # a message HDF5 could hold only escaped (a NUL), exactly
        if not isinstance(spec["message"], str):
            raise fail("spec", f"entry 'message': expected a string, got {_short(spec['message'])}")
        message = spec["message"]

    def entry(key, expect=None, optional=False):
        if key not in spec:
            if optional:
                return {}
            raise fail("spec", f"no {key!r} entry")
        try:
            value = from_spec(spec[key])
        except Exception as exc:  # a damaged spec: bad dtype or shape, unknown field, bad value, ...
            raise fail("spec", f"entry {key!r} cannot be read ({type(exc).__name__}: {exc})") from None
        if expect is dict and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise fail("spec", f"entry {key!r}: expected a mapping, got {type(value).__name__} {_short(value)}")
        return value

    def values(key, mapping, check, expected):
        for k, v in mapping.items():
            if not check(v):
                raise fail("spec", f"entry {key}[{k!r}]: expected {expected}, got {type(v).__name__} {_short(v)}")
        return mapping

    scalar = (type(None), bool, int, float, complex, str)
    fields = {
        "success": success,
        "status": status,
        "message": message,
        "n_iter": n_iter,
        "residual": residual,
        "model": entry("model"),
        "options": entry("options", dict),
        "conventions": values("conventions", entry("conventions", dict),
                              lambda v: isinstance(v, str), "a string"),
        "timings": {k: float(v) for k, v in values("timings", entry("timings", dict),
                                                   _is_real, "a number").items()},
        "scalars": values("scalars", entry("scalars", dict), lambda v: isinstance(v, scalar),
                          "a number, bool, string or null"),
        "meta": entry("meta", dict),
        # error_estimate is new in format 1.1: a 1.0 group loads with an empty one
        "error_estimate": {k: float(v) for k, v in values(
            "error_estimate", entry("error_estimate", dict, optional=True), _is_real, "a number").items()},
        "arrays": _read_arrays(group, where, strings),
    }
    both = set(fields["scalars"]) & set(fields["arrays"])
    if both:
        raise fail(sorted(both)[0], "is both a dataset and a scalar", "dataset")
    legacy = "status_vocabulary" not in group.attrs
    if legacy:  # written before lmech.Status: translate the code
        fields["meta"] = {**fields["meta"], "legacy_status": status}
        fields["status"] = int(cls.legacy_status(status, success, message))
    check = getattr(cls, "_check_loaded", None)  # the kind's own layout (a sweep's grid)
    if check is not None:
        try:
            check(fields)
        except ArchiveError as exc:
            raise ArchiveError(f"{where}, {exc}", group=group.name, item=exc.item) from None
    points = getattr(cls, "translate_legacy_points", None)  # a sweep's per-point codes
    if legacy and points is not None:
        points(fields)
    _check_dims(fields["arrays"], fields["meta"], fail)
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
        If the file is not an lmech archive, has a newer major format
        version, or the result cannot be read (a damaged attribute or
        dataset: the message names the group and which).
    FileNotFoundError
        If there is no such file.
    KeyError
        If there is no such group.
    """
    with _open(path) as f:
        _check_format(f, path)
        try:
            names = [k for k in f if k != "provenance"]
            if name is not None and name != "provenance" and name in f:
                obj = f[name]
        except Exception as exc:
            raise ArchiveError(f"{path}: its groups cannot be listed ({type(exc).__name__}: {exc})") from None
        if name is None:
            if len(names) != 1:
                raise KeyError(f"{path} holds {len(names)} results; name one of {names}")
            name = names[0]
            obj = f[name]
        elif name == "provenance" or name not in f:
            raise KeyError(f"{path} has no result {name!r}; it holds {names}")
        return read_result(obj)


def ls(path) -> dict[str, str]:
    """Names of the results in the archive, with their kinds.

    Raises :class:`ArchiveError` if the file is not a readable lmech archive.
    """
    out = {}
    with _open(path) as f:
        _check_format(f, path)

        def visit(name, obj):
            if not isinstance(obj, h5py.Group) or name == "provenance":
                return
            kind = _get_attr(obj, "kind", f"{path}: group {obj.name!r}")
            if kind is not None:
                out[name] = kind if isinstance(kind, str) else _short(kind)
            elif not any(name.startswith(r + "/") for r in out) and any(
                    isinstance(obj.get(k, getlink=True), h5py.HardLink)
                    and isinstance(obj[k], h5py.Dataset) for k in obj):
                # datasets outside every result: a result group that lost its kind
                raise ArchiveError(f"{path}: group {obj.name!r}, attribute 'kind': missing (the group "
                                   "holds datasets, as a result does)", group=obj.name, item="kind")

        try:
            f.visititems(visit)
        except ArchiveError:
            raise
        except Exception as exc:
            raise ArchiveError(f"{path}: its groups cannot be listed ({type(exc).__name__}: {exc})") from None
    return out
