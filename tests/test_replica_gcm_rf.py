"""Random features in the Gaussian covariate model (replica.gcm_rf).

Marchenko–Pastur quantiles against the closed-form CDF (mpmath), the Narayana
moments and sampled matrices; the averaged teacher projections against a
sampled ``F``; the GCM ridge saddle point on RF spectra against Mei &
Montanari's closed form; the double-descent peak at ``N = n``.
"""

import math

import mpmath
import numpy as np
import pytest

import replica
from replica import (RandomFeatures, gaussian_equivalent, marchenko_pastur_cdf, marchenko_pastur_quantiles,
                     mei_montanari_risk, random_features, rf_spectra)


def _solve(model, alpha, rtol=1e-10):
    """The ridge saddle point of gcm-core (replica.gcm.solve_ridge), scalars."""
    from replica.gcm import solve_ridge

    res = solve_ridge(model, alpha, rtol=rtol)
    assert res.success, res.message
    return res.scalars


def narayana_moment(k, g):
    """``int s^k dMP_g = sum_{j=0}^{k-1} g^j N(k, j+1)``, Narayana numbers N(k, j) = C(k,j) C(k,j-1) / k
    (Bai & Silverstein 2010, Lemma 3.1: moments of the Marchenko-Pastur law)."""
    return sum(g ** j * math.comb(k, j + 1) * math.comb(k, j) / k for j in range(k))


# ---------------------------------------------------------------------------
# Marchenko-Pastur
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("g", [0.3, 1.0, 2.5])
def test_mp_cdf_against_mpmath_quadrature_of_the_density(g):
    # density sqrt((b-s)(s-a)) / (2 pi g s) on [a, b], atom 1 - 1/g at 0 for g > 1
    # (Marchenko & Pastur 1967; Bai & Silverstein 2010, eq. (3.1.1)), integrated at 30 digits
    mpmath.mp.dps = 30
    a, b = (1 - math.sqrt(g)) ** 2, (1 + math.sqrt(g)) ** 2
    atom = max(0.0, 1 - 1 / g)
    dens = lambda s: mpmath.sqrt((b - s) * (s - a)) / (2 * mpmath.pi * g * s)  # noqa: E731
    for x in (a + 0.01 * (b - a), a + 0.3 * (b - a), 0.5 * (a + b), b - 1e-3):
        ref = atom + float(mpmath.quad(dens, [a, x]))
        assert marchenko_pastur_cdf(x, g) == pytest.approx(ref, abs=1e-13)
    assert marchenko_pastur_cdf(b, g) == 1.0
    assert marchenko_pastur_cdf(-0.1, g) == 0.0
    assert marchenko_pastur_cdf(0.0, g) == pytest.approx(atom, abs=1e-15)


@pytest.mark.parametrize("g", [0.25, 0.5, 1.0, 1.5, 3.0])
def test_mp_quantile_moments_converge_to_narayana_at_order_five_thirds(g):
    # midpoint quantiles as a quadrature: error O(n^-5/3) (the quantile function ~ u^(2/3) at the
    # square-root edges; the atom is whole for n a multiple of the numerator of g)
    ns = [960, 3840, 15360]      # multiples of 2 and 3: whole atoms for g = 1.5, 3
    for k in (2, 3, 4):
        ref = narayana_moment(k, g)
        err = [abs(np.mean(marchenko_pastur_quantiles(n, g) ** k) - ref) for n in ns]
        orders = [math.log(err[i] / err[i + 1]) / math.log(4) for i in range(2)]
        if g == 1.0:   # lower edge at 0 with density ~ s^(-1/2): Q(u) ~ u^2 there, the upper edge rules
            assert min(orders) > 5 / 3 - 0.05, (k, err, orders)
        else:
            assert orders == pytest.approx([5 / 3, 5 / 3], abs=0.05), (k, err, orders)


def test_mp_first_moment_is_exact_with_a_whole_atom():
    # (1/n) sum s_j -> 1; the zeros are exactly n (1 - 1/g) of them
    s = marchenko_pastur_quantiles(3000, 3.0)
    assert np.sum(s == 0.0) == 2000
    assert np.all(np.diff(s) >= 0)


