"""Sweep kinds and TOML run configurations.

A *sweep kind* names a point function and the parameters it accepts, so that
``lmech run CONFIG.toml`` can validate a config completely before any work and
then run it through :func:`lmech.sweep.sweep`.  Layers register their kinds at
import time with :func:`register_kind`; the command line finds a kind by its
dotted name, importing only the package named by its first component (from
:data:`lmech.spec.PACKAGES`).

A config file::

    kind = "replica.bayes_optimal"     # a registered kind
    title = "sign perceptron"          # optional

    [model]                            # fixed parameters of the kind
    prior = "rademacher"

    [grid]                             # swept parameters: a Cartesian product
    alpha = {start = 0.5, stop = 3.0, num = 26}       # or spacing = "log"
    # or: alpha = [0.5, 1.0, 2.0]

    [options]                          # numerical options of the kind
    rtol = 1e-10

    [run]                              # optional defaults for the command line
    output = "bo.h5"
    workers = 2

Instead of ``[grid]``, ``[[points]]`` tables give an explicit list of points.
Every error is a :class:`ConfigError` whose message starts with the key.
"""

from __future__ import annotations

import importlib
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .spec import REQUIRED, ConfigError, Param, import_layer

__all__ = ["Param", "SweepKind", "ConfigError", "RunConfig", "register_kind", "get_kind",
           "kinds", "load_config", "param_named", "parse_config", "read_toml",
           "resolve_callable"]

@dataclass(frozen=True)
class SweepKind:
    """A point function that ``lmech run`` can sweep.

    Parameters
    ----------
    name : str
        Dotted name, starting with the defining package (``"replica.bayes_optimal"``).
    point : str
        Import string ``"module:function"`` of the point function.  It is
        called with every parameter and option as keywords and returns a
        :class:`lmech.result.Result` (or a dict of scalar observables).
    params : mapping of str to Param
        Parameters that may be fixed in ``[model]`` or swept in ``[grid]``.
    options : mapping of str to Param
        Numerical options, fixed in ``[options]``.
    check : str, optional
        Import string of ``check(**params)`` raising :class:`ValueError`
        naming the parameter for an invalid combination (typically: build the
        model).  It runs for every grid point before any work.
    plot : str, optional
        Import string of ``plot(sweep_result, ax)`` drawing the sweep.
    description : str
        One paragraph.
    """

    name: str
    point: str
    params: Mapping[str, Param]
    options: Mapping[str, Param] = field(default_factory=dict)
    check: str | None = None
    plot: str | None = None
    description: str = ""


_KINDS: dict[str, SweepKind] = {}


def register_kind(kind: SweepKind) -> SweepKind:
    """Register a :class:`SweepKind` under its name."""
    overlap = set(kind.params) & set(kind.options)
    if overlap:
        raise ValueError(f"kind {kind.name}: {sorted(overlap)} are both params and options")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> SweepKind | None:
    """The kind registered under ``name``, importing its layer if needed."""
    if name not in _KINDS:
        import_layer(name)
    return _KINDS.get(name)


def kinds() -> dict[str, SweepKind]:
    """All kinds registered so far (import the layers first to see theirs)."""
    return dict(_KINDS)


def resolve_callable(spec: str | Callable) -> Callable:
    """Turn an import string ``"package.module:qualname"`` into the object."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"expected an import string 'module:name', got {spec!r}")
    mod, _, qual = spec.partition(":")
    obj = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration."""

    kind: SweepKind
    fixed: dict
    grid: dict | None
    points: list | None
    options: dict
    run: dict
    title: str
    text: str

    def all_points(self) -> list[dict]:
        """Every point as a full parameter dictionary (fixed merged in)."""
        if self.grid is not None:
            names = list(self.grid)
            mesh = np.meshgrid(*[np.asarray(self.grid[n]) for n in names], indexing="ij")
            flat = [m.ravel() for m in mesh]
            pts = [{n: flat[i][j].item() for i, n in enumerate(names)} for j in range(flat[0].size)]
        else:
            pts = [dict(p) for p in self.points]
        return [{**self.fixed, **p} for p in pts]


