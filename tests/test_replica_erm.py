"""Convex ERM saddle points (replica.erm): ridge closed form, logistic, hinge, proximal operators."""

import math

import numpy as np
import pytest
from scipy import integrate, optimize

import lmech
import replica
from lmech.special import Phi, phi


def _ridge(lam, delta=0.0):
    return replica.ERM("square", lam, "gaussian", replica.Linear(delta))


# noiseless linear teacher, excess error rho + q - 2m: reference values from the Marchenko-Pastur
# integral at 30 digits of test_ridge_closed_form_against_marchenko_pastur (rounded to 11 digits)
@pytest.mark.parametrize("lam, alpha, ref", [
    (0.01, 0.5, 0.50035676080), (0.01, 1.0, 0.049937616944), (0.01, 2.0, 0.00018862586732),
    (0.1, 0.5, 0.51726124191), (0.1, 1.0, 0.15617376189), (0.1, 2.0, 0.012271764055)])
def test_ridge_reference_values_and_closed_form(lam, alpha, ref):
    m = _ridge(lam)
    cf = replica.ridge_closed_form(m, alpha)
    res = replica.solve(m, alpha)
    assert res.success
    assert cf["test_error"] == pytest.approx(ref, abs=1e-10)
    for k in ("m", "q", "V"):
        assert res.scalars[k] == pytest.approx(cf[k], rel=1e-9)
    # rho + q - 2m cancels: its absolute error is that of m and q (rtol 1e-10 on O(1) numbers)
    assert res.test_error == pytest.approx(cf["test_error"], abs=1e-9)


@pytest.mark.parametrize("lam", [0.01, 0.1])
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_ridge_closed_form_against_marchenko_pastur(lam, alpha):
    """Independent check at 1e-10: with S = X^T X / d, w_hat = (S + lam)^-1 S w*, so the
    excess error is rho lam^2 E_S[(s + lam)^-2], S = alpha W and W Marchenko-Pastur with
    ratio d/n = 1/alpha (plus an atom at 0 of mass 1 - alpha when alpha < 1); integrated by
    mpmath at 30 digits."""
    import mpmath as mp

    mp.mp.dps = 30
    g = 1 / mp.mpf(alpha)
    a, b = (1 - mp.sqrt(g)) ** 2, (1 + mp.sqrt(g)) ** 2
    dens = lambda x: mp.sqrt((b - x) * (x - a)) / (2 * mp.pi * g * x)  # noqa: E731
    val = mp.quad(lambda x: dens(x) / (alpha * x + lam) ** 2, [a, (a + b) / 2, b])
    exact = float(lam ** 2 * val + max(0.0, 1 - alpha))
    assert replica.ridge_closed_form(_ridge(lam), alpha)["test_error"] == pytest.approx(exact, abs=1e-10)


def test_ridge_optimal_lambda_is_delta_and_bayes_optimal():
    # with noise Delta the optimal lambda is Delta and ridge reaches the Bayes-optimal error,
    # computed independently by the Bayes-optimal state evolution (Gaussian prior, linear channel)
    m = _ridge(1.0, delta=1.0)
    best = replica.optimal_reg(m, 1.0, bounds=(1e-3, 1e2), xtol=1e-6)
    assert best.reg == pytest.approx(1.0, rel=1e-4)
    assert best.test_error == pytest.approx(0.618034, abs=1e-6)
    bo = replica.solve(replica.BayesOptimalGLM(replica.Gaussian(1.0), replica.Linear(1.0)), 1.0)
    assert best.test_error == pytest.approx(bo.mmse, rel=1e-9)


