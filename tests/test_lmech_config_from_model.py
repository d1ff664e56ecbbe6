"""Sweep kinds derived from a model's parameter declarations (SweepKind.from_model)."""

from __future__ import annotations

import inspect
import math
import pickle
from dataclasses import dataclass

import pytest

import lmech
from lmech.config import ConfigError, Param, SweepKind, get_kind, parse_config, resolve_callable
from lmech.spec import params_of


@dataclass(frozen=True)
class Decay(lmech.Model):
    """x' = -rate x, x(0) = x0."""

    order: int = lmech.param(low=1, high=4, help="an integer without default")
    rate: float = lmech.param(1.0, low=0.0, low_open=True, help="decay rate")
    x0: float = lmech.param(1.0, help="initial value")

    def check(self):
        if self.x0 < 0 and self.rate > 10:
            raise ValueError("rate must be <= 10 with x0 < 0")


@dataclass(frozen=True)
class DecayRun(lmech.Model):
    t: float = lmech.param(1.0, low=0.0, help="final time")


def _solve(model, *, t, tol):
    # x(t) = x0 exp(-rate t); "half_life" only for x0 > 0 (observables fill the gap with NaN)
    out = {"x": model.x0 * math.exp(-model.rate * t)}
    if model.x0 > 0:
        out["half_life"] = math.log(2.0) / model.rate
    return out


KIND = SweepKind.from_model(
    Decay, name="lmech_test.decay", solve=_solve, extra_params=DecayRun,
    options={"tol": Param(float, default=1e-8, low=0.0, low_open=True, help="tolerance")},
    defaults={"order": 2}, observables=("x", "half_life"),
    point=f"{__name__}:decay_point", check=f"{__name__}:decay_check")
decay_point, decay_check = KIND.point_function, KIND.check_function


def test_params_are_the_model_fields_then_the_extra_ones():
    assert list(KIND.params) == ["order", "rate", "x0", "t"] and list(KIND.options) == ["tol"]
    assert KIND.params["rate"] == params_of(Decay)["rate"]
    assert KIND.params["order"].default == 2 and params_of(Decay)["order"].required
    sig = inspect.signature(decay_point).parameters
    assert {k: p.default for k, p in sig.items()} == {"order": 2, "rate": 1.0, "x0": 1.0, "t": 1.0,
                                                      "tol": 1e-8}
    assert list(inspect.signature(decay_check).parameters) == ["order", "rate", "x0", "t"]


def test_point_builds_the_model_and_solves():
    out = decay_point(rate=2.0, t=0.5)
    assert out["x"] == pytest.approx(math.exp(-1.0), rel=1e-15)
    assert out["half_life"] == pytest.approx(math.log(2.0) / 2.0, rel=1e-15)
    neg = decay_point(x0=-1.0)
    assert math.isnan(neg["half_life"])          # a declared observable the solver did not give
    assert decay_check(rate=3.0) is None


def test_errors_name_the_parameter():
    for kwargs, match in [({"rate": 0.0}, r"^rate: must lie in \(0.0"),
                          ({"order": 5}, r"^order: must lie in \[1, 4\]"),
                          ({"t": -1.0}, r"^t: must lie in \[0.0"),
                          ({"x0": -1.0, "rate": 11.0}, r"^rate must be <= 10")]:
        with pytest.raises(ValueError, match=match):
            decay_check(**kwargs)
    with pytest.raises(ValueError, match="^tol"):
        decay_point(tol=0.0)
    with pytest.raises(TypeError, match="tol"):
        decay_check(tol=1e-3)                       # options are not parameters of a point
    with pytest.raises(TypeError, match="unexpected"):
        decay_point(speed=1.0)


def test_functions_pickle_by_name_like_functions():
    assert resolve_callable(KIND.point) is decay_point
    assert pickle.loads(pickle.dumps(decay_point)) is decay_point
    assert pickle.loads(pickle.dumps(decay_check)) is decay_check


def test_declaring_a_parameter_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        SweepKind.from_model(Decay, name="x.y", solve=_solve, point="x:y",
                             extra_params={"rate": Param(float)})
    with pytest.raises(ValueError, match="not param fields"):
        SweepKind.from_model(Decay, name="x.y", solve=_solve, point="x:y", fields=("speed",))


@pytest.mark.parametrize("name", ["odes.phase_diagram", "dmft.pspin", "dmft.linreg", "dmft.rnn",
                                  "dmft.glm", "replica.gardner", "validation.committee_sgd"])
def test_layer_kinds_read_bounds_and_help_from_their_model(name):
    kind = get_kind(name)
    schema = params_of(kind.model)
    shared = [k for k in kind.params if k in schema]
    assert shared
    for k in shared:
        a, b = kind.params[k], schema[k]
        assert (a.low, a.high, a.low_open, a.high_open, a.choices, a.help) == \
               (b.low, b.high, b.low_open, b.high_open, b.choices, b.help), k


def test_phase_diagram_bounds_are_the_models():
    import odes

    kind = get_kind("odes.phase_diagram")
    assert kind.params["K"].high == params_of(odes.CommitteeMachine)["K"].high
    # lr = 0 is a valid model (no learning) but not a phase diagram (its window is in eta t)
    odes.CommitteeMachine(2, 2, lr=0.0)
    with pytest.raises(ValueError, match="^lr"):
        resolve_callable(kind.check)(lr=0.0)


def test_config_error_is_keyed_to_the_swept_parameter():
    data = {"kind": "odes.phase_diagram", "grid": {"K": [1, 0]}}
    with pytest.raises(ConfigError, match=r"^grid\.K"):
        parse_config(data)
    data = {"kind": "odes.phase_diagram", "grid": {"r0": [1e-3, 2.0]}}
    with pytest.raises(ConfigError, match=r"^grid\.r0"):
        parse_config(data)


def test_solver_options_take_their_defaults_from_the_solver():
    from lmech.config import solver_options

    def solver(model, alpha, *, rtol=1e-9, max_iter=100):
        return None

    opts = solver_options(solver, rtol=Param(float, low=0.0, help="tolerance"),
                          max_iter=Param(int, default=500, low=1, help="iterations"))
    assert opts["rtol"].default == 1e-9 and opts["rtol"].help == "tolerance"
    assert opts["max_iter"].default == 500              # a sweep's own default is kept
    with pytest.raises(ValueError, match="damping"):
        solver_options(solver, damping=Param(float))
    erm = get_kind("replica.erm").options
    from replica.erm import solve_erm

    sig = inspect.signature(solve_erm).parameters
    assert all(erm[k].default == sig[k].default for k in erm)


def test_numpy_scalars_and_block_valued_fields():
    import numpy as np

    import odes

    m = odes.CommitteeMachine(np.int64(3), np.int64(2), lr=np.float64(0.25))
    assert type(m.K) is int and m.K == 3 and type(m.lr) is float
    # a (str, Custom) field: names are checked against the choices, a Custom passes
    custom = odes.Custom(np.tanh)
    assert odes.CommitteeMachine(1, 1, activation=custom).activation is custom
    with pytest.raises(ValueError, match="^activation: must be one of"):
        odes.CommitteeMachine(1, 1, activation="tanh")
    with pytest.raises(ValueError, match="^activation: expected str or Custom"):
        odes.CommitteeMachine(1, 1, activation=np.tanh)
