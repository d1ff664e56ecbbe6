"""Gardner volume: spherical capacity formula, RS equations, binary capacity."""

import math

import pytest
from scipy import integrate

import replica
from lmech.special import log_H, mills


def test_spherical_capacity_reference_values():
    # Gardner, J. Phys. A 21, 257 (1988), eq. 24: 1/alpha_c = int_{-k}^inf Dt (t + k)^2
    # = (1 + k^2) Phi(k) + k phi(k); k = 0: 2, k = 1: 1/(2 Phi(1) + phi(1)) = 0.5195722
    assert replica.spherical_capacity(0.0) == pytest.approx(2.0, rel=1e-15)
    exact = 1 / (math.erfc(-1 / math.sqrt(2)) + math.exp(-0.5) / math.sqrt(2 * math.pi))
    assert exact == pytest.approx(0.519572, abs=5e-7)
    assert replica.spherical_capacity(1.0) == pytest.approx(exact, rel=1e-13)


@pytest.mark.parametrize("kappa", [-0.5, 0.0, 1.0])
def test_rs_overlap_reaches_one_at_closed_form_capacity(kappa):
    # Gardner, J. Phys. A 21, 257 (1988): alpha(q) = q / ((1-q) E[M^2]) -> alpha_c as q -> 1 with a
    # gap O(1-q) of nonzero slope, so 1 - q at the saddle vanishes linearly in alpha_c - alpha:
    # fitted order 1 over two decades
    m = replica.GardnerVolume("spherical", kappa)
    ac = replica.spherical_capacity(kappa)
    gaps = []
    for d in (1e-4, 1e-6):
        r = replica.solve(m, ac * (1 - d))
        assert r.success and r.q < 1.0
        gaps.append(1.0 - r.q)
    assert math.log(gaps[0] / gaps[1]) / math.log(100.0) == pytest.approx(1.0, abs=0.01)


def _g_m2_adaptive(q, kappa):
    """``G(q) = E log H(a)`` and ``E[M(a)**2]``, ``a = (kappa - sqrt(q) xi)/sqrt(1-q)``, by adaptive quadrature."""
    a = lambda xi: (kappa - math.sqrt(q) * xi) / math.sqrt(1 - q)  # noqa: E731
    dens = lambda xi: math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi)  # noqa: E731
    x0 = kappa / math.sqrt(q)
    w = math.sqrt((1 - q) / q)
    pts = [x0 - 8 * w, x0 - w, x0, x0 + w, x0 + 8 * w]
    g = integrate.quad(lambda x: dens(x) * log_H(a(x)), -14, 14, points=pts, limit=400, epsabs=1e-14,
                       epsrel=1e-13)[0]
    m2 = integrate.quad(lambda x: dens(x) * mills(-a(x)) ** 2, -14, 14, points=pts, limit=400,
                        epsabs=1e-14, epsrel=1e-13)[0]
    return g, m2


@pytest.mark.parametrize("frac, kappa", [(0.2, 0.0), (0.8, 1.0), (0.999, -0.5)])
def test_spherical_saddle_vs_adaptive_quadrature(frac, kappa):
    # Gardner, J. Phys. A 21, 257 (1988): at the RS saddle of the spherical volume
    # alpha = q / ((1-q) E[M^2]) and s = log(1-q)/2 + q/(2(1-q)) + alpha G(q); G and E[M^2]
    # recomputed at the solver's q by adaptive quadrature
    alpha = frac * replica.spherical_capacity(kappa)
    r = replica.solve(replica.GardnerVolume("spherical", kappa), alpha)
    q = r.q
    g, m2 = _g_m2_adaptive(q, kappa)
    assert q / ((1 - q) * m2) == pytest.approx(alpha, rel=1e-10)
    terms = (0.5 * math.log1p(-q), 0.5 * q / (1 - q), alpha * g)
    assert r.entropy == pytest.approx(sum(terms), abs=1e-10 * sum(abs(t) for t in terms))


