"""lmech validate: TOML validation configs, their error paths, archives and figures."""

from pathlib import Path

import numpy as np
import pytest

import lmech
from lmech.config import ConfigError
from validation.config import load_validation_config, run_validation_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

COMMITTEE = """
kind = "validation.committee"
[model]
K = 2
M = 2
lr = 0.5
[theory]
times = {start = 0.0, stop = 3.0, num = 4}
Q0 = [[0.5, 0.0], [0.0, 0.5]]
R0 = [[1e-3, 5e-4], [2e-4, 8e-4]]
[compare]
sizes = [50, 100]
seeds = 6
observables = ["eg", "R"]
[simulation]
n_test = 100
"""

LINREG = """
kind = "linreg"
title = "least squares"
[model]
alpha = 2.0
noise = 0.25
[theory]
t_max = 2.0
every = 10
[compare]
sizes = [50, 100]
seeds = 5
"""


def _write(tmp_path, text, name="cfg.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_committee_config_runs_and_writes_archive_and_figure(tmp_path):
    cfg = _write(tmp_path, COMMITTEE)
    out, png = tmp_path / "out.h5", tmp_path / "fig.png"
    rc = run_validation_config(cfg, output=out, png=png, quiet=True, workers=2)   # process pool
    assert png.stat().st_size > 10_000
    names = lmech.archive.ls(out)
    assert names["validation"] == "validation.ValidationReport"
    assert names["theory"] == "odes.Trajectory"
    assert names["validation_runs"] == "lmech.Sweep"
    rep = lmech.archive.load(out, "validation")
    # the exit status follows the verdict (0 agree, 3 inconclusive; 1 disagree)
    assert rep.verdict != "disagree" and rc == {"agree": 0, "inconclusive": 3}[rep.verdict], rep.message
    assert rep.arrays["R/mean"].shape == (2, 4, 2, 2)
    # the raw runs are on the (N, seed) grid
    runs = lmech.archive.load(out, "validation_runs")
    assert runs.shape == (2, 6) and runs.arrays["done"].all()


def test_linreg_config_through_the_command_line(tmp_path, capsys):
    from lmech.cli import main

    cfg = _write(tmp_path, LINREG)
    rc = main(["validate", str(cfg), "-o", str(tmp_path / "l.h5"), "--png", str(tmp_path / "l.png")])
    text = capsys.readouterr().out
    # 5 seeds at N <= 100: standard errors ~ 0.01-0.08, ten times the default tolerance
    # (1e-3 max|theory| + 0.05 |theory|): not rejected, agreement not proved -> exit status 3
    assert rc == 3 and "INCONCLUSIVE" in text and "error_t" in text, text
    rep = lmech.archive.load(tmp_path / "l.h5", "validation")
    assert rep.verdict == "inconclusive" and rep.tol_ratio_error_t > 1.0
    # a tolerance of 0.5 (values <= 1; their 1 - 2 level intervals are narrower than +-0.3):
    # agreement is proved -> exit status 0
    cfg2 = _write(tmp_path, LINREG + "tol_abs = 0.5\ntol_rel = 0.0\n", "cfg2.toml")
    rc = main(["validate", str(cfg2), "-o", str(tmp_path / "l2.h5"), "--png", str(tmp_path / "l2.png"),
               "--quiet"])
    rep = lmech.archive.load(tmp_path / "l2.h5", "validation")
    assert rc == 0 and rep.verdict == "agree", rep.message
    # a second run refuses to overwrite the archive, before any work
    rc = main(["validate", str(cfg), "-o", str(tmp_path / "l.h5"), "--png", str(tmp_path / "l3.png")])
    assert rc == 2 and "output" in capsys.readouterr().err
    assert not (tmp_path / "l3.png").exists()


def test_diverging_theory_exits_1(tmp_path, capsys):
    # a learning rate far above the critical one: the ODEs diverge, nothing is simulated
    text = COMMITTEE.replace("lr = 0.5", "lr = 8.0\nactivation = \"linear\"").replace(
        "stop = 3.0", "stop = 30.0")
    rc = run_validation_config(_write(tmp_path, text), output=tmp_path / "d.h5", quiet=True)
    assert rc == 1 and "theory failed" in capsys.readouterr().err


def test_example_configs_are_valid():
    # validation_*.toml are lmech validate configs, except those naming an lmech run sweep kind
    # (validation.capacity, validation.committee_sgd), which are checked as run configs
    from lmech.config import get_kind, load_config, read_toml

    files = sorted(EXAMPLES.glob("validation_*.toml"))
    assert len(files) >= 3
    n_run = 0
    for f in files:
        kind = read_toml(f)[0].get("kind", "")
        if get_kind(kind) is not None:
            n_run += 1
            assert load_config(f).all_points()
            continue
        cfg = load_validation_config(f)
        assert cfg.compare["sizes"]
    assert n_run >= 2


@pytest.mark.parametrize("edit, key", [
    (("kind = \"validation.committee\"", "kind = \"validation.nope\""), "kind"),
    (("kind = \"validation.committee\"", "kind = 3"), "kind"),
    (("[model]", "bogus = 1\n[model]"), "bogus"),
    (("K = 2\n", "K = 0\n"), "model.K"),
    (("lr = 0.5", "lr = -1.0"), "model.lr"),
    (("lr = 0.5", "lrr = 0.5"), "model.lrr"),
    (("lr = 0.5", "activation = \"tanh\""), "model.activation"),
    (("times = {start = 0.0, stop = 3.0, num = 4}", "times = [0.0, 2.0, 1.0]"), "theory.times"),
    (("times = {start = 0.0, stop = 3.0, num = 4}", "times = {start = 0.0, stop = 3.0}"), "theory.times.num"),
    (("times = {start = 0.0, stop = 3.0, num = 4}", "times = \"soon\""), "theory.times"),
    (("Q0 = [[0.5, 0.0], [0.0, 0.5]]", "Q0 = [[0.5, 0.0, 0.0]]"), "theory.Q0"),
    (("R0 = [[1e-3, 5e-4], [2e-4, 8e-4]]\n", ""), "theory.R0"),
    (("R0 = [[1e-3, 5e-4], [2e-4, 8e-4]]", "R0 = \"x\""), "theory.R0"),
    (("[theory]", "[theory]\nrtol = 2.0"), "theory.rtol"),
    (("[theory]", "[theory]\nfoo = 2.0"), "theory.foo"),
    (("sizes = [50, 100]", "sizes = [50, 50]"), "compare.sizes"),
    (("sizes = [50, 100]", "sizes = [3, 100]"), "compare.sizes"),
    (("sizes = [50, 100]", "sizes = 50"), "compare.sizes"),
    (("sizes = [50, 100]\n", ""), "compare.sizes"),
    (("seeds = 6", "seeds = 1"), "compare.seeds"),
    (("seeds = 6", "seeds = [1, 1]"), "compare.seeds"),
    (("observables = [\"eg\", \"R\"]", "observables = []"), "compare.observables"),
    (("seeds = 6", "seeds = 6\nlevel = 2.0"), "compare.level"),
    (("seeds = 6", "seeds = 6\nwhatever = 2.0"), "compare.whatever"),
    (("seeds = 6", "seeds = 6\nlevel = 0.5"), "compare.level"),
    (("seeds = 6", "seeds = 6\ntol_rel = -0.1"), "compare.tol_rel"),
    (("seeds = 6", "seeds = 6\ntol_abs = {eg = \"x\"}"), "compare.tol_abs.eg"),
    (("seeds = 6", "seeds = 6\ntol_abs = {Q = 0.1}"), "compare.tol_abs"),
    (("n_test = 100", "n_test = -1"), "simulation.n_test"),
    (("n_test = 100", "dt = 0.1"), "simulation.dt"),
    (("[simulation]", "[run]\nworkers = 0\n[simulation]"), "run.workers"),
    (("[simulation]", "[run]\nfoo = 0\n[simulation]"), "run.foo"),
    (("[simulation]", "model = 3\n[simulation]"), "model"),
])
def test_config_errors_name_the_key(tmp_path, edit, key):
    old, new = edit
    assert old in COMMITTEE
    text = COMMITTEE.replace(old, new, 1)
    if key == "model":   # a top-level non-table [model]
        text = "model = 3\n" + COMMITTEE.split("[model]")[0] + "[theory]" + COMMITTEE.split("[theory]")[1]
    cfg = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as exc:
        run_validation_config(cfg, output=tmp_path / "x.h5", quiet=True)
    assert exc.value.key.startswith(key.split(".")[0])
    assert not (tmp_path / "x.h5").exists()


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config"):
        load_validation_config(tmp_path / "missing.toml")
    bad = _write(tmp_path, "kind = ")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_validation_config(bad)
    cfg = _write(tmp_path, COMMITTEE, "ok.toml")
    with pytest.raises(ConfigError, match="workers"):
        run_validation_config(cfg, output=tmp_path / "y.h5", workers=0)


def test_pspin2_config_rejects_other_models(tmp_path):
    text = """
kind = "pspin2"
[model]
p = 3
T = 0.0
[theory]
times = [0.0, 1.0]
[compare]
sizes = [50, 100]
"""
    with pytest.raises(ConfigError, match="model.p"):
        load_validation_config(_write(tmp_path, text))
    text = text.replace("p = 3", "p = 2").replace("times = [0.0, 1.0]", "times = [0.0, 0.33]")
    with pytest.raises(ConfigError, match="theory.times"):
        run_validation_config(_write(tmp_path, text, "b.toml"), output=tmp_path / "z.h5", quiet=True)
    assert not np.any([p.suffix == ".h5" for p in tmp_path.iterdir()])


ERM_CFG = """
kind = "erm"
[model]
loss = "logistic"
reg = 0.1
[theory]
alphas = [1.0, 3.0]
[compare]
sizes = [50, 100]
seeds = 4
observables = ["test_error", "q"]
"""


def test_erm_and_bayes_configs_run(tmp_path):
    rc = run_validation_config(_write(tmp_path, ERM_CFG), output=tmp_path / "e.h5", quiet=True)
    rep = lmech.archive.load(tmp_path / "e.h5", "validation")
    # the exit status follows the verdict; 4 seeds at d <= 100 reject nothing
    assert rep.verdict != "disagree" and rc == {"agree": 0, "inconclusive": 3}[rep.verdict], rep.message
    assert rep.meta["x"] == "alpha" and rep.arrays["x"].tolist() == [1.0, 3.0]
    bayes = ERM_CFG.replace('kind = "erm"', 'kind = "bayes"').replace('loss = "logistic"\nreg = 0.1',
                                                                    'prior = "gaussian"\nchannel = "sign"')
    bayes = bayes.replace('["test_error", "q"]', '["test_error", "mse"]') + "[simulation]\nn_iter = 50\n"
    rc = run_validation_config(_write(tmp_path, bayes, "b.toml"), output=tmp_path / "b.h5", quiet=True)
    rep = lmech.archive.load(tmp_path / "b.h5", "validation")
    assert rep.verdict != "disagree" and rc == {"agree": 0, "inconclusive": 3}[rep.verdict], rep.message


@pytest.mark.parametrize("old, new, key", [
    ('loss = "logistic"', 'loss = "cauchy"', "model.loss"),
    ("alphas = [1.0, 3.0]", "alphas = [0.0, 3.0]", "theory.alphas"),
    ("alphas = [1.0, 3.0]", "alphas = [3.0, 1.0]", "theory.alphas"),
    ("reg = 0.1", "reg = -0.1", "model.reg"),
    ("[compare]", "[simulation]\nn_iter = 5\n[compare]", "simulation.n_iter"),
])
def test_erm_config_errors(tmp_path, old, new, key):
    cfg = _write(tmp_path, ERM_CFG.replace(old, new))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run_validation_config(cfg, output=tmp_path / "x.h5", quiet=True)
    assert not (tmp_path / "x.h5").exists()


def test_rnn_config_times_on_grid(tmp_path):
    text = """
kind = "rnn"
[model]
g = 1.5
[theory]
times = [0.0, 0.33]
[compare]
sizes = [50, 100]
"""
    with pytest.raises(ConfigError, match="theory.times"):
        load_validation_config(_write(tmp_path, text))


# -- validation.pspin: Langevin dynamics of any spherical p-spin --------------------------------
PSPIN4 = """
kind = "pspin"
[model]
p = 4
T = 0.8
[theory]
times = [0.0, 0.5, 1.0]
[compare]
sizes = [16, 24]
seeds = 6
observables = ["e", "C"]
[simulation]
dt = 0.01
"""


def test_pspin_config_runs_langevin_for_p4(tmp_path):
    out, png = tmp_path / "p4.h5", tmp_path / "p4.png"
    rc = run_validation_config(_write(tmp_path, PSPIN4), output=out, png=png, quiet=True)
    rep = lmech.archive.load(out, "validation")
    assert rep.verdict != "disagree" and rc == {"agree": 0, "inconclusive": 3}[rep.verdict], rep.message
    runs = lmech.archive.load(out, "validation_runs")
    assert runs.success
    assert png.stat().st_size > 10_000


def test_pspin_config_errors_name_the_key(tmp_path):
    cfg = load_validation_config(EXAMPLES / "validation_pspin4.toml")
    assert cfg.kind.name == "validation.pspin" and cfg.model.p == 4
    with pytest.raises(ConfigError, match="compare.sizes"):     # 8 * 300^4 B > 2 GiB
        load_validation_config(_write(tmp_path, PSPIN4.replace("sizes = [16, 24]", "sizes = [16, 300]")))
    with pytest.raises(ConfigError, match="compare.sizes"):
        load_validation_config(_write(tmp_path, PSPIN4 + "max_tensor_bytes = 1000\n", "b.toml"))
    with pytest.raises(ConfigError, match="theory.times"):
        load_validation_config(_write(tmp_path, PSPIN4.replace("dt = 0.01", "dt = 0.3"), "c.toml"))
    with pytest.raises(ConfigError, match="compare.sizes"):
        load_validation_config(_write(tmp_path, PSPIN4.replace("sizes = [16, 24]", "sizes = [3, 24]"), "d.toml"))
    with pytest.raises(ConfigError, match="model.p"):
        load_validation_config(_write(tmp_path, PSPIN4.replace("p = 4", "p = 1"), "e.toml"))


def test_pspin_tensor_memory_is_one_helper(tmp_path):
    # the config's memory check and the simulator's use the same formula (validation.gradflow
    # .pspin_tensor_bytes): tensors N^2 + N^4, work N^3, G while symmetrising N^4 (float64)
    from validation.gradflow import pspin_tensor_bytes
    import dmft
    from validation import simulate_pspin

    assert pspin_tensor_bytes([4], 24) == 8 * (24 ** 4 + 24 ** 3 + 24 ** 4)
    assert pspin_tensor_bytes([2, 4], 10) == 8 * (10 ** 2 + 10 ** 4 + 10 ** 3 + 10 ** 4)
    need = pspin_tensor_bytes([4], 24)
    load_validation_config(_write(tmp_path, PSPIN4 + f"max_tensor_bytes = {need}\n", "ok.toml"))
    with pytest.raises(ConfigError, match="compare.sizes"):
        load_validation_config(_write(tmp_path, PSPIN4 + f"max_tensor_bytes = {need - 1}\n", "b.toml"))
    with pytest.raises(ValueError, match="N"):
        simulate_pspin(dmft.SphericalPSpin(p=4, T=0.8), 24, [0.0], max_tensor_bytes=need - 1)
    simulate_pspin(dmft.SphericalPSpin(p=4, T=0.8), 24, [0.0], max_tensor_bytes=need)
