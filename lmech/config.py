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
A parameter holding a building block (:data:`BLOCK_FIELDS`: ``prior``,
``channel``, ``loss``, ...) may be a name or a table naming its kind,
``channel = {kind = "probit", delta = 0.1}``, built by the factory
registered for its family (:func:`register_block_factory`).  In ``lmech run``
a block table fixes the parameter (``[model]``; the sweep archives the block's
spec, :func:`lmech.spec.to_spec`); a table in ``[grid]`` or ``[[points]]`` is
refused (a sweep's axes are numbers).

Everything is checked before any work, and every error is a
:class:`ConfigError` whose message starts with the key
(``model.channel.delta: must lie in ...``): each value against its
:class:`Param`, the number of points (at most :data:`MAX_POINTS`), ordered
pairs (``alpha_lo < alpha_hi``) and the kind's ``check`` at every point.
``lmech validate`` (:mod:`validation.config`) reads its files with the same
functions (:func:`read_values`, :func:`axis`, :func:`build_model`).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .spec import ConfigError, Param, import_layer

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
    #: the :class:`~lmech.result.Result` class its points return (None: unknown or plain dicts);
    #: its ``LEGACY_STATUS`` translates the per-point codes of sweeps written before
    #: :class:`lmech.Status` (:meth:`lmech.sweep.SweepResult.translate_legacy_points`)
    result: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_model(cls, model, *, name: str, solve, point: str, check: str | None = None,
                   fields: tuple | None = None, extra_params=None, options=None,
                   defaults: Mapping | None = None, observables: tuple = (), validate=None,
                   build=None, plot: str | None = None,
                   description: str = "", point_doc: str = "", result=None) -> "SweepKind":
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
        result : type, optional
            The :class:`~lmech.result.Result` class ``solve`` returns (default: read from
            its return annotation when that names a ``Result`` subclass).
        """
        from .spec import params_of

        schema = params_of(model)
        if fields is not None:
            missing = [f for f in fields if f not in schema]
            if missing:
                raise ValueError(f"kind {name}: {missing} are not param fields of {model.__qualname__}")
            schema = {f: schema[f] for f in fields}
        schema = {k: _config_param(p, k) for k, p in schema.items()}
        for k, v in (defaults or {}).items():
            if k not in schema:
                raise ValueError(f"kind {name}: default for {k!r}, which is not one of its model's params")
            schema[k] = dataclasses.replace(schema[k], default=schema[k].check(k, v))
        extra = {k: _config_param(p, k) for k, p in _schema_of(extra_params).items()}
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
                   plot=plot, description=description, model=model, observables=tuple(observables),
                   result=result if result is not None else _returned_result(solve))
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


def _returned_result(fn):
    """The :class:`~lmech.result.Result` subclass named by ``fn``'s return annotation, else None."""
    import typing

    from .result import Result

    try:
        ret = typing.get_type_hints(fn).get("return")
    except Exception:  # an annotation that does not resolve (a string import path, a name error)
        return None
    return ret if isinstance(ret, type) and issubclass(ret, Result) else None


def _schema_of(spec) -> dict:
    """A parameter schema from None, a mapping of :class:`Param` or a ``param``-field dataclass."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return dict(spec)
    from .spec import params_of

    return params_of(spec)


def _config_param(p: Param, name: str = "") -> Param:
    """``p`` with its type narrowed to what a config can hold.

    A model field of type ``(str, Custom)`` is a name (``str``) in a config,
    except a block field (``name`` in :data:`BLOCK_FIELDS`): it keeps its
    block classes, so that ``[model]`` may give it as a table
    ``{kind = ..., ...}`` (built by :func:`build_block`).
    """
    if isinstance(p.type, tuple):
        scalar = tuple(t for t in p.type if t in (float, int, str, bool))
        if name in BLOCK_FIELDS:
            scalar += tuple(t for t in p.type if isinstance(t, type)
                            and t not in (float, int, str, bool, object))
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


# ---------------------------------------------------------------------------
# the shared reader: sections, values, axes, blocks, models
#
# ``lmech run`` (parse_config below) and ``lmech validate``
# (validation.config) read their files with these functions, so that a key is
# checked, defaulted and named the same way in both.
# ---------------------------------------------------------------------------
import inspect  # noqa: E402
import itertools  # noqa: E402
import typing  # noqa: E402

from .spec import params_of  # noqa: E402

__all__ += ["MAX_POINTS", "RUN_KEYS", "BLOCK_FIELDS", "axis", "axis_length", "build_block",
            "build_model", "check_keys", "check_size", "model_schema", "ordered_pairs",
            "read_kind_name", "read_section", "read_values", "register_block_factory"]

#: at most this many points in one sweep (the product of the axis lengths); every
#: distinct point is checked before any work (a model check takes 10-200 us)
MAX_POINTS = 1_000_000

#: keys of ``[run]`` every command accepts
RUN_KEYS = {"output": Param(str, help="archive to write"),
            "workers": Param(int, low=1, help="local worker processes")}


def _without_name(message: str, name: str) -> str:
    """``"delta must lie in ..."`` -> ``"must lie in ..."`` (the key already names ``delta``).

    Only the common ``"<name> must ..."`` / ``"<name>: ..."`` forms are shortened;
    any other message is kept whole.
    """
    for head in (name + " must ", name + ": "):
        if message.startswith(head):
            return message[len(name):].lstrip(": ")
    return message


def check_keys(prefix: str, table: Mapping, allowed, *, what: str = "key", owner: str = "") -> None:
    """Raise :class:`ConfigError` on the first key of ``table`` not in ``allowed``.

    The key is named ``prefix.key`` (``key`` at the top level, ``prefix = ""``).
    """
    for k in table:
        if k not in allowed:
            of = f" of {owner}" if owner else ""
            raise ConfigError(f"{prefix}.{k}" if prefix else str(k),
                              f"unknown {what}{of}; allowed: {', '.join(sorted(allowed)) or 'none'}")


def read_section(data: Mapping, name: str) -> dict:
    """The table ``[name]`` of a config (empty if absent); anything else is a :class:`ConfigError`."""
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(name, "expected a table")
    return dict(value)


def read_kind_name(data: Mapping) -> str:
    """The top-level ``kind`` string of a config."""
    if "kind" not in data:
        raise ConfigError("kind", "missing")
    name = data["kind"]
    if not isinstance(name, str):
        raise ConfigError("kind", f"expected a string, got {name!r}")
    return name


def read_values(prefix: str, table: Mapping, schema: Mapping[str, Any], *, owner: str = "",
                what: str = "key", defaults: bool = False, required=(), accepts=None) -> dict:
    """Check every entry of a config table against its schema.

    Parameters
    ----------
    prefix : str
        The table's dotted key (``"options"``, ``"theory"``); errors name ``prefix.key``.
    table : mapping
        The values as read from TOML.
    schema : mapping of str to Param or callable or None
        A :class:`Param` checks a scalar; a callable ``reader(key, value)``
        returns the checked value (lists, tables, axes); ``None`` passes the
        value through (a list becomes a tuple) for the model to check.  A
        key named in :data:`BLOCK_FIELDS` may also hold a block: a name, or a
        table ``{kind = ..., ...}`` built by :func:`build_block`.
    owner : str
        Named in the "unknown key" message (the kind or the model class).
    what : str
        ``"parameter"``, ``"option"``, ``"key"``: the word of that message.
    defaults : bool
        Fill every absent :class:`Param` with its default; a required one
        that is absent is an error.
    required : iterable of str
        Keys that must be present (whatever the schema says).
    accepts : mapping of str to type, optional
        The class a block field takes (its annotation), passed to :func:`build_block`.
    """
    check_keys(prefix, table, schema, what=what, owner=owner)
    accepts = accepts or {}
    out = {}
    for k, v in table.items():
        out[k] = _read_value(f"{prefix}.{k}", k, v, schema[k], accepts.get(k))
    for k in required:
        if k not in out:
            raise ConfigError(f"{prefix}.{k}", "missing (required)")
    if defaults:
        for k, p in schema.items():
            if k in out or not isinstance(p, Param):
                continue
            if p.required:
                raise ConfigError(f"{prefix}.{k}", f"missing (required {what})")
            out[k] = p.default
    return out


_SCALARS = (float, int, bool, str)


def _types(spec: Param) -> tuple:
    return spec.type if isinstance(spec.type, tuple) else (spec.type,)


def _takes_block(spec: Any) -> bool:
    """Whether a schema entry may receive a block object (not only a scalar)."""
    if spec is None:
        return True
    if not isinstance(spec, Param):
        return False
    return any(t not in _SCALARS for t in _types(spec))


def _read_value(key: str, name: str, value: Any, spec: Any, accepts: type | None = None) -> Any:
    family = BLOCK_FIELDS.get(name)
    if accepts is None and isinstance(spec, Param):
        classes = tuple(t for t in _types(spec) if isinstance(t, type) and t not in (*_SCALARS, object))
        accepts = classes or None
    if isinstance(value, dict):
        if callable(spec) and not isinstance(spec, Param):
            return spec(key, value)
        if family is None or not _takes_block(spec):
            raise ConfigError(key, f"expected a value, got a table {value!r}")
        value = build_block(key, family, value, accepts=accepts)
    elif (family is not None and isinstance(value, str) and isinstance(spec, Param)
          and _takes_block(spec) and str not in _types(spec)):
        value = build_block(key, family, value, accepts=accepts)   # the schema wants a block, not a name
    if isinstance(spec, Param):
        return spec.check(key, value)
    if spec is None:
        return tuple(value) if isinstance(value, list) else value
    return spec(key, value)


def axis_length(key: str, spec: Any) -> int:
    """The number of values an axis spec (a list or ``{start, stop, num}``) holds, checked cheaply."""
    if isinstance(spec, list):
        return len(spec)
    if isinstance(spec, dict) and "num" in spec:
        return Param(int, low=1, high=MAX_POINTS).check(f"{key}.num", spec["num"])
    return 1    # the full check (axis) names the problem


def axis(key: str, spec: Any, param: Param = Param(float), *, increasing: bool = False,
         max_num: int = MAX_POINTS) -> list:
    """The values of one axis: a list, or a table ``{start, stop, num, spacing = "linear" | "log"}``.

    Every value is checked with ``param`` (key ``key[i]``); the ends of a
    table must be finite (``key.start``, ``key.stop``).  ``increasing``
    requires strictly increasing values (a time axis).
    """
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(key, "an axis needs at least one value")
        if len(spec) > max_num:
            raise ConfigError(key, f"{len(spec)} values exceed the limit of {max_num}")
        values = [param.check(f"{key}[{i}]", v) for i, v in enumerate(spec)]
    elif isinstance(spec, dict):
        check_keys(key, spec, ("start", "stop", "num", "spacing"))
        for k in ("start", "stop", "num"):
            if k not in spec:
                raise ConfigError(f"{key}.{k}", "missing")
        if param.type is int or param.type == (int,):
            raise ConfigError(key, "integer parameters take an explicit list of values")
        num = Param(int, low=1, high=max_num).check(f"{key}.num", spec["num"])
        start = Param(float).check(f"{key}.start", spec["start"])
        stop = Param(float).check(f"{key}.stop", spec["stop"])
        spacing = Param(str, choices=("linear", "log")).check(f"{key}.spacing", spec.get("spacing", "linear"))
        if spacing == "log":
            if start <= 0 or stop <= 0:
                raise ConfigError(key, "a log-spaced axis needs start > 0 and stop > 0")
            grid = np.geomspace(start, stop, num)
        else:
            grid = np.linspace(start, stop, num)
        values = [param.check(f"{key}[{i}]", float(v)) for i, v in enumerate(grid)]
    else:
        raise ConfigError(key, f"expected a list of values or a table {{start, stop, num}}, got {spec!r}")
    if increasing and any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(key, "values must be strictly increasing")
    return values


# -- blocks (priors, channels, losses, ...) named in a config ----------------------
#: model field name -> block family; a field listed here may be given as a block
BLOCK_FIELDS: dict[str, str] = {"prior": "prior", "teacher_prior": "prior",
                                "channel": "channel", "loss": "loss", "activation": "activation"}

# family -> factories ``factory(name, **params) -> block``, tried in order; an
# import string whose module does not exist (yet) is skipped.  The shared
# registry (lmech.blocks) comes first; the replica factories are the fallback
# until every block lives there.
_BLOCK_FACTORIES: dict[str, list] = {
    "prior": ["lmech.blocks:get_prior", "replica.blocks:get_prior"],
    "channel": ["lmech.blocks:get_channel", "replica.blocks:get_channel"],
    "loss": ["lmech.blocks:get_loss", "replica.erm:get_loss"],
    "activation": ["lmech.blocks:get_activation"],
}


def register_block_factory(family: str, factory: Callable | str, *, fields=()) -> None:
    """Let configs build blocks of ``family`` with ``factory(name, **params)``.

    Parameters
    ----------
    family : str
        ``"prior"``, ``"channel"``, ``"loss"``, ``"activation"``, ...
    factory : callable or import string
        Returns the block named ``name`` with the given parameters; raises
        ``ValueError`` whose message starts with the parameter's name (or
        with ``family`` for an unknown name) and ``TypeError`` for an unknown
        parameter.  It takes precedence over the factories registered before.
    fields : iterable of str
        Model field names holding a block of this family (besides ``family`` itself).
    """
    _BLOCK_FACTORIES.setdefault(family, []).insert(0, factory)
    for f in (family, *fields):
        BLOCK_FIELDS[f] = family


def _block_factories(family: str) -> list[Callable]:
    """The available factories of ``family``, in order (an absent module's import string is skipped)."""
    out = []
    for f in _BLOCK_FACTORIES.get(family, ()):
        if callable(f):
            out.append(f)
            continue
        module = f.partition(":")[0]
        try:
            out.append(resolve_callable(f))
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
        except AttributeError:
            pass
    return out


def build_block(key: str, family: str, spec: Any, *, accepts: type | tuple | None = None) -> Any:
    """Build a block from its config form: a name (``"rademacher"``) or a table ``{kind = "probit", delta = 0.1}``.

    The block comes from the first factory registered for ``family``
    (:func:`register_block_factory`); if ``accepts`` (the class the model
    field takes) rejects it, from the first later factory whose block it
    accepts.  Errors are :class:`ConfigError` naming ``key.kind`` (unknown
    name) or ``key.param`` (a bad or unknown parameter).
    """
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, dict):
        if "kind" not in spec:
            raise ConfigError(f"{key}.kind", f"missing: a {family} table names its kind "
                              f"({{kind = \"...\", ...}})")
        name = spec["kind"]
        if not isinstance(name, str):
            raise ConfigError(f"{key}.kind", f"expected a string, got {name!r}")
        params = {}
        for k, v in spec.items():
            if k == "kind":
                continue
            if isinstance(v, dict):
                raise ConfigError(f"{key}.{k}", f"expected a value, got a table {v!r}")
            params[k] = tuple(v) if isinstance(v, list) else v
    else:
        raise ConfigError(key, f"expected a {family} name or a table {{kind = ...}}, got {spec!r}")
    factories = _block_factories(family)
    if not factories:
        raise ConfigError(key, f"no registry of {family} blocks is available")
    factory = factories[0]
    try:
        block = factory(name, **params)
    except TypeError as exc:
        bad = next((k for k in params if f"'{k}'" in str(exc)), None)
        if bad is None:
            raise ConfigError(key, str(exc)) from None
        try:
            allowed = ", ".join(sorted(f.name for f in dataclasses.fields(factory(name)) if f.init))
        except Exception:
            allowed = ""
        raise ConfigError(f"{key}.{bad}", f"unknown parameter of {family} {name!r}"
                          + (f"; allowed: {allowed}" if allowed else "; it takes none")) from None
    except ValueError as exc:
        msg = str(exc)
        bad = param_named(msg, params)
        if bad is not None:
            raise ConfigError(f"{key}.{bad}", _without_name(msg, bad)) from None
        if param_named(msg, (family, name)) is not None or not params:
            raise ConfigError(f"{key}.kind", msg) from None
        raise ConfigError(key, msg) from None
    if accepts is None or isinstance(block, accepts):
        return block
    for other in factories[1:]:
        try:
            alt = other(name, **params)
        except (TypeError, ValueError):
            continue
        if isinstance(alt, accepts):
            return alt
    return block   # the model names the mismatch