@pytest.mark.parametrize("prior", ["spherical", "rademacher"])
def test_entropy_envelope_identity(prior):
    # ds/dalpha = G(q) at the saddle point (G by adaptive quadrature at the solver's q)
    m = replica.GardnerVolume(prior, 0.3)
    a, h = 0.4, 1e-5
    sp, sm = replica.solve(m, a + h).entropy, replica.solve(m, a - h).entropy
    q = replica.solve(m, a).q
    assert (sp - sm) / (2 * h) == pytest.approx(_g_m2_adaptive(q, 0.3)[0], rel=1e-7)


def test_small_alpha_limits():
    assert replica.solve(replica.GardnerVolume("spherical", 0.0), 0.0).entropy == 0.0
    s = replica.solve(replica.GardnerVolume("rademacher", 0.0), 1e-9).entropy
    assert s == pytest.approx(math.log(2), abs=1e-8)


def test_binary_capacity_zero_entropy():
    # Krauth & Mezard, J. Phys. France 50, 3057 (1989): RS entropy vanishes at alpha ~ 0.833
    # (0.83 in their abstract; the zero of the RS entropy is 0.8330786)
    m = replica.GardnerVolume("rademacher", 0.0)
    ac = replica.capacity(m)
    assert ac == pytest.approx(0.833, abs=5e-4)
    assert replica.capacity(m, n_quad=64) == pytest.approx(ac, abs=1e-10)
    assert replica.solve(m, ac).entropy == pytest.approx(0.0, abs=1e-9)


def test_above_capacity_spherical():
    r = replica.solve(replica.GardnerVolume("spherical", 0.0), 2.5)
    assert r.success and not r.sat and r.q == 1.0


def test_capacity_surfaces_a_failed_solve():
    # capacity returns a bare float: a saddle solve with success = False (here: its error estimate,
    # at least the 64-ulp rounding floor, cannot meet tol = 1e-300) must raise, not be used
    m = replica.GardnerVolume("rademacher", 0.0)
    with pytest.raises(RuntimeError, match="solve_gardner failed"):
        replica.capacity(m, tol=1e-300)


def test_gardner_n_quad_floor():
    # below n_quad = 16 the sech rule (n_quad // 2 nodes per panel) would be clamped and the
    # n_quad vs 2 n_quad refinement could not see its error: refused
    with pytest.raises(ValueError, match="n_quad"):
        replica.solve(replica.GardnerVolume("rademacher", 0.0), 0.5, n_quad=8)


def test_invalid_gardner():
    with pytest.raises(ValueError, match="margin"):
        replica.GardnerVolume("spherical", float("nan"))
    with pytest.raises(ValueError, match="prior"):
        replica.GardnerVolume("gaussian", 0.0)
    with pytest.raises(ValueError, match="alpha"):
        replica.solve(replica.GardnerVolume("spherical", 0.0), -1.0)
    with pytest.raises(TypeError, match="foo"):
        replica.solve(replica.GardnerVolume("spherical", 0.0), 1.0, foo=1)


def test_binary_above_the_rs_limit_is_empty_not_failed():
    # kappa = 1: binary capacity ~0.27; above alpha_1 = (2/pi) alpha_c^sph(1) = 0.3308 the RS overlap is 1
    r = replica.solve(replica.GardnerVolume("rademacher", 1.0), 0.5)
    assert r.success and r.q == 1.0 and not r.sat and r.entropy == -math.inf


def _m2_mpmath(q, kappa):
    """E[M(a)**2], M = phi/H, a = (kappa - sqrt(q) xi)/sqrt(1-q), in mpmath (30 digits)."""
    import mpmath as mp

    mp.mp.dps = 30
    q = mp.mpf(q)
    sq, sv = mp.sqrt(q), mp.sqrt(1 - q)
    x0, w = kappa / sq, sv / sq

    def m2(xi):
        a = (kappa - sq * xi) / sv
        return mp.npdf(xi) * (mp.npdf(a) / mp.ncdf(-a)) ** 2

    return mp.quad(m2, [-mp.inf, x0 - 8 * w, x0 - w, x0, x0 + w, x0 + 8 * w, mp.inf])


