"""Gaussian integrals of the committee-machine ODEs: closed forms vs Monte Carlo and quadrature."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

import odes

N_MC = 400_000
SIG = 5.0  # Monte-Carlo tolerance in standard errors

g_erf = lambda u: erf(u / math.sqrt(2.0))  # noqa: E731
dg_erf = lambda u: math.sqrt(2.0 / math.pi) * np.exp(-u * u / 2.0)  # noqa: E731
relu = lambda u: np.maximum(u, 0.0)  # noqa: E731
step = lambda u: (u > 0).astype(float)  # noqa: E731
ident = lambda u: u  # noqa: E731

FUNCS = {"erf": (g_erf, dg_erf), "relu": (relu, step), "linear": (ident, np.ones_like),
         "quadratic": (lambda u: u * u, lambda u: 2 * u)}


def covariances(d):
    """Random covariances ``A A^T / d + eps I`` with entries of A in [-1.5, 1.5]."""
    return st.tuples(st.lists(st.floats(-1.5, 1.5), min_size=d * d, max_size=d * d),
                     st.floats(0.05, 0.5)).map(
        lambda x: np.asarray(x[0]).reshape(d, d) @ np.asarray(x[0]).reshape(d, d).T / d + x[1] * np.eye(d))


def mc(cov, fs, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    d = cov.shape[0]
    L = np.linalg.cholesky(cov + 1e-300 * np.eye(d)) if labels is None else None
    x = rng.standard_normal((N_MC, d)) @ L.T
    vals = np.ones(N_MC)
    for i, f in enumerate(fs):
        vals *= f(x[:, i])
    return vals.mean(), vals.std() / math.sqrt(N_MC)


def assert_mc(value, cov, fs, seed=0):
    mean, se = mc(cov, fs, seed)
    assert abs(value - mean) < SIG * se + 1e-12, (value, mean, se)


@pytest.mark.parametrize("act", ["erf", "relu", "linear", "quadratic"])
@settings(max_examples=6, deadline=None)
@given(cov=covariances(4))
def test_i4_vs_monte_carlo(act, cov):
    g, dg = FUNCS[act]
    assert_mc(odes.I4(act, cov), cov, [dg, dg, g, g])


@pytest.mark.parametrize("act", ["erf", "relu", "linear", "quadratic"])
@settings(max_examples=6, deadline=None)
@given(cov=covariances(3))
def test_i3_vs_monte_carlo(act, cov):
    g, dg = FUNCS[act]
    assert_mc(odes.I3(act, cov), cov, [dg, ident, g])


@pytest.mark.parametrize("act", ["erf", "relu", "linear", "quadratic"])
@settings(max_examples=6, deadline=None)
@given(cov=covariances(2))
def test_i2_j2_vs_monte_carlo(act, cov):
    g, dg = FUNCS[act]
    assert_mc(odes.I2(act, cov), cov, [g, g])
    if act != "linear":
        assert_mc(odes.J2(act, cov), cov, [dg, dg])
    else:
        assert odes.J2(act, cov) == 1.0


@pytest.mark.parametrize("labels", [(0, 0, 2, 3), (0, 1, 2, 2), (0, 1, 0, 3), (0, 0, 0, 3),
                                    (0, 1, 0, 1), (0, 0, 2, 2), (0, 0, 0, 0)])
@settings(max_examples=4, deadline=None)
@given(cov=covariances(4))
def test_relu_i4_coinciding_units_vs_monte_carlo(labels, cov):
    """I4(i, i, c, d) and friends: the same unit appears twice (singular covariance)."""
    lab = np.asarray(labels)
    full = cov[np.ix_(lab, lab)]  # the 4x4 covariance of the repeated variables
    distinct = sorted(set(labels))
    sub = cov[np.ix_(distinct, distinct)]
    pos = [distinct.index(a) for a in labels]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N_MC, len(distinct))) @ np.linalg.cholesky(sub).T
    vals = step(x[:, pos[0]]) * step(x[:, pos[1]]) * relu(x[:, pos[2]]) * relu(x[:, pos[3]])
    mean, se = vals.mean(), vals.std() / math.sqrt(N_MC)
    value = odes.I4("relu", full, labels=labels)
    assert abs(value - mean) < SIG * se + 1e-12


def test_relu_i4_four_variable_orthant_known_values():
    """The ReLU I4 = E[x3 x4 1{x > 0}] needs the 4-variable orthant probability (a 1-D Gauss-Legendre
    integral).  Independent fields: (1/4) E[relu]^2 = 1/(8 pi).  Equicorrelated rho = 1/2: with
    x_i = (z0 + z_i)/sqrt 2, conditioning on z0 gives (1/2) Int Dz Phi(z)^2 (z Phi(z) + phi(z))^2,
    integrated here by mpmath; the rule converges spectrally in the nodes per panel."""
    import mpmath as mp

    assert odes.I4("relu", np.eye(4)) == pytest.approx(1 / (8 * math.pi), abs=1e-15)
    C = np.full((4, 4), 0.5)
    np.fill_diagonal(C, 1.0)
    with mp.workdps(30):
        ref = float(mp.quad(lambda z: mp.npdf(z) * mp.ncdf(z) ** 2 * (z * mp.ncdf(z) + mp.npdf(z)) ** 2 / 2,
                            [-mp.inf, 0, mp.inf]))
    assert odes.I4("relu", C, quad_nodes=12) == pytest.approx(ref, abs=1e-13)
    errs = [abs(odes.I4("relu", C, quad_nodes=n) - ref) for n in (6, 8, 10)]
    assert errs[0] > 30 * errs[1] > 900 * errs[2]


def test_relu_i4_converges_for_nearly_singular():
    """A nearly singular correlation (rho = 0.999999): the substitution keeps the rule convergent."""
    R = np.full((4, 4), 0.2)
    np.fill_diagonal(R, 1.0)
    for rho in (0.999999, 1.0 - 1e-12):
        R[0, 1] = R[1, 0] = rho
        vals = [odes.I4("relu", R, quad_nodes=n) for n in (8, 12, 16, 32)]
        assert abs(vals[0] - vals[3]) < 1e-8
        assert abs(vals[1] - vals[3]) < 1e-10
        assert abs(vals[2] - vals[3]) < 1e-12
    # rho = 1: x0 = x1, so the 4-variable integral is the 3-variable one with x0 and x1 merged
    # (labels, closed form); exactly at the singular point the conditional covariances cancel to ~1e-11
    R[0, 1] = R[1, 0] = 1.0
    merged = odes.I4("relu", R, labels=(0, 0, 2, 3))
    for n in (12, 32):
        assert odes.I4("relu", R, quad_nodes=n) == pytest.approx(merged, abs=1e-10)


@settings(max_examples=8, deadline=None)
@given(cov=covariances(4))
def test_erf_closed_forms_vs_quadrature(cov):
    """Closed forms for erf(u/sqrt 2) vs the Gauss-Hermite product rule: the quadrature error
    falls geometrically towards the closed form as the nodes per dimension grow.

    (Gauss-Hermite converges slowly for erf at large variances: at variance ~1.3 the 4-D rule
    with 20 nodes is still ~1e-5 off, which is why the closed forms exist.)"""
    checks = [(odes.I2, cov[:2, :2], (8, 16, 32)), (odes.J2, cov[:2, :2], (8, 16, 32)),
              (odes.I3, cov[:3, :3], (8, 16, 32)), (odes.I4, cov, (6, 10, 16))]
    for fn, c, ns in checks:
        exact = fn("erf", c)
        errs = [abs(fn(odes.Custom(g_erf, dg_erf, n_nodes=n), c) - exact) for n in ns]
        assert errs[2] < 1e-13 or 9 * errs[2] < max(errs[:2]), (fn.__name__, errs)
        assert errs[2] < 2e-3, (fn.__name__, errs)


def test_erf_closed_forms_vs_quadrature_at_typical_overlaps():
    """At the variances of the standard case (Q = 0.5 I, T = I) the quadrature reaches ~1e-10."""
    C = np.array([[0.5, 0.1, 0.05, 0.0], [0.1, 0.5, 0.0, 0.02], [0.05, 0.0, 1.0, 0.0],
                  [0.0, 0.02, 0.0, 1.0]])
    custom = odes.Custom(g_erf, dg_erf, n_nodes=24)
    assert odes.I4(custom, C) == pytest.approx(odes.I4("erf", C), abs=1e-10)
    assert odes.I3(custom, C[1:, 1:]) == pytest.approx(odes.I3("erf", C[1:, 1:]), abs=1e-10)
    assert odes.I2(custom, C[2:, 2:]) == pytest.approx(odes.I2("erf", C[2:, 2:]), abs=1e-10)


@pytest.mark.parametrize("act,g,dg", [("quadratic", lambda u: u * u, None), ("linear", ident, None)])
@settings(max_examples=8, deadline=None)
@given(cov=covariances(4))
def test_polynomial_closed_forms_vs_exact_quadrature(act, g, dg, cov):
    """Gauss-Hermite with 6 nodes is exact for these polynomials (degree <= 11 per variable)."""
    custom = odes.Custom(g, dg, n_nodes=6)
    assert odes.I4(act, cov) == pytest.approx(odes.I4(custom, cov), rel=1e-8, abs=1e-10)
    assert odes.I3(act, cov[:3, :3]) == pytest.approx(odes.I3(custom, cov[:3, :3]), rel=1e-8, abs=1e-10)
    assert odes.I2(act, cov[:2, :2]) == pytest.approx(odes.I2(custom, cov[:2, :2]), rel=1e-12, abs=1e-12)


def test_erf_at_identity_values():
    """Saad & Solla (1995): at C = I, I2 = 0 off-diagonal and (2/pi) asin(1/2) = 1/3 on the diagonal."""
    assert odes.I2("erf", np.eye(2)) == 0.0
    assert odes.I2("erf", np.ones((2, 2))) == pytest.approx(1 / 3, abs=1e-15)
    assert odes.J2("erf", np.eye(2)) == pytest.approx(1 / math.pi, abs=1e-15)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="activation"):
        odes.I2("tanh", np.eye(2))
    with pytest.raises(ValueError, match="C"):
        odes.I2("erf", np.eye(3))
    with pytest.raises(ValueError, match="C"):
        odes.I4("erf", -np.eye(4))
    with pytest.raises(ValueError, match="labels"):
        odes.I4("relu", np.eye(4), labels=(0, 1))
    with pytest.raises(ValueError, match="n_nodes"):
        odes.Custom(np.tanh, n_nodes=1)
    with pytest.raises(ValueError, match="g"):
        odes.Custom(3.0)


def _mp_pair(f1, f2, c11, c12, c22):
    """E[f1(x1) f2(x2)] for a 2x2 covariance by nested mpmath Gauss-Legendre quadrature at 20 digits
    on [-10, 10] split at -3, 0, 3 (the Gaussian tail beyond 10 is below 1e-22):
    x1 = sqrt(c11) z1, x2 = (c12/sqrt(c11)) z1 + sqrt(c22 - c12^2/c11) z2."""
    import mpmath as mp

    mp.mp.dps = 20
    s1 = mp.sqrt(c11)
    a = mp.mpf(c12) / s1
    b = mp.sqrt(mp.mpf(c22) - a * a)
    cuts = [-10, -3, 0, 3, 10]
    phi = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731
    inner = lambda m: mp.quad(lambda z: phi(z) * f2(m + b * z), cuts, method="gauss-legendre")  # noqa: E731
    return float(mp.quad(lambda z: phi(z) * f1(s1 * z) * inner(a * z), cuts, method="gauss-legendre"))


def _check_custom_tanh(c11, c22, rho):
    import mpmath as mp

    c12 = rho * math.sqrt(c11 * c22)
    tanh = odes.Custom(np.tanh, lambda u: 1.0 / np.cosh(u) ** 2)
    C2 = np.array([[c11, c12], [c12, c22]])
    g, dg = mp.tanh, lambda u: mp.sech(u) ** 2
    d2g = lambda u: -2 * mp.tanh(u) * mp.sech(u) ** 2  # noqa: E731
    j2 = _mp_pair(dg, dg, c11, c12, c22)
    assert odes.I2(tanh, C2) == pytest.approx(_mp_pair(g, g, c11, c12, c22), rel=1e-8, abs=1e-12)
    assert odes.J2(tanh, C2) == pytest.approx(j2, rel=1e-8, abs=1e-12)
    C3 = np.array([[c11, 0.3 * c12, c12], [0.3 * c12, 1.0, 0.2], [c12, 0.2, c22]])
    if np.linalg.eigvalsh(C3).min() > 1e-6:
        i3 = C3[0, 1] * _mp_pair(d2g, g, c11, c12, c22) + C3[1, 2] * j2
        assert odes.I3(tanh, C3) == pytest.approx(i3, rel=1e-7, abs=1e-11)


def test_custom_tanh_refined_rule_vs_mpmath():
    """A Custom tanh with n_nodes=None (nodes refined until two levels agree to 1e-8): I2, J2 and
    I3 against mpmath.  Gauss-Hermite converges slowly for tanh (poles at +-i pi/2): at the old
    default of 12 nodes J2 at C = [[0.6, 0.3], [0.3, 0.6]] is off by 2.4e-4.  I3 = E[g'(x1) x2 g(x3)] is reduced by Stein's
    lemma to C12 E[g''(x1) g(x3)] + C23 E[g'(x1) g'(x3)], two 2-D averages."""
    _check_custom_tanh(0.6, 1.0, 0.5)


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True)
@given(c11=st.floats(0.2, 2.0), c22=st.floats(0.2, 2.0), rho=st.floats(-0.95, 0.95))
def test_custom_tanh_refined_rule_vs_mpmath_across_covariances(c11, c22, rho):
    _check_custom_tanh(c11, c22, rho)


# -- activations given as lmech.blocks.activations blocks (their one home) ----------------------
from lmech.blocks import activations as blocks  # noqa: E402


@pytest.mark.parametrize("block,name", [(blocks.ErfSqrt2(), "erf"), (blocks.Relu(), "relu"),
                                        (blocks.Linear(), "linear"), (blocks.Quadratic(), "quadratic")])
def test_block_with_closed_forms_is_stored_and_integrated_by_name(block, name):
    m = odes.CommitteeMachine(K=2, M=1, activation=block)
    assert m.activation == name and m == odes.CommitteeMachine(K=2, M=1, activation=name)
    C = np.array([[1.0, 0.3, 0.2], [0.3, 0.8, 0.1], [0.2, 0.1, 1.2]])
    assert odes.I3(block, C) == odes.I3(name, C)


def test_block_without_closed_form_is_integrated_against_its_closed_form():
    # erf(sqrt(pi) u / 2) (dmft's erf) has no odes code: Gauss-Hermite with refinement of the
    # block's own g, against E erf(a u) erf(a v) = (2/pi) arcsin(2 a^2 C12 / sqrt((1 + 2 a^2 C11)
    # (1 + 2 a^2 C22))) (Williams, Neural Comput. 10, 1203 (1998)), a = sqrt(pi)/2
    C = np.array([[1.0, 0.4], [0.4, 0.7]])
    a2 = math.pi / 4
    exact = 2 / math.pi * math.asin(2 * a2 * C[0, 1] / math.sqrt((1 + 2 * a2 * C[0, 0])
                                                                 * (1 + 2 * a2 * C[1, 1])))
    m = odes.CommitteeMachine(K=1, M=1, activation=blocks.ErfSqrtPi())
    assert isinstance(m.activation, odes.Custom) and m.activation.name == "erf_sqrtpi"
    assert odes.I2(blocks.ErfSqrtPi(), C) == pytest.approx(exact, rel=1e-8)
    assert odes.I2(m.activation, C) == pytest.approx(exact, rel=1e-8)


def test_tanh_block_and_user_block_agree_with_an_odes_custom():
    C = np.array([[1.0, 0.5], [0.5, 1.3]])
    ref = odes.I2(odes.Custom(np.tanh, lambda u: 1.0 / np.cosh(u) ** 2), C)
    assert odes.I2(blocks.Tanh(), C) == pytest.approx(ref, rel=1e-7)
    assert odes.I2(blocks.Custom(math.tanh), C) == pytest.approx(ref, rel=1e-7)
    with pytest.raises(ValueError, match="activation"):
        odes.CommitteeMachine(K=1, M=1, activation=3.0)