def model_schema(cls) -> dict:
    """The config schema of a model class.

    Each init field maps to its :func:`lmech.spec.param` schema, or to
    ``None`` (the class checks the value) where it declares none.
    """
    declared = params_of(cls, all_fields=True)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        p = declared.get(f.name)
        out[f.name] = p if p is not None and p.type is not object else None
    return out


def build_model(cls, table: Mapping, *, prefix: str = "model"):
    """Build a model from its config table ``[model]``; every problem is a :class:`ConfigError` naming the key.

    Each key is a field of ``cls``, checked against its declared
    :class:`Param` where it has one; a block field (:data:`BLOCK_FIELDS`)
    may be a name or a table ``{kind = ...}``.  The model's own validation
    (``ValueError`` starting with a field name) is reported on that field.
    """
    schema = model_schema(cls)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:   # an annotation that does not resolve: no block classes known
        hints = {}
    accepts = {k: h for k, h in hints.items()
               if k in schema and isinstance(h, type) and h not in (*_SCALARS, object)}
    kwargs = read_values(prefix, table, schema, owner=cls.__name__, what="parameter", accepts=accepts)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        name = param_named(msg, schema)
        if name is None:
            raise ConfigError(prefix, msg) from None
        raise ConfigError(f"{prefix}.{name}", _without_name(msg, name)) from None


