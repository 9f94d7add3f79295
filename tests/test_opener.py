"""One reader for every key: a table row being read, a tar shard member, a URL, a local file (dedupkit.opener)."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from dedupkit.loading import ImageLoadError, load_image
from dedupkit.opener import image_file, reading_images
from dedupkit.thumbnails import thumbnail


def _png(size: tuple[int, int], colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def files(tmp_path):
    small = tmp_path / "small.png"
    small.write_bytes(_png((40, 30), "red"))
    shard = tmp_path / "part.tar"
    member = _png((20, 10), "blue")
    with tarfile.open(shard, "w") as archive:
        info = tarfile.TarInfo("cats/one.png")
        info.size = len(member)
        archive.addfile(info, io.BytesIO(member))
    return small, shard, member


def test_a_local_file_is_its_own_path(files):
    small, _, _ = files
    assert image_file(small) == str(small)
    assert image_file(small.as_uri()) == str(small)  # a file:// URL is its local path


def test_a_shard_member_is_read_from_its_shard_only_when_asked(files):
    _, shard, member = files
    key = f"{shard}/cats/one.png"
    assert image_file(key) == member
    assert image_file(key, fetch=False) == key
    assert load_image(key).size == (20, 10)


def test_a_url_is_left_as_its_key_without_fetch():
    assert image_file("s3://bucket/a.jpg", fetch=False) == "s3://bucket/a.jpg"


def test_a_table_row_wins_over_a_file_and_a_shard_member_of_the_same_key(files):
    small, shard, _ = files
    row = _png((64, 48), "green")
    key = f"{shard}/cats/one.png"
    with reading_images({str(small): row, key: row}):
        assert image_file(small) == row and image_file(key, fetch=False) == row
        assert load_image(small).size == (64, 48)
        assert load_image(key).size == (64, 48)
        assert thumbnail(key, size=16).shape == (12, 16, 3)
    assert load_image(small).size == (40, 30)  # the row is forgotten once the block ends


def test_a_row_that_names_a_file_opens_that_file(files):
    small, _, _ = files
    with reading_images({"7": str(small)}):
        assert image_file("7") == str(small)
        assert np.array_equal(thumbnail("7", size=16), thumbnail(small, size=16))


@pytest.mark.parametrize("blob, reason", [(None, "the image column is null"), (b"", "empty image")],
                         ids=["null", "empty"])
def test_a_row_without_an_image_is_an_error_naming_the_key(blob, reason):
    with reading_images({"row-3": blob}), pytest.raises(ImageLoadError, match=reason) as caught:
        image_file("row-3")
    assert caught.value.path == "row-3" and caught.value.kind == "empty"
