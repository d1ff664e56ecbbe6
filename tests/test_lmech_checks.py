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
