"""The one config reader of ``lmech run`` and ``lmech validate``: keys named in every error,
axes, blocks given by name or as tables, and the cross checks made before any work."""

import math
import textwrap
import tomllib
from dataclasses import dataclass

import numpy as np
import pytest

from lmech.config import (MAX_POINTS, ConfigError, Param, SweepKind, axis, build_block, build_model,
                          parse_config, register_block_factory, register_kind)
from validation.config import parse_validation_config

RUN = textwrap.dedent("""
    kind = "lmech.erf_overlap"
    [model]
    a = 1.0
    [grid]
    c = {start = -0.5, stop = 0.5, num = 5}
    [options]
    n = 60
""")

VALIDATE = textwrap.dedent("""
    kind = "erm"
    [model]
    loss = "logistic"
    reg = 0.1
    [theory]
    alphas = [1.0, 3.0]
    [compare]
    sizes = [50, 100]
""")


def run_config(text):
    return parse_config(tomllib.loads(text), text)


def validation_config(text):
    return parse_validation_config(tomllib.loads(text), text)


def raises_on(key, parse, text):
    """The ConfigError of ``parse(text)``; its key is ``key`` and its message starts with it."""
    with pytest.raises(ConfigError) as exc:
        parse(text)
    assert exc.value.key == key, str(exc.value)
    assert str(exc.value).startswith(key + ": ")
    return str(exc.value)


# -- the shared sections read alike by both commands ----------------------------------
@pytest.mark.parametrize("parse, text", [(run_config, RUN), (validation_config, VALIDATE)],
                         ids=["run", "validate"])
@pytest.mark.parametrize("edit, key, message", [
    (lambda t: "bogus = 1\n" + t, "bogus", "unknown key"),
    (lambda t: t.replace("[model]", "model = 3\n[nomodel]", 1), "model", "expected a table"),
    (lambda t: t + "\n[run]\nworkers = 0\n", "run.workers", r"must lie in \[1, inf\]"),
    (lambda t: t + "\n[run]\nworkerz = 2\n", "run.workerz", "unknown key; allowed: "),
    (lambda t: t + "\n[run]\noutput = 3\n", "run.output", "expected str"),
    (lambda t: t.replace("[model]", "[model]\nzeta = 1.0", 1), "model.zeta", "unknown parameter of"),
    (lambda t: t.replace('kind = "', 'kind = 3\n#', 1), "kind", "expected a string"),
])
def test_shared_sections_name_the_key_in_both_commands(parse, text, edit, key, message):
    new = edit(text)
    if key == "model":   # drop the now orphaned [nomodel] table
        new = new.replace("[nomodel]", "[run]\noutput = \"x.h5\"").replace("a = 1.0\n", "").replace(
            'loss = "logistic"\nreg = 0.1\n', "")
    import re

    assert re.search(message, raises_on(key, parse, new))


# -- axes ------------------------------------------------------------------------------
def test_axis_tables_are_the_closed_form_grids():
    # linear: start + i (stop - start) / (num - 1); log: start (stop / start)^(i / (num - 1))
    lin = axis("x", {"start": -1.0, "stop": 2.0, "num": 7})
    assert lin == pytest.approx([-1.0 + 0.5 * i for i in range(7)], abs=1e-15)
    log = axis("x", {"start": 1e-2, "stop": 1e2, "num": 5, "spacing": "log"})
    assert log == pytest.approx([10.0 ** (i - 2) for i in range(5)], rel=1e-14)
    assert axis("x", [3, 1.5], Param(float)) == [3.0, 1.5]


@pytest.mark.parametrize("spec, key", [
    ([1.0, math.inf], "grid.c[1]"),                                  # inf in a list
    ({"start": 0.0, "stop": math.inf, "num": 3}, "grid.c.stop"),      # inf as an end
    ([0.0, math.nan], "grid.c[1]"),
    ([], "grid.c"),
    ({"start": 0.0, "stop": 1.0, "num": 0}, "grid.c.num"),
    ({"start": 0.0, "stop": 1.0, "num": 3, "step": 1}, "grid.c.step"),
    ({"start": 0.0, "stop": 1.0, "num": 3, "spacing": "log"}, "grid.c"),
])
def test_bad_axes_name_the_entry(spec, key):
    with pytest.raises(ConfigError) as exc:
        axis("grid.c", spec, Param(float, low=-1.0, high=1.0))
    assert exc.value.key == key


