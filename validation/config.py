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

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lmech.config import ConfigError, Param, param_named, read_toml

__all__ = ["run_validation_config", "load_validation_config", "ValidationConfig", "KINDS"]


def _axis(key: str, spec: Any) -> np.ndarray:
    """Times as a list of numbers or a table ``{start, stop, num}``; strictly increasing, >= 0."""
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(key, "needs at least one value")
        vals = [Param(float, low=0.0).check(f"{key}[{i}]", v) for i, v in enumerate(spec)]
        arr = np.asarray(vals, dtype=float)
    elif isinstance(spec, dict):
        for k in spec:
            if k not in ("start", "stop", "num"):
                raise ConfigError(f"{key}.{k}", "unknown key; allowed: num, start, stop")
        for k in ("start", "stop", "num"):
            if k not in spec:
                raise ConfigError(f"{key}.{k}", "missing")
        start = Param(float, low=0.0).check(f"{key}.start", spec["start"])
        stop = Param(float, low=0.0).check(f"{key}.stop", spec["stop"])
        num = Param(int, low=1, high=100_000).check(f"{key}.num", spec["num"])
        arr = np.linspace(start, stop, num)
    else:
        raise ConfigError(key, f"expected a list of times or a table {{start, stop, num}}, got {spec!r}")
    if np.any(np.diff(arr) <= 0):
        raise ConfigError(key, "times must be strictly increasing")
    return arr