def check_size(prefix: str, lengths: Mapping[str, int], *, limit: int = MAX_POINTS) -> int:
    """The number of points of a product of axes; a :class:`ConfigError` on ``prefix`` above ``limit``."""
    n = math.prod(lengths.values())
    if n > limit:
        sizes = " x ".join(f"{k} ({v})" for k, v in lengths.items())
        raise ConfigError(prefix, f"{sizes} = {n:,} points exceed the limit of {limit:,}; "
                          "use fewer values or split the sweep")
    return n


#: pairs of names that must satisfy ``low < high`` wherever both occur in one point
ORDERED_SUFFIXES = (("_lo", "_hi"), ("_min", "_max"), ("_start", "_stop"))


def ordered_pairs(names) -> list[tuple[str, str]]:
    """``(low, high)`` pairs among ``names`` (``alpha_lo`` and ``alpha_hi``, ``t_min`` and ``t_max``)."""
    names = set(names)
    return sorted((n, n[: -len(lo)] + hi) for n in names for lo, hi in ORDERED_SUFFIXES
                  if n.endswith(lo) and len(n) > len(lo) and n[: -len(lo)] + hi in names)


# ---------------------------------------------------------------------------
# lmech run
# ---------------------------------------------------------------------------
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

    @property
    def n_points(self) -> int:
        """The number of points of the sweep."""
        if self.grid is not None:
            return math.prod(len(v) for v in self.grid.values())
        return len(self.points)

    def iter_points(self):
        """Every point as a full parameter dictionary (fixed merged in), one at a time, grid in C order."""
        if self.grid is not None:
            names = list(self.grid)
            for values in itertools.product(*(self.grid[n] for n in names)):
                yield {**self.fixed, **dict(zip(names, values))}
        else:
            for p in self.points:
                yield {**self.fixed, **p}

    def all_points(self) -> list[dict]:
        """Every point as a full parameter dictionary (fixed merged in)."""
        return list(self.iter_points())


