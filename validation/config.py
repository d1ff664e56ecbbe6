"""``lmech validate CONFIG.toml``: a theory-versus-simulation comparison from a TOML config.

A config::

    kind = "validation.committee"      # committee | linreg | pspin2 | pspin | rnn | erm | bayes
    title = "online SGD vs the ODEs"   # optional

    [model]                            # fields of the kind's model class
    K = 2
    M = 2
    lr = 0.5

    [theory]                           # how to compute the theory (kind specific)
    t_max = 300.0
    times = {start = 0.0, stop = 300.0, num = 31}    # or a list
    Q0 = [[0.5, 0.0], [0.0, 0.5]]
    R0 = [[1e-3, 5e-4], [2e-4, 8e-4]]

    [compare]                          # options of validation.compare
    sizes = [500, 1000, 2000]
    seeds = 10                         # or a list of seeds
    observables = ["eg"]
    level = 0.01
    tol_rel = 0.1                      # equivalence tolerance tol_abs + tol_rel |theory|
    # tol_abs = 1e-3                   # (default 1e-3 max |theory|); either may be a table
    #                                  # {eg = 0.1, Q = 0.05} per observable

    [simulation]                       # options of the simulator (kind specific)
    n_test = 1000

    [run]                              # defaults for the command line
    output = "committee_validation.h5"
    png = "committee_validation.png"
    workers = 2

The file is read with the reader of ``lmech run`` (:mod:`lmech.config`):
``[model]`` holds fields of the kind's model class, checked against their
declared :class:`~lmech.config.Param` and then by the model itself; a block
field may be a name (``prior = "rademacher"``) or a table
(``channel = {kind = "probit", delta = 0.1}``) built through the block
registry (:func:`lmech.config.build_block`); ``theory.times`` and
``theory.alphas`` are axes as in ``[grid]`` (:func:`lmech.config.axis`).
This module adds only the validation sections ``[theory]``, ``[compare]``,
``[simulation]`` and the cross checks of each kind.

:func:`run_validation_config` validates the whole file first (every problem a
:class:`lmech.config.ConfigError` naming the key), then computes the theory,
runs the comparison (seeds in parallel on ``workers`` local processes), writes
the archive (the theory as ``theory``, the report as ``validation``, the raw
per-run sweep as ``validation_runs``) and a figure: the theory curve over the
simulation means with error bars, one panel per observable.  The exit status
is 0 when theory and simulation agree (within the tolerance), 1 when they
disagree or a simulation or the theory failed, 3 when the comparison is
inconclusive (see :func:`validation.compare`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lmech.config import (RUN_KEYS, ConfigError, Param, axis, build_model, check_keys, param_named,
                          read_kind_name, read_section, read_toml, read_values, resolve_callable)

__all__ = ["run_validation_config", "load_validation_config", "parse_validation_config",
           "ValidationConfig", "ValidationKind", "KINDS"]


# -- readers of the validation sections ---------------------------------------------
def _times(key: str, spec: Any) -> np.ndarray:
    """Times (or sample ratios): an axis of values >= 0, strictly increasing."""
    return np.asarray(axis(key, spec, Param(float, low=0.0), increasing=True, max_num=100_000), dtype=float)


def _matrix(key: str, value: Any) -> np.ndarray:
    """A finite vector or matrix (an initial condition)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(key, f"expected a matrix (array of arrays of numbers), got {value!r}") from None
    if arr.ndim not in (1, 2) or not np.all(np.isfinite(arr)):
        raise ConfigError(key, f"expected a finite vector or matrix, got {value!r}")
    return arr


def _sizes(key: str, value: Any) -> list:
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"expected a non-empty list of sizes, got {value!r}")
    sizes = [Param(int, low=2, high=10**7).check(f"{key}[{i}]", n) for i, n in enumerate(value)]
    if len(set(sizes)) != len(sizes):
        raise ConfigError(key, "sizes must be distinct")
    return sizes


def _seeds(key: str, value: Any):
    if isinstance(value, list):
        seeds = [Param(int, low=0).check(f"{key}[{i}]", s) for i, s in enumerate(value)]
        if len(seeds) < 2 or len(set(seeds)) != len(seeds):
            raise ConfigError(key, "needs at least 2 distinct seeds")
        return seeds
    return Param(int, low=2, high=100_000).check(key, value)


def _tolerance(key: str, value: Any):
    """A tolerance >= 0, or a table of them per observable."""
    if isinstance(value, dict):
        return {str(o): Param(float, low=0.0).check(f"{key}.{o}", t) for o, t in value.items()}
    return Param(float, low=0.0).check(key, value)


