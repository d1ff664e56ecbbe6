import math

import numpy as np
import pytest

from lmech.result import Result, register_result, result_class


def make(**kw):
    base = dict(success=True, n_iter=3, residual=1e-11, arrays={"Q": np.eye(2), "t": np.arange(3.0)},
                scalars={"eg": np.float64(0.25), "k": np.int64(2), "flag": True, "name": "x"})
    base.update(kw)
    return Result(**base)


def test_attribute_access_and_conversion():
    r = make()
    assert r.Q is r.arrays["Q"]
    assert r.eg == 0.25 and type(r.eg) is float
    assert type(r.k) is int
    assert r.success and r.n_iter == 3
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        r.nope
    with pytest.raises(AttributeError, match="read-only"):
        r.success = False


def test_core_fields_win_over_arrays_of_the_same_name():
    r = Result(success=True, n_iter=7, arrays={"n_iter": np.arange(4)})
    assert r.n_iter == 7
    assert np.array_equal(r.arrays["n_iter"], np.arange(4))


def test_same_as_is_bitwise():
    a = make(residual=math.nan)
    b = make(residual=math.nan)
    assert a.same_as(b)
    # 1 + 1e-16 rounds to 1.0: a separately built array with the same bits is the same
    c = make(arrays={"Q": np.eye(2) * (1 + 1e-16), "t": np.arange(3.0)})
    assert c.arrays["Q"] is not make().arrays["Q"] and make().same_as(c) and c.same_as(make())
    # (compared with make(), not a: a's nan residual alone would make these differ)
    assert not make().same_as(make(arrays={"Q": np.eye(2).astype(np.float32), "t": np.arange(3.0)}))
    # a change in the last bit is a difference
    q = np.eye(2)
    q[0, 0] = np.nextafter(1.0, 2.0)
    assert not make().same_as(make(arrays={"Q": q, "t": np.arange(3.0)}))
    assert not a.same_as(make())  # nan residual against 1e-11


def test_repr_names_the_essentials():
    text = repr(make(message="converged", timings={"solve": 0.5}))
    for piece in ("success: True", "converged", "eg", "array(2, 2) float64", "solve=0.5s"):
        assert piece in text


def test_bad_contents_are_rejected():
    with pytest.raises(TypeError, match="scalar 'bad'"):
        Result(success=True, scalars={"bad": [1, 2]})
    with pytest.raises(TypeError, match="array 'obj'"):
        Result(success=True, arrays={"obj": np.array([object()])})
    with pytest.raises(ValueError, match="both an array and a scalar"):
        Result(success=True, arrays={"x": [1.0]}, scalars={"x": 1.0})


def test_registry_refuses_a_second_class_under_one_kind():
    @register_result("lmech.TestKindA")
    class A(Result):
        pass

    assert result_class("lmech.TestKindA") is A

    with pytest.raises(ValueError, match="already registered"):
        @register_result("lmech.TestKindA")
        class B(Result):
            pass

    with pytest.raises(TypeError):
        register_result("lmech.NotAResult")(int)


def test_over_tolerance_is_relative_above_one_absolute_below_and_fails_nan():
    from lmech.result import over_tolerance

    err = {"a": 2e-4, "b": 2e-4, "c": 5e-5, "d": float("nan"), "e": 5e-5}
    values = {"a": 3.0, "b": 0.5, "c": -0.1, "d": 1.0, "e": float("inf")}
    # a: 2e-4 <= 1e-4 * 3; b: 2e-4 > 1e-4 * max(1, 0.5); c: within 1e-4; d: not estimated;
    # e: a non-finite value has scale 1
    assert over_tolerance(err, values, 1e-4) == ["b", "d"]
