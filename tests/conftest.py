"""Shared test setup: compile every Numba kernel once before the tests fan out."""

import os

# One BLAS thread per process: the suite runs on 2 cores next to Numba kernels and worker
# processes, and spinning BLAS threads made dense linear algebra several times slower there.
# (Set before numpy is first imported; an explicit setting in the environment wins.)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402


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