def _names(key: str, value: Any) -> list:
    if not isinstance(value, list) or not value or not all(isinstance(o, str) for o in value):
        raise ConfigError(key, f"expected a non-empty list of names, got {value!r}")
    return list(value)


def _on_dt_grid(times: np.ndarray, dt: float) -> bool:
    k = times / dt
    return bool(np.all(np.abs(k - np.rint(k)) <= 1e-9 * np.maximum(1.0, k)))


def _sampled_options() -> dict:
    """The option table of :func:`dmft.sampled.solve_sampled` (declared there once)."""
    from dmft.sampled import OPTIONS

    return OPTIONS


# -- theories -----------------------------------------------------------------------
def _committee_theory(model, th):
    import odes

    times = th["times"]
    t_max = th.get("t_max", float(times[-1]))
    if times[-1] > t_max:
        raise ConfigError("theory.times", f"the last time {times[-1]} exceeds t_max = {t_max}")
    extra = {k: th[k] for k in ("T", "v0") if k in th}
    try:
        res = odes.integrate(model, t_max, Q0=th["Q0"], R0=th["R0"], t_eval=times,
                             rtol=th.get("rtol", 1e-10), **extra)
    except ValueError as exc:
        key = param_named(str(exc), ("Q0", "R0", "T", "v0", "rtol"))
        raise ConfigError(f"theory.{key}" if key else "theory", str(exc)) from None
    return res, {}


def _linreg_theory(model, th):
    import dmft

    t_max = th["t_max"]
    dt = th.get("dt", 0.05)
    res = dmft.solve(model, t_max, dt=dt)
    every = th.get("every", 10)
    times = res.arrays["t"][::every]
    return res, {"times": times}


def _pspin2_theory(model, th):
    import dmft

    from .gradflow import pspin_theory

    times = th["times"]
    dt = th.get("dt", 0.05)
    t_max = float(times[-1])
    res = dmft.solve(model, t_max, dt=dt)
    try:
        return pspin_theory(res, times), {"times": times}
    except ValueError as exc:
        raise ConfigError("theory.times", str(exc)) from None


def _pspin_theory(model, th):
    """DMFT of any spherical p-spin (pure or mixed, any T) on the requested times; the simulator
    is the Langevin one (:func:`validation.simulate_pspin`)."""
    theory, sim = _pspin2_theory(model, th)
    return theory, {**sim, "method": "langevin"}


def _replica_theory(model, th):
    from .erm import replica_theory

    alphas = th["alphas"]
    if alphas[0] <= 0:
        raise ConfigError("theory.alphas", "sample ratios must be > 0")
    try:
        return replica_theory(model, alphas), {"alphas": alphas}
    except ValueError as exc:
        raise ConfigError("theory.alphas", str(exc)) from None


def _rnn_theory(model, th):
    import dmft

    from .gradflow import pspin_theory

    times = th["times"]
    dt = th.get("dt", 0.05)
    res = dmft.solve(model, float(times[-1]), dt=dt)
    try:
        return pspin_theory(res, times), {"times": times}
    except ValueError as exc:
        raise ConfigError("theory.times", str(exc)) from None


def _glm_theory(model, th):
    import dmft

    t_max = th["t_max"]
    dt = th.get("dt", 0.05)
    method = th.get("method", "uniform" if model.closed else "sampled")
    opts = {k: th[k] for k in ("n_traj", "n_replicas", "seed") if k in th}
    if method == "uniform" and opts:
        raise ConfigError("theory." + sorted(opts)[0], "only for method = \"sampled\"")
    if method == "uniform" and not model.closed:
        raise ConfigError("theory.method", f"the model (loss {model.loss!r}, batch_fraction "
                          f"{model.batch_fraction:g}) has no Gaussian closure: use method = \"sampled\"")
    try:
        res = dmft.solve(model, t_max, method=method, dt=dt, **opts)
    except ValueError as exc:
        name = param_named(str(exc), ("method", "dt", "t_max", "n_traj", "n_replicas", "seed"))
        raise ConfigError("theory" if name is None else f"theory.{name}", str(exc)) from None
    every = th.get("every", 10)
    return res, {"times": res.arrays["t"][::every]}


