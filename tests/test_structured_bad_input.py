"""Bad input to the structured-data and scaling-law API (replica.gcm*, odes.linear_sgd, odes.plrf,
dmft.scaling, their simulators): every call raises a ValueError/TypeError naming the argument,
before any work, or returns an honest result (success only with finite values).

Table-driven like tests/test_replica_bad_input.py: each public function or model x each argument x
NaN, inf, negative, zero, huge, a string, a complex number, a wrong shape, an empty string.
"""

import math

import numpy as np
import pytest

import dmft
import odes
import replica
import validation
from lmech.result import Result
from lmech.status import Status
from odes import plrf

BAD = {"nan": math.nan, "inf": math.inf, "neg": -1.0, "zero": 0.0, "huge": 1e300, "str": "a",
       "complex": 1j, "shape": [1.0, 2.0], "empty": ""}
ALL = set(BAD)
NOT_REAL = {"nan", "inf", "str", "complex", "shape", "empty"}
NOT_POSITIVE = NOT_REAL | {"neg", "zero"}

OM = np.array([1.0, 0.5, 0.25])
TH = np.array([1.0, 1.0, 1.0])
GCM = replica.GaussianCovariateModel(omega=OM, theta2=TH, reg=0.1)
LIN = odes.LinearSGD(eigenvalues=[1.0, 0.5], target=[1.0, 1.0], lr=0.1)
PL = plrf.PLRF(alpha=1.0, beta=0.7, d=16, v=64)
RFS = dmft.RandomFeatureScaling(N=50, P=80, M=200)


# NaN where documented: a learning curve's fitted slope with fewer than 7 points in its window
# (replica.gcm.powerlaw.fit_slope), and its prediction without a and r
DOCUMENTED_NAN = {"slope", "slope_err", "slope_extrapolated", "predicted_slope"}


def _honest(out):
    if isinstance(out, Result):
        if out.success:
            for k, v in out.scalars.items():
                if isinstance(v, (float, np.floating)):
                    assert not math.isnan(v) or k in DOCUMENTED_NAN, (k, out.message)
        else:
            assert out.message and out.status != Status.CONVERGED
    elif isinstance(out, (float, np.floating)):
        assert not math.isnan(out)


def _check(call, name):
    try:
        out = call()
    except (ValueError, TypeError) as exc:
        assert name in str(exc), f"message does not name {name!r}: {exc}"
        return "raised"
    _honest(out)
    return "returned"