def test_infinite_values_are_refused_in_grids_and_options():
    raises_on("grid.c[1]", run_config, RUN.replace("c = {start = -0.5, stop = 0.5, num = 5}", "c = [0.1, inf]"))
    raises_on("grid.c.stop", run_config, RUN.replace("stop = 0.5", "stop = inf"))
    raises_on("options.tol", run_config, RUN.replace("n = 60", "n = 60\ntol = inf"))
    raises_on("theory.alphas[1]", validation_config, VALIDATE.replace("[1.0, 3.0]", "[1.0, inf]"))


def test_time_axes_must_increase():
    raises_on("theory.alphas", validation_config, VALIDATE.replace("[1.0, 3.0]", "[3.0, 1.0]"))
    raises_on("theory.alphas", validation_config, VALIDATE.replace("[1.0, 3.0]", "[1.0, 1.0]"))


# -- sizes -----------------------------------------------------------------------------
def test_a_product_of_axes_too_large_is_refused_naming_the_axes():
    text = RUN.replace("[model]\na = 1.0\n", "").replace(
        "c = {start = -0.5, stop = 0.5, num = 5}",
        "a = {start = 0.1, stop = 2.0, num = 1000000}\nc = {start = -0.5, stop = 0.5, num = 1000000}")
    msg = raises_on("grid", run_config, text)
    assert "a (1000000) x c (1000000)" in msg and f"{10 ** 12:,}" in msg and f"{MAX_POINTS:,}" in msg


def test_the_number_of_points_is_the_product_of_the_axis_lengths():
    text = RUN.replace("[model]\na = 1.0\n", "").replace(
        "c = {start = -0.5, stop = 0.5, num = 5}", "a = [0.5, 1.0, 2.0]\nc = {start = -0.5, stop = 0.5, num = 5}")
    cfg = run_config(text)
    pts = cfg.all_points()
    assert cfg.n_points == len(pts) == 15
    # C order: the last axis runs fastest, as numpy.meshgrid(indexing="ij").ravel()
    aa, cc = np.meshgrid([0.5, 1.0, 2.0], np.linspace(-0.5, 0.5, 5), indexing="ij")
    assert [p["a"] for p in pts] == aa.ravel().tolist() and [p["c"] for p in pts] == cc.ravel().tolist()


# -- cross checks before any work ----------------------------------------------------------
PHASE = textwrap.dedent("""
    kind = "odes.phase_diagram"
    [grid]
    lr = [0.5, 1.0]
    [options]
    alpha_lo = 10.0
    alpha_hi = 1000.0
""")


@pytest.mark.parametrize("lo, hi", [(100.0, 10.0), (50.0, 50.0)])
def test_an_empty_plateau_window_is_refused(lo, hi):
    text = PHASE.replace("alpha_lo = 10.0", f"alpha_lo = {lo}").replace("alpha_hi = 1000.0", f"alpha_hi = {hi}")
    msg = raises_on("options.alpha_hi", run_config, text)
    assert f"alpha_hi = {hi} must exceed alpha_lo = {lo} (alpha_lo: set by options.alpha_lo)" in msg
    assert run_config(PHASE).n_points == 2


def _toy_point(**kw):  # never called: these configs are only parsed
    raise AssertionError


def _toy_check(*, x, x_max=2.0, t_max=1.0, dt=0.1, method="euler", **params):
    """An option checked against a parameter: Euler's step must divide t_max."""
    if method == "euler" and abs(t_max / dt - round(t_max / dt)) > 1e-9:
        raise ValueError(f"dt must divide t_max (t_max / dt = {t_max / dt:g})")
    if not x < x_max * 10:
        raise ValueError(f"x must be < 10 x_max, got {x}")