_TOP_KEYS = {"kind", "title", "model", "grid", "points", "options", "run"}
_RUN_KEYS = {"output": Param(str), "workers": Param(int, low=1), "scheduler": Param(str),
             "resume": Param(bool), "plot": Param(str)}


def _axis(key: str, spec: Any, param: Param) -> list:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(key, "an axis needs at least one value")
        return [param.check(f"{key}[{i}]", v) for i, v in enumerate(spec)]
    if isinstance(spec, dict):
        allowed = {"start", "stop", "num", "spacing"}
        for k in spec:
            if k not in allowed:
                raise ConfigError(f"{key}.{k}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
        for k in ("start", "stop", "num"):
            if k not in spec:
                raise ConfigError(f"{key}.{k}", "missing")
        num = Param(int, low=1, high=1_000_000).check(f"{key}.num", spec["num"])
        start = Param(float).check(f"{key}.start", spec["start"])
        stop = Param(float).check(f"{key}.stop", spec["stop"])
        spacing = Param(str, choices=("linear", "log")).check(f"{key}.spacing", spec.get("spacing", "linear"))
        if spacing == "log":
            if start <= 0 or stop <= 0:
                raise ConfigError(key, "a log-spaced axis needs start > 0 and stop > 0")
            values = np.geomspace(start, stop, num)
        else:
            values = np.linspace(start, stop, num)
        if param.type is int or param.type == (int,):
            raise ConfigError(key, "integer parameters take an explicit list of values")
        return [param.check(f"{key}[{i}]", float(v)) for i, v in enumerate(values)]
    raise ConfigError(key, f"expected a list of values or a table {{start, stop, num}}, got {spec!r}")


def parse_config(data: Mapping[str, Any], text: str = "") -> RunConfig:
    """Validate a config dictionary (as read from TOML) into a :class:`RunConfig`.

    Every problem raises :class:`ConfigError` naming the key; nothing runs.
    """
    for k in data:
        if k not in _TOP_KEYS:
            raise ConfigError(k, f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    if "kind" not in data:
        raise ConfigError("kind", "missing")
    name = data["kind"]
    if not isinstance(name, str):
        raise ConfigError("kind", f"expected a string, got {name!r}")
    kind = get_kind(name)
    if kind is None:
        for layer in ("odes", "dmft", "replica", "validation"):
            import_layer(layer)
        known = sorted(_KINDS)
        raise ConfigError("kind", f"unknown kind {name!r}; known: {', '.join(known) or 'none'}")
    for section in ("model", "grid", "options", "run"):
        if section in data and not isinstance(data[section], dict):
            raise ConfigError(section, "expected a table")
    model = dict(data.get("model", {}))
    grid_in = data.get("grid")
    points_in = data.get("points")
    options_in = dict(data.get("options", {}))
    run_in = dict(data.get("run", {}))

    fixed = {}
    for k, v in model.items():
        if k not in kind.params:
            raise ConfigError(f"model.{k}", f"unknown parameter of {kind.name}; "
                              f"allowed: {', '.join(sorted(kind.params))}")
        fixed[k] = kind.params[k].check(f"model.{k}", v)

    grid = None
    points = None
    if grid_in is not None and points_in is not None:
        raise ConfigError("points", "give either [grid] or [[points]], not both")
    if grid_in is not None:
        if not grid_in:
            raise ConfigError("grid", "needs at least one axis")
        grid = {}
        for k, spec in grid_in.items():
            if k not in kind.params:
                raise ConfigError(f"grid.{k}", f"unknown parameter of {kind.name}; "
                                  f"allowed: {', '.join(sorted(kind.params))}")
            if k in fixed:
                raise ConfigError(f"grid.{k}", "is also fixed in [model]")
            grid[k] = _axis(f"grid.{k}", spec, kind.params[k])
    elif points_in is not None:
        if not isinstance(points_in, list) or not points_in or not all(isinstance(p, dict) for p in points_in):
            raise ConfigError("points", "expected a non-empty array of tables [[points]]")
        keys = set(points_in[0])
        points = []
        for i, p in enumerate(points_in):
            if set(p) != keys:
                raise ConfigError(f"points[{i}]", f"every point needs the same keys {sorted(keys)}")
            q = {}
            for k, v in p.items():
                if k not in kind.params:
                    raise ConfigError(f"points[{i}].{k}", f"unknown parameter of {kind.name}")
                if k in fixed:
                    raise ConfigError(f"points[{i}].{k}", "is also fixed in [model]")
                q[k] = kind.params[k].check(f"points[{i}].{k}", v)
            points.append(q)
    else:
        raise ConfigError("grid", "missing: give [grid] axes or [[points]]")

    swept = set(grid) if grid is not None else set(points[0])
    for k, p in kind.params.items():
        if k not in fixed and k not in swept:
            if p.required:
                raise ConfigError(f"model.{k}", "missing (required parameter)")
            fixed[k] = p.default

    options = {}
    for k, v in options_in.items():
        if k not in kind.options:
            raise ConfigError(f"options.{k}", f"unknown option of {kind.name}; "
                              f"allowed: {', '.join(sorted(kind.options)) or 'none'}")
        options[k] = kind.options[k].check(f"options.{k}", v)
    for k, p in kind.options.items():
        if k not in options and not p.required:
            options[k] = p.default
        elif k not in options:
            raise ConfigError(f"options.{k}", "missing (required option)")

    run = {}
    for k, v in run_in.items():
        if k not in _RUN_KEYS:
            raise ConfigError(f"run.{k}", f"unknown key; allowed: {', '.join(sorted(_RUN_KEYS))}")
        run[k] = _RUN_KEYS[k].check(f"run.{k}", v)
    title = data.get("title", kind.name)
    if not isinstance(title, str):
        raise ConfigError("title", f"expected a string, got {title!r}")

    cfg = RunConfig(kind=kind, fixed=fixed, grid=grid, points=points, options=options,
                    run=run, title=title, text=text)
    if kind.check is not None:
        check = resolve_callable(kind.check)
        seen = set()
        for pt in cfg.all_points():
            key = tuple(sorted((k, repr(v)) for k, v in pt.items()))
            if key in seen:
                continue
            seen.add(key)
            try:
                check(**pt)
            except ValueError as exc:
                raise ConfigError(_key_of(str(exc), cfg), str(exc)) from None
    return cfg


def param_named(message: str, names) -> str | None:
    """The parameter among ``names`` that a ValueError message starts with, or None.

    Model validation (:mod:`lmech.checks`) starts every message with the
    parameter's name; the longest matching name wins (``"alpha_max"`` before
    ``"alpha"``).
    """
    words = message.split()
    first = words[0].rstrip(":,") if words else ""
    for n in sorted(names, key=len, reverse=True):
        if first == n or message.startswith(n + " ") or message.startswith(n + ":"):
            return n
    return None


def _key_of(message: str, cfg: RunConfig) -> str:
    """Best guess of the config key a model's ValueError is about."""
    n = param_named(message, cfg.kind.params)
    if n is None:
        return "model"
    if cfg.grid is not None and n in cfg.grid:
        return f"grid.{n}"
    if cfg.points is not None and n in cfg.points[0]:
        return "points"
    return f"model.{n}"


def read_toml(path) -> tuple[dict, str]:
    """Read a UTF-8 TOML file: ``(data, text)``; every problem is a :class:`ConfigError` on ``config``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError("config", f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"invalid TOML in {path}: {exc}") from None
    return data, text


def load_config(path) -> RunConfig:
    """Read and validate a TOML config file; errors are :class:`ConfigError`."""
    data, text = read_toml(path)
    return parse_config(data, text)