def test_ridgeless_limits():
    # lambda -> 0, alpha < 1: least-norm interpolator, error rho (1 - alpha) + alpha Delta / (1 - alpha)
    a, d = 0.5, 0.3
    r = replica.solve(_ridge(1e-8, d), a)
    assert r.success and r.test_error == pytest.approx((1 - a) + a * d / (1 - a), rel=1e-6)
    # alpha > 1: lambda = 0 closed form V = 1/(alpha - 1); error Delta / (alpha - 1)
    cf = replica.ridge_closed_form(_ridge(0.0, d), 3.0)
    assert cf["V"] == pytest.approx(0.5) and cf["test_error"] == pytest.approx(d / 2.0, rel=1e-12)
    assert replica.solve(_ridge(0.0, d), 3.0).test_error == pytest.approx(cf["test_error"], rel=1e-9)


@pytest.mark.parametrize("alpha, ref", [(0.5, 0.32275066604), (1.0, 0.25586426695), (2.0, 0.17966239286),
                                        (5.0, 0.09603611442)])
def test_logistic_reference_values(alpha, ref):
    # logistic loss, sign teacher, lambda = 0.1, test error arccos(m/sqrt(rho q))/pi; independent numpy
    # solution of the RS equations (logistic_erm_test_error, tests/test_replica_kinds.py, at 3000 nodes):
    # 0.32275066604, 0.25586426695, 0.17966239286, 0.09603611442
    res = replica.solve(replica.ERM("logistic", 0.1, "gaussian", "sign"), alpha)
    assert res.success
    assert res.test_error == pytest.approx(ref, abs=6e-9)


def test_square_loss_on_sign_teacher_closed_form_hats():
    # square loss: mhat = alpha sqrt(2/(pi rho))/(1+V), qhat = alpha (rho' + q - 2 m sqrt(2/(pi rho)))/(1+V)^2
    # with rho' = E y^2 = 1, Vhat = alpha/(1+V): the solver's hats (panel quadrature) at its own
    # (m, q, V) against these
    alpha = 1.7
    r = replica.solve(replica.ERM("square", 0.3, "gaussian", "sign"), alpha)
    assert r.success
    m, q, V = r.m, r.q, r.V
    c = math.sqrt(2 / math.pi)
    assert r.mhat == pytest.approx(alpha * c / (1 + V), rel=1e-12)
    assert r.qhat == pytest.approx(alpha * (1 + q - 2 * m * c) / (1 + V) ** 2, rel=1e-12)
    assert r.Vhat == pytest.approx(alpha / (1 + V), rel=1e-12)


def _prox_reference(loss, om, V):
    """``(t, ell(t), ell''(t))`` of the margin loss, independently of the package: hinge in closed
    form, logistic by Brent on the stationarity condition ``t - om + V ell'(t) = 0``."""
    if loss == "hinge":
        if om > 1.0:
            return om, 0.0, 0.0
        if om < 1.0 - V:
            return om + V, 1.0 - om - V, 0.0
        return 1.0, 0.0, math.inf
    f = lambda t: t - om - V / (1.0 + math.exp(t)) if t > 0 else t - om - V * math.exp(-t) / (1 + math.exp(-t))  # noqa: E731
    t = optimize.brentq(f, om - 1e-12, om + V + 1e-12, xtol=1e-15, rtol=1e-15, maxiter=300)
    ell = np.logaddexp(0.0, -t)
    s = 1.0 / (1.0 + math.exp(-abs(t)))
    return t, ell, s * (1.0 - s)


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
@pytest.mark.parametrize("alpha", [0.5, 3.0, 20.0])
def test_hats_vs_adaptive_quadrature(loss, alpha):
    # the solver's hats (mhat, qhat, Vhat per unit alpha, and the training loss: channel
    # expectations over xi and the label y) recomputed at its own (m, q, V) by adaptive
    # quadrature with an independent prox (_prox_reference)
    eps = 0.05
    r = replica.solve(replica.ERM(loss, 0.1, "gaussian", replica.LabelFlip(eps)), alpha)
    assert r.success
    m, q, V, rho = r.m, r.q, r.V, 1.0
    V0 = rho - m * m / q

    def integrand(xi, which):
        om, s0 = math.sqrt(q) * xi, math.sqrt(V0)
        u = m * xi / math.sqrt(q) / s0
        tot = 0.0
        for y in (1.0, -1.0):
            z0 = eps + (1 - 2 * eps) * Phi(y * u)
            dz = y * (1 - 2 * eps) * phi(u) / s0
            t, l, l2 = _prox_reference(loss, y * om, V)
            f = y * (t - y * om) / V
            df = -1.0 / V if math.isinf(l2) else -l2 / (1 + V * l2)
            tot += [dz * f, z0 * f * f, -z0 * df, z0 * l][which]
        return phi(xi) * tot

    pts = sorted({0.0, 1 / math.sqrt(q), -1 / math.sqrt(q), (1 - V) / math.sqrt(q), -(1 - V) / math.sqrt(q)})
    pts = [p for p in pts if abs(p) < 12]
    ref = [integrate.quad(integrand, -12, 12, args=(k,), points=pts, limit=500, epsabs=1e-15,
                          epsrel=1e-12)[0] for k in range(4)]
    got = (r.mhat / alpha, r.qhat / alpha, r.Vhat / alpha, r.train_loss)
    for g, x in zip(got, ref):
        assert g == pytest.approx(x, rel=1e-9, abs=1e-14)