@dataclass(frozen=True)
class Shift:            # a base-layer block
    by: float = 0.0


@dataclass(frozen=True)
class TheoryShift(Shift):   # the same block extended by a theory layer
    pass


register_kind(SweepKind(
    name="lmech.test_config_toy", point=_toy_point, check=_toy_check,
    params={"x": Param(float, default=1.0), "x_min": Param(float, default=0.0),
            "x_max": Param(float, default=2.0), "t_max": Param(float, default=1.0, low=0.0, low_open=True),
            "shaper": Param(object, default=None), "theory_shaper": Param(TheoryShift, default=None)},
    options={"dt": Param(float, default=0.1, low=0.0, low_open=True),
             "method": Param(str, default="euler", choices=("euler", "rk4"))}))

TOY = textwrap.dedent("""
    kind = "lmech.test_config_toy"
    [grid]
    x_min = [0.0, 1.0, 3.0]
""")


def test_ordered_parameters_are_checked_at_every_point():
    # x_min = 3 >= x_max = 2 (the default) at the last point: reported on the key the file sets
    assert "x_max = 2.0 must exceed x_min = 3.0 (x_max: the default)" in raises_on("grid.x_min", run_config, TOY)
    raises_on("model.x_max", run_config, TOY.replace("[grid]", "[model]\nx_max = 2.5\n[grid]"))
    assert run_config(TOY.replace("[grid]", "[model]\nx_max = 5.0\n[grid]")).n_points == 3


def test_the_kind_check_sees_the_options_it_names():
    text = TOY.replace("3.0]", "1.5]") + "[options]\ndt = 0.3\n"
    msg = raises_on("options.dt", run_config, text)
    assert "must divide t_max" in msg
    assert run_config(text.replace("dt = 0.3", "dt = 0.3\nmethod = \"rk4\"")).options["dt"] == 0.3
    raises_on("model.x", run_config, TOY.replace("3.0]", "1.5]").replace("[grid]", "[model]\nx = 50.0\n[grid]"))


# -- blocks by name or as tables -----------------------------------------------------------
def test_block_tables_build_the_same_model_as_python():
    import replica

    cfg = validation_config(VALIDATE.replace("reg = 0.1", 'reg = 0.1\nchannel = {kind = "probit", delta = 0.1}\n'
                                             'teacher_prior = {kind = "gaussian", rho = 0.5}'))
    assert cfg.model == replica.ERM(loss="logistic", reg=0.1, teacher_prior=replica.get_prior("gaussian", rho=0.5),
                                    channel=replica.get_channel("probit", delta=0.1))
    named = build_model(replica.BayesOptimalGLM, {"prior": "rademacher", "channel": {"kind": "sign"}})
    assert named == replica.BayesOptimalGLM(prior="rademacher", channel="sign")
    assert build_block("loss", "loss", {"kind": "hinge"}) == replica.get_loss("hinge")


@pytest.mark.parametrize("table, key, message", [
    ('channel = {kind = "probit", delta = -0.1}', "model.channel.delta", "must lie in"),
    ('channel = {kind = "probit", sigma = 0.1}', "model.channel.sigma", "unknown parameter of channel 'probit'; "
                                                                       "allowed: delta"),
    ('channel = {kind = "sign", delta = 0.1}', "model.channel.delta", "unknown parameter"),
    ('channel = {kind = "nope"}', "model.channel.kind", "channel must be one of"),
    ('channel = {delta = 0.1}', "model.channel.kind", "missing"),
    ('channel = {kind = 3}', "model.channel.kind", "expected a string"),
    ('teacher_prior = {kind = "gauss-bernoulli", rho = 2.0}', "model.teacher_prior.rho", "must lie in"),
    ('reg = {kind = "l2"}', "model.reg", "expected a value, got a table"),
    ('channel = "nope"', "model.channel", "must be one of gaussian"),
])
def test_block_errors_name_the_key(table, key, message):
    text = VALIDATE.replace("reg = 0.1", table if table.startswith("reg") else "reg = 0.1\n" + table)
    assert message in raises_on(key, validation_config, text)


