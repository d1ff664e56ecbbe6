"""Solver options are declared once, next to the solver (``OPTIONS``, a table of
:class:`lmech.spec.Param`): the solver checks its arguments against it
(:func:`lmech.spec.check_option`), and the sweep kinds and the validation configs take their
schemas from the same table, so that a bound cannot differ between a kind and its solver
(before, the kind ``replica.gardner`` offered ``n_quad >= 4`` to a solver that refuses
``n_quad < 16``, and ``lmech validate`` restated the sampled method's bounds)."""

import dataclasses
import importlib

import pytest

import dmft
import replica
from lmech.config import get_kind
from lmech.spec import REQUIRED

#: (sweep kind, module declaring OPTIONS, options the kind takes from it, a call of the solver
#: with one option replaced)
CASES = [
    ("dmft.glm", "dmft.sampled",
     ("dt", "n_traj", "n_samples", "n_replicas", "seed", "tol_se", "n_pass", "max_iter", "damping",
      "adaptive_damping"),
     lambda **o: dmft.solve(dmft.GLMDynamics(), 1.0, method="sampled", **o)),
    ("replica.bayes_optimal", "replica.bayes", ("rtol", "max_iter", "n_quad"),
     lambda **o: replica.solve(replica.BayesOptimalGLM(), 1.0, **o)),
    ("replica.erm", "replica.erm", ("rtol", "max_iter", "n_quad"),
     lambda **o: replica.solve(replica.ERM("logistic", 1.0), 1.0, **o)),
    ("replica.gardner", "replica.gardner", ("rtol", "n_quad"),
     lambda **o: replica.solve(replica.GardnerVolume(), 0.5, **o)),
]


#: the kinds' required parameters (a valid value each)
REQUIRED_PARAMS = {"replica.erm": {"alpha": 1.0}, "replica.bayes_optimal": {"alpha": 1.0}}


def _outside(p):
    """Values just outside the declared range of ``p`` (or of the wrong type)."""
    out = []
    if p.type is bool:
        return [1, "yes"]
    step = 1 if p.type is int else 1e-9
    if p.low is not None:
        out.append(p.low if p.low_open else p.low - step)
    if p.high is not None:
        out.append(p.high if p.high_open else (p.high + step if p.type is int else p.high * (1 + 1e-9)))
    out.append("a")
    return out


@pytest.mark.parametrize("kind,module,names,call", CASES, ids=[c[0] for c in CASES])
def test_kind_options_are_the_solvers_declarations(kind, module, names, call):
    table = importlib.import_module(module).OPTIONS
    k = get_kind(kind)
    for name in names:
        # the same declaration; only the default comes from the solver's signature
        assert dataclasses.replace(k.options[name], default=REQUIRED) == table[name], name


@pytest.mark.parametrize("kind,module,names,call", CASES, ids=[c[0] for c in CASES])
def test_solver_and_kind_refuse_the_same_values(kind, module, names, call):
    table = importlib.import_module(module).OPTIONS
    point = get_kind(kind).point_function
    for name in names:
        for bad in _outside(table[name]):
            with pytest.raises(ValueError, match=rf"^{name}\b"):
                call(**{name: bad})
            with pytest.raises(ValueError, match=rf"^{name}\b"):
                point(**{name: bad}, **REQUIRED_PARAMS.get(kind, {}))


def test_validation_config_takes_the_sampled_declarations():
    from validation.config import KINDS
    theory = KINDS["validation.glm"].theory
    for name in ("n_traj", "n_replicas", "seed"):
        assert theory[name] is dmft.sampled.OPTIONS[name]
