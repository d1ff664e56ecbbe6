"""Bad input to the public API of replica: every call raises a ValueError/TypeError naming the
argument, or returns a result whose success is honest and whose values are finite or documented.

Table-driven: each public function or model x each argument x the bad values NaN, inf, negative,
zero, huge, a string, a complex number, a wrong shape, an empty string.  A bad value the argument
accepts (a negative margin, lambda = 0, ...) must give an honest result (checked by ``_honest``).
"""

import math

import mpmath as mp
import numpy as np
import pytest

import replica
from lmech.result import Result
from lmech.status import Status
from replica import (ERM, BayesOptimalGLM, GardnerVolume, alpha_of_mmse, binary_rs_limit, capacity,
                     free_entropy_at, optimal_reg, ridge_closed_form, solve, spherical_capacity, transitions)

BAD = {"nan": math.nan, "inf": math.inf, "neg": -1.0, "zero": 0.0, "huge": 1e300, "str": "a",
       "complex": 1j, "shape": [1.0, 2.0], "empty": ""}

B = BayesOptimalGLM()
E = ERM(loss="square", reg=0.1, teacher_prior="gaussian", channel="linear")
G = GardnerVolume()
GB = GardnerVolume(prior="rademacher")

# scalars whose infinite / NaN values are documented (docstrings of solve_gardner, solve_erm, transitions)
DOCUMENTED_INF = {"V", "qhat", "entropy", "alpha_c", "q", "test_error", "alpha_1"}
DOCUMENTED_NAN = {"alpha_c", "q_uninf_c", "q_inf_c", "alpha_sp_uninf", "alpha_sp_inf", "q_sp_uninf",
                  "q_sp_inf", "test_error"}


def _honest(out):
    """A returned value: a successful result has finite or documented values; a failure says why."""
    if isinstance(out, Result):
        if out.success:
            for k, v in out.scalars.items():
                if isinstance(v, (float, np.floating)):
                    assert math.isfinite(v) or (math.isinf(v) and k in DOCUMENTED_INF) or \
                        (math.isnan(v) and k in DOCUMENTED_NAN), (k, v, out.message)
        else:
            assert out.message and out.status != Status.CONVERGED
    elif isinstance(out, (float, int, np.floating)):
        assert not math.isnan(out)
    elif isinstance(out, tuple):  # free_entropy_at: (alpha, Phi); alpha is nan at V = 0 (documented)
        assert not math.isnan(out[1]), out
    # else a model: constructed, i.e. the value is valid for it


def _check(call, name):
    try:
        out = call()
    except (ValueError, TypeError) as exc:
        assert name in str(exc), f"message does not name {name!r}: {exc}"
        return "raised"
    _honest(out)
    return "returned"