@pytest.mark.parametrize("g", [0.5, 2.0])
def test_mp_quantiles_match_a_sampled_FFt_within_sampling_error(g):
    # eigenvalues of F F^T / d, F (N x d) i.i.d. N(0,1), d = 1000: the spectral moments k = 1, 2, 3,
    # averaged over 4 draws, against the quantile moments plus the exact finite-size correction
    # E tr W^2 = N d (N + d + 1), E tr W^3 = N d (N^2 + d^2 + 3Nd + 3N + 3d + 4) for W = F F^T
    # (Letac & Massam, Scand. J. Stat. 31, 295 (2004)) minus their Marchenko-Pastur limits
    d = 1000
    N = int(g * d)
    rng = np.random.default_rng(7)
    mom = []
    for _ in range(4):
        F = rng.standard_normal((N, d))
        small = F.T @ F if N > d else F @ F.T            # same nonzero eigenvalues
        lam = np.linalg.eigvalsh(small) / d
        mom.append([np.sum(lam ** k) / N for k in (1, 2, 3)])
    mom = np.array(mom)
    mean, sem = mom.mean(0), mom.std(0, ddof=1) / 2.0
    s = marchenko_pastur_quantiles(rf_spectra_modes(g), g)
    exact_finite = [1.0, (N + d + 1) / d,
                    (N * N + d * d + 3 * N * d + 3 * N + 3 * d + 4) / d ** 2]
    for k in (1, 2, 3):
        pred = np.mean(s ** k) + (exact_finite[k - 1] - narayana_moment(k, g))
        # 5 standard errors (3 moments) plus the quadrature error of 4000 quantiles (< 1e-5)
        assert abs(mean[k - 1] - pred) <= 5 * sem[k - 1] + 1e-5 * pred, (k, mean, pred, sem)


def rf_spectra_modes(g):
    return replica.gcm_rf.rf_modes(4000, g)


# ---------------------------------------------------------------------------
# RF spectra
# ---------------------------------------------------------------------------
def test_rf_spectra_formulas_and_rho_perp():
    # omega = mu1^2 s + mu*^2, theta2 = (N/d) rho mu1^2 s / omega^2, rho = mean(omega theta2) + rho_perp;
    # rho_perp -> rho (1 - (N/d) int mu1^2 s / (mu1^2 s + mu*^2) dMP) (module docstring)
    mu0, mu1, mus = replica.RandomFeatures(activation="relu").coefficients()
    assert (mu0, mu1, mus) == pytest.approx((1 / math.sqrt(2 * math.pi), 0.5,
                                             math.sqrt(0.5 - 0.25 - 1 / (2 * math.pi))), rel=1e-14)
    g, rho = 1.5, 2.0
    om, th2, rp = rf_spectra("relu", g, rho=rho, n_modes=3000)
    s = (om - mus ** 2) / mu1 ** 2
    assert np.all(np.diff(om) <= 0)
    assert np.sum(th2 == 0) == 1000              # the atom 1 - 1/g of the 3000 modes
    assert th2 == pytest.approx(g * rho * mu1 ** 2 * s / om ** 2, rel=1e-14)
    assert np.mean(om * th2) + rp == pytest.approx(rho, rel=1e-14)
    mpmath.mp.dps = 20
    a, b = (1 - math.sqrt(g)) ** 2, (1 + math.sqrt(g)) ** 2
    integ = mpmath.quad(lambda x: mu1 ** 2 * x / (mu1 ** 2 * x + mus ** 2)
                        * mpmath.sqrt((b - x) * (x - a)) / (2 * mpmath.pi * g * x), [a, b])
    assert rp == pytest.approx(rho * (1 - g * float(integ)), rel=1e-5)


def test_random_features_model_and_bad_input():
    m = random_features("tanh", 0.5, rho=1.0, reg=0.1)
    assert isinstance(m, replica.GaussianCovariateModel) and m.p == 4096 and m.rho == pytest.approx(1.0)
    assert replica.gcm_rf.rf_modes(4096, 3.0) == 4098      # next multiple of 3: whole atom
    with pytest.raises(ValueError, match="activation: mu_star = 0"):
        RandomFeatures(activation="linear", N_over_d=2.0)
    with pytest.raises(ValueError, match="N_over_d"):
        RandomFeatures(activation="tanh", N_over_d=0.0)
    with pytest.raises(ValueError, match="activation"):
        RandomFeatures(activation="nope")
    with pytest.raises(ValueError, match="ratio"):
        marchenko_pastur_quantiles(10, -1.0)
    with pytest.raises(ValueError, match="lam"):
        mei_montanari_risk(1.0, 1.0, 0.0, 0.5, 0.3)
    # a linear activation with N < d is a GCM of rank-N features: allowed
    om, _, rp = rf_spectra("linear", 0.5, n_modes=100)
    assert np.all(om > 0) and rp == pytest.approx(0.5, abs=2e-3)   # rho (1 - N/d): d - N directions unseen