def _matrix(key: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(key, f"expected a matrix (array of arrays of numbers), got {value!r}") from None
    if arr.ndim not in (1, 2) or not np.all(np.isfinite(arr)):
        raise ConfigError(key, f"expected a finite vector or matrix, got {value!r}")
    return arr


@dataclass(frozen=True)
class _Kind:
    name: str
    model: str                              # import string of the model class
    theory: dict                            # key -> Param, or "times" / "matrix"
    simulation: dict                        # key -> Param
    make_theory: Callable                   # (model, theory_opts) -> (theory, sim_options)
    description: str


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


KINDS = {
    "validation.committee": _Kind(
        name="validation.committee", model="odes:CommitteeMachine",
        theory={"t_max": Param(float, low=0.0, low_open=True, help="end of the ODE integration"),
                "times": "times", "Q0": "matrix", "R0": "matrix", "T": "matrix", "v0": "matrix",
                "rtol": Param(float, low=1e-14, high=1.0)},
        simulation={"n_test": Param(int, low=0, high=10_000_000),
                    "block_bytes": Param(int, low=8)},
        make_theory=_committee_theory,
        description="online SGD of the committee machine vs odes.integrate"),
    "validation.linreg": _Kind(
        name="validation.linreg", model="dmft:LinearRegressionGF",
        theory={"t_max": Param(float, low=0.0, low_open=True), "dt": Param(float, low=0.0, low_open=True),
                "every": Param(int, low=1)},
        simulation={},
        make_theory=_linreg_theory,
        description="exact finite-d gradient flow / Langevin on least squares vs dmft.solve"),
    "validation.pspin2": _Kind(
        name="validation.pspin2", model="dmft:SphericalPSpin",
        theory={"times": "times", "dt": Param(float, low=0.0, low_open=True)},
        simulation={},
        make_theory=_pspin2_theory,
        description="exact GOE dynamics of the spherical 2-spin at T = 0 vs dmft.solve"),
    "validation.pspin": _Kind(
        name="validation.pspin", model="dmft:SphericalPSpin",
        theory={"times": "times", "dt": Param(float, low=0.0, low_open=True)},
        simulation={"dt": Param(float, low=0.0, low_open=True),
                    "max_tensor_bytes": Param(int, low=1)},
        make_theory=_pspin_theory,
        description="Langevin dynamics of the spherical p-spin (any p, T, mixture) at finite N "
                    "(dense coupling tensors, projected Heun) vs dmft.solve"),
    "validation.rnn": _Kind(
        name="validation.rnn", model="dmft:RandomRNN",
        theory={"times": "times", "dt": Param(float, low=0.0, low_open=True)},
        simulation={"dt": Param(float, low=0.0, low_open=True)},
        make_theory=_rnn_theory,
        description="random recurrent network at finite N (stochastic Heun) vs dmft.solve"),
    "validation.erm": _Kind(
        name="validation.erm", model="replica:ERM",
        theory={"alphas": "times"},
        simulation={"gtol": Param(float, low=0.0, low_open=True, high=1e-2)},
        make_theory=_replica_theory,
        description="finite-d empirical risk minimisation vs the replica saddle point (replica.ERM)"),
    "validation.bayes": _Kind(
        name="validation.bayes", model="replica:BayesOptimalGLM",
        theory={"alphas": "times"},
        simulation={"n_iter": Param(int, low=1, high=100_000),
                    "damping": Param(float, low=0.0, high=1.0, high_open=True),
                    "tol": Param(float, low=0.0, low_open=True)},
        make_theory=_replica_theory,
        description="GAMP at finite d vs the Bayes-optimal state evolution (replica.BayesOptimalGLM)"),
    "validation.glm": _Kind(
        name="validation.glm", model="dmft:GLMDynamics",
        theory={"t_max": Param(float, low=0.0, low_open=True),
                "dt": Param(float, low=0.0, low_open=True), "every": Param(int, low=1),
                "method": Param(str, choices=("uniform", "sampled")),
                "n_traj": Param(int, low=10, high=10 ** 7),
                "n_replicas": Param(int, low=2, high=1000), "seed": Param(int, low=0)},
        simulation={"dt": Param(float, low=0.0, low_open=True),
                    "method": Param(str, choices=("auto", "exact", "heun"))},
        make_theory=_glm_theory,
        description="finite-d gradient flow / Langevin / persistent SGD on a GLM (square, "
                    "logistic, hinge) vs dmft.solve (closed or sampled)"),
}
_REQUIRED_THEORY = {"validation.glm": ("t_max",),
                    "validation.committee": ("times", "Q0", "R0"), "validation.linreg": ("t_max",),
                    "validation.pspin2": ("times",), "validation.pspin": ("times",),
                    "validation.rnn": ("times",),
                    "validation.erm": ("alphas",), "validation.bayes": ("alphas",)}

_COMPARE = {"sizes": None, "seeds": None, "observables": None,
            "level": Param(float, low=0.0, high=0.5, low_open=True, high_open=True),
            "power": Param(float, low=0.0, low_open=True), "z_tol": Param(float, low=0.0, low_open=True),
            "atol": Param(float, low=0.0), "rtol": Param(float, low=0.0),
            "tol_abs": None, "tol_rel": None}
_RUN = {"output": Param(str), "png": Param(str), "workers": Param(int, low=1)}
_TOP = ("kind", "title", "model", "theory", "compare", "simulation", "run")


@dataclass(frozen=True)
class ValidationConfig:
    """A validated validation config."""

    kind: _Kind
    title: str
    model: Any
    theory: dict
    compare: dict
    simulation: dict
    run: dict
    text: str


def _build_model(kind: _Kind, table: dict):
    from lmech.config import resolve_callable

    cls = resolve_callable(kind.model)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for k, v in table.items():
        if k not in fields:
            raise ConfigError(f"model.{k}", f"unknown parameter of {cls.__name__}; "
                              f"allowed: {', '.join(sorted(fields))}")
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(v, dict):
            raise ConfigError(f"model.{k}", f"expected a value, got a table {v!r}")
        kwargs[k] = v
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        first = msg.split()[0].rstrip(":,") if msg.split() else ""
        key = next((n for n in sorted(fields, key=len, reverse=True)
                    if first == n or first.startswith(n + "[")), None)
        raise ConfigError(f"model.{key}" if key else "model", msg) from None


def parse_validation_config(data: dict, text: str = "") -> ValidationConfig:
    """Validate a config dictionary; every problem is a :class:`ConfigError` naming the key."""
    for k in data:
        if k not in _TOP:
            raise ConfigError(k, f"unknown key; allowed: {', '.join(_TOP)}")
    if "kind" not in data:
        raise ConfigError("kind", "missing")
    name = data["kind"]
    if not isinstance(name, str):
        raise ConfigError("kind", f"expected a string, got {name!r}")
    if "." not in name:
        name = "validation." + name
    if name not in KINDS:
        raise ConfigError("kind", f"unknown validation kind {data['kind']!r}; known: {', '.join(sorted(KINDS))}")
    kind = KINDS[name]
    for section in ("model", "theory", "compare", "simulation", "run"):
        if section in data and not isinstance(data[section], dict):
            raise ConfigError(section, "expected a table")
    title = data.get("title", kind.description)
    if not isinstance(title, str):
        raise ConfigError("title", f"expected a string, got {title!r}")
    model = _build_model(kind, dict(data.get("model", {})))

    theory = {}
    for k, v in dict(data.get("theory", {})).items():
        spec = kind.theory.get(k)
        if spec is None:
            raise ConfigError(f"theory.{k}", f"unknown key of {kind.name}; allowed: {', '.join(sorted(kind.theory))}")
        if spec == "times":
            theory[k] = _axis(f"theory.{k}", v)
        elif spec == "matrix":
            theory[k] = _matrix(f"theory.{k}", v)
        else:
            theory[k] = spec.check(f"theory.{k}", v)
    for k in _REQUIRED_THEORY[kind.name]:
        if k not in theory:
            raise ConfigError(f"theory.{k}", "missing (required)")
    if kind.name == "validation.committee":
        K, M = model.K, model.M
        for k, shape in (("Q0", (K, K)), ("R0", (K, M)), ("T", (M, M)), ("v0", (K,))):
            if k in theory and theory[k].shape != shape:
                raise ConfigError(f"theory.{k}", f"expected shape {shape}, got {theory[k].shape}")
        if "t_max" in theory and theory["times"][-1] > theory["t_max"]:
            raise ConfigError("theory.times", f"the last time exceeds t_max = {theory['t_max']}")
    if kind.name == "validation.rnn":
        dt = theory.get("dt", 0.05)
        k = theory["times"] / dt
        if np.any(np.abs(k - np.rint(k)) > 1e-9 * np.maximum(1.0, k)):
            raise ConfigError("theory.times", f"every time must be a multiple of dt = {dt:g}")
    if kind.name in ("validation.erm", "validation.bayes") and theory["alphas"][0] <= 0:
        raise ConfigError("theory.alphas", "sample ratios must be > 0")
    if kind.name == "validation.pspin2":
        if model.p != 2 or model.T != 0.0 or not model.pure:
            raise ConfigError("model.p" if model.p != 2 else "model.T",
                              "the exact finite-N dynamics needs a pure p = 2 model at T = 0")
        dt = theory.get("dt", 0.05)
        k = theory["times"] / dt
        if np.any(np.abs(k - np.rint(k)) > 1e-9 * np.maximum(1.0, k)):
            raise ConfigError("theory.times", f"every time must be a multiple of dt = {dt:g}")

    cmp_in = dict(data.get("compare", {}))
    cmp = {}
    for k, v in cmp_in.items():
        if k not in _COMPARE:
            raise ConfigError(f"compare.{k}", f"unknown key; allowed: {', '.join(sorted(_COMPARE))}")
        if k == "sizes":
            if not isinstance(v, list) or not v:
                raise ConfigError("compare.sizes", f"expected a non-empty list of sizes, got {v!r}")
            sizes = [Param(int, low=2, high=10**7).check(f"compare.sizes[{i}]", n) for i, n in enumerate(v)]
            if len(set(sizes)) != len(sizes):
                raise ConfigError("compare.sizes", "sizes must be distinct")
            cmp[k] = sizes
        elif k == "seeds":
            if isinstance(v, list):
                seeds = [Param(int, low=0).check(f"compare.seeds[{i}]", s) for i, s in enumerate(v)]
                if len(seeds) < 2 or len(set(seeds)) != len(seeds):
                    raise ConfigError("compare.seeds", "needs at least 2 distinct seeds")
                cmp[k] = seeds
            else:
                cmp[k] = Param(int, low=2, high=100_000).check("compare.seeds", v)
        elif k in ("tol_abs", "tol_rel"):
            if isinstance(v, dict):
                cmp[k] = {str(o): Param(float, low=0.0).check(f"compare.{k}.{o}", t) for o, t in v.items()}
            else:
                cmp[k] = Param(float, low=0.0).check(f"compare.{k}", v)
        elif k == "observables":
            if not isinstance(v, list) or not v or not all(isinstance(o, str) for o in v):
                raise ConfigError("compare.observables", f"expected a non-empty list of names, got {v!r}")
            cmp[k] = list(v)
        else:
            cmp[k] = _COMPARE[k].check(f"compare.{k}", v)
    if "sizes" not in cmp:
        raise ConfigError("compare.sizes", "missing (required)")
    if "observables" in cmp:
        compared = cmp["observables"]
    else:
        from .compare import get_simulator
        compared = list(get_simulator(model).observables)
    for k in ("tol_abs", "tol_rel"):
        if isinstance(cmp.get(k), dict) and compared is not None:
            unknown = sorted(set(cmp[k]) - set(compared))
            if unknown:
                raise ConfigError(f"compare.{k}", f"no compared observable {unknown}; compared: {compared}")
    if kind.name == "validation.committee" and min(cmp["sizes"]) < model.K + model.M:
        raise ConfigError("compare.sizes", f"sizes must be >= K + M = {model.K + model.M}")
    if kind.name == "validation.committee" and model.act_code < 0:
        raise ConfigError("model.activation", "custom activations are Python callables and cannot be "
                          "given in a config; call validation.compare from Python")
    sim = {}
    for k, v in dict(data.get("simulation", {})).items():
        if k not in kind.simulation:
            raise ConfigError(f"simulation.{k}", f"unknown option of {kind.name}; "
                              f"allowed: {', '.join(sorted(kind.simulation)) or 'none'}")
        sim[k] = kind.simulation[k].check(f"simulation.{k}", v)
    if kind.name == "validation.glm" and sim.get("method") == "exact" and "dt" in sim:
        raise ConfigError("simulation.dt", "the exact eigenbasis solution (method = \"exact\") has "
                          "no time step; drop dt or use method = \"heun\"")
    if kind.name == "validation.pspin":
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
            k = theory["times"] / dt
            if np.any(np.abs(k - np.rint(k)) > 1e-9 * np.maximum(1.0, k)):
                raise ConfigError("theory.times", f"every time must be a multiple of {key} = {dt:g}")
        if need > limit:
            raise ConfigError("compare.sizes", f"N = {n_max} needs {need / 1e9:.3g} GB of coupling tensors "
                              f"> max_tensor_bytes = {limit / 1e9:.3g} GB")

    run = {}
    for k, v in dict(data.get("run", {})).items():
        if k not in _RUN:
            raise ConfigError(f"run.{k}", f"unknown key; allowed: {', '.join(sorted(_RUN))}")
        run[k] = _RUN[k].check(f"run.{k}", v)
    return ValidationConfig(kind=kind, title=title, model=model, theory=theory, compare=cmp,
                            simulation=sim, run=run, text=text)


def load_validation_config(path) -> ValidationConfig:
    """Read and validate a TOML validation config; errors are :class:`ConfigError`."""
    data, text = read_toml(path)
    return parse_validation_config(data, text)


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
        for ci, c in enumerate(comps):
            sl = (slice(None),) + c
            lab = o + (str(list(c)) if c else "")
            ax.plot(x, th[sl], "-", color=f"C{ci}", lw=1.5, label=f"theory {lab}")
            for si, n in enumerate(sizes):
                alpha = 0.35 + 0.65 * (si + 1) / len(sizes)
                ax.errorbar(x, mean[(si,) + sl], yerr=sem[(si,) + sl], fmt="o", ms=3, color=f"C{ci}",
                            alpha=alpha, capsize=2,
                            label=f"N={int(n)}" if ci == 0 else None)
        ax.set_xlabel(report.meta["x"])
        ax.set_ylabel(o)
        verdict = report.verdict_of(o)
        sc = report.scalars
        crit = (f"max |z| = {sc.get(f'max_abs_z_{o}', np.nan):.2f} vs z_crit {sc[f'z_crit_{o}']:.2f}, "
                f"bound/tol = {sc[f'tol_ratio_{o}']:.2f}" if f"z_crit_{o}" in sc else
                f"max |z| = {sc.get(f'max_abs_z_{o}', np.nan):.2f}")
        ax.set_title(f"{o}: {verdict.upper() if verdict != 'agree' else verdict} ({crit})", fontsize=9)
        if o.startswith("eg") and np.all(th[np.isfinite(th)] > 0):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def run_validation_config(path, output=None, png=None, workers=None, quiet=False) -> int:
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
    if out.exists():
        raise ConfigError("output", f"{out} exists; remove it or choose another -o")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("png", "matplotlib is needed for the figure (pip install matplotlib)") from None

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
    try:
        report = compare(theory, cfg.model, executor=executor, sim_options=sim_options,
                         progress=not quiet, archive=out, name="validation", **cfg.compare)
    finally:
        if executor is not None:
            executor.shutdown()
    if isinstance(theory, lmech.Result):
        archive.save(theory, out, "theory", config_text=cfg.text)
    archive.save(report, out, "validation", config_text=cfg.text)
    fig = plot_report(report, title=cfg.title)
    fig.savefig(fig_path, dpi=120)
    if not quiet:
        for o in report.observables:
            th = report.arrays[f"{o}/theory"]
            comp = () if th.ndim == 1 else (0,) * (th.ndim - 1)
            print(report.table(o, comp))
        print(f"{report.message}\narchive: {out}\nfigure: {fig_path}")
    if not report.success or report.verdict == "disagree":
        return 1
    return 0 if report.verdict == "agree" else 3
