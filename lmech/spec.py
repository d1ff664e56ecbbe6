"""Registry of models and building blocks, and their JSON specifications.

Models (``replica.BayesOptimalGLM``), building blocks (priors, channels,
losses, activations) and their parameters are frozen dataclasses.  Registered
with :func:`register_model`, they turn into a JSON-serialisable *spec* with
:func:`to_spec` and back with :func:`from_spec`, exactly (floats through their
shortest round-trip ``repr``, arrays with their dtype).  Archives and config
files hold specs, never pickles.

Loading a spec looks a type name up in the registry; if it is not there yet,
only the package named by its first dotted component is imported, and only if
that package is one of :data:`PACKAGES`.  Nothing named in a file is ever
executed.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PACKAGES", "REQUIRED", "ConfigError", "Param", "param", "params_of", "check_option",
           "validate_fields", "Model", "register_model", "model_class", "to_spec", "from_spec",
           "to_json", "from_json", "import_layer", "MAX_SPEC_DEPTH"]

#: The packages whose registries may be populated on demand.
PACKAGES = ("lmech", "odes", "dmft", "replica", "validation")

_MODELS: dict[str, type] = {}


# ---------------------------------------------------------------------------
# parameters declared once: field metadata with bounds and help
# ---------------------------------------------------------------------------
#: marks a parameter without a default (required)
REQUIRED = object()


class ConfigError(ValueError):
    """A config problem; ``key`` names the offending key (dotted)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Param:
    """Schema of one parameter or option of a sweep kind.

    Parameters
    ----------
    type : type or tuple of types
        ``float``, ``int``, ``str`` or ``bool`` (ints are accepted for floats).
    default : object, optional
        The default; omitted means the parameter is required.
    low, high : float, optional
        Bounds; ``low_open``/``high_open`` make them strict.
    choices : tuple, optional
        Allowed values.
    help : str
        One line for ``lmech run --help-kind``.
    """

    type: Any = float
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, key: str, value: Any) -> Any:
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if isinstance(value, np.generic):  # numpy scalars count as the Python scalars they hold
            value = value.item()
        ok = False
        for t in types:
            if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                try:
                    value, ok = float(value), True
                except OverflowError:  # an int beyond the float range (10**400)
                    raise ConfigError(key, f"must be finite (a float), got an integer of "
                                           f"about {int(value.bit_length() * 0.30103)} digits") from None
                break
            if t is int and isinstance(value, int) and not isinstance(value, bool):
                if not -2 ** 63 <= value < 2 ** 63:  # what NumPy, Numba and archives hold
                    raise ConfigError(key, f"must be a 64-bit integer, got one of about "
                                           f"{int(abs(value).bit_length() * 0.30103)} digits")
                ok = True
                break
            if t is bool and isinstance(value, bool):
                ok = True
                break
            if t is str and isinstance(value, str):
                ok = True
                break
            if t not in (float, int, bool, str) and isinstance(value, t):
                ok = True
                break
        if not ok:
            names = " or ".join(getattr(t, "__name__", str(t)) for t in types)
            raise ConfigError(key, f"expected {names}, got {type(value).__name__} {value!r}")
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(key, "must not be NaN")
        if isinstance(value, float) and math.isinf(value):
            raise ConfigError(key, "must be finite")
        # choices constrain values of their own type (names), not a block object a
        # field of type (str, Block) also accepts
        if (self.choices is not None and any(type(value) is type(c) for c in self.choices)
                and value not in self.choices):
            raise ConfigError(key, f"must be one of {', '.join(map(repr, self.choices))}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            rng = f"{lo}{'-inf' if self.low is None else self.low}, {'inf' if self.high is None else self.high}{hi}"
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                raise ConfigError(key, f"must lie in {rng}, got {value!r}")
            if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
                raise ConfigError(key, f"must lie in {rng}, got {value!r}")
        return value


def check_option(options, name: str, value: Any) -> Any:
    """``value`` of the solver option ``name``, checked against its one declaration ``options[name]``.

    A solver declares its numerical options once, as a table of :class:`Param` next to
    its signature (``OPTIONS = {"n_quad": Param(int, low=16, high=200, help=...)}``), checks
    each argument with this function, and sweep kinds and configs take their schemas from
    the same table (:func:`lmech.config.solver_options`), so the bounds cannot drift apart.
    Raises :class:`ValueError` starting with the option's name and stating the allowed range;
    an integer-valued float is accepted for an ``int`` option (as
    :func:`lmech.checks.check_int`).
    """
    p = options[name]
    if p.type is int and isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    try:
        return p.check(name, value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


_META = "lmech"


def param(default: Any = REQUIRED, *, type: Any = None, low: float | None = None,
          high: float | None = None, low_open: bool = False, high_open: bool = False,
          choices: tuple | None = None, help: str = "", spec: bool = True):
    """A dataclass field carrying its schema (:class:`Param`) as metadata.

    A model declares each parameter once::

        @register_model("odes.CommitteeMachine")
        @dataclass(frozen=True)
        class CommitteeMachine(Model):
            K: int = param(low=1, high=10_000, help="student hidden units")
            lr: float = param(0.5, low=0.0, help="learning rate eta")

    and :class:`Model`'s ``__post_init__`` checks every field against it;
    config schemas, sweep kinds and CLI help read it with :func:`params_of`.

    Parameters
    ----------
    default : object, optional
        The default; omitted means required.
    type : type or tuple of types, optional
        ``float``, ``int``, ``str``, ``bool`` or a class; default: the field's
        annotation where that is one of these, else no type check.
    low, high, low_open, high_open, choices, help
        As in :class:`Param`.
    spec : bool
        False for a field that is not a scalar config parameter (an array, a
        block object): it is still validated, but not offered in configs.
    """
    meta = {_META: Param(type=type, default=default, low=low, high=high, low_open=low_open,
                         high_open=high_open, choices=choices, help=help),
            "lmech_spec": spec}
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_ANNOT = {"float": float, "int": int, "str": str, "bool": bool,
          float: float, int: int, str: str, bool: bool}


def _resolved(f) -> Param | None:
    p = f.metadata.get(_META)
    if p is None:
        return None
    if p.type is None:
        t = _ANNOT.get(f.type)
        p = dataclasses.replace(p, type=t if t is not None else object)
    return p


def params_of(cls, *, all_fields: bool = False) -> dict[str, Param]:
    """The :class:`Param` schema of every :func:`param` field of ``cls``, in order.

    Fields declared with ``spec=False`` are left out unless ``all_fields``.
    """
    out = {}
    for f in dataclasses.fields(cls):
        p = _resolved(f)
        if p is not None and (all_fields or f.metadata.get("lmech_spec", True)):
            out[f.name] = p
    return out


def validate_fields(obj) -> None:
    """Check (and coerce: ints to floats) every :func:`param` field of a dataclass instance.

    Raises :class:`ValueError` whose message starts with the field's name and
    states the allowed range.  ``None`` passes for a field whose default is
    ``None``.
    """
    for f in dataclasses.fields(obj):
        p = _resolved(f)
        if p is None:
            continue
        value = getattr(obj, f.name)
        if value is None and p.default is None:
            continue
        if p.type is object:
            continue
        try:
            checked = p.check(f.name, value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


class Model:
    """Mixin of models and blocks declared with :func:`param` fields.

    Its ``__post_init__`` runs :func:`validate_fields`, then ``self.check()``,
    the hook for constraints between fields (raise ``ValueError`` naming the
    parameter).  Subclasses override :meth:`check`, not ``__post_init__``.
    """

    def __post_init__(self):
        validate_fields(self)
        self.check()

    def check(self) -> None:
        """Constraints between fields; the default has none."""


def import_layer(name: str) -> bool:
    """Import the package owning the dotted ``name`` if it is in :data:`PACKAGES`.

    Returns True if the package was imported (or already was).  A name outside
    the allow-list imports nothing and returns False.
    """
    top = name.split(".", 1)[0]
    if top not in PACKAGES:
        return False
    try:
        importlib.import_module(top)
    except ImportError:  # pragma: no cover - a broken install
        return False
    return True


def register_model(name: str):
    """Class decorator registering a frozen dataclass as a model or block.

    ``name`` is dotted, starting with the defining package
    (``"replica.priors.Rademacher"``).
    """

    def deco(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError("register_model decorates dataclasses")
        old = _MODELS.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is already registered to {old!r}")
        cls._spec_name = name
        _MODELS[name] = cls
        return cls

    return deco


def model_class(name: str) -> type | None:
    """The class registered under ``name`` (importing its layer if allowed)."""
    if name not in _MODELS:
        import_layer(name)
    return _MODELS.get(name)


def to_spec(obj: Any) -> Any:
    """Convert ``obj`` into JSON-serialisable data that :func:`from_spec` inverts."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, np.generic):
        return to_spec(obj.item())
    if isinstance(obj, complex):
        return {"__complex__": [obj.real, obj.imag]}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"cannot write an array of dtype {obj.dtype} into a spec")
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, tuple):
        return {"__tuple__": [to_spec(v) for v in obj]}
    if isinstance(obj, list):
        return [to_spec(v) for v in obj]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"spec dictionaries need string keys, got {k!r}")
            out[k] = to_spec(v)
        if any(k.startswith("__") for k in out):
            return {"__dict__": out}
        return out
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        name = getattr(type(obj), "_spec_name", None)
        if name is None:
            raise TypeError(f"{type(obj).__qualname__} is not registered with lmech.spec.register_model")
        fields = {f.name: to_spec(getattr(obj, f.name))
                  for f in dataclasses.fields(obj) if f.init}
        return {"__type__": name, "fields": fields}
    if callable(obj):
        qual = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        return {"__callable__": qual}
    raise TypeError(f"cannot write an object of type {type(obj).__name__} into a spec")


#: deepest nesting of lists and mappings :func:`from_spec` reads (a spec deeper
#: than this is damaged, not a model: refused with a ValueError, never a RecursionError)
MAX_SPEC_DEPTH = 64


def from_spec(data: Any, *, _depth: int = 0) -> Any:
    """Inverse of :func:`to_spec`.

    Unknown registered type names load as plain dictionaries with a warning;
    a callable loads as its qualified name (a string) with a warning.  Data
    nested deeper than :data:`MAX_SPEC_DEPTH` raises :class:`ValueError`.
    """
    if isinstance(data, (list, dict)) and _depth >= MAX_SPEC_DEPTH:
        raise ValueError(f"spec: nested deeper than {MAX_SPEC_DEPTH} levels")
    if isinstance(data, list):
        return [from_spec(v, _depth=_depth + 1) for v in data]
    if not isinstance(data, dict):
        return data
    if "__tuple__" in data:
        return tuple(from_spec(v, _depth=_depth + 1) for v in data["__tuple__"])
    if "__ndarray__" in data:
        if np.dtype(data["dtype"]).kind not in "biuf":  # what to_spec writes; never objects
            raise ValueError(f"spec: arrays of dtype {data['dtype']!r} are not read")
        arr = np.array(data["__ndarray__"], dtype=np.dtype(data["dtype"]))
        return arr.reshape(data["shape"])
    if "__complex__" in data:
        re, im = data["__complex__"]
        return complex(re, im)
    if "__dict__" in data:
        return {k: from_spec(v, _depth=_depth + 1) for k, v in data["__dict__"].items()}
    if "__callable__" in data:
        if not isinstance(data["__callable__"], str):
            raise ValueError(f"spec: a callable is stored by its name, got {data['__callable__']!r:.60}")
        warnings.warn(f"callable {data['__callable__']} was stored by name only; "
                      "it loads as a string", stacklevel=2)
        return data["__callable__"]
    if "__type__" in data:
        name = data["__type__"]
        fields = {k: from_spec(v, _depth=_depth + 1) for k, v in data["fields"].items()}
        cls = model_class(name)
        if cls is None:
            warnings.warn(f"unknown model type {name!r}: loaded as a dictionary", stacklevel=2)
            return {"__type__": name, **fields}
        return cls(**fields)
    return {k: from_spec(v, _depth=_depth + 1) for k, v in data.items()}


def to_json(obj: Any) -> str:
    """``json.dumps(to_spec(obj))`` with sorted keys."""
    return json.dumps(to_spec(obj), sort_keys=True)


def from_json(text: str) -> Any:
    """``from_spec(json.loads(text))``; JSON nested too deeply to parse raises :class:`ValueError`."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"spec: JSON nested too deeply (more than {MAX_SPEC_DEPTH} levels)") from None
    return from_spec(data)