def _binary_saddle_residuals(q, qhat, alpha, kappa):
    """Residuals of the binary RS saddle (Gardner & Derrida, J. Phys. A 21, 271 (1988)) in mpmath:
    ``q = E tanh(sqrt(qhat) z)**2`` and ``qhat (1 - q) = alpha E[M(a)**2]``,
    ``M(a) = phi(a)/H(a)``, ``a = (kappa - sqrt(q) xi)/sqrt(1 - q)``."""
    import mpmath as mp

    mp.mp.dps = 30
    q, qhat = mp.mpf(q), mp.mpf(qhat)
    s = mp.sqrt(qhat)
    t2 = 2 * mp.quad(lambda z: mp.npdf(z) * mp.tanh(s * z) ** 2, [0, 1 / s, 8 / s, 40 / s, mp.inf])
    e = _m2_mpmath(q, kappa)
    return float(t2 - q), float(qhat * (1 - q) / (alpha * e) - 1)


@pytest.mark.parametrize("alpha", [1.05, 1.1, 1.2, 1.27])
def test_binary_rs_overlap_below_one_up_to_4_over_pi(alpha):
    # The RS saddle of binary weights reaches q = 1 only at alpha_1 = (2/pi) alpha_c^sph(kappa),
    # 4/pi at kappa = 0 (Gardner & Derrida 1988, the RS value above the bound alpha <= 1):
    # as qhat -> inf, 1 - q ~ sqrt(2/(pi qhat)) and E[M^2] ~ 1/((1-q) alpha_c^sph), so
    # qhat (1-q) = alpha E[M^2] gives alpha -> 2 alpha_c^sph / pi.  Below it the saddle has q < 1
    # and satisfies the RS equations (checked in mpmath); a fixed 96-node Gauss-Hermite rule for
    # E tanh^2 had put q = 1 at alpha = 1.1.
    m = replica.GardnerVolume("rademacher", 0.0)
    r = replica.solve(m, alpha)
    assert r.success and r.q < 1.0 and math.isfinite(r.entropy) and r.entropy < 0.0
    e1, e2 = _binary_saddle_residuals(r.q, r.qhat, alpha, 0.0)
    assert abs(e1) < 1e-12 and abs(e2) < 1e-11


def test_binary_rs_limit_is_4_over_pi():
    # The replica-symmetric capacity of the Ising perceptron: the RS overlap of binary weights
    # reaches q = 1 at alpha = 4/pi (Gardner & Derrida, J. Phys. A 21, 271 (1988)).  It is not the
    # true capacity, which is 0.833 (Krauth & Mezard, J. Phys. France 50, 3057 (1989)), where the
    # RS entropy vanishes (test_binary_capacity_zero_entropy).
    assert replica.binary_rs_limit(0.0) == pytest.approx(4 / math.pi, rel=1e-15)
    m = replica.GardnerVolume("rademacher", 0.0)
    # q -> 1 continuously as alpha -> 4/pi from below, q = 1 above
    gaps = [1.0 - replica.solve(m, 4 / math.pi * (1 - d)).q for d in (1e-2, 1e-4, 1e-6)]
    assert 0.0 < gaps[2] < gaps[1] < gaps[0] < 0.1
    assert replica.solve(m, 4 / math.pi * (1 + 1e-9)).q == 1.0
    # 1 - q vanishes linearly in alpha_1 - alpha: the relative corrections to
    # 1 - q = E sech^2 (O(1/qhat)) and to E[M^2] (O(1 - q), from M(a)^2 = a^2 + 2 + O(a^-2))
    # are of first order in 1 - q, so alpha_1 - alpha = O(1 - q); fitted order 1
    assert math.log(gaps[1] / gaps[2]) / math.log(100.0) == pytest.approx(1.0, abs=0.01)


def test_gardner_kind_point_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmech.sweep import sweep
    from replica.kinds import gardner_check, gardner_plot, gardner_point

    r = gardner_point(alpha=0.5, prior="spherical", margin=1.0)
    assert r.alpha_c == pytest.approx(0.519572, abs=5e-7)
    with pytest.raises(ValueError, match="margin"):
        gardner_check(alpha=1.0, margin=float("inf"))
    res = sweep("replica.kinds:gardner_point", {"margin": [0.0, 0.5]}, fixed={"prior": "rademacher", "alpha": 0.5},
                archive=tmp_path / "g.h5")
    assert res.arrays["alpha_c"][0] == pytest.approx(0.833, abs=5e-4)
    fig, ax = plt.subplots()
    gardner_plot(res, ax)
    plt.close(fig)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None)