_LOSS = {0: replica.erm.Square(), 1: replica.erm.Logistic(), 2: replica.erm.Hinge()}


@pytest.mark.parametrize("code, loss", [(1, lambda t: np.logaddexp(0, -t)),
                                        (2, lambda t: np.maximum(0, 1 - t)),
                                        (0, lambda t: 0.5 * (1 - t) ** 2)])
@pytest.mark.parametrize("V", [0.01, 1.0, 5000.0])
def test_prox_against_direct_minimisation_and_envelope(code, loss, V):
    for om in (-40.0, -3.0, 0.2, 0.99, 1.5, 30.0):
        t, l, l2 = (float(a[0]) for a in _LOSS[code].prox_margin([om], V))
        env = lambda x, om=om: (x - om) ** 2 / (2 * V) + loss(x)  # noqa: E731
        best = optimize.minimize_scalar(env, bracket=(om - 1, om + V + 1) if code else None,
                                        bounds=(om - 1, om + V + 1), method="bounded",
                                        options={"xatol": 1e-12 * max(1, V)})
        assert env(t) <= env(best.x) + 1e-12 * max(1.0, abs(env(best.x)))
        # Moreau envelope derivative: d/d om M_V(om) = (om - t)/V  (central differences)
        h = 1e-6 * max(1.0, abs(om))

        def M(o):
            tt = float(_LOSS[code].prox_margin([o], V)[0][0])
            return env(tt, o)

        if code != 2 or min(abs(om - 1), abs(om - 1 + V)) > 10 * h:
            assert (M(om + h) - M(om - h)) / (2 * h) == pytest.approx((om - t) / V, rel=1e-6, abs=1e-9)


def test_logistic_small_lambda_converges_with_large_V():
    r = replica.solve(replica.ERM("logistic", 1e-4, "gaussian", "sign"), 2.0)
    assert r.success and r.V > 1000


def test_unregularised_separable_data_is_a_failure_not_a_number():
    # noiseless sign teacher: data separable at any alpha, lambda = 0 logistic has no minimiser
    r = replica.solve(replica.ERM("logistic", 0.0, "gaussian", "sign"), 1.0, max_iter=200)
    assert not r.success


def test_continuation_in_lambda_warm_starts():
    m = replica.ERM("logistic", 1.0, "gaussian", "sign")
    path = replica.continuation(m, [1.0, 0.3, 0.1, 0.03], param="reg", alpha=1.0)
    assert all(r.success for r in path)
    assert path[2].test_error == pytest.approx(0.25586427, abs=6e-9)
    cold = replica.solve(replica.ERM("logistic", 0.03, "gaussian", "sign"), 1.0)
    assert path[-1].n_iter < cold.n_iter and path[-1].test_error == pytest.approx(cold.test_error, rel=1e-9)


