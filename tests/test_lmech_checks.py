import numpy as np
import pytest

from lmech.checks import check_choice, check_int, check_options, check_psd, check_real, check_shape


def test_check_real_ranges_name_the_parameter():
    assert check_real("eta", 0.5, low=0.0, low_open=True) == 0.5
    with pytest.raises(ValueError, match=r"eta must lie in \(0.0, inf\]"):
        check_real("eta", 0.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match="noise must lie in"):
        check_real("noise", -1, low=0)
    with pytest.raises(ValueError, match="alpha must be finite"):
        check_real("alpha", float("nan"))
    with pytest.raises(ValueError, match="alpha must be a real number"):
        check_real("alpha", "1")
    with pytest.raises(ValueError, match="alpha must be a real number"):
        check_real("alpha", True)
    assert check_real("T", float("inf"), allow_inf=True) == float("inf")


def test_check_int_and_choice_and_options():
    assert check_int("K", 3, low=1) == 3
    assert check_int("K", 3.0, low=1) == 3
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, inf\]"):
        check_int("K", 0, low=1)
    with pytest.raises(ValueError, match="K must be an integer"):
        check_int("K", 2.5)
    with pytest.raises(ValueError, match="activation must be one of"):
        check_choice("activation", "tanhh", ("erf", "relu"))
    with pytest.raises(TypeError, match="unknown option.*rtoll"):
        check_options({"rtoll": 1}, ["rtol", "atol"], "odes.integrate")


def test_check_psd_and_shape():
    check_psd("T", np.eye(3))
    with pytest.raises(ValueError, match="T must be a square matrix"):
        check_psd("T", np.ones((2, 3)))
    with pytest.raises(ValueError, match="T must be symmetric"):
        check_psd("T", [[1.0, 0.2], [0.0, 1.0]])
    with pytest.raises(ValueError, match="T must be positive semidefinite"):
        check_psd("T", [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"Q0 must have shape \(2, 2\)"):
        check_shape("Q0", np.eye(3), (2, 2))


# -- an int beyond the float range (10**400) is bad input, not an OverflowError ----------------
def _model_with_float_field():
    import odes
    return lambda v: odes.CommitteeMachine(K=1, M=1, lr=v)


@pytest.mark.parametrize("name,call", [
    ("x", lambda v: check_real("x", v)),
    ("x", lambda v: check_real("x", v, allow_inf=True)),
    ("lr", lambda v: _model_with_float_field()(v)),
])
@pytest.mark.parametrize("value", [10**400, -10**400, 10**5000], ids=["1e400", "-1e400", "1e5000"])
def test_int_beyond_float_range_is_a_value_error_naming_the_parameter(name, call, value):
    # float(10**400) raises OverflowError in Python; every check turns it into bad input
    with pytest.raises(ValueError, match=rf"^{name}\b.*finite"):
        call(value)


def test_param_check_names_the_key_for_an_int_beyond_float_range():
    from lmech.spec import ConfigError, Param
    with pytest.raises(ConfigError, match=r"^alpha: must be finite"):
        Param(float, low=0.0).check("alpha", 10**400)
    # an int parameter holds 64-bit integers (NumPy's, Numba's, the archives')
    assert Param(int, low=0).check("n", 2**63 - 1) == 2**63 - 1
    for v in (2**63, 10**400, -2**63 - 1):
        with pytest.raises(ConfigError, match=r"^n: must be a 64-bit integer"):
            Param(int).check("n", v)


@pytest.mark.parametrize("value", [2**63, -2**63 - 1, 10**400], ids=["2^63", "-2^63-1", "1e400"])
def test_check_int_holds_64_bit_integers(value):
    assert check_int("N", 2**63 - 1, low=1) == 2**63 - 1
    with pytest.raises(ValueError, match=r"^N must be an integer in \[1, 2\*\*63 - 1\] \(64 bits\)"):
        check_int("N", value, low=1)


# -- one memory rule: lmech.checks.MEMORY_FRACTION of what is available, in every layer ---------
@pytest.mark.parametrize("share,refused", [(0.49, False), (0.51, True), (0.79, True)])
def test_every_layer_refuses_memory_by_the_one_rule(monkeypatch, share, refused):
    import lmech.checks
    import dmft.cost
    from lmech.checks import MEMORY_FRACTION, check_memory

    assert MEMORY_FRACTION == 0.5
    avail = 2 ** 30
    monkeypatch.setattr(lmech.checks, "available_memory", lambda: avail)
    calls = [lambda: check_memory("n", share * avail, "the arrays"),
             lambda: dmft.cost.check_cost("uniform", "t_max/dt", share * avail, 0.0)]
    for call in calls:
        if refused:
            with pytest.raises(ValueError, match=r"^(n|t_max/dt): .*GiB.*0\.5 of the 1 GiB"):
                call()
        else:
            call()


def test_odes_output_memory_follows_the_one_rule(monkeypatch):
    # K = M = 1: each stored output row holds the state (2), t, Q, R, v: 6 float64 = 48 bytes;
    # with 1 MiB available, 0.5 MiB allows 10922 rows
    import lmech.checks
    import odes

    monkeypatch.setattr(lmech.checks, "available_memory", lambda: 2 ** 20)
    m = odes.CommitteeMachine(K=1, M=1)
    run = lambda n: odes.integrate(m, 1.0, Q0=[[0.5]], R0=[[0.1]], t_eval=np.linspace(0.0, 1.0, n))  # noqa: E731
    assert run(10_900).success
    with pytest.raises(ValueError, match=r"^t_eval: the output at 10950 times needs"):
        run(10_950)
