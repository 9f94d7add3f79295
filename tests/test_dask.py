"""hash_images on a Dask cluster, through ``client.get_executor()``: the same table as a local scan."""

from __future__ import annotations

import pandas as pd
import pytest

from dedupkit import hash_images

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def reference(sample_dir):
    return hash_images(sample_dir, workers=1)


def _cluster(**kwargs):
    return distributed.LocalCluster(threads_per_worker=1, dashboard_address=None, **kwargs)


def test_threads_cluster_gives_the_local_table(sample_dir, reference, tmp_path):
    with _cluster(n_workers=2, processes=False) as cluster, distributed.Client(cluster) as client:
        table = hash_images(sample_dir, executor=client.get_executor(), chunk_size=8)
        pd.testing.assert_frame_equal(table, reference)
        assert table["error"].notna().sum() == 3  # the sample's bad files keep their rows
        # with a cache kept by this process: the second run sends no work to the cluster
        cache = tmp_path / "cache.parquet"
        first = hash_images(sample_dir, executor=client.get_executor(), chunk_size=8, cache=cache)
        second = hash_images(sample_dir, executor=client.get_executor(), chunk_size=8, cache=cache)
    assert first.attrs["hashed"] == len(reference) and second.attrs["hashed"] == 0
    pd.testing.assert_frame_equal(second, reference)


def test_worker_process_gives_the_local_table(sample_dir, reference):
    # a separate worker process: the task and its rows travel pickled, as on a real cluster
    with _cluster(n_workers=1, processes=True) as cluster, distributed.Client(cluster) as client:
        table = hash_images(sample_dir, executor=client.get_executor(), chunk_size=16)
    pd.testing.assert_frame_equal(table, reference)