def test_mei_montanari_limits():
    # lambda -> infinity: a -> 0, f_hat -> 0, R -> F1^2 (B -> 1, V -> 0); the fixed point solves the
    # complex equations of Definition 1 at xi = i (psi1 psi2 lambda_bar)^(1/2)
    mu1, mus = 0.5, 0.3
    r = mei_montanari_risk(2.0, 3.0, 1e8, mu1, mus, F1=1.3, tau=0.4)
    assert r["risk"] == pytest.approx(1.3 ** 2, rel=1e-6)
    r = mei_montanari_risk(2.0, 3.0, 0.05, mu1, mus, F1=1.0, tau=0.4)
    z2 = (mu1 / mus) ** 2
    xi = 1j * math.sqrt(2.0 * 3.0 * 0.05 / mus ** 2)
    n1, n2 = 1j * r["nu1"], 1j * r["nu2"]
    for nu_a, nu_b, psi in ((n1, n2, 2.0), (n2, n1, 3.0)):
        rhs = psi / (-xi - nu_b - z2 * nu_b / (1 - z2 * n1 * n2))
        assert abs(nu_a - rhs) < 1e-13 * abs(nu_a)
    assert r["chi"] == pytest.approx((n1 * n2).real, rel=1e-15)


# ---------------------------------------------------------------------------
# against Mei & Montanari's closed form, through the GCM ridge saddle point
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["relu", "tanh", "erf"])
@pytest.mark.parametrize("psi1, psi2, lam_mm, tau", [(0.5, 1.5, 0.1, 0.3), (2.0, 1.5, 0.01, 0.0),
                                                     (3.0, 3.0, 1e-3, 0.5), (1.5, 0.4, 1e-2, 0.1)])
def test_gcm_ridge_on_rf_spectra_is_mei_montanari(act, psi1, psi2, lam_mm, tau):
    # Mei & Montanari, CPAM 75, 667 (2022), Definition 1 and Theorem 1: R = F1^2 B + tau^2 V
    # (F_star = 0: the teacher is linear in x, F1^2 = rho = 1).  Their psi1 = N/d, psi2 = n/d,
    # ridge (N lam_mm / d)|a|^2 on the mean squared loss: alpha = n/N = psi2/psi1 and this package's
    # reg = psi2 lam_mm (sum of (y - h)^2/2, h = w.v/sqrt N, a = w/sqrt N); label noise Delta = tau^2.
    # The GCM on the Marchenko-Pastur quantile spectra converges to it at the order 5/3 of the
    # midpoint-quantile quadrature (whole atoms: p multiples of 2 and 3), every point within the
    # error the solver's own estimate allows on top.
    mu0, mu1, mus = RandomFeatures(activation=act).coefficients()
    ref = mei_montanari_risk(psi1, psi2, lam_mm, mu1, mus, F1=1.0, tau=tau)["risk"]
    errs = []
    for p in (960, 3840, 15360):
        m = random_features(act, psi1, rho=1.0, reg=psi2 * lam_mm, n_modes=p,
                            channel=replica.get_channel("linear", delta=tau ** 2))
        assert m.p == p
        errs.append(abs(_solve(m, psi2 / psi1)["test_error"] - ref) / ref)
    orders = [math.log(errs[i] / errs[i + 1]) / math.log(4) for i in range(2)]
    assert orders == pytest.approx([5 / 3, 5 / 3], abs=0.05), (errs, orders)


def test_rf_test_error_does_not_depend_on_mu0():
    # the mu0 mode is dropped (O(1/p)); Mei & Montanari's risk depends on (mu1, mu_star) only:
    # relu (mu0 = 1/sqrt(2 pi)) and relu - mu0 (mu0 = 0, same mu1, mu_star) give the same GCM
    relu = replica.gcm_rf.get_activation("relu")
    centred = replica.gcm_rf.get_activation(lambda u: max(u, 0.0) - 1 / math.sqrt(2 * math.pi))
    c = RandomFeatures(activation=centred).coefficients()
    assert c[0] == pytest.approx(0.0, abs=1e-12)
    assert c[1:] == pytest.approx(RandomFeatures(activation=relu).coefficients()[1:], rel=1e-10)
    a = _solve(random_features(relu, 2.0, reg=0.05), 0.7)["test_error"]
    b = _solve(random_features(centred, 2.0, reg=0.05), 0.7)["test_error"]
    assert a == pytest.approx(b, rel=1e-9)


