"""The base layer's priors and channels (lmech.blocks): denoisers against direct integration,
samplers against their moments within Monte Carlo error bars, registries and specs, and the
replica blocks that extend them."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import integrate

import replica
from lmech.blocks import CHANNELS, PRIORS, channels, get_channel, get_prior, priors
from lmech.spec import from_spec, to_spec

mp.mp.dps = 20


# ---------------------------------------------------------------------------
# priors: the denoiser is the posterior of w given r = w + sqrt(s2) xi
# ---------------------------------------------------------------------------
def posterior_moments(prior, r, s2):
    """Mean and variance of w | r by mpmath: sums over atoms, quadrature of the densities."""
    r, s2 = mp.mpf(r), mp.mpf(s2)

    def lik(w):
        return mp.exp(-(r - w) ** 2 / (2 * s2))

    def dens_moments(density, var):
        # posterior of a N(0, var) component: peak m, width sd (breakpoints only)
        m, sd = r * var / (var + s2), mp.sqrt(var * s2 / (var + s2))
        pts = [-mp.inf] + [m + k * sd for k in (-10, -3, 3, 10)] + [mp.inf]
        return [mp.quad(lambda w: w ** j * density(w) * lik(w), pts) for j in range(3)]

    if isinstance(prior, priors.Rademacher):
        Z = [sum(mp.mpf(0.5) * w ** j * lik(w) for w in (-1, 1)) for j in range(3)]
    elif isinstance(prior, priors.GaussBernoulli):
        rho = mp.mpf(prior.rho)
        Z = [rho * z for z in dens_moments(lambda w: mp.npdf(w, 0, 1), 1)]
        Z[0] += (1 - rho) * lik(0)
    else:
        rho = mp.mpf(prior.rho)
        Z = dens_moments(lambda w: mp.npdf(w, 0, mp.sqrt(rho)), rho)
    mean = Z[1] / Z[0]
    return float(mean), float(Z[2] / Z[0] - mean * mean)


PRIOR_CASES = [priors.Gaussian(0.7), priors.Spherical(2.0), priors.Rademacher(),
               priors.GaussBernoulli(0.1), priors.GaussBernoulli(0.6)]


@pytest.mark.parametrize("prior", PRIOR_CASES, ids=repr)
@settings(max_examples=10, deadline=None, derandomize=True)
@given(r=st.floats(-6.0, 6.0), logs2=st.floats(-5.0, 4.0))
def test_denoiser_is_the_posterior(prior, r, logs2):
    s2 = math.exp(logs2)
    mean, var = prior.denoise(np.array([r]), s2)
    m_ref, v_ref = posterior_moments(prior, r, s2)
    # double precision: 1 - tanh^2 and p (v1 + m1^2) - mean^2 lose absolute accuracy ~ eps * (1 + m1^2)
    assert mean[0] == pytest.approx(m_ref, rel=1e-10, abs=1e-14)
    assert var[0] == pytest.approx(v_ref, rel=1e-8, abs=1e-14 * (1.0 + r * r / s2 ** 2))


@pytest.mark.parametrize("name, r", [("rademacher", 0.3), ("rademacher", 4.0), ("gauss-bernoulli", 0.5),
                                     ("gauss-bernoulli", 20.0), ("gaussian", 2.0)])
def test_bkmmz_parametrisation_gives_the_replica_mmse(name, r):
    # BKMMZ (PNAS 2019) eq. 14: B = r w* + sqrt(r) xi, i.e. B/r = w* + xi/sqrt(r):
    # mmse(r) = E_{w*, xi} Var[w | B] = E denoise(w* + xi/sqrt r, 1/r)[1], here by quadrature
    # over xi of the base-layer denoiser, against the replica layer's own kernel
    rp = replica.get_prior(name)
    lp = get_prior(name, **({"rho": 0.3} if name == "gauss-bernoulli" else {}))
    if name == "gauss-bernoulli":
        rp = replica.GaussBernoulli(0.3)

    def var_at(w, xi):
        return lp.denoise(np.array([w + xi / math.sqrt(r)]), 1.0 / r)[1][0]

    def over_xi(w):
        return integrate.quad(lambda xi: math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi) * var_at(w, xi),
                              -12, 12, epsabs=1e-14, epsrel=1e-12, limit=400)[0]

    if name == "rademacher":
        ref = over_xi(1.0)          # symmetric: w* = +1 and -1 give the same
    elif name == "gaussian":
        ref = 1.0 / (1.0 + r)       # posterior variance is constant
        assert over_xi(0.3) == pytest.approx(ref, rel=1e-12)
    else:
        ref = (1 - 0.3) * over_xi(0.0) + 0.3 * integrate.quad(
            lambda w: math.exp(-0.5 * w * w) / math.sqrt(2 * math.pi) * over_xi(w), -9, 9,
            epsabs=1e-13, epsrel=1e-10, limit=200)[0]
    assert rp.mmse(r) == pytest.approx(ref, rel=1e-8)


def test_prior_sampling_moments():
    # E w^2 = rho within 5 standard errors sqrt(Var(w^2)/d), E w = 0 within 5 sqrt(rho/d);
    # Var(w^2) = 2 rho^2 (Gaussian), 3 rho - rho^2 (Gauss-Bernoulli: E w^4 = 3 rho)
    rng = np.random.default_rng(12345)
    d = 200_000
    for prior, var_w2 in [(priors.Gaussian(2.0), 2 * 4.0), (priors.GaussBernoulli(0.3), 3 * 0.3 - 0.09)]:
        w = prior.sample(d, rng)
        assert abs(np.mean(w * w) - prior.rho) < 5 * math.sqrt(var_w2 / d)
        assert abs(np.mean(w)) < 5 * math.sqrt(prior.rho / d)
    gb = priors.GaussBernoulli(0.3).sample(d, rng)
    assert abs(np.mean(gb != 0) - 0.3) < 5 * math.sqrt(0.3 * 0.7 / d)
    w = priors.Rademacher().sample(d, rng)
    assert set(np.unique(w)) == {-1.0, 1.0} and abs(np.mean(w)) < 5 / math.sqrt(d)
    w = priors.Spherical(3.0).sample(500, rng)
    assert w @ w == pytest.approx(3.0 * 500, rel=1e-13)      # on the sphere |w|^2 = rho d


def test_prior_errors_and_registry():
    with pytest.raises(ValueError, match="rho"):
        priors.Gaussian(0.0)
    with pytest.raises(ValueError, match="rho"):
        priors.GaussBernoulli(1.5)
    with pytest.raises(ValueError, match="prior"):
        get_prior("nope")
    with pytest.raises(ValueError, match="kind"):
        get_prior({"rho": 0.2})
    with pytest.raises(ValueError, match="s2"):
        priors.Gaussian().denoise([1.0], 0.0)
    with pytest.raises(ValueError, match="rng"):
        priors.Gaussian().sample(3, 0)
    with pytest.raises(ValueError, match="d"):
        priors.Gaussian().sample(0, np.random.default_rng(0))
    assert get_prior({"kind": "gauss_bernoulli", "rho": 0.2}) == priors.GaussBernoulli(0.2)
    assert get_prior("binary") == priors.Rademacher()
    assert set(PRIORS) >= {"gaussian", "rademacher", "gauss-bernoulli", "spherical"}
    for p in PRIOR_CASES:
        assert from_spec(to_spec(p)) == p


# ---------------------------------------------------------------------------
# channels: gout from the posterior of z given y, z ~ N(omega, V)
# ---------------------------------------------------------------------------
def likelihood(ch):
    """``P_out(y | z)`` in mpmath, written from each channel's definition."""
    if isinstance(ch, channels.Linear):
        return lambda y, z: mp.npdf(y, z, mp.sqrt(ch.delta))
    if isinstance(ch, channels.ReLU):
        return lambda y, z: mp.npdf(y, max(z, 0), mp.sqrt(ch.delta))
    d, e = mp.mpf(ch.probit_delta), mp.mpf(ch.flip_eps)
    if d == 0:
        return lambda y, z: e + (1 - 2 * e) * (1 if y * z >= 0 else 0)
    return lambda y, z: e + (1 - 2 * e) * mp.ncdf(y * z / mp.sqrt(d))


