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

import dataclasses
import importlib
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .spec import REQUIRED, ConfigError, Param, import_layer

__all__ = ["Param", "SweepKind", "ModelPoint", "solver_options", "ConfigError", "RunConfig", "register_kind", "get_kind",
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

    A layer derives its kinds from its models with :meth:`from_model`, so
    that bounds, defaults and help texts are declared once, on the model's
    :func:`lmech.spec.param` fields; ``SweepKind(...)`` itself stays for a
    point function that is not a model and a solver.
    """

    name: str
    point: str
    params: Mapping[str, Param]
    options: Mapping[str, Param] = field(default_factory=dict)
    check: str | None = None
    plot: str | None = None
    description: str = ""
    #: the model class the params derive from (:meth:`from_model`), else None
    model: Any = field(default=None, compare=False, repr=False)
    #: scalars every point records (NaN where the solver gives none)
    observables: tuple = ()

    @classmethod
    def from_model(cls, model, *, name: str, solve, point: str, check: str | None = None,
                   fields: tuple | None = None, extra_params=None, options=None,
                   defaults: Mapping | None = None, observables: tuple = (), validate=None,
                   build=None, plot: str | None = None,
                   description: str = "", point_doc: str = "") -> "SweepKind":
        """A kind whose parameters are the :func:`lmech.spec.param` fields of ``model``.

        Nothing is restated: the kind's ``params`` are ``params_of(model)``
        (those named in ``fields``, in that order, or all of them) followed
        by the sweep-only ``extra_params``; its ``options`` come from
        ``options``.  Both may be a mapping of :class:`Param` or a dataclass
        declared with :func:`lmech.spec.param` fields (its schema is read with
        :func:`lmech.spec.params_of`).  The point and check functions are
        :class:`ModelPoint` objects (see there): the check function builds the
        model and validates the rest, the point function does that and calls
        ``solve(model, **extra, **options)``.

        Parameters
        ----------
        model : type
            A dataclass with :func:`lmech.spec.param` fields (usually a
            :class:`lmech.spec.Model`); it is called with its parameters as
            keywords.
        name : str
            The kind's dotted name.
        solve : callable or str
            ``solve(model, **extra, **options) -> Result`` (or a dict of scalars).
        point, check : str
            Import strings under which the defining module binds
            :attr:`point_function` and :attr:`check_function`
            (``"odes.kinds:phase_point"``); the point string is what a sweep
            archive records.  ``check`` defaults to None (no check function
            registered with the kind, though :attr:`check_function` exists).
        fields : tuple of str, optional
            The model's parameters offered by the kind (default: all of
            ``params_of(model)``); the others keep the model's defaults.
        extra_params, options : mapping of str to Param, or a dataclass, optional
            Sweep-only parameters (a final time, an initial condition) and
            numerical options.
        defaults : mapping, optional
            The kind's own defaults of some model parameters (a required
            ``K`` of the model defaults to the standard case of a phase
            diagram); each is checked against the parameter's declaration.
        observables : tuple of str
            Scalars every point records; a point whose result lacks one gets NaN,
            so that every point of a sweep has the same observables.
        validate : callable, optional
            ``validate(model, **extra)`` raising ValueError naming the
            parameter, for constraints between the model and the extra
            parameters (run by both functions, before any work).
        build : callable, optional
            ``build(instance) -> model``: what ``solve`` receives, when
            ``model`` is a flat view (block names and their parameters) of the
            model the solver takes.
        plot, description
            As in :class:`SweepKind`.
        point_doc : str
            Docstring of the point function (what a point records).
        """
        from .spec import params_of

        schema = params_of(model)
        if fields is not None:
            missing = [f for f in fields if f not in schema]
            if missing:
                raise ValueError(f"kind {name}: {missing} are not param fields of {model.__qualname__}")
            schema = {f: schema[f] for f in fields}
        schema = {k: _config_param(p) for k, p in schema.items()}
        for k, v in (defaults or {}).items():
            if k not in schema:
                raise ValueError(f"kind {name}: default for {k!r}, which is not one of its model's params")
            schema[k] = dataclasses.replace(schema[k], default=schema[k].check(k, v))
        extra = {k: _config_param(p) for k, p in _schema_of(extra_params).items()}
        opts = _schema_of(options)
        overlap = (set(schema) & set(extra)) | ((set(schema) | set(extra)) & set(opts))
        if overlap:
            raise ValueError(f"kind {name}: {sorted(overlap)} are declared twice")
        classes = tuple(c for c in (extra_params, options)
                        if c is not None and not isinstance(c, Mapping))
        common = dict(model=model, solve=solve, params=schema, extra=extra, options=opts,
                      classes=classes,
                      validate=validate, build=build, observables=tuple(observables))
        point_fn = ModelPoint(name=point, doc=point_doc or f"One point of the sweep kind {name}.",
                              check_only=False, **common)
        check_fn = ModelPoint(name=check or point.rsplit(":", 1)[0] + ":<check>",
                              doc=f"Raise ValueError naming the parameter for an invalid point of {name}.",
                              check_only=True, **common)
        kind = cls(name=name, point=point, params={**schema, **extra}, options=opts, check=check,
                   plot=plot, description=description, model=model, observables=tuple(observables))
        object.__setattr__(kind, "_functions", (point_fn, check_fn))
        return kind

    @property
    def point_function(self) -> "ModelPoint":
        """The point function made by :meth:`from_model` (bind it to the name of ``point``)."""
        return getattr(self, "_functions", (None, None))[0]

    @property
    def check_function(self) -> "ModelPoint":
        """The check function made by :meth:`from_model` (bind it to the name of ``check``)."""
        return getattr(self, "_functions", (None, None))[1]


def _schema_of(spec) -> dict:
    """A parameter schema from None, a mapping of :class:`Param` or a ``param``-field dataclass."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return dict(spec)
    from .spec import params_of

    return params_of(spec)