def test_a_registered_block_factory_serves_run_configs():
    made = []

    def toy_factory(name, **params):
        if name != "shift":
            raise ValueError(f"toy must be one of shift; got {name!r}")
        if params.get("by", 0.0) < 0:
            raise ValueError(f"by must lie in [0, inf), got {params['by']!r}")
        made.append((name, params))
        return ("shift", params.get("by", 0.0))

    register_block_factory("toy", toy_factory, fields=("shaper",))
    text = TOY.replace("3.0]", "1.5]").replace("[grid]", '[model]\nshaper = {kind = "shift", by = 0.5}\n[grid]')
    cfg = run_config(text)
    assert cfg.fixed["shaper"] == ("shift", 0.5) and made == [("shift", {"by": 0.5})]
    assert all(p["shaper"] == ("shift", 0.5) for p in cfg.all_points())
    msg = raises_on("model.shaper.by", run_config,
                    TOY.replace("[grid]", '[model]\nshaper = {kind = "shift", by = -1.0}\n[grid]'))
    assert msg == "model.shaper.by: must lie in [0, inf), got -1.0"
    raises_on("model.shaper.kind", run_config, TOY.replace("[grid]", '[model]\nshaper = {kind = "x"}\n[grid]'))


def test_a_scalar_parameter_refuses_a_table():
    # replica kinds take the prior by name (a str parameter): a table there is an error on that key
    text = textwrap.dedent("""
        kind = "replica.bayes_optimal"
        [model]
        prior = {kind = "rademacher"}
        [grid]
        alpha = [0.5, 1.0]
    """)
    assert "expected a value, got a table" in raises_on("model.prior", run_config, text)


def test_a_field_taking_an_extended_block_gets_it_from_the_later_factory():
    # the first factory builds the base block; a field annotated with the extension gets the
    # extension from the next factory that builds one (a base registry before a theory registry)
    register_block_factory("shift", lambda name, by=0.0: TheoryShift(by), fields=("theory_shaper",))
    register_block_factory("shift", lambda name, by=0.0: Shift(by))
    text = TOY.replace("3.0]", "1.5]").replace(
        "[grid]", '[model]\ntheory_shaper = {kind = "shift", by = 0.5}\n[grid]')
    assert type(run_config(text).fixed["theory_shaper"]) is TheoryShift
    assert type(build_block("b", "shift", {"kind": "shift", "by": 0.5})) is Shift
    assert build_block("b", "shift", {"kind": "shift", "by": 0.5}, accepts=TheoryShift) == TheoryShift(0.5)


def test_validate_points_a_sweep_kind_to_lmech_run():
    text = 'kind = "validation.capacity"\n[grid]\nalpha = [1.0]\n'
    assert "use lmech run" in raises_on("kind", validation_config, text)
    assert "use lmech run" not in raises_on("kind", validation_config, 'kind = "validation.nope"\n')


@dataclass(frozen=True)
class Bend:             # a block not registered with lmech.spec.register_model: no spec
    by: float = 0.0


def test_a_from_model_kind_refuses_a_block_table_it_cannot_archive():
    # a sweep archives its fixed parameters as specs (lmech.spec.to_spec); a block field given as
    # a table must build a registered block, else the config is refused before any work
    from lmech.spec import Model, param

    register_block_factory("bend", lambda name, by=0.0: Bend(by), fields=("bender",))

    @dataclass(frozen=True)
    class Bent(Model):
        bender: object = param("none", type=(str, Bend))
        x: float = param(1.0)

    register_kind(SweepKind.from_model(Bent, name="lmech.test_config_bent", solve=lambda m: {"y": m.x},
                                       point="tests.test_lmech_config:nothing"))
    base = {"kind": "lmech.test_config_bent", "grid": {"x": [1.0, 2.0]}}
    assert parse_config({**base, "model": {"bender": "none"}}).fixed["bender"] == "none"
    with pytest.raises(ConfigError, match=r"^model\.bender: cannot be archived: Bend is not registered"):
        parse_config({**base, "model": {"bender": {"kind": "bend", "by": 0.5}}})