CASES = [
    ("GCM.omega", "omega", lambda v: replica.GaussianCovariateModel(omega=v, theta2=TH), ALL - {"shape"}),
    ("GCM.theta2", "theta2", lambda v: replica.GaussianCovariateModel(omega=OM, theta2=v), NOT_REAL | {"neg"}),
    ("GCM.rho_perp", "rho_perp", lambda v: replica.GaussianCovariateModel(omega=OM, theta2=TH, rho_perp=v),
     NOT_REAL | {"neg"}),
    ("GCM.reg", "reg", lambda v: replica.GaussianCovariateModel(omega=OM, theta2=TH, reg=v), NOT_REAL | {"neg"}),
    ("solve(GCM).alpha", "alpha", lambda v: replica.solve(GCM, v), NOT_POSITIVE),
    ("power_law_model.p", "p", lambda v: replica.power_law_model(v, 1.5, 0.5), ALL),
    ("power_law_model.a", "a", lambda v: replica.power_law_model(100, v, 0.5), NOT_POSITIVE),
    ("learning_curve.alphas", "alphas", lambda v: replica.learning_curve(GCM, v), ALL - {"shape"}),
    ("random_features.N_over_d", "N_over_d", lambda v: replica.random_features("relu", v, n_modes=64),
     NOT_POSITIVE),
    ("random_features.activation", "activation", lambda v: replica.random_features(v, 2.0, n_modes=64), ALL),
    ("marchenko_pastur_cdf.ratio", "ratio", lambda v: replica.marchenko_pastur_cdf(1.0, v), NOT_POSITIVE),
    ("marchenko_pastur_cdf.x", "x", lambda v: replica.marchenko_pastur_cdf(v, 1.0), NOT_REAL - {"inf", "shape"}),
    ("canatar_kappa.n", "n", lambda v: replica.canatar_kappa(OM, v, 0.1), NOT_POSITIVE),
    ("LinearSGD.eigenvalues", "eigenvalues", lambda v: odes.LinearSGD(eigenvalues=v), ALL - {"shape", "huge"}),
    ("LinearSGD.lr", "lr", lambda v: odes.LinearSGD(eigenvalues=[1.0], lr=v), NOT_REAL | {"neg"}),
    ("LinearSGD.batch", "batch", lambda v: odes.LinearSGD(eigenvalues=[1.0], batch=v), ALL),
    ("LinearSGD.momentum", "momentum", lambda v: odes.LinearSGD(eigenvalues=[1.0], momentum=v),
     NOT_REAL | {"neg", "huge"}),
    ("LinearSGD.noise", "noise", lambda v: odes.LinearSGD(eigenvalues=[1.0], noise=v), NOT_REAL | {"neg"}),
    ("risk_curve.steps", "steps", lambda v: odes.risk_curve(LIN, v), NOT_REAL - {"shape"} | {"neg"}),
    ("risk_curve.rtol", "rtol", lambda v: odes.risk_curve(LIN, [0, 10], rtol=v), NOT_POSITIVE | {"huge"}),
    ("risk_curve.method", "method", lambda v: odes.risk_curve(LIN, [0, 10], method=v), ALL),
    ("PLRF.alpha", "alpha", lambda v: plrf.PLRF(alpha=v), NOT_POSITIVE),
    ("PLRF.d", "d", lambda v: plrf.PLRF(d=v), ALL),
    ("plrf.risk_curve.t", "t", lambda v: plrf.risk_curve(PL, v), NOT_REAL - {"shape"} | {"neg"}),
    ("RandomFeatureScaling.N", "N", lambda v: dmft.RandomFeatureScaling(N=v), NOT_REAL | {"neg"}),
    ("RandomFeatureScaling.a", "a", lambda v: dmft.RandomFeatureScaling(a=v), NOT_REAL | {"neg", "zero", "huge"}),
    ("scaling_loss.t", "t", lambda v: dmft.scaling_loss(RFS, v), NOT_REAL - {"shape"} | {"neg"}),
    ("scaling_loss.rtol", "rtol", lambda v: dmft.scaling_loss(RFS, [1.0], rtol=v), NOT_POSITIVE | {"huge"}),
    ("simulate_gcm.p", "p", lambda v: validation.simulate_gcm(GCM, v, [1.0]), ALL),
    ("simulate_linear_sgd.times", "times", lambda v: validation.simulate_linear_sgd(LIN, v), NOT_REAL - {"shape"}),
    # real multiplicities are weights of the theory; a finite-d simulation needs whole modes
    ("simulate_linear_sgd.multiplicity", "multiplicity",
     lambda v: validation.simulate_linear_sgd(odes.LinearSGD(eigenvalues=[1.0, 0.5], multiplicity=[0.5, v],
                                                             target=[1.0, 1.0], lr=0.1), [0, 1]), ALL),
    ("risk_curve.method spectral, decoupled mode", "method",
     lambda v: odes.risk_curve(odes.LinearSGD(eigenvalues=[1.0, 1e-170], target=[1.0, 1.0], lr=0.5), [0, 10],
                               method="spectral"), ALL),
    ("simulate_scaling.times", "times", lambda v: validation.simulate_scaling(RFS, v), NOT_REAL - {"shape"}),
]


@pytest.mark.parametrize("label,name,call,must_raise", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_or_honest(label, name, call, must_raise):
    for key, value in BAD.items():
        got = _check(lambda: call(value), name)
        if key in must_raise:
            assert got == "raised", f"{label}: {key} = {value!r} was accepted"