def gout_reference(ch, y, omega, V):
    """``d log Z / d omega = E[z - omega] / V`` and ``d^2 log Z / d omega^2 = Var z / V^2 - 1/V``,
    the moments of the posterior of ``z`` given ``y`` under the prior ``N(omega, V)``, by mpmath."""
    P = likelihood(ch)
    y, omega, V = mp.mpf(y), mp.mpf(omega), mp.mpf(V)
    sd = mp.sqrt(V)
    pts = {mp.mpf(0), y} | {omega + k * sd for k in (-10, -3, 3, 10)}
    if isinstance(ch, (channels.Linear, channels.ReLU)) and ch.delta > 0:
        # the additive-noise piece's posterior peak (omega D + y V)/(V + D), of width
        # sqrt(V D / (V + D)), can sit far from omega and from 0 (y far below omega):
        # break the integral there too so the tanh-sinh rule resolves it
        D = mp.mpf(ch.delta)
        mu, s = (omega * D + y * V) / (V + D), mp.sqrt(V * D / (V + D))
        pts |= {mu + k * s for k in (-10, -3, 0, 3, 10)}
    pts = sorted(pts)
    pts = [-mp.inf] + pts + [mp.inf]
    # 40 digits and a deeper tanh-sinh level: the moments cancel (Var z = E z^2 - (E z)^2), and a
    # piece whose posterior peak lies beyond the kink at 0 contributes through a steep tail
    with mp.workdps(40):
        Z = [mp.quad(lambda z: (z - omega) ** j * mp.npdf(z, omega, sd) * P(y, z), pts, maxdegree=10)
             for j in range(3)]
        m1 = Z[1] / Z[0]
        return float(m1 / V), float((Z[2] / Z[0] - m1 * m1) / V ** 2 - 1 / V)