# ---------------------------------------------------------------------------
# double descent: the ridgeless peak at N = n (alpha = n/N = 1)
# ---------------------------------------------------------------------------
def test_ridgeless_double_descent_peak_at_n_equals_N():
    # rho_perp > 0 (the mu_star part and the unseen directions) acts as label noise, so the
    # ridgeless test error diverges at the interpolation threshold n = N even without noise.
    # Closed forms of the GCM ridge saddle point (Loureiro et al. 2021; replica.gcm.ridge):
    #  * lambda = 0, alpha > 1 (least squares): E = rho_perp + (Delta + rho_perp)/(alpha - 1);
    #  * alpha = 1, lambda -> 0: lambda/t = <t/(t + omega)> ~ t <1/omega> gives
    #    t ~ sqrt(lambda / <1/omega>) and E ~ (Delta + rho_perp) / (2 sqrt(lambda <1/omega>)),
    #    a divergence as lambda^(-1/2).
    delta = 0.1
    ch = replica.get_channel("linear", delta=delta)
    m0 = random_features("tanh", 2.0, reg=0.0, channel=ch)
    om, _, rp = m0.spectra()
    assert rp > 0.05
    for alpha in (1.25, 2.0, 4.0):
        assert _solve(m0, alpha)["test_error"] == pytest.approx(rp + (delta + rp) / (alpha - 1), rel=1e-10)
    inv = float(np.mean(1.0 / om))
    for lam in (1e-8, 1e-10, 1e-12):
        # (near the threshold V = <r>/Vhat ~ lambda^(-1/2) carries the largest relative error)
        E = _solve(m0.with_(reg=lam), 1.0, rtol=1e-6)["test_error"]
        assert E * math.sqrt(lam) == pytest.approx((delta + rp) / (2 * math.sqrt(inv)), rel=30 * math.sqrt(lam))
    # the peak: on a grid of alpha = n/N at small ridge, the maximum sits at alpha = 1
    alphas = np.round(np.arange(0.5, 2.0001, 0.01), 10)
    for reg in (1e-6, 1e-8):
        E = [_solve(m0.with_(reg=reg), a, rtol=1e-6)["test_error"] for a in alphas]
        assert alphas[int(np.argmax(E))] == pytest.approx(1.0, abs=0.011)


# ---------------------------------------------------------------------------
# the averaged teacher projections against a sampled F
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act, g", [("relu", 2.0), ("tanh", 0.5)])
def test_averaged_teacher_matches_sampled_F_within_sampling_error(act, g):
    # the GCM of a sampled F and teacher theta0 (matrix form of the convention, Omega with and
    # without the mu0 spike) vs the spectral RF model: the ridge test error over 6 draws at
    # N = 600 agrees within sampling error (the projections (V^T theta0)_i^2 fluctuate as
    # O(p^-1/2); the spectrum's finite-d corrections and the spike are O(1/p))
    N = 600
    d = int(N / g)
    rng = np.random.default_rng(3)
    reg, alphas = 0.05, (0.5, 2.0)
    pred = [_solve(random_features(act, g, reg=reg), a)["test_error"] for a in alphas]
    for include_mean in (False, True):
        vals = []
        for _ in range(6):
            F = rng.standard_normal((N, d))
            theta0 = rng.standard_normal(d)
            Psi, Omega, Phi = gaussian_equivalent(act, F, include_mean=include_mean)
            m = replica.GaussianCovariateModel.from_matrices(Psi, Omega, Phi, theta0, reg=reg)
            vals.append([_solve(m, a)["test_error"] for a in alphas])
        vals = np.array(vals)
        mean, sem = vals.mean(0), vals.std(0, ddof=1) / math.sqrt(len(vals))
        z = (mean - np.array(pred)) / sem
        assert np.all(np.abs(z) < 4.0), (include_mean, mean, pred, sem)
    # the same F-draws with the teacher averaged over theta0 ~ N(0, I_d) exactly, for each F:
    # E theta_i^2 = (N/d) |Phi e_i|^2 / omega_i^2 (the ridge error is affine in theta2, so this is
    # the theta0-average of the error).  Only the spectrum's fluctuations and its O(1/d)
    # finite-size bias remain (cf. E (1/N) tr W^2 = 1 + N/d + 1/d above): agreement within
    # 4 standard errors plus 1/d relative
    vals = []
    for _ in range(6):
        F = rng.standard_normal((N, d))
        Psi, Omega, Phi = gaussian_equivalent(act, F, include_mean=False)
        om, E = np.linalg.eigh(Omega)
        th2 = (N / d) * np.sum((Phi @ E) ** 2, axis=0) / om ** 2
        m = replica.GaussianCovariateModel(omega=om, theta2=th2, rho_perp=max(1.0 - np.mean(om * th2), 0.0),
                                           reg=reg)
        vals.append([_solve(m, a)["test_error"] for a in alphas])
    vals = np.array(vals)
    mean, sem = vals.mean(0), vals.std(0, ddof=1) / math.sqrt(len(vals))
    assert np.all(np.abs(mean - pred) <= 4.0 * sem + np.array(pred) / d), (mean, pred, sem)
