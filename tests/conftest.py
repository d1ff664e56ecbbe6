"""Shared test setup: compile every Numba kernel once before the tests fan out."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _warm_kernels():
    import lmech

    lmech.warmup()


@pytest.fixture(scope="session")
def dask_scheduler():
    """Address of a local dask.distributed cluster on the loopback interface (2 processes)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