CHANNEL_CASES = [channels.Linear(0.3), channels.Linear(0.0), channels.Sign(), channels.LabelFlip(0.2),
                 channels.Probit(0.5), channels.ReLU(0.1), channels.ReLU(1.0)]


@pytest.mark.parametrize("ch", CHANNEL_CASES, ids=repr)
@settings(max_examples=10, deadline=None, derandomize=True)
@given(omega=st.floats(-3.0, 3.0), logV=st.floats(-3.0, 1.5), y=st.floats(-3.0, 3.0))
@example(omega=3.0, logV=0.0, y=-2.0)
@example(omega=0.0, logV=-2.0, y=-2.75)
def test_gout_against_quadrature_of_the_channel(ch, omega, logV, y):
    V = math.exp(logV)
    if ch.classification:
        y = 1.0 if y >= 0 else -1.0
    if isinstance(ch, channels.Linear) and ch.delta == 0.0:
        # noiseless: Z = N(y; omega, V) in closed form, no quadrature needed
        g_ref, dg_ref = (y - omega) / V, -1.0 / V
    else:
        g_ref, dg_ref = gout_reference(ch, y, omega, V)
    g, dg = ch.gout(np.array([y]), np.array([omega]), V)
    assert g[0] == pytest.approx(g_ref, rel=1e-9, abs=1e-12)
    assert dg[0] == pytest.approx(dg_ref, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("ch", [channels.Linear(0.3), channels.LabelFlip(0.2), channels.Probit(0.5),
                                channels.ReLU(0.4)], ids=repr)
def test_pdf_is_the_channel(ch):
    P = likelihood(ch)
    for y, z in [(0.3, -0.4), (-1.0, 0.7), (1.0, 1.2), (2.0, 0.1)]:
        y = math.copysign(1.0, y) if ch.classification else y
        assert ch.pdf(y, z) == pytest.approx(float(P(mp.mpf(y), mp.mpf(z))), rel=1e-13)
    if not ch.classification:    # a density in y
        tot = integrate.quad(lambda y: ch.pdf(y, 0.4), -np.inf, np.inf, epsabs=1e-13)[0]
        assert tot == pytest.approx(1.0, rel=1e-10)
    else:                        # probabilities of y = +-1
        assert ch.pdf(1.0, 0.4) + ch.pdf(-1.0, 0.4) == pytest.approx(1.0, rel=1e-15)


def test_channel_sampling_within_error_bars():
    rng = np.random.default_rng(2024)
    n = 200_000
    z = rng.standard_normal(n)
    # label flips: P(y != sign z) = eps
    wrong = channels.LabelFlip(0.2).sample(z, rng) != np.where(z >= 0, 1.0, -1.0)
    assert abs(np.mean(wrong) - 0.2) < 5 * math.sqrt(0.2 * 0.8 / n)
    # probit: P(y != sign z) = E Phi(-|z|/sqrt Delta) = arctan(sqrt Delta)/pi for z ~ N(0, 1)
    p = math.atan(math.sqrt(0.5)) / math.pi
    wrong = channels.Probit(0.5).sample(z, rng) != np.where(z >= 0, 1.0, -1.0)
    assert abs(np.mean(wrong) - p) < 5 * math.sqrt(p * (1 - p) / n)
    # additive channels: y - f(z) ~ N(0, Delta): mean within 5 sqrt(Delta/n), variance within
    # 5 sqrt(2 Delta^2 / n)
    for ch in (channels.Linear(0.25), channels.ReLU(0.7)):
        res = ch.sample(z, rng) - ch.teacher_map(z)
        assert abs(np.mean(res)) < 5 * math.sqrt(ch.delta / n)
        assert abs(np.var(res) - ch.delta) < 5 * math.sqrt(2 * ch.delta ** 2 / n)
    # the noiseless sign teacher is its teacher map (sign(0) = +1)
    zz = np.array([-1.0, 0.0, 2.0])
    assert np.array_equal(channels.Sign().sample(zz, rng), channels.Sign().teacher_map(zz))
    assert np.array_equal(channels.Sign().teacher_map(zz), [-1.0, 1.0, 1.0])


@pytest.mark.parametrize("name", ["linear", "sign", "label-flip", "probit", "relu"])
@pytest.mark.parametrize("rho", [0.5, 2.0])
def test_teacher_moments_by_quadrature(name, rho):
    # a = E[f(z) z] / rho and E f(z)^2 for z ~ N(0, rho), f the clean teacher map
    ch = get_channel(name)
    sd = math.sqrt(rho)

    def E(h):
        return integrate.quad(lambda z: math.exp(-0.5 * z * z / rho) / math.sqrt(2 * math.pi * rho) * h(z),
                              -12 * sd, 12 * sd, points=[0.0], epsabs=1e-14, epsrel=1e-12)[0]

    f = lambda z: float(ch.teacher_map(np.array([z]))[0])  # noqa: E731
    a, ef2 = ch.teacher_moments(rho)
    assert a == pytest.approx(E(lambda z: f(z) * z) / rho, rel=1e-10)
    assert ef2 == pytest.approx(E(lambda z: f(z) ** 2), rel=1e-10)


def test_channel_errors_and_registry():
    for bad, match in [(lambda: channels.LabelFlip(0.5), "eps"), (lambda: channels.Probit(0.0), "delta"),
                       (lambda: channels.ReLU(float("nan")), "delta"), (lambda: channels.Linear(-1.0), "delta"),
                       (lambda: get_channel("nope"), "channel"),
                       (lambda: channels.Sign().gout([1.0], [0.0], -1.0), "V"),
                       (lambda: channels.Linear(0.0).pdf(0.0, 0.0), "delta")]:
        with pytest.raises(ValueError, match=match):
            bad()
    assert get_channel({"kind": "probit", "delta": 0.1}) == channels.Probit(0.1)
    assert get_channel("gaussian", delta=0.2) == channels.Linear(0.2)
    assert set(CHANNELS) >= {"linear", "sign", "label-flip", "probit", "relu"}
    for ch in CHANNEL_CASES:
        assert from_spec(to_spec(ch)) == ch


# ---------------------------------------------------------------------------
# replica blocks extend the base blocks: one object carries both
# ---------------------------------------------------------------------------
def test_replica_blocks_extend_the_base_blocks():
    pairs = [(replica.Gaussian(0.7), priors.Gaussian), (replica.Spherical(2.0), priors.Spherical),
             (replica.Rademacher(), priors.Rademacher), (replica.GaussBernoulli(0.2), priors.GaussBernoulli),
             (replica.Linear(0.3), channels.Linear), (replica.Sign(), channels.Sign),
             (replica.LabelFlip(0.1), channels.LabelFlip), (replica.Probit(0.4), channels.Probit),
             (replica.ReLU(0.2), channels.ReLU)]
    for obj, base in pairs:
        assert isinstance(obj, base)
        assert to_spec(obj)["__type__"] == "replica." + type(obj).__name__   # archives keep their names
        assert from_spec(to_spec(obj)) == obj and type(from_spec(to_spec(obj))) is type(obj)
        # a base-layer block names the replica block that extends it
        fields = {k: v for k, v in to_spec(obj)["fields"].items()}
        assert (replica.get_prior if isinstance(obj, priors.Prior) else replica.get_channel)(base(**fields)) == obj
    with pytest.raises(ValueError, match="rho"):
        replica.Gaussian(-1.0)


@pytest.mark.parametrize("ch", [replica.Sign(), replica.LabelFlip(0.15), replica.Probit(0.3)], ids=repr)
@pytest.mark.parametrize("q", [0.2, 0.7])
def test_qhat_is_the_mean_square_of_gout(ch, q):
    # BKMMZ eq. 15 (Nishimori): qhat/alpha = E_xi sum_y Z_out(y, sqrt(q) xi, rho - q) g_out^2, with
    # the base layer's g_out and Z_out = eps + (1 - 2 eps) Phi(y omega / sqrt(V + Delta)), against
    # the replica layer's panel-rule kernel
    rho = 1.0
    V = rho - q
    s = math.sqrt(V + ch.probit_delta)

    def f(xi):
        om = math.sqrt(q) * xi
        tot = 0.0
        for y in (1.0, -1.0):
            Z = ch.flip_eps + (1 - 2 * ch.flip_eps) * 0.5 * math.erfc(-y * om / (s * math.sqrt(2)))
            g = ch.gout(np.array([y]), np.array([om]), V)[0][0]
            tot += Z * g * g
        return math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi) * tot

    ref = integrate.quad(f, -12, 12, points=[0.0], epsabs=1e-14, epsrel=1e-12, limit=400)[0]
    assert ch.qhat_unit(q, rho) == pytest.approx(ref, rel=1e-9)
