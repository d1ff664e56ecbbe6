"""The ``lmech`` command line.

::

    lmech run CONFIG.toml [-o OUT.h5] [--workers N | --scheduler ADDRESS]
                          [--resume | --overwrite] [--plot FIG.png] [--quiet]
    lmech show ARCHIVE.h5
    lmech plot ARCHIVE.h5 [-o FIG.png] [--name NAME]
    lmech demo [-o OUT.h5] [--png FIG.png] [--workers N] [--resume | --overwrite] [--no-plot]
               [--quiet]
    lmech validate CONFIG.toml [-o OUT.h5] [--png FIG.png] [--workers N] [--overwrite]
                   [--no-plot] [--quiet]
    lmech kinds [NAME]
    lmech warmup [LAYER ...]
    lmech --version

``lmech run`` given a validation config (``lmech validate``'s kind) runs it
as ``lmech validate`` and says so in one line.  An existing archive is never
replaced silently: ``--resume`` continues the sweep it holds, ``--overwrite``
replaces it; ``lmech demo`` replaces its own earlier demo archive (the same
config) and says so.

A bad config (unknown key, wrong type, value out of range, missing file), a
path that cannot be read or written (a directory, a file where a directory
should be, a place without write permission, a figure format matplotlib does
not draw), a damaged archive or one another process is writing: each exits
with status 2 and one line naming the key, before any work is done and
before anything is written.
The layers are reached by name (import strings), so this module imports none
of them until a command needs one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._version import __version__
from .config import ConfigError, RunConfig, get_kind, kinds, load_config, parse_config, read_toml, resolve_callable
from .optional import MissingDependency, require

__all__ = ["main", "figure"]

DEMO_CONFIG = "replica.demo:CONFIG"
VALIDATE = "validation.config:run_validation_config"
VALIDATION_KINDS = "validation.config:KINDS"

EPILOG = """\
examples:
  lmech demo                                   the README's phase diagram: archive + figure
  lmech run examples/odes_phase_diagram.toml --workers 2 --plot fig.png
  lmech run CONFIG.toml --resume               continue an interrupted sweep
  lmech show CONFIG.h5                         what an archive holds
  lmech plot CONFIG.h5 -o fig.pdf              redraw (.png at 300 dpi, .pdf, .svg)
  lmech validate examples/validation_linreg.toml   theory vs finite-N simulation
  lmech kinds                                  every kind, its parameters and options
  lmech warmup                                 compile the Numba kernels ahead of the first run

Example configs: the examples/ folder of the repository (one per kind).
Archives are HDF5: h5py, or xarray.open_dataset(path, engine="h5netcdf", group="sweep")."""


class CLIError(Exception):
    """An error reported as one line with exit status 2."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_output(key: str, path, *, figure: bool = False) -> Path:
    """Refuse, naming ``key``, an output path that cannot be written; before any work.

    The path must not be a directory; its nearest existing ancestor must be a
    directory in which this process can create files (probed with a temporary
    file, removed at once).  A figure's suffix must be a format matplotlib draws.
    """
    path = Path(path)
    if str(path) in ("", ".") or path.name in ("", ".", ".."):
        raise CLIError(f"{key}: {str(path)!r} is not a file name")
    if path.is_dir():
        raise CLIError(f"{key}: {path} is a directory; give a file name")
    if path.exists() and not path.is_file():
        raise CLIError(f"{key}: {path} exists and is not a regular file")
    ancestor = path.parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CLIError(f"{key}: cannot write {path}: {ancestor} is not a directory")
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".lmech-probe.", dir=ancestor)
    except OSError as exc:
        raise CLIError(f"{key}: cannot write {path}: cannot create files in {ancestor} "
                       f"({exc.strerror or _one_line(exc)})") from None
    os.close(fd)
    os.unlink(probe)
    if figure and path.suffix:
        _require_matplotlib(key)
        from matplotlib.figure import Figure

        formats = Figure().canvas.get_supported_filetypes()
        if path.suffix[1:].lower() not in formats:
            raise CLIError(f"{key}: matplotlib cannot draw {path.suffix!r} files; use one of "
                           f"{', '.join('.' + f for f in sorted(formats))}")
    return path


