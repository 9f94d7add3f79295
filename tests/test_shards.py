"""Tar shards (WebDataset's layout): each streamed once, a row per image member keyed shard.tar/member."""

from __future__ import annotations

import io
import tarfile

import pandas as pd
import pytest

from dedupkit import hash_images, load_image
from dedupkit.loading import ImageLoadError


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory, originals):
    """Three shards of 3 photos each (with a .json beside each, as WebDataset keeps labels), one corrupt member,
    and a fourth shard cut off in the middle of its second member."""
    root = tmp_path_factory.mktemp("shards")
    photos = originals[:9]
    for number in range(3):
        with tarfile.open(root / f"{number:05d}.tar", "w") as archive:
            for photo in photos[3 * number: 3 * number + 3]:
                _add(archive, f"images/{photo.stem}.jpg", photo.read_bytes())
                _add(archive, f"images/{photo.stem}.json", b'{"label": 1}')
            if number == 1:
                data = photos[0].read_bytes()
                _add(archive, "images/corrupt.jpg", data[: len(data) // 4])
    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w") as archive:
        for photo in originals[9:11]:
            _add(archive, f"{photo.stem}.jpg", photo.read_bytes())
    first = -(-len(originals[9].read_bytes()) // 512) * 512  # the member's data, padded to whole blocks
    (root / "broken.tar").write_bytes(whole.getvalue()[: 512 + first + 512 + 1000])  # cut in the second member
    return root


@pytest.fixture(scope="module")
def by_file(originals):
    table = hash_images(originals[:11], workers=1)
    return dict(zip(table["path"].map(lambda p: p.rsplit("/", 1)[-1]), table["hash"]))


def test_shards_hash_as_their_files(shard_dir, by_file):
    pattern = str(shard_dir / "{00000..00002}.tar")
    table = hash_images(pattern, workers=1)
    assert len(table) == 10  # 9 photos and the corrupt member; the .json members are left out by extension
    expected_keys = {f"{shard_dir}/{n:05d}.tar/images/" for n in range(3)}
    assert {p.rsplit("/", 1)[0] + "/" for p in table["path"]} == expected_keys
    rows = table.set_index("path")
    corrupt = rows.loc[f"{shard_dir}/00001.tar/images/corrupt.jpg"]
    assert pd.isna(corrupt["hash"]) and "truncated" in corrupt["error"]
    good = table[table["error"].isna()]
    assert len(good) == 9
    for key, value in zip(good["path"], good["hash"]):
        assert value == by_file[key.rsplit("/", 1)[-1]], key
    # a member's key opens the image again (thumbnails, the report, verification)
    key = good["path"].iloc[0]
    assert load_image(key).size == (good["width"].iloc[0], good["height"].iloc[0])
    with pytest.raises(ImageLoadError, match="no member 'images/nope.jpg'"):
        load_image(f"{shard_dir}/00000.tar/images/nope.jpg")


def test_a_truncated_or_missing_shard_is_an_error_row(shard_dir, by_file, originals):
    table = hash_images(str(shard_dir / "{broken,missing}.tar"), workers=1)
    rows = table.set_index("path")
    first = f"{shard_dir}/broken.tar/{originals[9].stem}.jpg"
    assert rows.loc[first, "hash"] == by_file[f"{originals[9].stem}.jpg"]  # what came before the cut is kept
    assert rows.loc[str(shard_dir / "broken.tar"), "error"].startswith("corrupt or truncated tar shard")
    assert rows.loc[str(shard_dir / "missing.tar"), "error"] == "tar shard not found"


def test_shards_in_a_process_pool_give_the_same_table(shard_dir):
    pattern = str(shard_dir / "{00000..00002}.tar")
    pd.testing.assert_frame_equal(hash_images(pattern, workers=2), hash_images(pattern, workers=1))


def test_cli_finds_copies_across_shards(tmp_path, originals, capsys):
    """A photo and its half-size copy in two shards: found, verified by reading both members back."""
    from PIL import Image

    from dedupkit.cli import main

    half = io.BytesIO()
    with Image.open(originals[0]) as image:
        image.resize((image.width // 2, image.height // 2)).save(half, "JPEG", quality=90)
    with tarfile.open(tmp_path / "a.tar", "w") as archive:
        _add(archive, "photo.jpg", originals[0].read_bytes())
        _add(archive, "other.jpg", originals[1].read_bytes())
    with tarfile.open(tmp_path / "b.tar", "w") as archive:
        _add(archive, "half.jpg", half.getvalue())
        _add(archive, "label.txt", b"cat")
    pairs, groups = tmp_path / "pairs.csv", tmp_path / "groups.csv"
    assert main(["find", str(tmp_path / "{a,b}.tar"), "-o", str(pairs), "--groups", str(groups),
                 "--workers", "1"]) == 0
    found = pd.read_csv(pairs)
    expected = [[f"{tmp_path}/a.tar/photo.jpg", f"{tmp_path}/b.tar/half.jpg"]]
    assert found[["path_a", "path_b"]].values.tolist() == expected
    assert found["verified"].all()
    kept = pd.read_csv(groups).set_index("path")["keep"]
    assert kept.to_dict() == {f"{tmp_path}/a.tar/photo.jpg": True, f"{tmp_path}/b.tar/half.jpg": False}
    assert "scanned 3 files" in capsys.readouterr().out


def test_a_second_scan_of_unchanged_shards_reads_none_of_them(shard_dir, tmp_path):
    """The cache keeps shard members by shard state and member name: an unchanged shard is not read again."""
    import os
    import shutil

    folder = tmp_path / "shards"
    shutil.copytree(shard_dir, folder)
    pattern, cache = str(folder / "{00000..00002}.tar"), tmp_path / "cache.parquet"
    first = hash_images(pattern, workers=1, cache=cache)
    assert (first.attrs["hashed"], first.attrs["cached"]) == (3, 0)  # shards read, rows from the cache
    second = hash_images(pattern, workers=1, cache=cache)
    assert (second.attrs["hashed"], second.attrs["cached"]) == (0, 10)
    pd.testing.assert_frame_equal(second, first, check_like=True)
    # garbage of the same size and time in place of shard 0: a scan that read it would give error rows
    shard = folder / "00000.tar"
    stat = shard.stat()
    shard.write_bytes(b"\0" * stat.st_size)
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    third = hash_images(pattern, workers=1, cache=cache)
    assert third.attrs["hashed"] == 0 and third["error"].isna().sum() == 9
    # a shard rewritten (a new modification time) is read again, and only it
    os.utime(folder / "00001.tar", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    fourth = hash_images(pattern, workers=1, cache=cache)
    assert (fourth.attrs["hashed"], fourth.attrs["cached"]) == (1, 6)
    pd.testing.assert_frame_equal(fourth, first, check_like=True)
    # a truncated shard's rows, and its own error row, are cached as the file's state
    broken = str(folder / "broken.tar")
    assert hash_images(broken, workers=1, cache=cache).attrs["hashed"] == 1
    again = hash_images(broken, workers=1, cache=cache)
    assert again.attrs["hashed"] == 0 and again.set_index("path").loc[broken, "error"].startswith("corrupt")


def test_a_list_of_shard_members_is_cached_by_its_shards(shard_dir, tmp_path):
    keys = [f"{shard_dir}/00000.tar/images/{name}" for name in ("nope.jpg",)]
    table = hash_images(str(shard_dir / "00000.tar"), workers=1)
    keys += table["path"].tolist()[:2] + [f"{shard_dir}/00002.tar/images/nope.jpg"]
    cache = tmp_path / "cache.parquet"
    first = hash_images(keys, workers=1, cache=cache)
    rows = first.set_index("path")
    assert rows.loc[keys[1], "hash"] == table.set_index("path").loc[keys[1], "hash"]
    assert rows.loc[keys[0], "error"].startswith("no such member in the tar shard")
    second = hash_images(keys, workers=1, cache=cache)
    assert (second.attrs["hashed"], second.attrs["cached"]) == (2, 2)  # "missing" rows are never cached
    pd.testing.assert_frame_equal(second, first, check_like=True)
