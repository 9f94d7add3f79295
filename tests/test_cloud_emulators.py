"""gs:// and az:// for real: gcsfs against gcp-storage-emulator, adlfs against Azurite, both on loopback.

Each test lists a small bucket (container), hashes it, compares the table with
the same folder hashed on disk, and reads an image back by its key. A test is
skipped only when its emulator program is absent (``make install`` installs
both), with the reason.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

# gcsfs >= 2025.x first asks a gRPC control plane whether a bucket is hierarchical (60 s timeout per bucket
# against an emulator, which does not serve it); the plain JSON API is what the emulator and this test need.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from cloud_emulators import Azurite, GcsEmulator, missing  # noqa: E402

from dedupkit import hash_images, load_image  # noqa: E402


@pytest.fixture(scope="module")
def local(small_dir):
    return hash_images(small_dir, workers=1)


@pytest.fixture(scope="module")
def gcs():
    pytest.importorskip("gcsfs")
    reason = missing("gcs")
    if reason:
        pytest.skip(reason)
    with GcsEmulator() as server:
        yield server


@pytest.fixture(scope="module")
def azurite():
    pytest.importorskip("adlfs")
    reason = missing("azure")
    if reason:
        pytest.skip(reason)
    with Azurite() as server:
        yield server


def _by_name(table: pd.DataFrame, root: str) -> pd.DataFrame:
    names = table["path"].map(lambda p: str(p)[len(str(root)):].lstrip("/"))
    return table.assign(path=names).sort_values("path", ignore_index=True)


def _same_as_the_folder(table: pd.DataFrame, url: str, local: pd.DataFrame, small_dir) -> None:
    assert table["path"].str.startswith(url + "/").all(), table["path"].tolist()
    assert not table["path"].str.contains("hidden").any()
    assert table.attrs["skipped"] == [f"{url}/readme.txt"]
    remote, here = _by_name(table, url), _by_name(local, small_dir)
    pd.testing.assert_frame_equal(remote.drop(columns="error"), here.drop(columns="error"))
    assert remote["error"].isna().tolist() == here["error"].isna().tolist()
    assert remote.loc[remote["path"] == "bad_empty.jpg", "error"].item() == "empty file (0 bytes)"


def test_a_gcs_bucket_is_listed_and_hashed_as_its_folder(gcs, small_dir, local, tmp_path):
    gcs.upload("photos", small_dir, prefix="small/")
    url, options = "gs://photos/small", gcs.storage_options()
    table = hash_images(url, storage_options=options, workers=1)
    _same_as_the_folder(table, url, local, small_dir)
    good = table[table["error"].isna()].iloc[0]
    assert load_image(good["path"]).size == (good["width"], good["height"])  # opened again from the bucket
    missing_key = f"{url}/no_such_photo.jpg"
    listed = hash_images([good["path"], missing_key], storage_options=options, workers=1).set_index("path")
    assert listed.loc[missing_key, "error"] == "object not found" and pd.notna(listed.loc[good["path"], "hash"])
    cache = tmp_path / "cache.parquet"  # known by its generation / md5 from the listing
    hash_images(url, storage_options=options, workers=1, cache=cache)
    assert hash_images(url, storage_options=options, workers=1, cache=cache).attrs["hashed"] == 0


def test_an_azure_container_is_listed_and_hashed_as_its_folder(azurite, small_dir, local, tmp_path):
    azurite.upload("photos", small_dir, prefix="small/")
    url, options = "az://photos/small", azurite.storage_options()
    table = hash_images(url, storage_options=options, workers=1)
    _same_as_the_folder(table, url, local, small_dir)  # az:// keys stay az:// (adlfs would say abfs://)
    good = table[table["error"].isna()].iloc[0]
    assert load_image(good["path"]).size == (good["width"], good["height"])
    missing_key = f"{url}/no_such_photo.jpg"
    listed = hash_images([good["path"], missing_key], storage_options=options, workers=1).set_index("path")
    assert listed.loc[missing_key, "error"] == "object not found" and pd.notna(listed.loc[good["path"], "hash"])
    # Azurite checks the shared-key signature: a wrong account key is refused, and the message says so
    wrong = azurite.storage_options(key="d3Jvbmc=" * 11)
    with pytest.raises(PermissionError, match=r"az://photos/small.*listing refused.*credentials"):
        hash_images(url, storage_options=wrong, workers=1)
    refused = hash_images([good["path"]], storage_options=wrong, workers=1)
    assert refused["error"].str.startswith("permission denied: the object cannot be read").all()
    assert refused["error"].str.contains("check the credentials").all()
    cache = tmp_path / "cache.parquet"  # known by its ETag from the listing
    hash_images(url, storage_options=options, workers=1, cache=cache)
    assert hash_images(url, storage_options=options, workers=1, cache=cache).attrs["hashed"] == 0