# (label, argument name, callable of the bad value, labels of BAD that must raise)
ALL = set(BAD)
NOT_REAL = {"nan", "inf", "str", "complex", "shape", "empty"}
CASES = [
    ("BayesOptimalGLM.prior", "prior", lambda v: BayesOptimalGLM(prior=v), ALL),
    ("BayesOptimalGLM.channel", "channel", lambda v: BayesOptimalGLM(channel=v), ALL),
    ("ERM.loss", "loss", lambda v: ERM(loss=v), ALL),
    ("ERM.reg", "reg", lambda v: ERM(reg=v), NOT_REAL | {"neg"}),
    ("ERM.teacher_prior", "teacher_prior", lambda v: ERM(teacher_prior=v), ALL),
    ("ERM.channel", "channel", lambda v: ERM(channel=v), ALL),
    ("GardnerVolume.prior", "prior", lambda v: GardnerVolume(prior=v), ALL),
    ("GardnerVolume.margin", "margin", lambda v: GardnerVolume(margin=v), NOT_REAL),
    ("binary GardnerVolume.margin", "margin", lambda v: GardnerVolume(prior="rademacher", margin=v),
     NOT_REAL),
    ("spherical_capacity", "kappa", spherical_capacity, NOT_REAL),
    ("binary_rs_limit", "kappa", binary_rs_limit, NOT_REAL),
    ("solve(Bayes).alpha", "alpha", lambda v: solve(B, v), NOT_REAL | {"neg"}),
    ("solve(Bayes).rtol", "rtol", lambda v: solve(B, 1.0, rtol=v), NOT_REAL | {"neg", "zero"}),
    ("solve(Bayes).max_iter", "max_iter", lambda v: solve(B, 1.0, max_iter=v), ALL - {"huge"}),
    ("solve(Bayes).n_quad", "n_quad", lambda v: solve(B, 1.0, n_quad=v), ALL),
    ("solve(Bayes).damping", "damping", lambda v: solve(B, 1.0, damping=v), ALL),
    ("solve(Bayes).method", "method", lambda v: solve(B, 1.0, method=v), ALL),
    ("solve(Bayes).init", "init", lambda v: solve(B, 1.0, init=v), ALL - {"zero"}),
    ("solve(Bayes).tol", "tol", lambda v: solve(B, 1.0, tol=v), NOT_REAL | {"neg", "zero"}),
    ("solve(ERM).alpha", "alpha", lambda v: solve(E, v), ALL - {"huge"}),
    ("solve(ERM).rtol", "rtol", lambda v: solve(E, 1.0, rtol=v), NOT_REAL | {"neg", "zero"}),
    ("solve(ERM).max_iter", "max_iter", lambda v: solve(E, 1.0, max_iter=v), ALL - {"huge"}),
    ("solve(ERM).n_quad", "n_quad", lambda v: solve(E, 1.0, n_quad=v), ALL),
    ("solve(ERM).damping", "damping", lambda v: solve(E, 1.0, damping=v), ALL),
    ("solve(ERM).method", "method", lambda v: solve(E, 1.0, method=v), ALL),
    ("solve(ERM).init", "init", lambda v: solve(E, 1.0, init=v), ALL),
    ("solve(ERM).memory", "memory", lambda v: solve(E, 1.0, memory=v), ALL - {"zero"}),
    ("solve(Gardner).alpha", "alpha", lambda v: solve(G, v), NOT_REAL | {"neg"}),
    ("solve(Gardner).rtol", "rtol", lambda v: solve(G, 1.0, rtol=v), NOT_REAL | {"neg", "zero"}),
    ("solve(Gardner).n_quad", "n_quad", lambda v: solve(G, 1.0, n_quad=v), ALL),
    ("solve(Gardner).tol", "tol", lambda v: solve(G, 1.0, tol=v), NOT_REAL | {"neg", "zero"}),
    ("solve(binary Gardner).alpha", "alpha", lambda v: solve(GB, v), NOT_REAL | {"neg"}),
    ("capacity.xtol", "xtol", lambda v: capacity(G, xtol=v), NOT_REAL | {"neg", "zero"}),
    ("capacity.n_quad", "n_quad", lambda v: capacity(G, n_quad=v), ALL),
    ("capacity.tol", "tol", lambda v: capacity(G, tol=v), NOT_REAL | {"neg", "zero"}),
    ("capacity.model", "model", lambda v: capacity(v), ALL),
    ("transitions.model", "model", lambda v: transitions(v), ALL),
    ("transitions.xtol", "xtol", lambda v: transitions(B, xtol=v), NOT_REAL | {"neg", "zero"}),
    ("transitions.n_quad", "n_quad", lambda v: transitions(B, n_quad=v), ALL),
    ("transitions.n_grid", "n_grid", lambda v: transitions(B, n_grid=v), ALL),
    ("transitions.v_min", "v_min", lambda v: transitions(B, v_min=v), ALL),
    ("transitions.tol", "tol", lambda v: transitions(B, tol=v), NOT_REAL | {"neg", "zero"}),
    ("alpha_of_mmse.V", "V", lambda v: alpha_of_mmse(B, v), ALL),
    ("alpha_of_mmse.n_quad", "n_quad", lambda v: alpha_of_mmse(B, 0.5, n_quad=v), ALL),
    ("free_entropy_at.V", "V", lambda v: free_entropy_at(B, v), ALL - {"zero"}),
    ("ridge_closed_form.alpha", "alpha", lambda v: ridge_closed_form(E, v), NOT_REAL | {"neg", "zero"}),
    ("optimal_reg.alpha", "alpha", lambda v: optimal_reg(E, v), NOT_REAL | {"neg", "zero"}),
]