def test_invalid_erm():
    with pytest.raises(ValueError, match="reg"):
        replica.ERM("logistic", -1.0, "gaussian", "sign")
    with pytest.raises(ValueError, match="loss"):
        replica.ERM("cross-entropy", 1.0, "gaussian", "sign")
    with pytest.raises(ValueError, match="loss"):
        replica.ERM("logistic", 1.0, "gaussian", "linear")
    with pytest.raises(ValueError, match="channel"):
        replica.ERM("logistic", 1.0, "gaussian", "relu")
    with pytest.raises(TypeError, match="tolerance"):
        replica.solve(replica.ERM("logistic", 1.0, "gaussian", "sign"), 1.0, tolerance=1e-3)
    with pytest.raises(ValueError, match="alpha"):
        replica.solve(replica.ERM("logistic", 1.0, "gaussian", "sign"), 0.0)


def test_max_margin_limit_is_the_small_lambda_hinge():
    # explicit lambda = 0 hinge (hard-margin SVM) vs hinge at lambda = 1e-6: same m, q and
    # lambda V -> 1 - V Vhat
    mm = replica.solve(replica.ERM("hinge", 0.0, "gaussian", "sign"), 2.0)
    small = replica.solve(replica.ERM("hinge", 1e-6, "gaussian", "sign"), 2.0)
    assert mm.success and small.success
    assert mm.test_error == pytest.approx(small.test_error, abs=1e-9)
    assert mm.q == pytest.approx(small.q, rel=1e-8)
    assert mm.lambda_V == pytest.approx(1e-6 * small.V, rel=1e-6)
    assert mm.train_loss == 0.0


def test_least_norm_interpolator_limit():
    a, d = 0.5, 0.3
    r = replica.solve(_ridge(0.0, d), a)
    cf = replica.ridge_closed_form(_ridge(0.0, d), a)
    assert r.success and math.isinf(cf["V"])
    assert r.test_error == pytest.approx((1 - a) + a * d / (1 - a), rel=1e-9)
    assert cf["test_error"] == pytest.approx((1 - a) + a * d / (1 - a), rel=1e-14)
    assert r.lambda_V == pytest.approx(1 - a, rel=1e-9)


def test_max_margin_on_non_separable_data_is_a_failure():
    r = replica.solve(replica.ERM("hinge", 0.0, "gaussian", replica.LabelFlip(0.2)), 5.0, max_iter=300)
    assert not r.success and "separable" in r.message and r.status == lmech.Status.NO_SOLUTION


class _PyHinge(replica.erm.ProxLoss):
    """The hinge loss through a Python prox (for the generic ProxLoss path)."""

    name = "py-hinge"

    def prox_margin(self, om, V):
        return replica.erm.Hinge().prox_margin(om, V)

    def kinks(self, V):
        return (1.0, 1.0 - V)


class _PyLogistic(replica.erm.ProxLoss):
    name = "py-logistic"

    def prox_margin(self, om, V):
        return replica.erm.Logistic().prox_margin(om, V)

    def kinks(self, V):
        return (math.log(V), -math.log(V)) if V > 1 else ()


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_generic_prox_loss_path_matches_compiled_losses(alpha):
    # the same losses through the generic (NumPy) ProxLoss path and the compiled kernels: same saddle
    for generic, builtin in ((_PyHinge(), "hinge"), (_PyLogistic(), "logistic")):
        a = replica.solve(replica.ERM(builtin, 0.1, "gaussian", replica.LabelFlip(0.05)), alpha)
        b = replica.solve(replica.ERM(generic, 0.1, "gaussian", replica.LabelFlip(0.05)), alpha)
        assert a.success and b.success
        for k in ("m", "q", "V", "mhat", "qhat", "Vhat", "train_loss"):
            assert b.scalars[k] == pytest.approx(a.scalars[k], rel=1e-9)