_TOP_KEYS = {"kind", "title", "model", "grid", "points", "options", "run"}
_RUN_KEYS = {**RUN_KEYS, "scheduler": Param(str), "resume": Param(bool), "plot": Param(str)}


def _unknown_kind(name: str) -> ConfigError:
    for layer in ("odes", "dmft", "replica", "validation"):
        import_layer(layer)
    known = sorted(_KINDS)
    return ConfigError("kind", f"unknown kind {name!r}; known: {', '.join(known) or 'none'}")


def parse_config(data: Mapping[str, Any], text: str = "") -> RunConfig:
    """Validate a config dictionary (as read from TOML) into a :class:`RunConfig`.

    Every problem raises :class:`ConfigError` naming the key; nothing runs.
    Checked before any work: every key and value, the number of points
    (at most :data:`MAX_POINTS`), ordered pairs such as ``alpha_lo < alpha_hi``
    at every point, and the kind's ``check`` at every distinct point (given
    also the options its signature names explicitly, for constraints between
    a parameter and an option).
    """
    name = read_kind_name(data)
    kind = get_kind(name)
    if kind is None:
        raise _unknown_kind(name)
    check_keys("", data, _TOP_KEYS)
    model = read_section(data, "model")
    options_in = read_section(data, "options")
    run_in = read_section(data, "run")
    grid_in = data.get("grid")
    points_in = data.get("points")
    if grid_in is not None:
        read_section(data, "grid")

    fixed = read_values("model", model, kind.params, owner=kind.name, what="parameter")
    if kind.model is not None:   # a from_model kind archives its fixed blocks as specs
        for k, v in fixed.items():
            if isinstance(model.get(k), dict):
                _check_archivable(f"model.{k}", v)
    grid = None
    points = None
    if grid_in is not None and points_in is not None:
        raise ConfigError("points", "give either [grid] or [[points]], not both")
    if grid_in is not None:
        if not grid_in:
            raise ConfigError("grid", "needs at least one axis")
        check_keys("grid", grid_in, kind.params, what="parameter", owner=kind.name)
        for k, s in grid_in.items():
            _refuse_swept_block(f"grid.{k}", k, s)
        for k in grid_in:
            if k in fixed:
                raise ConfigError(f"grid.{k}", "is also fixed in [model]")
        check_size("grid", {k: axis_length(f"grid.{k}", s) for k, s in grid_in.items()})
        grid = {k: axis(f"grid.{k}", s, kind.params[k]) for k, s in grid_in.items()}
    elif points_in is not None:
        if not isinstance(points_in, list) or not points_in or not all(isinstance(p, dict) for p in points_in):
            raise ConfigError("points", "expected a non-empty array of tables [[points]]")
        check_size("points", {"points": len(points_in)})
        keys = set(points_in[0])
        points = []
        for i, p in enumerate(points_in):
            if set(p) != keys:
                raise ConfigError(f"points[{i}]", f"every point needs the same keys {sorted(keys)}")
            for k in p:
                if k in fixed:
                    raise ConfigError(f"points[{i}].{k}", "is also fixed in [model]")
                _refuse_swept_block(f"points[{i}].{k}", k, [p[k]])
            points.append(read_values(f"points[{i}]", p, kind.params, owner=kind.name, what="parameter"))
    else:
        raise ConfigError("grid", "missing: give [grid] axes or [[points]]")

    swept = set(grid) if grid is not None else set(points[0])
    for k, p in kind.params.items():
        if k not in fixed and k not in swept:
            if p.required:
                raise ConfigError(f"model.{k}", "missing (required parameter)")
            fixed[k] = p.default

    options = read_values("options", options_in, kind.options, owner=kind.name, what="option",
                          defaults=True)
    run = read_values("run", run_in, _RUN_KEYS)
    title = data.get("title", kind.name)
    if not isinstance(title, str):
        raise ConfigError("title", f"expected a string, got {title!r}")

    cfg = RunConfig(kind=kind, fixed=fixed, grid=grid, points=points, options=options,
                    run=run, title=title, text=text)
    _check_points(cfg, given={*model, *swept, *options_in})
    return cfg