def _check_input(key: str, path) -> Path:
    """Refuse, naming ``key``, an input file that does not exist or is a directory."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{key}: {path} is a directory, not an archive file")
    if not path.exists():
        raise CLIError(f"{key}: file not found: {path}")
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lmech", description="learning-mechanics: solvers for the "
                                "statistical physics of high-dimensional learning",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"lmech {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("run", help="run the sweep a TOML config describes")
    r.add_argument("config", help="TOML config file")
    r.add_argument("-o", "--output", help="HDF5 archive to write (default: run.output, or CONFIG.h5)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, help="local worker processes (default: run.workers, or 1)")
    g.add_argument("--scheduler", help="address of a running dask.distributed scheduler")
    w = r.add_mutually_exclusive_group()
    w.add_argument("--resume", action="store_true", help="continue the sweep stored in the archive")
    w.add_argument("--overwrite", action="store_true", help="replace an existing archive")
    r.add_argument("--plot", metavar="FIG", help="also draw the result to this file (.png, .pdf, .svg)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("show", help="summarise an archive")
    s.add_argument("archive")

    pl = sub.add_parser("plot", help="draw an archive: a sweep, a validation report or a single result")
    pl.add_argument("archive")
    pl.add_argument("-o", "--output", help="figure file, format by extension: .png (300 dpi), .pdf, .svg "
                    "(default: ARCHIVE.png)")
    pl.add_argument("--name", help="result in the archive (default: the validation report, else the only "
                    "sweep, else the only result)")
    pl.add_argument("-y", "--observable", help="observable to draw (default: the kind's own figure)")
    pl.add_argument("--x", help="axis (sweep) or array (single result) for the abscissa")

    d = sub.add_parser("demo", help="compute the README's phase diagram, archive it and draw it")
    d.add_argument("-o", "--output", default="lmech-demo.h5", help="archive (default: lmech-demo.h5)")
    d.add_argument("--png", default=None, help="figure, .png/.pdf/.svg (default: ARCHIVE with .png)")
    d.add_argument("--workers", type=int, default=None, help="local worker processes (default: 2)")
    w = d.add_mutually_exclusive_group()
    w.add_argument("--resume", action="store_true", help="continue an interrupted demo archive")
    w.add_argument("--overwrite", action="store_true", help="replace an existing archive, whatever it holds")
    d.add_argument("--no-plot", action="store_true", help="write the archive only, no figure")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser("validate", help="compare a theory with finite-N simulations, as a config describes "
                       "(exit status 0: agree, 1: disagree or a failure, 3: inconclusive)")
    v.add_argument("config", help="TOML validation config")
    v.add_argument("-o", "--output", help="HDF5 archive (default: from the config, or CONFIG.h5)")
    v.add_argument("--png", help="figure (default: from the config, or ARCHIVE with .png)")
    v.add_argument("--workers", type=int, help="local worker processes")
    v.add_argument("--overwrite", action="store_true", help="replace an existing archive")
    v.add_argument("--no-plot", action="store_true", help="write the archive only, no figure")
    v.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    wu = sub.add_parser("warmup", help="compile every Numba kernel now (the first run of each layer "
                        "otherwise compiles on first use)")
    wu.add_argument("layers", nargs="*", metavar="LAYER", help="odes, dmft, replica, validation "
                    "(default: all)")

    k = sub.add_parser("kinds", help="list every kind (lmech run and lmech validate) with its parameters")
    k.add_argument("name", nargs="?", help="show only this kind")
    return p


# -- run ------------------------------------------------------------------------
def _executor(workers: int | None, scheduler: str | None):
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise CLIError(f"--scheduler: {MissingDependency('distributed', 'a dask scheduler')}") from None
        try:
            client = Client(scheduler, timeout=10)
        except Exception as exc:
            raise CLIError(f"--scheduler: cannot connect to {scheduler}: {exc}") from None
        return client.get_executor(), client.close
    if workers is not None and workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        ex = ProcessPoolExecutor(max_workers=workers)
        return ex, lambda: ex.shutdown(cancel_futures=True)
    return None, lambda: None


def _execute(cfg: RunConfig, output: Path, *, workers, scheduler, resume, quiet, plot_to,
             overwrite=False, demo=False) -> int:
    from . import archive as _archive
    from .sweep import sweep
    from .warm import warmup

    if workers is not None and workers < 1:
        raise CLIError(f"--workers: must be an integer >= 1, got {workers}")
    _check_output("--output", output)
    if plot_to:
        _check_output("--plot", plot_to, figure=True)
        if Path(plot_to).resolve() == output.resolve():
            raise CLIError(f"--plot: {plot_to} is the output archive")
    try:
        with _archive.lock(output):  # held to the end: a second writer stops here, before any work
            if output.exists():
                try:
                    names = _archive.ls(output)
                except (OSError, ValueError) as exc:
                    raise CLIError(f"--output: {output} exists and is not a readable lmech archive "
                                   f"({_one_line(exc)})") from None
                if demo and not resume and not overwrite and "sweep" in names:
                    resume, overwrite = _demo_rerun(output)
                if overwrite:
                    output.unlink()
                elif "sweep" in names and not resume:
                    raise CLIError(f"--output: {output} already holds a sweep; pass --resume to "
                                   "continue it, --overwrite to replace it, or choose another output")
            elif resume:
                raise CLIError(f"--resume: {output} does not exist")
            layer = cfg.kind.name.split(".", 1)[0]
            if scheduler or (workers is not None and workers > 1):
                # workers would compile the same kernels concurrently: compile them once, serially,
                # first; a serial run compiles only what its points call (announced on stderr)
                warmup(layers=("lmech", layer) if layer != "lmech" else ("lmech",))
            executor, close = _executor(workers, scheduler)
            try:
                res = sweep(cfg.kind.point, cfg.grid, points=cfg.points,
                            fixed={**cfg.fixed, **cfg.options}, archive=output, name="sweep",
                            executor=executor, resume=resume, progress=not quiet,
                            config_text=cfg.text, title=cfg.title, kind=cfg.kind.name)
            except _archive.ArchiveError as exc:
                raise CLIError(f"--output: {exc}") from None
            except ValueError as exc:
                raise CLIError(f"--resume: {exc}") from None
            finally:
                close()
    except _archive.ArchiveBusyError as exc:
        raise CLIError(f"--output: {exc}") from None
    print(f"{output}: {res.message}")
    if plot_to:
        if not _has_matplotlib():
            print(f"lmech: figure skipped: {MissingDependency('matplotlib', 'drawing')}", file=sys.stderr)
            return 0
        _plot(res, cfg.kind.name, Path(plot_to), cfg.title)
        print(f"figure: {plot_to}")
    return 0


def _is_validation_config(path) -> bool:
    """True when the TOML at ``path`` names a kind of ``lmech validate`` (not a sweep kind)."""
    data, _ = read_toml(path)
    name = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(name, str):
        return False
    short = name if name.startswith("validation.") else f"validation.{name}"
    return short in resolve_callable(VALIDATION_KINDS) and name not in kinds()


def _cmd_run(args) -> int:
    if _is_validation_config(args.config):
        for flag, given in (("--resume", args.resume), ("--scheduler", args.scheduler)):
            if given:
                raise CLIError(f"{flag}: {args.config} is a validation config (lmech validate), "
                               f"which has no {flag}")
        print(f"lmech run: {args.config} is a validation config; running it as "
              f"`lmech validate {args.config}`", file=sys.stderr)
        args.png, args.no_plot = args.plot, False
        return _cmd_validate(args)
    cfg = load_config(args.config)
    out = args.output or cfg.run.get("output") or str(Path(args.config).with_suffix(".h5"))
    workers = args.workers if args.workers is not None else (None if args.scheduler else cfg.run.get("workers"))
    scheduler = args.scheduler or (cfg.run.get("scheduler") if args.workers is None else None)
    return _execute(cfg, Path(out), workers=workers, scheduler=scheduler,
                    resume=args.resume or cfg.run.get("resume", False), quiet=args.quiet,
                    plot_to=args.plot or cfg.run.get("plot"), overwrite=args.overwrite)


def _cmd_demo(args) -> int:
    import tomllib

    out = _check_output("--output", args.output)
    if args.no_plot:
        if args.png:
            raise CLIError("--png: not with --no-plot")
        png = None
    else:
        png = args.png or str(out.with_suffix(".png"))
        if args.png or _has_matplotlib():
            _check_output("--png", png, figure=True)
    text = resolve_callable(DEMO_CONFIG)
    cfg = parse_config(tomllib.loads(text), text)
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    return _execute(cfg, out, workers=workers, scheduler=None, resume=args.resume,
                    quiet=args.quiet, plot_to=png, overwrite=args.overwrite, demo=True)


def _demo_rerun(output: Path) -> tuple[bool, bool]:
    """``(resume, overwrite)`` for an existing ``output`` when ``lmech demo`` runs again.

    The demo's own archive (the demo config, as provenance records it) is
    resumed when incomplete and replaced when complete, each with a note; any
    other archive is refused.
    """
    import h5py

    from . import archive as _archive

    text = resolve_callable(DEMO_CONFIG)
    try:
        with _archive._open(output) as f:
            prov = f.get("provenance")
            stored = prov.attrs.get("config") if isinstance(prov, h5py.Group) else None
        sweep = _archive.load(output, "sweep")
    except (OSError, ValueError):
        stored, sweep = None, None
    if isinstance(stored, bytes):
        stored = stored.decode("utf-8", "replace")
    if stored != text or sweep is None:
        raise CLIError(f"--output: {output} already holds a sweep that is not the demo's; pass "
                       "--overwrite to replace it, or choose another output")
    if bool(sweep.arrays["done"].all()):
        print(f"lmech demo: replacing {output} (an earlier run of the demo)", file=sys.stderr)
        return False, True
    print(f"lmech demo: continuing the interrupted demo in {output}", file=sys.stderr)
    return True, False


# -- show / plot ----------------------------------------------------------------
def _archive_names(path: Path) -> dict:
    """``lmech.archive.ls(path)``, with a missing or foreign file as a CLIError."""
    from . import archive as _archive

    _check_input("archive", path)
    try:
        return _archive.ls(path)
    except (OSError, ValueError) as exc:
        raise CLIError(f"archive: {_one_line(exc)}") from None


def _cmd_show(args) -> int:
    import h5py
    import numpy as np

    from . import archive as _archive

    path = Path(args.archive)
    names = _archive_names(path)
    # read everything first: a damaged archive is one line on stderr, nothing on stdout
    try:
        with _archive._open(path) as f:
            root = {k: f.attrs.get(k, "?") for k in ("format_version", "package_version", "created")}
            prov = dict(f["provenance"].attrs) if isinstance(f.get("provenance"), h5py.Group) else None
        results = {name: _archive.load(path, name) for name in names}
    except (OSError, ValueError) as exc:
        raise CLIError(f"archive: {_one_line(exc)}") from None
    print(f"{path}: lmech archive, format {root['format_version']}, "
          f"written by learning-mechanics {root['package_version']} on {root['created']}")
    if prov is not None:
        vers = ", ".join(f"{k} {prov[k]}" for k in ("python", "numpy", "scipy", "numba", "h5py") if k in prov)
        print(f"  provenance: {vers}; git {prov.get('git_commit', '') or 'unknown'}")
    for name, res in results.items():
        if isinstance(res, dict):
            print(f"\n[{name}] unknown kind {res['kind']!r}: arrays {sorted(res['arrays'])}")
            continue
        print(f"\n[{name}] {res.kind}: success={res.success}  {res.message}")
        if res.model is not None:
            print(f"  model: {res.model!r}")
        if res.kind == "lmech.Sweep" and "axes" in res.meta:
            m = res.meta
            print(f"  kind: {m.get('sweep_kind') or m.get('function')}  title: {m.get('title', '')}")
            for a in m["axes"]:
                v = res.arrays[a]
                print(f"  axis {a}: {len(v)} values in [{v.min():g}, {v.max():g}]")
            for o in m["observables"]:
                v = res.arrays[o]
                fin = v[np.isfinite(v)]
                rng = f"[{fin.min():.6g}, {fin.max():.6g}]" if fin.size else "(no finite values)"
                print(f"  {o}: {rng}")
            bad = np.flatnonzero(res.arrays["failed"].ravel() | (res.arrays["done"].ravel()
                                                                 & ~res.arrays["converged"].ravel()))
            for i in bad[:5]:
                print(f"  point {i}: {res.arrays['message'].ravel()[i]}")
            if bad.size > 5:
                print(f"  ... and {bad.size - 5} more points failed or did not converge")
        else:
            for k, v in res.scalars.items():
                print(f"  {k} = {v!r}")
            for k, v in res.arrays.items():
                print(f"  {k}: array{v.shape} {v.dtype}")
    return 0


def _has_matplotlib() -> bool:
    try:
        require("matplotlib", "drawing")
    except MissingDependency:
        return False
    return True


def _require_matplotlib(key: str):
    try:
        require("matplotlib", "drawing").use("Agg")
    except MissingDependency as exc:
        raise CLIError(f"{key}: {exc}") from None


def figure(res, kind_name: str = "", title: str = "", *, observable=None, x=None):
    """The figure ``lmech plot`` draws for ``res``, as a matplotlib Figure, in the house style.

    A sweep is drawn by its kind's plot (``kind_name``, else the sweep's own
    ``sweep_kind``), or, with ``observable`` and/or ``x``, as curves of that
    observable against that axis; a validation report by
    :func:`validation.config.plot_report`; a single result as one of its 1-D
    arrays against another.  Raises :class:`CLIError` naming the option for
    an observable or axis the result does not have.
    """
    _require_matplotlib("plot")
    import matplotlib.pyplot as plt

    from .plotstyle import relabel, style

    if not kind_name and res.kind == "lmech.Sweep" and isinstance(res.meta, dict):
        kind_name = res.meta.get("sweep_kind", "")
    kind = get_kind(kind_name) if kind_name else None
    with style():
        if res.kind == "validation.ValidationReport":
            fig = resolve_callable("validation.config:plot_report")(res, title=title)
            relabel(fig)
            return fig
        fig, ax = plt.subplots()
        if res.kind != "lmech.Sweep":
            _plot_single(res, ax, observable, x)
        elif kind is not None and kind.plot and observable is None and x is None:
            resolve_callable(kind.plot)(res, ax)
        else:
            _plot_generic(res, ax, observable, x, kind)
        relabel(fig, kind, res.meta.get("axes", []) if isinstance(res.meta, dict) else [])
        from matplotlib.collections import QuadMesh

        if any(isinstance(c, QuadMesh) for c in ax.collections):
            ax.grid(False)  # no grid lines over a colour map
        ax.set_title(title or (res.meta.get("title", "") if isinstance(res.meta, dict) else ""))
    return fig


def _plot(res, kind_name: str, png: Path, title: str = "", *, observable=None, x=None) -> None:
    """Draw :func:`figure` into ``png`` (format by extension; PNG at 300 dpi)."""
    from .plotstyle import style

    fig = figure(res, kind_name, title, observable=observable, x=x)
    with style():
        _save(fig, png)


def _save(fig, png: Path) -> None:
    import matplotlib.pyplot as plt

    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=300)
    plt.close(fig)


def _plot_generic(res, ax, observable, x, kind) -> None:
    """One observable of a sweep: curves against ``x`` (one per value of a second axis), or a
    colour map over two axes."""
    import numpy as np

    from .plotstyle import axis_label

    axes = list(res.meta["axes"])
    obs = list(res.meta["observables"])
    if not obs:
        raise CLIError("plot: the sweep has no observables to draw")
    y_name = observable or obs[0]
    if y_name not in res.arrays:
        raise CLIError(f"--observable: the sweep has no observable {y_name!r}; observables: {', '.join(obs)}")
    x_name = x or axes[0]
    if x_name not in axes:
        raise CLIError(f"--x: {x_name!r} is not an axis of the sweep; axes: {', '.join(axes)}")
    v = np.asarray(res.arrays[y_name], float)
    i = axes.index(x_name)
    v = np.moveaxis(v.reshape(res.shape + v.shape[len(res.shape):]), i, 0)
    while v.ndim > 2:
        v = v[..., 0]
    xs = np.asarray(res.arrays[x_name], float)
    others = [a for a in axes if a != x_name]
    if v.ndim == 1 or not others:
        ax.plot(xs, v if v.ndim == 1 else v[:, 0], "o-", label=axis_label(y_name, kind))
    else:
        second = np.asarray(res.arrays[others[0]], float)
        for j in range(v.shape[1]):
            ax.plot(xs, v[:, j], "o-", label=f"{others[0]} = {second[j]:.4g}")
        ax.legend()
    ax.set_xlabel(axis_label(x_name, kind))
    ax.set_ylabel(axis_label(y_name, kind))
    if xs.size > 2 and np.all(xs > 0) and xs.max() / xs.min() > 50:
        ax.set_xscale("log")


def _plot_single(res, ax, observable, x) -> None:
    """A single result: one of its arrays (``--observable``) against another (``--x``) or its index."""
    import numpy as np

    from .plotstyle import axis_label

    ones = {k: np.asarray(v) for k, v in res.arrays.items() if np.asarray(v).dtype.kind in "iuf"
            and np.asarray(v).ndim == 1}
    if not ones:
        raise CLIError("plot: the result holds no 1-D numeric array to draw")
    y_name = observable or next((k for k in ones if k not in ("t", "x", "alpha", "times")), next(iter(ones)))
    if y_name not in ones:
        raise CLIError(f"--observable: no 1-D array {y_name!r}; arrays: {', '.join(ones)}")
    x_name = x or next((k for k in ("t", "times", "x", "alpha") if k in ones and ones[k].size == ones[y_name].size),
                       None)
    if x_name is not None and (x_name not in ones or ones[x_name].size != ones[y_name].size):
        raise CLIError(f"--x: no 1-D array {x_name!r} of the length of {y_name!r}")
    xs = ones[x_name] if x_name else np.arange(ones[y_name].size)
    ax.plot(xs, ones[y_name], "-", label=axis_label(y_name))
    ax.set_xlabel(axis_label(x_name) if x_name else "index")
    ax.set_ylabel(axis_label(y_name))


def _cmd_plot(args) -> int:
    from . import archive as _archive

    path = Path(args.archive)
    names = _archive_names(path)
    name = args.name
    if name is None:
        drawable = [n for n, k in names.items() if k == "validation.ValidationReport"] or \
                   [n for n, k in names.items() if k == "lmech.Sweep"] or list(names)
        if len(drawable) != 1:
            raise CLIError(f"--name: {path} holds {len(drawable)} results {drawable}; name one")
        name = drawable[0]
    elif name not in names:
        raise CLIError(f"--name: {path} has no result {name!r}; it holds {sorted(names)}")
    _require_matplotlib("plot")
    out = _check_output("--output", args.output or path.with_suffix(".png"), figure=True)
    try:
        res = _archive.load(path, name)
    except (OSError, ValueError) as exc:
        raise CLIError(f"archive: {_one_line(exc)}") from None
    if isinstance(res, dict):
        raise CLIError(f"--name: {name!r} is of a kind this installation does not know ({res['kind']})")
    kind_name = res.meta.get("sweep_kind", "") if res.kind == "lmech.Sweep" else ""
    _plot(res, kind_name, out, observable=args.observable, x=args.x)
    print(f"figure: {out}")
    return 0


def _cmd_validate(args) -> int:
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers: must be an integer >= 1, got {args.workers}")
    if args.output:
        _check_output("--output", args.output)
    if args.png:
        if args.no_plot:
            raise CLIError("--png: not with --no-plot")
        _check_output("--png", args.png, figure=True)
    run = resolve_callable(VALIDATE)
    return int(run(args.config, output=args.output, png=args.png, workers=args.workers,
                   quiet=args.quiet, overwrite=args.overwrite, plot=not args.no_plot))


def _param_line(group: str, name: str, p, required: bool | None = None) -> str:
    """One line of ``lmech kinds``: name, type, default or "required", allowed range, help."""
    from .spec import Param

    req = p.required if required is None and isinstance(p, Param) else bool(required)
    if not isinstance(p, Param):  # a reader function of the validation schema
        doc = (getattr(p, "__doc__", "") or "").strip().splitlines()
        return f"    {group} {name}{' (required)' if req else ''}: {doc[0] if doc else 'see the kind'}"
    default = "required" if req else ("optional" if p.required else f"default {p.default!r}")
    types = " or ".join(getattr(t, "__name__", str(t)) for t in (p.type if isinstance(p.type, tuple) else (p.type,)))
    rng = []
    if p.low is not None:
        rng.append(f"{'>' if p.low_open else '>='} {p.low:g}")
    if p.high is not None:
        rng.append(f"{'<' if p.high_open else '<='} {p.high:g}")
    if p.choices:
        rng.append("one of " + ", ".join(map(str, p.choices)))
    extra = f"; {' and '.join(rng)}" if rng else ""
    return f"    {group} {name} ({types}, {default}{extra}){': ' + p.help if p.help else ''}"


def _cmd_kinds(args) -> int:
    from .spec import import_layer, params_of

    for layer in ("odes", "dmft", "replica", "validation"):
        import_layer(layer)
    sweep_kinds = sorted(kinds().items())
    validate_kinds = sorted(resolve_callable(VALIDATION_KINDS).items())
    if args.name is not None:
        sweep_kinds = [(n, k) for n, k in sweep_kinds if args.name in (n, n.split(".", 1)[-1])]
        validate_kinds = [(n, k) for n, k in validate_kinds if args.name in (n, n.split(".", 1)[-1])]
        if not sweep_kinds and not validate_kinds:
            names = sorted([n for n, _ in kinds().items()] + list(resolve_callable(VALIDATION_KINDS)))
            raise CLIError(f"name: no kind {args.name!r}; kinds: {', '.join(names)}")
    if sweep_kinds:
        print("Sweep kinds (lmech run CONFIG.toml; [model] and [grid] take the model/grid keys):")
    for name, k in sweep_kinds:
        print(f"  {name}: {k.description}")
        for group, params in (("model/grid", k.params), ("options", k.options)):
            for pn, p in params.items():
                print(_param_line(group, pn, p))
    if validate_kinds:
        print("\nValidation kinds (lmech validate CONFIG.toml: theory against finite-N simulation):")
    for name, k in validate_kinds:
        print(f"  {name}: {k.description}")
        try:
            model_params = params_of(resolve_callable(k.model))
        except (TypeError, AttributeError):
            model_params = {}
        for pn, p in model_params.items():
            print(_param_line("model", pn, p))
        for group, params in (("theory", k.theory), ("simulation", k.simulation)):
            for pn, p in params.items():
                print(_param_line(group, pn, p, required=pn in k.required))
    return 0


def _cmd_warmup(args) -> int:
    from .warm import cold_layers, warmup

    all_layers = ("lmech", "odes", "dmft", "replica", "validation")
    bad = [x for x in args.layers if x not in all_layers]
    if bad:
        raise CLIError(f"LAYER: unknown layer {bad[0]!r}; choose from {', '.join(all_layers)}")
    layers = tuple(dict.fromkeys(("lmech",) + tuple(args.layers))) if args.layers else all_layers
    import time

    t0 = time.perf_counter()
    cold = cold_layers(layers)
    seconds = warmup(layers, notice=False)
    total = time.perf_counter() - t0
    what = f"compiled ({', '.join(cold)} had no cache)" if cold else "loaded from the cache"
    print(f"lmech warmup: kernels of {', '.join(layers)} {what}: {len(seconds)} modules in {total:.1f} s")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``lmech`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"run": _cmd_run, "show": _cmd_show, "plot": _cmd_plot, "demo": _cmd_demo,
                "validate": _cmd_validate, "kinds": _cmd_kinds, "warmup": _cmd_warmup}
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"lmech: config error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except CLIError as exc:
        print(f"lmech: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `lmech show X.h5 | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except (OSError, ValueError, RuntimeError) as exc:
        from .archive import ArchiveBusyError, ArchiveError

        # a damaged archive, one another process writes, or a file system refusing a write
        # (disk full, permissions changed under us): one line, not a traceback
        if isinstance(exc, (ArchiveError, ArchiveBusyError)):
            print(f"lmech: error: archive: {_one_line(exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError):
            print(f"lmech: error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("lmech: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