def test_squared_hinge_prox_loss():
    # closed-form prox vs direct minimisation, and the ERM solve through the generic path
    sh = replica.SquaredHinge()
    for om in (-3.0, 0.5, 2.0):
        t, l, l2 = sh.prox_margin(np.array([om]), 2.0)
        env = lambda x: (x - om) ** 2 / 4.0 + 0.5 * max(0.0, 1 - x) ** 2  # noqa: E731
        best = optimize.minimize_scalar(env, bounds=(om - 5, om + 5), method="bounded",
                                        options={"xatol": 1e-12})
        assert t[0] == pytest.approx(best.x, abs=1e-8)
    r = replica.solve(replica.ERM("squared-hinge", 0.1, "gaussian", "sign"), 2.0)
    assert r.success


@pytest.mark.parametrize("loss", ["square", "logistic", "hinge", "squared-hinge"])
def test_large_lambda_limit_is_the_hebb_rule(loss):
    # lambda -> inf: w ~ sum_mu y_mu x_mu for any loss with l'(0) != 0 (Hebb rule), whose
    # error is arccos(R)/pi with R = sqrt(2 alpha / (2 alpha + pi)) (Vallet 1989; Engel &
    # Van den Broeck, Statistical Mechanics of Learning (2001), sec. 3.2)
    a = 1.5
    r = replica.solve(replica.ERM(loss, 1e7, "gaussian", "sign"), a)
    R = math.sqrt(2 * a / (2 * a + math.pi))
    assert r.success and r.test_error == pytest.approx(math.acos(R) / math.pi, abs=1e-6)


def test_base_layer_losses_are_the_replica_losses():
    # the replica layer's losses are those of lmech.blocks (one class each)
    import lmech.blocks

    for name in ("square", "logistic", "hinge", "squared-hinge"):
        assert replica.get_loss(name) == lmech.blocks.get_loss(name)
        assert type(replica.ERM(name, 0.2).loss) is lmech.blocks.LOSSES[name]


# -- Huber (Huber, Ann. Math. Statist. 35, 73 (1964)): a regression loss on the linear channel ----
@pytest.mark.parametrize("lam, alpha", [(0.3, 2.0), (0.05, 0.6), (1.0, 4.0)])
def test_huber_large_delta_is_the_ridge_closed_form(lam, alpha):
    # delta -> inf (every residual in the quadratic part): the square loss, whose saddle point is
    # the closed form of ridge regression
    ch = replica.Linear(delta=0.25)
    res = replica.solve(replica.ERM(lmech.blocks.losses.Huber(delta=1e6), lam, "gaussian", ch), alpha)
    ref = replica.ridge_closed_form(replica.ERM("square", lam, "gaussian", ch), alpha)
    assert res.success, res.message
    for k in ("m", "q", "V"):
        assert res.scalars[k] == pytest.approx(ref[k], rel=1e-9)


@pytest.mark.parametrize("delta, lam, alpha", [(0.5, 0.3, 2.0), (0.1, 0.05, 1.5), (2.0, 0.01, 3.0)])
def test_huber_linear_channel_saddle_point_from_closed_form_hats(delta, lam, alpha):
    # independent computation: with the residual u = y - omega ~ N(0, s2), s2 = rho + Delta + q - 2m,
    # and k = delta (1 + V), Huber's prox gives f_out = u/(1+V) for |u| <= k, delta sign(u) beyond, so
    # Vhat = mhat = alpha P(|u| <= k)/(1+V) and qhat = alpha [E u^2 1(|u|<=k)/(1+V)^2 + delta^2 P(|u|>k)]
    # (E u^2 1(|u|<=k) = s2 (P(|u|<=k) - 2 (k/s) phi(k/s))); the Gaussian-prior fixed point
    # V = 1/(lam + Vhat), m = rho mhat V, q = (rho mhat^2 + qhat) V^2 is solved here by scipy
    rho, Delta = 1.0, 0.3

    def F(x):
        m, q, V = x
        s = math.sqrt(rho + Delta + q - 2 * m)
        k = delta * (1 + V)
        p_in = math.erf(k / (s * math.sqrt(2)))
        e2 = s * s * (p_in - 2 * (k / s) * phi(k / s))
        vh = alpha * p_in / (1 + V)
        qh = alpha * (e2 / (1 + V) ** 2 + delta ** 2 * (1 - p_in))
        Vn = 1 / (lam + vh)
        return [rho * vh * Vn - m, (rho * vh * vh + qh) * Vn * Vn - q, Vn - V]

    ref = optimize.fsolve(F, [0.5, 0.5, 1.0], xtol=1e-12)
    assert np.max(np.abs(F(ref))) < 1e-12
    res = replica.solve(replica.ERM(lmech.blocks.losses.Huber(delta=delta), lam, "gaussian",
                                    replica.Linear(delta=Delta)), alpha)
    assert res.success, res.message
    for k, r in zip(("m", "q", "V"), ref):
        assert res.scalars[k] == pytest.approx(r, rel=1e-9)
    assert res.scalars["mhat"] == pytest.approx(res.scalars["Vhat"], rel=1e-12)