def _config_param(p: Param) -> Param:
    """``p`` with its type narrowed to the scalar types a config can hold.

    A model field of type ``(str, Custom)`` is a name (``str``) in a config.
    """
    if isinstance(p.type, tuple):
        scalar = tuple(t for t in p.type if t in (float, int, str, bool))
        if scalar and len(scalar) < len(p.type):
            return dataclasses.replace(p, type=scalar[0] if len(scalar) == 1 else scalar)
    return p


def _plain(value):
    """A numpy scalar as the Python scalar it holds (configs and sweeps pass those)."""
    return value.item() if isinstance(value, np.generic) else value


class ModelPoint:
    """Point or check function of a kind made by :meth:`SweepKind.from_model`.

    Called with keywords only (every parameter and option has its declared
    default; a required one must be given): each value is checked against its
    :class:`Param` (a :class:`ValueError` starting with the parameter's name),
    the model is built from its parameters (its own ``__post_init__`` checks
    them and the constraints between them), ``validate(model, **extra)``
    checks the rest; the check function stops there and returns None, the
    point function returns ``solve(model, **extra, **options)`` with every
    declared observable present.  Picklable by its import string, like a
    function.
    """

    def __init__(self, *, name, model, solve, params, extra, options, classes, validate, build,
                 observables, check_only, doc):
        import inspect

        self._name = name
        self.model = model
        self.solve = solve
        self.fields = tuple(params)
        self.classes = classes
        self.extra = extra
        self.options = {} if check_only else options
        self.validate = validate
        self.build = build
        self.observables = observables
        self.check_only = check_only
        mod, _, qual = name.partition(":")
        self.__module__, self.__qualname__, self.__name__ = mod, qual, qual.rsplit(".", 1)[-1]
        self.__doc__ = doc
        schema = {**params, **extra, **self.options}
        self._schema = schema
        P = inspect.Parameter
        self.__signature__ = inspect.Signature(
            [P(k, P.KEYWORD_ONLY, default=P.empty if p.required else p.default)
             for k, p in schema.items()],
            return_annotation=None if check_only else inspect.Signature.empty)

    def __repr__(self):
        return f"<{'check' if self.check_only else 'point'} function {self._name}>"

    def __reduce__(self):
        return resolve_callable, (self._name,)

    def _checked(self, kwargs):
        unknown = [k for k in kwargs if k not in self._schema]
        if unknown:
            raise TypeError(f"{self.__qualname__}() got unexpected keyword argument(s) "
                            f"{', '.join(map(repr, unknown))}; allowed: {', '.join(self._schema)}")
        values = {}
        for k, p in self._schema.items():
            if k in kwargs:
                v = _plain(kwargs[k])
                if not (v is None and p.default is None):
                    try:
                        v = p.check(k, v)
                    except ConfigError as exc:
                        raise ValueError(str(exc)) from None
            elif p.required:
                raise TypeError(f"{self.__qualname__}() missing required keyword argument {k!r}")
            else:
                v = p.default
            values[k] = v
        model = self.model(**{k: values[k] for k in self.fields})
        extra = {k: values[k] for k in self.extra}
        for c in self.classes:  # a param-field dataclass checks its own cross-field constraints
            own = {f.name for f in dataclasses.fields(c)}
            if own <= set(values):
                c(**{k: values[k] for k in own})
        if self.validate is not None:
            resolve_callable(self.validate)(model, **extra)
        if self.build is not None:
            model = resolve_callable(self.build)(model)
        return model, extra, {k: values[k] for k in self.options}

    def __call__(self, **kwargs):
        model, extra, options = self._checked(kwargs)
        if self.check_only:
            return None
        out = resolve_callable(self.solve)(model, **extra, **options)
        missing = [k for k in self.observables if k not in _scalars_of(out)]
        if missing:
            out = _with_scalars(out, {k: math.nan for k in missing})
        return out


def solver_options(solver: Callable, **params: Param) -> dict[str, Param]:
    """Options of a kind read from a solver's signature: the defaults are the solver's.

    Each ``params`` entry declares an option's type, bounds and help; one
    without a default (``Param(float, low=0.0, help=...)``) takes the default
    of the solver's keyword of the same name, one with a default keeps it
    (a sweep's own choice).  Every name must be a keyword of ``solver``, so an
    option the solver renames or drops fails at import, not in a sweep.
    """
    import inspect

    sig = inspect.signature(solver).parameters
    name = getattr(solver, "__qualname__", repr(solver))
    out = {}
    for k, p in params.items():
        if k not in sig or sig[k].kind not in (inspect.Parameter.KEYWORD_ONLY,
                                                 inspect.Parameter.POSITIONAL_OR_KEYWORD):
            raise ValueError(f"option {k!r} is not a keyword of {name}")
        if p.required and sig[k].default is not inspect.Parameter.empty:
            p = dataclasses.replace(p, default=sig[k].default)
        out[k] = p
    return out


def _scalars_of(out) -> Mapping:
    return out if isinstance(out, Mapping) else getattr(out, "scalars", {})


def _with_scalars(out, extra: dict):
    """``out`` (a Result or a dict of scalars) with ``extra`` scalars added."""
    if isinstance(out, Mapping):
        return {**out, **extra}
    from .result import _CORE

    kw = {k: out.__dict__[k] for k in _CORE}
    kw["scalars"] = {**out.scalars, **extra}
    return type(out)(**kw)


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