# -- cross checks of each kind (before any work) -------------------------------------
def _committee_check(model, theory, cmp, sim):
    K, M = model.K, model.M
    for k, shape in (("Q0", (K, K)), ("R0", (K, M)), ("T", (M, M)), ("v0", (K,))):
        if k in theory and theory[k].shape != shape:
            raise ConfigError(f"theory.{k}", f"expected shape {shape}, got {theory[k].shape}")
    if "t_max" in theory and theory["times"][-1] > theory["t_max"]:
        raise ConfigError("theory.times", f"the last time exceeds t_max = {theory['t_max']}")
    if min(cmp["sizes"]) < K + M:
        raise ConfigError("compare.sizes", f"sizes must be >= K + M = {K + M}")
    if model.act_code < 0:
        raise ConfigError("model.activation", "custom activations are Python callables and cannot be "
                          "given in a config; call validation.compare from Python")


def _rnn_check(model, theory, cmp, sim):
    dt = theory.get("dt", 0.05)
    if not _on_dt_grid(theory["times"], dt):
        raise ConfigError("theory.times", f"every time must be a multiple of dt = {dt:g}")


def _alphas_check(model, theory, cmp, sim):
    if theory["alphas"][0] <= 0:
        raise ConfigError("theory.alphas", "sample ratios must be > 0")


def _pspin2_check(model, theory, cmp, sim):
    if model.p != 2 or model.T != 0.0 or not model.pure:
        raise ConfigError("model.p" if model.p != 2 else "model.T",
                          "the exact finite-N dynamics needs a pure p = 2 model at T = 0")
    _rnn_check(model, theory, cmp, sim)


def _pspin_check(model, theory, cmp, sim):
    coef = np.asarray(model.xi_coefficients())
    degrees = [k for k in range(2, coef.size) if coef[k] != 0.0]
    n_max = max(cmp["sizes"])
    if min(cmp["sizes"]) < max(3, max(degrees)):
        raise ConfigError("compare.sizes", f"sizes must be >= {max(3, max(degrees))}")
    limit = sim.get("max_tensor_bytes", 2 * 1024 ** 3)
    if model.p > 3 or not model.pure:
        from .gradflow import pspin_tensor_bytes
        need = pspin_tensor_bytes(degrees, n_max)
    else:
        need = 8 * n_max ** model.p if model.p == 3 else 0
    for key, dt in (("theory.dt", theory.get("dt", 0.05)), ("simulation.dt", sim.get("dt", 0.01))):
        if not _on_dt_grid(theory["times"], dt):
            raise ConfigError("theory.times", f"every time must be a multiple of {key} = {dt:g}")
    if need > limit:
        raise ConfigError("compare.sizes", f"N = {n_max} needs {need / 1e9:.3g} GB of coupling tensors "
                          f"> max_tensor_bytes = {limit / 1e9:.3g} GB")


def _glm_check(model, theory, cmp, sim):
    if sim.get("method") == "exact" and "dt" in sim:
        raise ConfigError("simulation.dt", "the exact eigenbasis solution (method = \"exact\") has "
                          "no time step; drop dt or use method = \"heun\"")


@dataclass(frozen=True)
class ValidationKind:
    """A theory-versus-simulation comparison that ``lmech validate`` runs.

    Parameters
    ----------
    name : str
        ``"validation.<short>"``; a config may give the short name.
    model : str
        Import string of the model class; ``[model]`` holds its fields.
    theory : mapping
        Schema of ``[theory]``: a :class:`~lmech.config.Param` or a reader
        ``(key, value) -> value`` per key (:func:`lmech.config.read_values`).
    simulation : mapping
        Schema of ``[simulation]`` (options of the simulator).
    required : tuple of str
        Keys of ``[theory]`` that must be given.
    make_theory : callable
        ``(model, theory) -> (theory result, simulator options)``.
    check : callable, optional
        ``(model, theory, compare, simulation)`` raising a
        :class:`~lmech.config.ConfigError` for an invalid combination.
    description : str
        One line (the default title).
    """

    name: str
    model: str
    theory: dict
    simulation: dict
    required: tuple
    make_theory: Callable
    check: Callable | None = None
    description: str = ""


_POSITIVE = Param(float, low=0.0, low_open=True)
_SAMPLED = _sampled_options()

