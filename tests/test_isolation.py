"""The suite never falls through to the embedded model by accident, nor overloads the cores."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def provider_seen_by_module_fixture():
    # Module fixtures (e.g. the CLI runs on real datasets) are set up before function-scoped
    # fixtures; CI once ran the embedded model on Telco from one of them and timed out.
    return os.environ.get("SEGMENT_COPILOT_PROVIDER")


def test_module_scoped_fixtures_see_no_llm(provider_seen_by_module_fixture):
    assert provider_seen_by_module_fixture == "none"


def test_each_worker_runs_its_share_of_the_cores_in_openmp_and_blas():
    # Two workers each starting one OpenMP/BLAS thread per core overload the cores (conftest's
    # pytest_configure); with one process, the libraries keep their own defaults.
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) <= 1:
        pytest.skip("one test process: the libraries' default threads are left alone")
    if "SEGMENT_COPILOT_TEST_INNER_THREADS" not in os.environ:
        pytest.skip("the developer set the libraries' thread variables: they are kept")
    import sklearn.cluster  # noqa: F401  (loads scikit-learn's OpenMP runtime)
    from threadpoolctl import threadpool_info

    expected = int(os.environ["SEGMENT_COPILOT_TEST_INNER_THREADS"])
    pools = {pool["user_api"]: pool["num_threads"] for pool in threadpool_info()}
    assert pools.get("openmp") == expected, pools
    assert pools.get("blas") == expected, pools
