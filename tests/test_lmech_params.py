"""Parameters declared once (lmech.spec.param) and the shared status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lmech import Model, Status, param
from lmech.spec import params_of


@dataclass(frozen=True)
class Toy(Model):
    K: int = param(low=1, high=10, help="hidden units")
    lr: float = param(0.5, low=0.0, low_open=True, help="learning rate")
    act: str = param("erf", choices=("erf", "relu"), help="activation")
    v: tuple | None = param(None, spec=False, help="teacher weights")

    def check(self):
        if self.act == "relu" and self.K > 5:
            raise ValueError("K must be <= 5 with act='relu'")


def test_fields_are_checked_against_their_declaration():
    assert Toy(2).lr == 0.5
    assert isinstance(Toy(2, 1).lr, float)  # ints are accepted for floats and coerced
    for kwargs, match in [({"K": 0}, r"^K: must lie in \[1, 10\]"),
                          ({"K": 2.5}, r"^K: expected int"),
                          ({"K": True}, r"^K: expected int"),
                          ({"K": 2, "lr": 0.0}, r"^lr: must lie in \(0.0, inf\]"),
                          ({"K": 2, "lr": float("nan")}, r"^lr: must not be NaN"),
                          ({"K": 2, "lr": float("inf")}, r"^lr: must be finite"),
                          ({"K": 2, "act": ""}, r"^act: must be one of"),
                          ({"K": 6, "act": "relu"}, r"^K must be <= 5")]:
        with pytest.raises(ValueError, match=match):
            Toy(**kwargs)


def test_schema_is_derived_from_the_fields():
    schema = params_of(Toy)
    assert list(schema) == ["K", "lr", "act"]
    assert schema["K"].required and schema["K"].type is int
    assert schema["lr"].default == 0.5 and schema["lr"].help == "learning rate"
    assert "v" in params_of(Toy, all_fields=True)


def test_status_vocabulary():
    assert Status.CONVERGED == 0 and not Status.CONVERGED.failed
    failures = [s for s in Status if s.failed]
    assert all(s < 0 for s in failures)
    assert len({s.message for s in Status}) == len(Status)