@given(binary=st.booleans(), kappa=st.floats(-1.0, 1.5), frac=st.floats(1e-3, 1.0 - 1e-7))
def test_rs_saddle_vs_mpmath_across_the_range(binary, kappa, frac):
    # alpha = frac * (limit where q -> 1): qhat and 1/(1-q) range over many decades, where
    # E tanh^2(sqrt(qhat) z) and E[M^2] sharpen; the saddle equations hold in mpmath
    # (spherical: q/(1-q) = alpha E[M^2], Gardner 1988 eq. 20; binary: Gardner & Derrida 1988)
    m = replica.GardnerVolume("rademacher" if binary else "spherical", kappa)
    limit = (2 / math.pi if binary else 1.0) * replica.spherical_capacity(kappa)
    alpha = frac * limit
    r = replica.solve(m, alpha)
    assert 0.0 < r.q < 1.0
    if not r.success:
        # within ~1e-7 of the limit the terms of the entropy cancel (it grows as -log(1-q)/2):
        # its rounding floor alone exceeds tol there; that is the only honest failure
        assert r.message.startswith("error estimate of entropy above tol")
        assert r.error_estimate["entropy"] > r.options["tol"] * abs(r.entropy)
    if binary:
        e1, e2 = _binary_saddle_residuals(r.q, r.qhat, alpha, kappa)
        assert abs(e1) < 1e-12 and abs(e2) < 1e-11
    else:
        lhs = r.q / (1 - r.q)
        assert lhs == pytest.approx(alpha * float(_m2_mpmath(r.q, kappa)), rel=1e-9)


# -- n_iter: Brent's iterations, as lmech.Status's docstring defines it -------------------------
def _counting_brentq(monkeypatch, module):
    """Replace ``module.brentq`` by scipy's, recording the iterations each call reports."""
    from scipy import optimize
    counts = []

    def brentq(*args, **kw):
        out = optimize.brentq(*args, **kw)
        if kw.get("full_output"):      # the solves that report their iterations
            counts.append(out[1].iterations)
        return out

    monkeypatch.setattr(module, "brentq", brentq)
    return counts


@pytest.mark.parametrize("prior,margin,alpha", [("spherical", 0.0, 1.2), ("spherical", -1.0, 3.0),
                                                ("rademacher", 0.0, 0.5), ("rademacher", 0.5, 0.2)])
def test_n_iter_counts_brent_iterations_of_both_quadrature_levels(monkeypatch, prior, margin, alpha):
    import replica.gardner
    counts = _counting_brentq(monkeypatch, replica.gardner)
    res = replica.solve(replica.GardnerVolume(prior, margin), alpha)
    assert res.success, res.message
    assert len(counts) == 2 and min(counts) > 0      # the n_quad and 2 n_quad solves
    assert res.n_iter == sum(counts)


@pytest.mark.parametrize("prior,alpha", [("spherical", 0.0), ("spherical", 2.5), ("rademacher", 0.0),
                                         ("rademacher", 1.5)])
def test_n_iter_is_zero_where_no_equation_is_solved(prior, alpha):
    # alpha = 0 (q = 0), above the spherical capacity 2 or the binary RS limit 4/pi (q = 1)
    res = replica.solve(replica.GardnerVolume(prior, 0.0), alpha)
    assert res.n_iter == 0


@pytest.mark.parametrize("margin", [-27.0, -100.0, -math.inf, math.nan])
def test_binary_margin_below_its_range_is_refused_with_the_reason(margin):
    # E[M^2] ~ exp(-kappa^2) underflows double precision below kappa ~ -26.6 (exp(-708))
    with pytest.raises(ValueError, match=r"^margin\b.*(kappa >= -26|finite|NaN)"):
        replica.GardnerVolume("rademacher", margin)
    if math.isfinite(margin):   # spherical weights take any margin (closed form)
        assert replica.GardnerVolume("spherical", margin).margin == margin