KINDS = {k.name: k for k in (
    ValidationKind(
        name="validation.committee", model="odes:CommitteeMachine",
        theory={"t_max": Param(float, low=0.0, low_open=True, help="end of the ODE integration"),
                "times": _times, "Q0": _matrix, "R0": _matrix, "T": _matrix, "v0": _matrix,
                "rtol": Param(float, low=1e-14, high=1.0)},
        simulation={"n_test": Param(int, low=0, high=10_000_000),
                    "block_bytes": Param(int, low=8)},
        required=("times", "Q0", "R0"), make_theory=_committee_theory, check=_committee_check,
        description="online SGD of the committee machine vs odes.integrate"),
    ValidationKind(
        name="validation.linreg", model="dmft:LinearRegressionGF",
        theory={"t_max": _POSITIVE, "dt": _POSITIVE, "every": Param(int, low=1)},
        simulation={}, required=("t_max",), make_theory=_linreg_theory,
        description="exact finite-d gradient flow / Langevin on least squares vs dmft.solve"),
    ValidationKind(
        name="validation.pspin2", model="dmft:SphericalPSpin",
        theory={"times": _times, "dt": _POSITIVE},
        simulation={}, required=("times",), make_theory=_pspin2_theory, check=_pspin2_check,
        description="exact GOE dynamics of the spherical 2-spin at T = 0 vs dmft.solve"),
    ValidationKind(
        name="validation.pspin", model="dmft:SphericalPSpin",
        theory={"times": _times, "dt": _POSITIVE},
        simulation={"dt": _POSITIVE, "max_tensor_bytes": Param(int, low=1)},
        required=("times",), make_theory=_pspin_theory, check=_pspin_check,
        description="Langevin dynamics of the spherical p-spin (any p, T, mixture) at finite N "
                    "(dense coupling tensors, projected Heun) vs dmft.solve"),
    ValidationKind(
        name="validation.rnn", model="dmft:RandomRNN",
        theory={"times": _times, "dt": _POSITIVE},
        simulation={"dt": _POSITIVE}, required=("times",), make_theory=_rnn_theory, check=_rnn_check,
        description="random recurrent network at finite N (stochastic Heun) vs dmft.solve"),
    ValidationKind(
        name="validation.erm", model="replica:ERM",
        theory={"alphas": _times},
        simulation={"gtol": Param(float, low=0.0, low_open=True, high=1e-2)},
        required=("alphas",), make_theory=_replica_theory, check=_alphas_check,
        description="finite-d empirical risk minimisation vs the replica saddle point (replica.ERM)"),
    ValidationKind(
        name="validation.bayes", model="replica:BayesOptimalGLM",
        theory={"alphas": _times},
        simulation={"n_iter": Param(int, low=1, high=100_000),
                    "damping": Param(float, low=0.0, high=1.0, high_open=True),
                    "tol": _POSITIVE},
        required=("alphas",), make_theory=_replica_theory, check=_alphas_check,
        description="GAMP at finite d vs the Bayes-optimal state evolution (replica.BayesOptimalGLM)"),
    ValidationKind(
        name="validation.glm", model="dmft:GLMDynamics",
        theory={"t_max": _POSITIVE, "dt": _POSITIVE, "every": Param(int, low=1),
                "method": Param(str, choices=("uniform", "sampled")),
                # the sampled method's own declarations (dmft.sampled.OPTIONS)
                **{k: _SAMPLED[k] for k in ("n_traj", "n_replicas", "seed")}},
        simulation={"dt": _POSITIVE, "method": Param(str, choices=("auto", "exact", "heun"))},
        required=("t_max",), make_theory=_glm_theory, check=_glm_check,
        description="finite-d gradient flow / Langevin / persistent SGD on a GLM (square, "
                    "logistic, hinge) vs dmft.solve (closed or sampled)"),
)}

_COMPARE = {"sizes": _sizes, "seeds": _seeds, "observables": _names,
            "level": Param(float, low=0.0, high=0.5, low_open=True, high_open=True),
            "power": _POSITIVE, "z_tol": _POSITIVE,
            "atol": Param(float, low=0.0), "rtol": Param(float, low=0.0),
            "tol_abs": _tolerance, "tol_rel": _tolerance}
_RUN = {**RUN_KEYS, "png": Param(str, help="figure to write")}
_TOP = ("kind", "title", "model", "theory", "compare", "simulation", "run")


@dataclass(frozen=True)
class ValidationConfig:
    """A validated validation config."""

    kind: ValidationKind
    title: str
    model: Any
    theory: dict
    compare: dict
    simulation: dict
    run: dict
    text: str


