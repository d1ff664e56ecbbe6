"""Shared test setup: compile every Numba kernel once before the tests fan out."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _warm_kernels():
    import lmech

    lmech.warmup()