def _refuse_swept_block(key: str, name: str, spec: Any) -> None:
    """A :class:`ConfigError` on ``key`` if a swept value of block field ``name`` is a block table."""
    if name not in BLOCK_FIELDS:
        return
    tables = ([i for i, v in enumerate(spec) if isinstance(v, dict)] if isinstance(spec, list)
              else [None] if isinstance(spec, dict) and "kind" in spec else [])
    if tables:
        at = "" if tables[0] is None or key.startswith("points") else f"[{tables[0]}]"
        raise ConfigError(key + at, f"a {BLOCK_FIELDS[name]} table {{kind = ...}} cannot be swept; "
                          f"fix it in [model] ({name} = {{kind = ...}}) and sweep a numeric parameter")


def _check_archivable(key: str, block: Any) -> None:
    """A :class:`ConfigError` on ``key`` if a block given as a table cannot be archived as a spec."""
    from .spec import to_spec

    try:
        to_spec(block)
    except TypeError as exc:
        raise ConfigError(key, f"cannot be archived: {exc}") from None


def _check_points(cfg: RunConfig, given) -> None:
    """Cross checks at every distinct point, lazily: ordered pairs, then the kind's check.

    ``given`` names the parameters and options the file sets (an ordered pair
    is reported on the one of its two the file sets, the upper one if both).
    """
    kind = cfg.kind
    pairs = ordered_pairs([*kind.params, *kind.options])
    check = resolve_callable(kind.check) if kind.check is not None else None
    extra = {}
    if check is not None:
        try:
            sig = inspect.signature(check).parameters
        except (TypeError, ValueError):  # pragma: no cover - a builtin
            sig = {}
        named = {n for n, p in sig.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        extra = {k: v for k, v in cfg.options.items() if k in named}
    for pt in _distinct_points(cfg):
        values = {**pt, **cfg.options}
        for lo, hi in pairs:
            a, b = values[lo], values[hi]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
                continue
            if a >= b:
                bad, other = (lo, hi) if lo in given and hi not in given else (hi, lo)
                setter = f"set by {_config_key(other, cfg)}" if other in given else "the default"
                raise ConfigError(_config_key(bad, cfg),
                                  f"{hi} = {b!r} must exceed {lo} = {a!r} ({other}: {setter})")
        if check is None:
            continue
        try:
            check(**pt, **extra)
        except ValueError as exc:
            msg = str(exc)
            name = param_named(msg, [*kind.params, *extra])
            if name is None:
                raise ConfigError("model", msg) from None
            raise ConfigError(_config_key(name, cfg), _without_name(msg, name)) from None


def _distinct_points(cfg: RunConfig):
    """The distinct points of a config, one at a time (a grid without storing its points)."""
    if cfg.grid is not None:
        names = list(cfg.grid)
        axes = [list({repr(v): v for v in cfg.grid[n]}.values()) for n in names]
        for values in itertools.product(*axes):
            yield {**cfg.fixed, **dict(zip(names, values))}
        return
    seen = set()
    for pt in cfg.iter_points():
        key = tuple(sorted((k, repr(v)) for k, v in pt.items()))
        if key not in seen:
            seen.add(key)
            yield pt


def param_named(message: str, names) -> str | None:
    """The parameter among ``names`` that a ValueError message starts with, or None.

    Model validation (:mod:`lmech.checks`) starts every message with the
    parameter's name, possibly indexed (``"v_teacher[1] must ..."``); the
    longest matching name wins (``"alpha_max"`` before ``"alpha"``).
    """
    words = message.split()
    first = words[0].rstrip(":,") if words else ""
    for n in sorted(names, key=len, reverse=True):
        if (first == n or first.startswith(n + "[") or message.startswith(n + " ")
                or message.startswith(n + ":")):
            return n
    return None


def _config_key(name: str, cfg: RunConfig) -> str:
    """The config key that sets parameter or option ``name``."""
    if name in cfg.kind.options and name not in cfg.kind.params:
        return f"options.{name}"
    if cfg.grid is not None and name in cfg.grid:
        return f"grid.{name}"
    if cfg.points is not None and name in cfg.points[0]:
        return "points"
    return f"model.{name}"


def read_toml(path) -> tuple[dict, str]:
    """Read a UTF-8 TOML file: ``(data, text)``; every problem is a :class:`ConfigError` on ``config``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError("config", f"{path} is a directory") from None
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