def parse_validation_config(data: dict, text: str = "") -> ValidationConfig:
    """Validate a config dictionary; every problem is a :class:`ConfigError` naming the key.

    The shared sections (``kind``, ``title``, ``[model]``, ``[run]``) are
    read as ``lmech run`` reads them (:mod:`lmech.config`); this adds
    ``[theory]``, ``[compare]``, ``[simulation]`` and the kind's cross checks.
    """
    name = read_kind_name(data)
    if "." not in name:
        name = "validation." + name
    if name not in KINDS:
        from lmech.config import get_kind

        hint = "; it is a sweep kind: use lmech run" if get_kind(data["kind"]) is not None else ""
        raise ConfigError("kind", f"unknown validation kind {data['kind']!r}; known: "
                          f"{', '.join(sorted(KINDS))}{hint}")
    kind = KINDS[name]
    check_keys("", data, _TOP)
    sections = {s: read_section(data, s) for s in ("model", "theory", "compare", "simulation", "run")}
    title = data.get("title", kind.description)
    if not isinstance(title, str):
        raise ConfigError("title", f"expected a string, got {title!r}")
    model = build_model(resolve_callable(kind.model), sections["model"])
    theory = read_values("theory", sections["theory"], kind.theory, owner=kind.name,
                         required=kind.required)
    cmp = read_values("compare", sections["compare"], _COMPARE, required=("sizes",))
    if "observables" in cmp:
        compared = cmp["observables"]
    else:
        from .compare import get_simulator
        compared = list(get_simulator(model).observables)
    for k in ("tol_abs", "tol_rel"):
        if isinstance(cmp.get(k), dict):
            unknown = sorted(set(cmp[k]) - set(compared))
            if unknown:
                raise ConfigError(f"compare.{k}", f"no compared observable {unknown}; compared: {compared}")
    sim = read_values("simulation", sections["simulation"], kind.simulation, owner=kind.name,
                      what="option")
    run = read_values("run", sections["run"], _RUN)
    if kind.check is not None:
        kind.check(model, theory, cmp, sim)
    return ValidationConfig(kind=kind, title=title, model=model, theory=theory, compare=cmp,
                            simulation=sim, run=run, text=text)


def load_validation_config(path) -> ValidationConfig:
    """Read and validate a TOML validation config; errors are :class:`ConfigError`."""
    data, text = read_toml(path)
    return parse_validation_config(data, text)


def _axis_label(name: str) -> str:
    from lmech.plotstyle import axis_label

    return axis_label(name.removesuffix("_t"))


