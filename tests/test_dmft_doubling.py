"""Tests of the time-doubling integrator dmft.solve(method="doubling") (dmft/doubling.py)."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ive

import dmft
import lmech
from dmft.doubling import doubling_grid


def _cd_exact_e(t):
    """Cugliandolo & Dean, J. Phys. A 28, 4213 (1995), p = 2, T = 0: e(t) = -I0(4t)/I1(4t) + 1/(2t)."""
    return -ive(0, 4 * t) / ive(1, 4 * t) + 1.0 / (2 * t)


def _cd_exact_C(t):
    """C(t,t') = f(t+t') / sqrt(f(2t) f(2t')), f(s) = I1(2s)/s (same reference)."""
    def f(s):
        s = np.asarray(s, dtype=float)
        out = np.ones_like(s)
        nz = s > 0
        out[nz] = ive(1, 2 * s[nz]) / s[nz]
        return out

    d = f(2 * t)
    return f(np.add.outer(t, t)) / np.sqrt(np.outer(d, d))


P3_T05 = dmft.SphericalPSpin(p=3, T=0.5)
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def uniform_e50():
    """e(50) of p=3, T=0.5 from the uniform grid, Richardson-extrapolated from dt = 0.1, 0.05."""
    ea = dmft.solve(P3_T05, 50.0, dt=0.1).energy
    eb = dmft.solve(P3_T05, 50.0, dt=0.05).energy
    return (4 * eb - ea) / 3


def test_grid_lands_on_t_max():
    for t_max, N, dt0 in ((50.0, 128, 0.05), (1e4, 256, 0.05), (3.0, 64, 0.05), (7.3, 16, 0.1)):
        K, m, h0 = doubling_grid(t_max, N, dt0)
        assert N // 2 < m <= N and h0 <= dt0 * (1 + 1e-12)
        assert m * h0 * 2 ** K == pytest.approx(t_max, rel=1e-13)
    res = dmft.solve(P3_T05, 50.0, method="doubling", n_window=64)
    assert res.success and res.t[-1] == pytest.approx(50.0)
    assert res.t_all[-1] == pytest.approx(50.0) and np.all(np.diff(res.t_all) > 0)
    assert len(res.t_all) == len(res.e) == len(res.mu) == res.n_rows
    assert res.C.shape == (len(res.t), len(res.t)) and np.allclose(np.diag(res.C), 1.0)


def test_before_doubling_second_order_and_agrees_with_uniform():
    # no coarsening (t_max = m dt0 with m = N): the first half-window comes from the uniform
    # start, the second half (t in (2.5, 5]) from the implicit BDF2 rows of the doubling
    # scheme.  Their energy converges at least at second order in h (measured ratio of
    # successive differences 15: the interval averages are more accurate than the
    # trapezoid) to the limit of the uniform predictor-corrector (Richardson, to 4e-6).
    es, eu = [], []
    for h in (0.1, 0.05, 0.025):
        n = int(round(5.0 / h))
        res = dmft.solve(P3_T05, 5.0, method="doubling", n_window=n, dt0=h)
        assert res.n_doublings == 0 and res.h_final == pytest.approx(h)
        assert res.n_rows - (n // 2 + 1) >= n // 2 - 1  # half the rows are BDF2 rows
        es.append(res.energy)
        eu.append(dmft.solve(P3_T05, 5.0, dt=h).energy)
    ratio = (es[0] - es[1]) / (es[1] - es[2])
    assert ratio > 3.4, (es, ratio)
    rich_d = (4 * es[2] - es[1]) / 3
    rich_u = (4 * eu[2] - eu[1]) / 3
    assert abs(rich_d - rich_u) < 3e-5


def test_across_doublings_matches_uniform(uniform_e50):
    # three doublings (h: 0.05 -> 0.4) against the extrapolated uniform e(50)
    res = dmft.solve(P3_T05, 50.0, method="doubling", n_window=256, dt0=0.05)
    assert res.success and res.n_doublings >= 2
    assert abs(res.energy - uniform_e50) < 4e-4
    # the one-time history at t = 25 too (uniform dt = 0.05 has error ~ 1e-3 there)
    u = dmft.solve(P3_T05, 25.0, dt=0.05)
    k = np.argmin(np.abs(res.t_all - 25.0))
    assert res.t_all[k] == pytest.approx(25.0, abs=1e-9)
    assert abs(res.e[k] - u.energy) < 2e-3


def test_window_refinement_converges(uniform_e50):
    # first order in 1/N after coarsening: the error against the uniform reference
    # falls monotonically, by a factor >= 1.5 per doubling of the window
    errs = [abs(dmft.solve(P3_T05, 50.0, method="doubling", n_window=N).energy - uniform_e50)
            for N in (64, 128, 256)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[0] / errs[1] > 1.5 and errs[1] / errs[2] > 1.5, errs
    # and the initial step hardly matters once h0 resolves the start
    e1 = dmft.solve(P3_T05, 50.0, method="doubling", n_window=128, dt0=0.05).energy
    e2 = dmft.solve(P3_T05, 50.0, method="doubling", n_window=128, dt0=0.0125).energy
    assert abs(e1 - e2) < 5e-5


def test_p2_zero_temperature_long_times():
    # Cugliandolo-Dean closed form up to t = 1e3 (the uniform grid would need 2e4 steps)
    res = dmft.solve(dmft.SphericalPSpin(p=2, T=0.0), 1000.0, method="doubling", n_window=128)
    assert res.success
    t = res.t_all[1:]
    # error bound: the uniform start's 0.15 h0^2 = 4e-4 (tests/test_dmft_pspin.py), not growing
    assert np.max(np.abs(res.e[1:] - _cd_exact_e(t))) < 4e-4
    assert abs(res.energy - _cd_exact_e(1000.0)) < 2.5e-4
    assert abs(res.energy - (-1 + 3 / 8000)) < 2.5e-4
    # C on the final window: measured 0.043 (N = 128) and 0.031 (N = 256): the copies
    # next to the diagonal (dmft.doubling, D11a) freeze the slow aging drift
    err = np.max(np.abs(res.C - _cd_exact_C(res.t)))
    assert err < 0.05
    big = dmft.solve(dmft.SphericalPSpin(p=2, T=0.0), 1000.0, method="doubling", n_window=256)
    assert np.max(np.abs(big.C - _cd_exact_C(big.t))) < 0.8 * err


def test_p3_above_td_equilibrates_with_fdt():
    # T = 0.8 > T_d: e -> -1/(2T) = -0.625; integrated FDT T chi(t,t') = 1 - C(t,t').
    # The error is set by the resolution of the relaxation next to the diagonal
    # (n_copy, see dmft.doubling): measured e(400) + 0.625 = -3.75e-3 at (N, n_copy) =
    # (128, 2) and -1.33e-3 at (256, 4); max |Phi - 1| on the last row 0.0098, 0.0038
    m = dmft.SphericalPSpin(p=3, T=0.8)
    errs, phis = [], []
    for N, nc in ((128, 2), (256, 4)):
        res = dmft.solve(m, 400.0, method="doubling", n_window=N, n_copy=nc)
        assert res.success
        errs.append(abs(res.energy + 0.625))
        n = len(res.t) - 1
        phis.append(np.max(np.abs(res.C[n] + m.T * res.chi[n] - 1.0)))
    assert errs[1] < 0.5 * errs[0] and errs[1] < 1.6e-3, errs
    assert phis[1] < 0.5 * phis[0] and phis[1] < 5e-3, phis
    # above T_d the default n_copy is N/64 (the copies are exact once equilibrated)
    assert res.options["n_copy"] == 4
    assert dmft.solve(m, 400.0, method="doubling", n_window=256).energy == res.energy


def test_aging_fluctuation_dissipation_relation_follows_cugliandolo_kurchan():
    # Below T_d the asymptotic solution (Cugliandolo & Kurchan, PRL 71, 173 (1993)) has FDT
    # for C > q, T chi = 1 - C, and a second straight line of slope -x for C < q:
    #     T chi(t, t') = (1 - q) + x (q - C(t, t')),   q = 0.63882, x = 0.56538 at T = 0.5.
    # On the last row of a t = 1e3 run (t' from 0 to t): measured T chi(C = q) = 0.3571 vs
    # 1 - q = 0.3612, and the largest deviation from the line over 0.1 < C < 0.5 is 0.019
    # (0.011 at t = 1e4: it shrinks with t, a finite-time correction).
    q, x = dmft.aging_plateau(0.5), dmft.aging_fdr(0.5)
    res = dmft.solve(P3_T05, 1e3, method="doubling")
    assert res.success
    C, Tchi = res.C[-1], 0.5 * res.chi[-1]
    assert np.all(np.diff(C) > 0)
    assert abs(np.interp(q, C, Tchi) - (1.0 - q)) < 0.01
    sel = (C > 0.1) & (C < 0.5)
    assert sel.sum() > 50
    assert np.max(np.abs(Tchi[sel] - ((1.0 - q) + x * (q - C[sel])))) < 0.025
    # the interval-by-interval ratio: ~ x deep in the aging regime, ~ 1 on the last two
    # intervals next to the diagonal (measured 1.030, 1.006; the one before, 1.13, is already
    # in the crossover through the plateau)
    X = res.fdt_ratio_last
    assert abs(np.median(X[:-1][sel[:-1]]) - x) < 0.06
    assert np.all(np.abs(X[-3:-1] - 1.0) < 0.05)


@pytest.mark.slow
def test_against_uniform_at_t200():
    # e(200) of p=3, T=0.5: Richardson of the uniform grid, dt = 0.1 (computed, 15 s)
    # and dt = 0.05 (-0.871974, benchmarks/README.md; 94 s): -0.873238.  The doubling
    # run passes through the regime h ~ 1 (h_final = 1.6 at N = 256); measured errors
    # 1.9e-4 (N = 256, n_copy = 2), 1.3e-4 (512, 4), 4.3e-4 (512, 8)
    ea = dmft.solve(P3_T05, 200.0, dt=0.1).energy
    ref = (4 * (-0.871974) - ea) / 3
    for N in (128, 256):
        res = dmft.solve(P3_T05, 200.0, method="doubling", n_window=N)
        assert abs(res.energy - ref) < 4e-4, (N, res.energy, ref)


@pytest.mark.slow
def test_aging_to_1e4_and_doubled_window():
    m = P3_T05
    res = dmft.solve(m, 1e4, method="doubling", n_window=256)
    big = dmft.solve(m, 1e4, method="doubling", n_window=512)  # n_copy 2 -> 4 by default
    assert res.success and big.success
    assert (res.options["n_copy"], big.options["n_copy"]) == (2, 4)
    e_inf = m.aging_energy()
    assert abs(res.energy - big.energy) < 1e-3  # measured 4.1e-4
    # monotone decrease after the start, towards e_inf from above
    late = res.t_all > 5.0
    assert np.all(np.diff(res.e[late]) <= 0)
    assert 0 < res.energy - e_inf < 3e-3  # measured 1.9e-3
    # e(t) - e_inf ~ t^(-a): fitted a between 1e3 and 1e4 (measured ~0.46)
    k1 = np.argmin(np.abs(res.t_all - 1e3))
    a = -math.log((res.energy - e_inf) / (res.e[k1] - e_inf)) / math.log(1e4 / res.t_all[k1])
    assert 0.3 < a < 0.7, a
    # plateau: C(t_w + tau, t_w) for t_w ~ 1e4, 2h <= tau <= 5h (tau/t_w <= 0.03):
    # above q = 0.63882 and decreasing towards it (measured 0.655-0.666)
    n = len(res.t) - 1
    q = m.aging_plateau()
    row = res.C[n, n - 5:n - 1]
    assert np.all(np.diff(row) > 0)
    assert np.all((row > q) & (row < q + 0.035)), row


def test_aging_moderate_times_monotone():
    res = dmft.solve(P3_T05, 1000.0, method="doubling", n_window=256)
    assert res.success
    late = res.t_all > 5.0
    # (with N = 128 the first row after a doubling sits up to 3.5e-5 above its
    # predecessor: the O(1/N) change of the discretisation error when h doubles)
    assert np.all(np.diff(res.e[late]) <= 0)
    assert res.energy > P3_T05.aging_energy()
    # window refinement: N = 256 -> 512 moves e(1e3) by less than 1e-3 (measured 1.7e-4)
    finer = dmft.solve(P3_T05, 1000.0, method="doubling", n_window=512)
    assert finer.success and abs(finer.energy - res.energy) < 1e-3


def test_result_round_trips_through_archive(tmp_path):
    res = dmft.solve(P3_T05, 20.0, method="doubling", n_window=32)
    path = tmp_path / "d.h5"
    lmech.archive.save(res, path, "run")
    back = lmech.archive.load(path, "run")
    assert back.meta["method"] == "doubling"
    assert np.array_equal(back.C, res.C) and np.array_equal(back.e, res.e)
    assert back.options == res.options and back.conventions["grid"] == res.conventions["grid"]


@pytest.mark.parametrize("opts,name", [({"n_window": 65}, "n_window"), ({"n_window": 8}, "n_window"),
                                        ({"dt0": 0.0}, "dt0"), ({"dt0": -1.0}, "dt0"),
                                        ({"tol": 0.0}, "tol"), ({"max_corrector": 0}, "max_corrector"),
                                        ({"n_copy": 1}, "n_copy"),
                                        ({"n_window": 256, "n_copy": 5}, "n_copy"),
                                        ({"checkpoint": 12345}, "checkpoint")])
def test_invalid_options(opts, name):
    with pytest.raises(ValueError, match=name):
        dmft.solve(P3_T05, 10.0, method="doubling", **opts)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="t_max"):
        dmft.solve(P3_T05, 0.0, method="doubling")
    with pytest.raises(ValueError, match="SphericalPSpin"):
        dmft.solve(dmft.RandomRNN(g=1.5), 10.0, method="doubling")
    with pytest.raises(TypeError, match="dt"):
        dmft.solve(P3_T05, 10.0, method="doubling", dt=0.1)


def test_pspin_kind_doubling_point_and_cli(tmp_path):
    from lmech.cli import main

    # the kind's tol = 0, max_corrector = 0 mean the doubling solver's defaults
    pt = dmft.kinds.pspin_point(p=3, T=0.5, t_max=50.0, method="doubling", n_window=64)
    direct = dmft.solve(P3_T05, 50.0, method="doubling", n_window=64)
    assert pt.success and pt.energy == direct.energy
    assert pt.energy_reference == pytest.approx(P3_T05.aging_energy())
    assert "C" not in pt.arrays and "e" in pt.arrays
    cfg = tmp_path / "aging.toml"
    text = (EXAMPLES_DIR / "dmft_pspin_aging.toml").read_text()
    text = text.replace("t_max = 1000.0", "t_max = 20.0").replace("n_window = 256", "n_window = 32")
    cfg.write_text(text)
    out = tmp_path / "aging.h5"
    assert main(["run", str(cfg), "-o", str(out), "--quiet"]) == 0
    sw = lmech.archive.load(out, "sweep")
    assert sw.success and sw.shape == (4,)
    e = sw.arrays["energy"]
    assert np.all(np.isfinite(e)) and np.all(e > sw.arrays["energy_reference"])


def test_mixture_against_uniform():
    # mixed 3+4-spin, xi = (q^3 + 0.3 q^4)/2, through the same coefficient array
    m = dmft.SphericalPSpin(p=3, T=0.6, mixture=(0.0, 0.0, 0.3))
    ea = dmft.solve(m, 20.0, dt=0.1).energy
    eb = dmft.solve(m, 20.0, dt=0.05).energy
    rich = (4 * eb - ea) / 3
    res = dmft.solve(m, 20.0, method="doubling", n_window=256)
    assert res.success and res.n_doublings >= 1
    assert abs(res.energy - rich) < 2e-4  # measured 6e-5


def test_convention_converter_maps_the_discrete_scheme():
    # full convention at T_f on t' = t/sqrt2 is the half convention at T_f/sqrt2
    # on t (dmft.pspin.convert); the grids map onto each other, so the doubling
    # runs agree to the corrector tolerance
    full = dmft.SphericalPSpin(p=3, T=0.9, convention="full")
    half = full.converted("half")
    rh = dmft.solve(half, 100.0, method="doubling", n_window=64, dt0=0.05)
    rf = dmft.solve(full, 100.0 / math.sqrt(2), method="doubling", n_window=64,
                    dt0=0.05 / math.sqrt(2))
    assert rf.n_doublings == rh.n_doublings >= 3
    conv = dmft.pspin.convert(source="half", target="full", energy=rh.energy, t=rh.t[-1])
    assert conv["t"] == pytest.approx(rf.t[-1], rel=1e-12)
    assert rf.energy == pytest.approx(conv["energy"], abs=1e-9)
    assert np.max(np.abs(rf.C - rh.C)) < 1e-8


def test_p2_low_temperature_plain_form():
    # p = 2, T = 0.1 < T_c = 1: e -> -1 + T/2 (spherical SK, Kosterlitz, Thouless &
    # Jones, PRL 36, 1217 (1976)) from above; "auto" picks the plain form (D9) here
    m = dmft.SphericalPSpin(p=2, T=0.1)
    ra = dmft.solve(m, 1000.0, method="doubling", n_window=128)
    rb = dmft.solve(m, 1000.0, method="doubling", n_window=256)
    assert ra.success and rb.success and ra.options["fdt_split"] is False
    assert abs(ra.energy - rb.energy) < 2e-4  # measured 7e-5
    assert 0 < rb.energy - (-1 + 0.1 / 2) < 1e-3  # measured 4.2e-4
    assert np.max(np.abs(rb.C)) <= 1.0 + 1e-9


def test_unstable_split_is_reported_not_returned():
    # the split (D3) divides by T: at T = 0.01 it blows up, and the solver says so
    res = dmft.solve(dmft.SphericalPSpin(p=2, T=0.01), 1000.0, method="doubling",
                     n_window=128, fdt_split=True)
    assert not res.success and "|C(t,t')| > 1" in res.message
    assert res.t_all[-1] < 1000.0
    with pytest.raises(ValueError, match="fdt_split"):
        dmft.solve(dmft.SphericalPSpin(p=2, T=0.0), 10.0, method="doubling", fdt_split=True)
    with pytest.raises(ValueError, match="fdt_split"):
        dmft.solve(P3_T05, 10.0, method="doubling", fdt_split="yes")


def test_checkpoint_and_resume_reproduce_the_run(tmp_path, monkeypatch):
    import dmft.doubling as dd

    kw = dict(method="doubling", n_window=32, dt0=0.05)
    full = dmft.solve(P3_T05, 400.0, **kw)
    assert full.success and full.n_doublings >= 5
    path = tmp_path / "ck.h5"
    calls = []
    orig = dd._save_checkpoint

    def crash_after_two(*args):
        orig(*args)
        calls.append(args[3])
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(dd, "_save_checkpoint", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        dmft.solve(P3_T05, 400.0, checkpoint=path, **kw)
    monkeypatch.setattr(dd, "_save_checkpoint", orig)
    ck = lmech.archive.load(path, dd.CHECKPOINT_NAME)
    assert ck.meta["checkpoint_level"] == 1 and not ck.success
    res = dmft.solve(P3_T05, 400.0, resume=ck, checkpoint=path, **kw)
    assert res.success
    assert np.array_equal(res.C, full.C) and np.array_equal(res.chi, full.chi)
    assert np.array_equal(res.e, full.e) and np.array_equal(res.t_all, full.t_all)
    assert lmech.archive.load(path, dd.CHECKPOINT_NAME).meta["checkpoint_level"] == \
        full.n_doublings - 1
    # the checkpointed window is really used (not recomputed): perturbing it moves the result
    ck.arrays["state_C"][10, :9] *= 1.001
    ck.arrays["state_C"][:9, 10] *= 1.001
    moved = dmft.solve(P3_T05, 400.0, resume=ck, **kw)
    assert moved.energy != full.energy
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(P3_T05, 800.0, resume=ck, **kw)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(P3_T05, 400.0, resume=ck, method="doubling", n_window=64, dt0=0.05)
    with pytest.raises(ValueError, match="resume"):
        dmft.solve(P3_T05, 400.0, resume=full, **kw)


def test_auto_split_choice_and_p2_half_critical_temperature():
    # the 2-spin at T = 0.5 = T_c/2 takes the split (threshold 0.4 sqrt(xi''(1)) = 0.4):
    # e(1e3) -> -1 + T/2 = -0.75 from above (measured -0.74734, N = 128; -0.74863, N = 256)
    m = dmft.SphericalPSpin(p=2, T=0.5)
    res = dmft.solve(m, 1000.0, method="doubling", n_window=256)
    assert res.success and res.options["fdt_split"] is True
    assert 0 < res.energy - (-0.75) < 2.5e-3
    # models with a term of degree >= 3 switch at T = 0.06 sqrt(xi''(1)) (0.1039 for p = 3)
    assert dmft.solve(dmft.SphericalPSpin(p=3, T=0.11), 5.0, method="doubling",
                      n_window=64).options["fdt_split"] is True
    assert dmft.solve(dmft.SphericalPSpin(p=3, T=0.1), 5.0, method="doubling",
                      n_window=64).options["fdt_split"] is False
    # 5-spin at T = 0.2: the split is needed (measured e(1e3) = -1.1514 at N = 128,
    # the plain form gives -1.1285 and moves by 4e-2 with N)
    m5 = dmft.SphericalPSpin(p=5, T=0.2)
    r5 = dmft.solve(m5, 1000.0, method="doubling", n_window=128)
    assert r5.options["fdt_split"] is True and r5.success
    assert 0 < r5.energy - m5.aging_energy() < 1.5e-2
