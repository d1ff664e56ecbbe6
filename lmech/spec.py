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
import warnings
from typing import Any

import numpy as np

__all__ = ["PACKAGES", "register_model", "model_class", "to_spec", "from_spec",
           "to_json", "from_json", "import_layer"]

#: The packages whose registries may be populated on demand.
PACKAGES = ("lmech", "odes", "dmft", "replica", "validation")

_MODELS: dict[str, type] = {}


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


def from_spec(data: Any) -> Any:
    """Inverse of :func:`to_spec`.

    Unknown registered type names load as plain dictionaries with a warning;
    a callable loads as its qualified name (a string) with a warning.
    """
    if isinstance(data, list):
        return [from_spec(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__tuple__" in data:
        return tuple(from_spec(v) for v in data["__tuple__"])
    if "__ndarray__" in data:
        arr = np.array(data["__ndarray__"], dtype=np.dtype(data["dtype"]))
        return arr.reshape(data["shape"])
    if "__complex__" in data:
        re, im = data["__complex__"]
        return complex(re, im)
    if "__dict__" in data:
        return {k: from_spec(v) for k, v in data["__dict__"].items()}
    if "__callable__" in data:
        warnings.warn(f"callable {data['__callable__']} was stored by name only; "
                      "it loads as a string", stacklevel=2)
        return data["__callable__"]
    if "__type__" in data:
        name = data["__type__"]
        fields = {k: from_spec(v) for k, v in data["fields"].items()}
        cls = model_class(name)
        if cls is None:
            warnings.warn(f"unknown model type {name!r}: loaded as a dictionary", stacklevel=2)
            return {"__type__": name, **fields}
        return cls(**fields)
    return {k: from_spec(v) for k, v in data.items()}


def to_json(obj: Any) -> str:
    """``json.dumps(to_spec(obj))`` with sorted keys."""
    return json.dumps(to_spec(obj), sort_keys=True)


def from_json(text: str) -> Any:
    """``from_spec(json.loads(text))``."""
    return from_spec(json.loads(text))
