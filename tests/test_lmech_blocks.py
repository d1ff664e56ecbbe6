"""lmech.blocks: losses (value, derivatives, prox) and activations (g, g', Gaussian-equivalence coefficients).

Oracles: the losses written independently in mpmath at 50 digits (values, and
derivatives by mpmath's numerical differentiation), direct scalar
minimisation of the prox objective (strong convexity turns an objective gap
into a distance bound), and mpmath quadrature for the Gaussian moments of the
activations.
"""

import json
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import optimize

from lmech.blocks import activations as A
from lmech.blocks import losses as L
from lmech.blocks import get_activation, get_loss
from lmech.spec import from_json, to_json



@pytest.fixture(autouse=True)
def _mp50():
    with mp.workdps(50):
        yield

# independent definitions (mpmath): l(y, h)
_MP_LOSS = {
    "square": lambda y, h: (y - h) ** 2 / 2,
    "logistic": lambda y, h: mp.log1p(mp.exp(-y * h)),
    "hinge": lambda y, h: mp.mpf(1) - y * h if y * h < 1 else mp.mpf(0),
    "squared-hinge": lambda y, h: (1 - y * h) ** 2 / 2 if y * h < 1 else mp.mpf(0),
    "huber": lambda y, h: _mp_huber(y - h, 1),
}
#: margins t = y h where the loss is not twice differentiable (Huber, delta = 1: |y - h| = 1)
_KINKS = {"square": (), "logistic": (), "hinge": (1.0,), "squared-hinge": (1.0,), "huber": (0.0, 2.0)}


def _mp_huber(r, delta):
    # Huber, Ann. Math. Statist. 35, 73 (1964), eq. (8): rho(r) = r^2/2 (|r| <= delta), delta |r| - delta^2/2
    r, delta = mp.mpf(r), mp.mpf(delta)
    return r * r / 2 if abs(r) <= delta else delta * abs(r) - delta * delta / 2
NAMES = sorted(_MP_LOSS)
YS = (1.0, -1.0)


def test_registry_covers_every_coded_loss():
    coded = {c.name for c in L.LOSSES.values() if c.code >= 0}
    assert coded == set(NAMES)
    assert len({c.code for c in L.LOSSES.values()}) == len(coded)
    # the first three codes are those every layer used before the move (dmft, replica, validation)
    assert (L.Square.code, L.Logistic.code, L.Hinge.code) == (0, 1, 2)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("h", [-30.0, -2.5, -0.3, 0.0, 0.7, 1.3, 4.0, 40.0])
def test_loss_value_and_derivatives_against_mpmath(name, h):
    loss = get_loss(name)
    for y in YS:
        f = lambda x: _MP_LOSS[name](mp.mpf(y), x)  # noqa: E731
        assert loss.value(y, h) == pytest.approx(float(f(mp.mpf(h))), rel=1e-15, abs=1e-300)
        if any(abs(y * h - k) < 1e-3 for k in _KINKS[name]):
            continue
        assert loss.d1(y, h) == pytest.approx(float(mp.diff(f, mp.mpf(h), 1)), rel=1e-13, abs=1e-300)
        assert loss.d2(y, h) == pytest.approx(float(mp.diff(f, mp.mpf(h), 2)), rel=1e-12, abs=1e-300)


def test_square_loss_takes_real_labels():
    loss = get_loss("square")
    y, h, c, v = 0.37, -1.2, 0.8, 2.0
    assert loss.value(y, h) == pytest.approx(0.5 * (y - h) ** 2, rel=1e-15)
    hp, dh = loss.prox(y, v, c)
    assert hp == pytest.approx((v + c * y) / (1 + c), rel=1e-15) and dh == pytest.approx(1 / (1 + c), rel=1e-15)


def test_hinge_subgradient_and_curvature_at_the_kink():
    # convention shared by the layers: at y h = 1 the flat side's subgradient 0, and l'' = 0
    loss = get_loss("hinge")
    assert loss.d1(1.0, 1.0) == 0.0 and loss.d1(-1.0, -1.0) == 0.0 and loss.d2(1.0, 1.0) == 0.0
    # margin prox inside the kink regime: t = 1 with ell'' = inf; prox in h: h = y, dh/dv = 0
    t, ell, l2 = loss.prox_margin(np.array([0.5]), 2.0)
    assert (t[0], ell[0], l2[0]) == (1.0, 0.0, math.inf)
    assert loss.prox(-1.0, -0.5, 2.0) == (-1.0, 0.0)


def _prox_objective(loss, y, v, c):
    return lambda h: float(loss.value(y, h)) + (h - v) ** 2 / (2 * c)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(v=st.floats(-40.0, 40.0), logc=st.floats(-3.0, 3.0), yneg=st.booleans())