class _PyHuberMargin(replica.ProxLoss):
    # Huber on +-1 labels as the margin loss ell(t) = rho_delta(1 - t), delta = 0.4, written in NumPy
    # from its prox r = argmin rho(r) + (r - u)^2/(2V), u = 1 - om
    name = "py-huber"

    def prox_margin(self, om, V):
        d = 0.4
        u = 1.0 - np.asarray(om, dtype=float)
        inside = np.abs(u) <= d * (1 + V)
        r = np.where(inside, u / (1 + V), u - V * d * np.sign(u))
        ell = np.where(np.abs(r) <= d, 0.5 * r * r, d * np.abs(r) - 0.5 * d * d)
        return 1.0 - r, ell, np.where(inside, 1.0, 0.0)

    def kinks(self, V):
        return (1.0 - 0.4 * (1 + V), 1.0 + 0.4 * (1 + V))



def test_huber_on_a_sign_channel_matches_the_generic_prox_path():
    ch = replica.LabelFlip(0.05)
    a = replica.solve(replica.ERM(lmech.blocks.losses.Huber(delta=0.4), 0.1, "gaussian", ch), 2.0)
    b = replica.solve(replica.ERM(_PyHuberMargin(), 0.1, "gaussian", ch), 2.0)
    assert a.success and b.success
    for k in ("m", "q", "V", "mhat", "qhat", "Vhat", "train_loss", "train_error"):
        assert b.scalars[k] == pytest.approx(a.scalars[k], rel=1e-9)


def test_huber_by_name_in_a_config():
    # the loss choices of the sweep kind are the lmech.blocks registry's: "huber" by name in a run
    # config, and as a table {kind = "huber", delta = ...} where a model is built from its fields
    import tomllib

    from lmech.config import ConfigError, build_model, parse_config
    import replica.kinds

    text = 'kind = "replica.erm"\n[model]\nloss = "huber"\nchannel = "linear"\nlam = 0.3\ndelta = 0.25\n' \
           '[grid]\nalpha = [2.0]\n'
    cfg = parse_config(tomllib.loads(text), text)
    assert cfg.fixed["loss"] == "huber"
    point = replica.kinds.erm_point(**cfg.fixed, alpha=2.0)
    ref = replica.solve(replica.ERM(lmech.blocks.losses.Huber(delta=1.0), 0.3, "gaussian",
                                    replica.Linear(delta=0.25)), 2.0)
    assert point.success and point.scalars["m"] == pytest.approx(ref.scalars["m"], rel=1e-9)
    bad = text.replace('"huber"', '"hubr"')
    with pytest.raises(ConfigError, match="model.loss.*huber"):
        parse_config(tomllib.loads(bad), bad)
    model = build_model(replica.ERM, {"loss": {"kind": "huber", "delta": 0.5}, "channel": "linear"})
    assert model.loss == lmech.blocks.losses.Huber(delta=0.5)
