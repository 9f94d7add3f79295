"""hash_images on a Dask cluster, through ``client.get_executor()``: the same table as a local scan."""

from __future__ import annotations

import pickle
import tarfile
from concurrent.futures import Executor

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


class _Recording(Executor):
    """An executor that hands work to another one and records the pickled size of what goes and comes back."""

    def __init__(self, inner: Executor):
        self.inner, self.sent, self.received = inner, [], []

    def submit(self, fn, /, *args, **kwargs):
        self.sent.append(len(pickle.dumps((fn, args, kwargs))))
        future = self.inner.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda done: self.received.append(len(pickle.dumps(done.result()))))
        return future


def test_worker_processes_read_the_bucket_themselves(s3, sample_dir, reference, tmp_path):
    """Only keys go to the workers and ~100 bytes per image come back; each worker reads its own objects."""
    s3.upload("dask-photos", sample_dir, prefix="sample/")
    url = "s3://dask-photos/sample"
    with _cluster(n_workers=2, processes=True) as cluster, distributed.Client(cluster) as client:
        recording = _Recording(client.get_executor())
        table = hash_images(url, executor=recording, chunk_size=8, storage_options=s3.storage_options())
    local = reference.assign(path=reference["path"].map(lambda p: url + "/" + p[len(str(sample_dir)) + 1:]))
    local = local.sort_values("path", ignore_index=True)
    pd.testing.assert_frame_equal(table, local)
    images = len(table)
    assert sum(recording.sent) / images < 300  # URLs and options, not image bytes
    assert sum(recording.received) / images < 400  # rows: a hash, a size, a format
    assert sum(table["bytes"].fillna(0)) / images > 10_000  # while the images themselves are large
    # tar shards: a shard's name goes to a worker, which streams it from the bucket
    folder = tmp_path / "shards"
    folder.mkdir()
    photos = sorted(sample_dir.glob("*.jpg"))[:6]
    for number in range(3):
        with tarfile.open(folder / f"{number}.tar", "w") as archive:
            for photo in photos[2 * number: 2 * number + 2]:
                archive.add(photo, arcname=photo.name)
    s3.upload("dask-photos", folder, prefix="shards/")
    pattern = "s3://dask-photos/shards/{0..2}.tar"
    with _cluster(n_workers=2, processes=True) as cluster, distributed.Client(cluster) as client:
        members = hash_images(pattern, executor=client.get_executor(), storage_options=s3.storage_options())
    assert len(members) == 6 and members["error"].isna().all()
    by_name = reference.set_index(reference["path"].map(lambda p: p.rsplit("/", 1)[-1]))["hash"]
    assert members["hash"].tolist() == [by_name[p.rsplit("/", 1)[-1]] for p in members["path"]]