def test_prox_is_the_minimiser(name, v, logc, yneg):
    # h = argmin l(y, h) + (h - v)^2/(2c): the objective is (1/c)-strongly convex, so an objective
    # gap eps at the returned point bounds |h - h*| by sqrt(2 c eps); the reference is Brent's
    # bounded minimisation on a bracket containing h* (|h* - v| <= c (|y - v| + 2))
    loss = get_loss(name)
    y = -1.0 if yneg else 1.0
    c = 10.0 ** logc
    h, dh = loss.prox(y, v, c)
    obj = _prox_objective(loss, y, v, c)
    B = c * (abs(y - v) + 2.0) + 1.0
    ref = optimize.minimize_scalar(obj, bounds=(v - B, v + B), method="bounded",
                                   options={"xatol": 1e-13 * max(1.0, B), "maxiter": 2000}).x
    assert obj(h) <= obj(ref) + 1e-13 * max(1.0, abs(obj(ref)))
    # first-order condition where l is smooth at h: h + c l'(y, h) = v
    if all(abs(y * h - k) > 1e-9 for k in _KINKS[name]):
        assert h + c * float(loss.d1(y, h)) == pytest.approx(v, abs=1e-12 * max(1.0, abs(v), c))
        # dh/dv = 1/(1 + c l''), checked by central differences of the prox
        e = 1e-6 * max(1.0, abs(v))
        if all(abs(y * loss.prox(y, v + s, c)[0] - k) > 10 * e for k in _KINKS[name] for s in (-e, e)):
            fd = (loss.prox(y, v + e, c)[0] - loss.prox(y, v - e, c)[0]) / (2 * e)
            assert dh == pytest.approx(fd, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_margin_prox_is_the_prox_at_label_one(name):
    # prox_margin(om, V) = (t, ell(t), ell''(t)) with t = prox_{V l(1, .)}(om)
    loss = get_loss(name)
    om = np.array([-30.0, -3.0, -0.4, 0.0, 0.6, 0.999, 1.0, 2.5, 30.0])
    for V in (1e-3, 0.7, 2.0, 5000.0):
        t, ell, l2 = loss.prox_margin(om, V)
        h, dh = loss.prox(1.0, om, V)
        np.testing.assert_array_equal(t, h)
        np.testing.assert_allclose(ell, loss.value(1.0, t), rtol=1e-15, atol=1e-15)
        smooth = np.isfinite(l2)
        np.testing.assert_allclose(dh[smooth], 1.0 / (1.0 + V * l2[smooth]), rtol=1e-15)
        assert np.all(dh[~smooth] == 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_numba_table_equals_python_methods(name):
    loss = get_loss(name)
    rng = np.random.default_rng(1)
    y = rng.choice([-1.0, 1.0], 50)
    h = 5 * rng.standard_normal(50)
    for fn, meth in ((L.loss_value, loss.value), (L.loss_d1, loss.d1), (L.loss_d2, loss.d2)):
        assert np.array_equal(meth(y, h), [fn(loss.code, loss.par, a, b) for a, b in zip(y, h)])
    hp, dh = loss.prox(y, h, 0.7)
    assert np.array_equal(np.stack([hp, dh], 1), [L.loss_prox(loss.code, loss.par, a, b, 0.7) for a, b in zip(y, h)])
    t = np.stack(loss.prox_margin(h, 0.7), 1)
    assert np.array_equal(t, [L.prox_margin(loss.code, loss.par, b, 0.7) for b in h])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(y=st.floats(-20.0, 20.0), v=st.floats(-40.0, 40.0), logc=st.floats(-3.0, 3.0),
       logd=st.floats(-2.0, 1.5))
def test_huber_prox_real_labels_is_the_minimiser(y, v, logc, logd):
    # regression labels (any real y), any delta: the closed-form prox against direct minimisation of
    # rho_delta(y - h) + (h - v)^2/(2c) (written in mpmath) and its derivative by central differences
    c, delta = 10.0 ** logc, 10.0 ** logd
    loss = get_loss("huber", delta=delta)
    h, dh = loss.prox(y, v, c)
    obj = lambda x: float(_mp_huber(y - x, delta) + (mp.mpf(x) - v) ** 2 / (2 * c))  # noqa: E731
    B = c * delta + abs(y - v) + 1.0
    ref = optimize.minimize_scalar(obj, bounds=(v - B, v + B), method="bounded",
                                   options={"xatol": 1e-13 * max(1.0, B), "maxiter": 2000}).x
    assert obj(h) <= obj(ref) + 1e-13 * max(1.0, abs(obj(ref)))
    # the first-order condition h - v = c psi(y - h), psi the clip to [-delta, delta]
    assert h - v == pytest.approx(c * min(max(y - h, -delta), delta), abs=1e-12 * max(1.0, abs(v), abs(y), c))
    u = y - v
    if abs(abs(u) - delta * (1 + c)) > 1e-4 * max(1.0, abs(u)):
        e = 1e-7 * max(1.0, abs(v))
        fd = (loss.prox(y, v + e, c)[0] - loss.prox(y, v - e, c)[0]) / (2 * e)
        # the difference quotient carries the rounding of the two prox values, ~eps |h| / e
        # (y = 9, v = 0, c = 1000: 9e-8 against dh = 1/1001), besides its O(e^2) truncation
        assert dh == pytest.approx(fd, rel=1e-6, abs=8 * np.finfo(float).eps * max(1.0, abs(h)) / e)
        assert dh == (1.0 / (1.0 + c) if abs(u) < delta * (1 + c) else 1.0)


@pytest.mark.parametrize("delta", [0.05, 0.7, 3.0])
def test_huber_value_and_derivatives_real_labels_against_mpmath(delta):
    loss = get_loss("huber", delta=delta)
    for y in (-2.3, 0.0, 0.4, 5.0):
        for h in (-30.0, -1.0, 0.1, 0.45, 2.0, 7.5):
            f = lambda x: _mp_huber(y - x, delta)  # noqa: E731
            assert loss.value(y, h) == pytest.approx(float(f(mp.mpf(h))), rel=1e-15)
            if abs(abs(y - h) - delta) < 1e-3:
                continue
            assert loss.d1(y, h) == pytest.approx(float(mp.diff(f, mp.mpf(h), 1)), rel=1e-13, abs=1e-300)
            assert loss.d2(y, h) == pytest.approx(float(mp.diff(f, mp.mpf(h), 2)), rel=1e-12, abs=1e-12)


def test_huber_square_limit_and_parameters():
    # delta -> inf: the square loss (its prox (v + c y)/(1 + c)) wherever |y - v| <= delta (1 + c)
    big, sq = get_loss("huber", delta=1e8), get_loss("square")
    y, v, c = np.array([0.3, -4.0, 12.0]), np.array([2.0, 1.0, -9.0]), np.array([0.5, 3.0, 40.0])
    assert np.array_equal(big.prox(y, v, c)[0], sq.prox(y, v, c)[0])
    assert np.array_equal(big.value(y, v), sq.value(y, v))
    assert get_loss("huber", delta=0.5) == L.Huber(0.5) and L.Huber(0.5).par.tolist() == [0.5]
    assert L.Huber.regression and L.Square.regression and not L.Logistic.regression
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="delta"):
            L.Huber(delta=bad)
    assert from_json(to_json(L.Huber(0.25))) == L.Huber(0.25)


def test_logistic_prox_in_the_far_tails():
    # om -> -inf: t = om + s with s = V sigma(-t) -> V (the loss is linear there);
    # om -> +inf: s ~ V e^{-om} (mpmath root of s = V sigma(-om - s))
    loss = get_loss("logistic")
    for om, V in ((-700.0, 3.0), (40.0, 2.0), (0.3, 1e6)):
        t = float(loss.prox_margin(np.array([om]), V)[0][0])
        s_ref = mp.findroot(lambda s: s - V / (1 + mp.exp(om + s)), (mp.mpf(0), mp.mpf(V)), solver="anderson")
        assert t - om == pytest.approx(float(s_ref), rel=1e-13)


def test_get_loss_and_specs():
    assert get_loss("ridge") == L.Square() and get_loss("Squared-Hinge") == L.SquaredHinge()
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("cross-entropy")
    for name in NAMES:
        loss = get_loss(name)
        assert from_json(to_json(loss)) == loss
        assert json.loads(to_json(loss))["__type__"].startswith(("lmech.losses.", "replica."))
        assert from_json(json.dumps({"__type__": f"lmech.losses.{type(loss).__name__}", "fields": {}})) == loss
    # archives written before the move name the replica layer's classes: they load as the same
    # losses and write the same spec back
    for old, cls in (("replica.Square", L.Square), ("replica.Logistic", L.Logistic),
                     ("replica.Hinge", L.Hinge), ("replica.SquaredHinge", L.SquaredHinge)):
        spec = json.dumps({"__type__": old, "fields": {}})
        assert from_json(spec) == cls() and to_json(cls()) == spec


def test_loss_without_kernel_is_refused_by_kernel_users():
    class _Py(L.ProxLoss):
        name = "py"

    with pytest.raises(ValueError, match="loss: .*compiled kernel"):
        _Py().value(1.0, 0.0)
    with pytest.raises(ValueError, match="c must lie"):
        get_loss("logistic").prox(1.0, 0.0, 0.0)


# ---------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------
_MP_ACT = {
    "erf_sqrt2": lambda u: mp.erf(u / mp.sqrt(2)),
    "erf_sqrtpi": lambda u: mp.erf(mp.sqrt(mp.pi) * u / 2),
    "relu": lambda u: u if u > 0 else mp.mpf(0),
    "linear": lambda u: u,
    "quadratic": lambda u: u * u,
    "tanh": mp.tanh,
}


def _mp_coefficients(g):
    w = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731
    E = lambda f: mp.quad(lambda z: f(z) * w(z), [-mp.inf, 0, mp.inf])  # noqa: E731
    m0, m1, m2 = E(g), E(lambda z: z * g(z)), E(lambda z: g(z) ** 2)
    return float(m0), float(m1), float(mp.sqrt(max(m2 - m0 ** 2 - m1 ** 2, 0)))


@pytest.mark.parametrize("name", sorted(_MP_ACT))
def test_activation_g_dg_and_coefficients_against_mpmath(name):
    act = get_activation(name)
    g = _MP_ACT[name]
    for u in (-3.7, -0.4, 0.25, 1.9, 6.0):
        assert act.g(u) == pytest.approx(float(g(mp.mpf(u))), rel=1e-15, abs=1e-300)
        assert act.dg(u) == pytest.approx(float(mp.diff(g, mp.mpf(u))), rel=1e-14, abs=1e-300)
    ref = _mp_coefficients(g)
    assert act.coefficients() == pytest.approx(ref, rel=1e-12, abs=1e-14)


def test_activation_names_and_table():
    # "erf" means erf(u / sqrt 2) in odes and validation (kept as an alias); dmft's RNN erf is distinct
    assert get_activation("erf") == A.ErfSqrt2()
    assert get_activation("erf_sqrtpi").g(1.0) == pytest.approx(math.erf(math.sqrt(math.pi) / 2), rel=1e-15)
    assert (A.ErfSqrt2.code, A.Relu.code, A.Linear.code, A.Quadratic.code) == (0, 1, 2, 3)
    u = np.linspace(-4, 4, 33)
    for name in _MP_ACT:
        act = get_activation(name)
        assert np.array_equal(act.g(u), [A.act_g(act.code, x) for x in u])
        assert np.array_equal(act.dg(u), [A.act_dg(act.code, x) for x in u])
        assert from_json(to_json(act)) == act
    with pytest.raises(ValueError, match="activation must be one of"):
        get_activation("softsign")


def test_custom_activation_quadrature_against_closed_form():
    # the adaptive quadrature of a Custom activation pitted against the closed forms
    c = get_activation(lambda u: math.erf(u / math.sqrt(2)))
    assert c.coefficients() == pytest.approx(A.ErfSqrt2().coefficients(), rel=1e-12, abs=1e-14)
    r = get_activation(lambda u: max(u, 0.0))
    assert r.coefficients() == pytest.approx(A.Relu().coefficients(), rel=1e-12)
    assert c.dg(0.3) == pytest.approx(A.ErfSqrt2().dg(0.3), rel=1e-9)
    with pytest.raises(ValueError, match="activation: .*built-in"):
        c.kernel_code()
    with pytest.raises(ValueError, match="g_fn"):
        A.Custom(3.0)


def _logistic_fn(y, h):
    u = -y * h
    return u + math.log1p(math.exp(-u)) if u > 0 else math.log1p(math.exp(u))


def test_convex_loss_given_by_its_value():
    # the generic loss (central differences, Brent root of h - v + c l'(y, h)) against the closed
    # forms of the compiled logistic loss; its prox against direct minimisation
    conv, ref = get_loss(_logistic_fn), get_loss("logistic")
    y = np.array([1.0, -1.0, 1.0, -1.0])
    h = np.array([-3.0, 0.2, 1.7, 8.0])
    np.testing.assert_array_equal(conv.value(y, h), ref.value(y, h))
    np.testing.assert_allclose(conv.d1(y, h), ref.d1(y, h), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(conv.d2(y, h), ref.d2(y, h), rtol=1e-6, atol=1e-9)
    for c in (1e-3, 0.7, 765.0):
        hp, dh = conv.prox(y, h, c)
        hr, dhr = ref.prox(y, h, c)
        np.testing.assert_allclose(hp, hr, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(dh, dhr, rtol=1e-5, atol=1e-8)
    t, ell, l2 = conv.prox_margin(h, 3.0)
    tr, ellr, l2r = ref.prox_margin(h, 3.0)
    np.testing.assert_allclose(t, tr, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ell, ellr, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="loss: .*compiled kernel"):
        conv.kernel_code()
    # stored by name only: it loads, and refuses to evaluate
    with pytest.warns(UserWarning, match="stored by name only"):
        back = from_json(to_json(conv))
    with pytest.raises(ValueError, match="fn: the loss callable was stored by name only"):
        back.value(1.0, 0.0)
    with pytest.raises(ValueError, match="fn must be a callable"):
        L.Convex(3.0)