def plot_report(report, ax_list=None, title: str = ""):
    """Theory curves over simulation means with error bars (largest size, and the extrapolation).

    One panel per observable (the first component of a matrix observable
    ``C``-like, or every diagonal component for ``Q``); returns the figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    obs = report.observables
    if ax_list is None:
        fig, axes = plt.subplots(1, len(obs), figsize=(5.0 * len(obs), 3.8), squeeze=False)
        ax_list = list(axes[0])
    else:
        fig = ax_list[0].figure
    a = report.arrays
    x = a["x"]
    sizes = a["sizes"]
    for ax, o in zip(ax_list, obs):
        th = a[f"{o}/theory"]
        mean = a[f"{o}/mean"]
        sem = a[f"{o}/sem"]
        comps = [()] if th.ndim == 1 else [tuple(c) for c in np.ndindex(th.shape[1:])][:4]
        markers = "osD^v<>p"
        span = (float(np.nanmax(x)) - float(np.nanmin(x))) if x.size > 1 else 0.0
        for ci, c in enumerate(comps):
            sl = (slice(None),) + c
            lab = o + (str(list(c)) if c else "")
            # theory under the data: a continuous line (black, then grey shades per component)
            ax.plot(x, th[sl], "-", color=str(0.45 * ci / max(1, len(comps) - 1)) if len(comps) > 1 else "k",
                    lw=1.2, zorder=1, label=f"theory {lab}")
            for si, n in enumerate(sizes):
                # one colour and marker per size, slightly offset in x so that error bars do not hide
                # each other; open markers keep the theory line visible beneath
                dx = 0.006 * span * (si - (len(sizes) - 1) / 2)
                ax.errorbar(x + dx, mean[(si,) + sl], yerr=sem[(si,) + sl], fmt=markers[si % len(markers)],
                            ms=4.5, mfc="none", mew=1.1, color=f"C{si % 10}", capsize=2, elinewidth=0.9,
                            zorder=3, label=f"simulation N = {int(n)}" if ci == 0 else None)
            if f"{o}/extrap" in a:
                ex, ee = a[f"{o}/extrap"][sl], a[f"{o}/extrap_err"][sl]
                ax.errorbar(x, ex, yerr=ee, fmt="*", ms=6, color="0.25", capsize=2, zorder=4,
                            label=r"extrapolation $N \to \infty$" if ci == 0 else None)
        ax.set_xlabel(_axis_label(report.meta["x"]))
        ax.set_ylabel(_axis_label(o))
        verdict = report.verdict_of(o)
        sc = report.scalars
        crit = (f"max |z| = {sc.get(f'max_abs_z_{o}', np.nan):.2f} vs z_crit {sc[f'z_crit_{o}']:.2f}, "
                f"bound/tol = {sc[f'tol_ratio_{o}']:.2f}" if f"z_crit_{o}" in sc else
                f"max |z| = {sc.get(f'max_abs_z_{o}', np.nan):.2f}")
        ax.set_title(f"{o}: {verdict.upper() if verdict != 'agree' else verdict} ({crit})", fontsize=9)
        if o.startswith("eg") and np.all(th[np.isfinite(th)] > 0):
            ax.set_yscale("log")
        ax.legend()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def run_validation_config(path, output=None, png=None, workers=None, quiet=False, overwrite=False,
                          plot=True) -> int:
    """Run the comparison a TOML config describes; write the archive and the figure.

    Parameters
    ----------
    path : path
        The TOML config (see the module docstring).
    output : path, optional
        HDF5 archive (default: ``[run] output``, else the config's name with ``.h5``).
    png : path, optional
        Figure (default: ``[run] png``, else the archive's name with ``.png``).
    workers : int, optional
        Local worker processes for the simulations (default: ``[run] workers``, else serial).
    quiet : bool
        No progress output.
    overwrite : bool
        Replace an existing archive (otherwise an existing archive is refused
        before any work).
    plot : bool
        Draw the figure.  Without matplotlib the archive is still written and
        the figure skipped with a one-line note (an explicit ``png`` then is
        an error, before any work).

    Returns
    -------
    int
        ``0`` when theory and simulation agree, ``1`` when they disagree or
        simulations (or the theory) failed, ``3`` when the comparison is
        inconclusive.  A bad config raises :class:`ConfigError` before
        any work.
    """
    cfg = load_validation_config(path)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError("workers", f"must be an integer >= 1, got {workers!r}")
    out = Path(output or cfg.run.get("output") or Path(path).with_suffix(".h5"))
    fig_path = Path(png or cfg.run.get("png") or out.with_suffix(".png"))
    workers = workers if workers is not None else cfg.run.get("workers")
    if out.exists() and not overwrite:
        raise ConfigError("output", f"{out} exists; pass --overwrite to replace it, or choose another -o")
    from lmech.optional import MissingDependency, require

    skip_note = None
    if plot:
        try:
            require("matplotlib", "the figure")
        except MissingDependency as exc:
            if png or cfg.run.get("png"):
                raise ConfigError("png", str(exc)) from None
            skip_note = f"figure skipped: {exc}"
    else:
        skip_note = "figure not drawn (--no-plot)"

    import lmech
    from lmech import archive

    from .compare import compare

    theory, sim_from_theory = cfg.kind.make_theory(cfg.model, cfg.theory)
    if isinstance(theory, lmech.Result) and not theory.success:
        print(f"lmech validate: the theory failed: {theory.message}", file=sys.stderr)
        return 1
    sim_options = {**sim_from_theory, **cfg.simulation}
    executor = None
    if workers and workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        executor = ProcessPoolExecutor(workers)
    if overwrite and out.exists():
        out.unlink()
    try:
        report = compare(theory, cfg.model, executor=executor, sim_options=sim_options,
                         progress=not quiet, archive=out, name="validation", **cfg.compare)
    finally:
        if executor is not None:
            executor.shutdown()
    if isinstance(theory, lmech.Result):
        archive.save(theory, out, "theory", config_text=cfg.text)
    archive.save(report, out, "validation", config_text=cfg.text)
    if skip_note is None:
        from lmech.plotstyle import style

        with style():
            fig = plot_report(report, title=cfg.title)
            fig.savefig(fig_path, dpi=300)
    if not quiet:
        for o in report.observables:
            th = report.arrays[f"{o}/theory"]
            comp = () if th.ndim == 1 else (0,) * (th.ndim - 1)
            print(report.table(o, comp))
        print(f"{report.message}\narchive: {out}")
        if skip_note is None:
            print(f"figure: {fig_path}")
    if skip_note is not None:
        print(f"lmech validate: {skip_note}", file=sys.stderr)
    if not report.success or report.verdict == "disagree":
        return 1
    return 0 if report.verdict == "agree" else 3