@pytest.mark.parametrize("label,name,call,must_raise", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_or_honest(label, name, call, must_raise):
    for key, value in BAD.items():
        if key == "huge" and label.startswith(("transitions", "optimal_reg")):
            continue  # a valid huge tolerance runs the whole search: in the slow test below
        got = _check(lambda: call(value), name)
        if key in must_raise:
            assert got == "raised", f"{label}: {key} = {value!r} was accepted"


@pytest.mark.slow
@pytest.mark.parametrize("label,name,call,must_raise",
                         [c for c in CASES if c[0].startswith(("transitions", "optimal_reg"))],
                         ids=[c[0] for c in CASES if c[0].startswith(("transitions", "optimal_reg"))])
def test_bad_input_huge_values_slow(label, name, call, must_raise):
    got = _check(lambda: call(BAD["huge"]), name)
    if "huge" in must_raise:
        assert got == "raised"


def test_unknown_block_names_name_the_field():
    with pytest.raises(ValueError, match="^teacher_prior"):
        ERM(teacher_prior="bogus")
    with pytest.raises(ValueError, match="^channel"):
        BayesOptimalGLM(channel="bogus")
    with pytest.raises(ValueError, match="^loss"):
        ERM(loss="bogus")
    for make in (lambda: BayesOptimalGLM("", ""), lambda: ERM("", 0.1, "", ""), lambda: GardnerVolume("")):
        with pytest.raises(ValueError):
            make()


def test_partial_init_mapping_is_named():
    with pytest.raises(ValueError, match="init.*q, V"):
        solve(E, 1.0, init={"m": 0.5})


def test_gardner_rejects_foreign_options():
    for opt in ({"damping": "fast"}, {"method": "bogus"}, {"init": "a"}):
        with pytest.raises(TypeError, match=next(iter(opt))):
            solve(G, 1.0, **opt)


@pytest.mark.parametrize("kappa", [-37.0, -20.0, -5.0, -3.0, -2.5, -1.0, 0.0, 1.0, 4.0])
def test_spherical_capacity_at_negative_margins_against_mpmath(kappa):
    # Gardner 1988 eq. 24: 1/alpha_c = int_{-kappa}^inf Dt (t + kappa)^2, computed to 40 digits
    mp.mp.dps = 40
    k = mp.mpf(kappa)
    if kappa < 0:  # t = s - kappa: phi(kappa) int_0^inf s^2 exp(kappa s - s^2/2) ds, peaked at s ~ 2/|kappa|
        J = mp.npdf(k) * mp.quad(lambda s: s**2 * mp.exp(k * s - s * s / 2),
                                 [0, 1 / abs(k), 10 / abs(k), 1, mp.inf])
    else:
        J = mp.quad(lambda t: (t + k) ** 2 * mp.npdf(t), [-k, 0, mp.inf]) if kappa > 0 else mp.mpf(1) / 2
    exact = 1 / J
    # relative error of exp(-log den): |log den| ulp, at most ~700 ulp before overflow
    assert spherical_capacity(kappa) == pytest.approx(float(exact), rel=2e-16 * max(10.0, kappa**2))


def test_spherical_capacity_beyond_double_range_is_inf_and_tends_to_zero():
    # alpha_c ~ |kappa|^3 / (2 phi(kappa)) overflows below kappa ~ -37.5 (documented: inf)
    assert spherical_capacity(-40.0) == math.inf
    assert spherical_capacity(-1e300) == math.inf
    # kappa -> +inf: alpha_c -> 1/kappa^2 (the Gardner formula's leading term)
    assert spherical_capacity(1e4) == pytest.approx(1e-8, rel=1e-7)


def test_binary_capacity_far_from_zero_margin():
    # s(alpha) crosses zero below alpha_1 = (2/pi) alpha_c^sph (where q -> 1): the bracket is
    # (0, alpha_1) for every margin; Krauth & Mezard 1989 value at kappa = 0
    assert capacity(GB) == pytest.approx(0.833, abs=1e-3)
    for kappa in (-5.0, 1e3):
        model = GardnerVolume(prior="rademacher", margin=kappa)
        ac = capacity(model)
        assert 0.0 < ac < binary_rs_limit(kappa)
        assert solve(model, ac * (1 - 1e-6)).entropy > 0.0 > solve(model, ac * (1 + 1e-6)).entropy
    with pytest.raises(ValueError, match="margin"):
        GardnerVolume(prior="rademacher", margin=-30.0)


def test_least_squares_at_the_interpolation_threshold_diverges():
    res = solve(ERM("square", 0.0, "gaussian", "linear"), 1.0)
    assert not res.success and res.status == Status.DIVERGED and "diverges" in res.message
    assert res.test_error == math.inf
    # the closed form says the same (E|w|^2 ~ 1/|alpha - 1|)
    with pytest.raises(ValueError, match="alpha"):
        ridge_closed_form(ERM("square", 0.0, "gaussian", "linear"), 1.0)


def test_hinge_at_zero_reg_returns_the_documented_limit():
    # lambda -> 0 (max-margin): V -> inf with mhat, qhat, Vhat -> 0 (documented in solve_erm)
    res = solve(ERM("hinge", 0.0), 1.0)
    assert res.success
    assert res.V == math.inf and res.mhat == 0.0 and res.qhat == 0.0 and res.Vhat == 0.0
    # the limit of the lambda > 0 solutions: test error continuous as lambda -> 0
    near = solve(ERM("hinge", 1e-6), 1.0)
    assert near.test_error == pytest.approx(res.test_error, abs=1e-3)


EXTRA = {"tiny": 1e-300, "neg_huge": -1e300, "none": None, "bool": True, "nan_array": np.array([math.nan]),
         "int_beyond_float": 10**400}


@pytest.mark.slow
@pytest.mark.parametrize("label,name,call,must_raise", CASES, ids=[c[0] for c in CASES])
def test_more_bad_values_are_named_or_honest(label, name, call, must_raise):
    for key, value in EXTRA.items():
        _check(lambda: call(value), name)
