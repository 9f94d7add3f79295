"""dedupkit.thumbnails: previews are upright, bounded, cached, and refreshed when a file changes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from dedupkit import thumbnails


@pytest.fixture(autouse=True)
def _empty_cache():
    thumbnails.clear_cache()
    yield
    thumbnails.clear_cache()


def _save(path, size, colour=(200, 30, 30), **options):
    Image.new("RGB", size, colour).save(path, **options)
    return path


def test_thumbnail_keeps_the_aspect_ratio_and_fits_the_size(tmp_path):
    wide = thumbnails.thumbnail(_save(tmp_path / "wide.jpg", (3000, 1500)), size=100)
    assert wide.shape == (50, 100, 3) and wide.dtype == np.uint8
    assert not wide.flags.writeable  # shared through the cache
    np.testing.assert_allclose(wide.reshape(-1, 3).mean(axis=0), (200, 30, 30), atol=3)


def test_thumbnail_applies_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    path = _save(tmp_path / "turned.jpg", (200, 100), exif=exif)
    assert thumbnails.thumbnail(path, size=64).shape == (64, 32, 3)


def test_thumbnail_is_cached_until_the_file_changes(tmp_path):
    path = _save(tmp_path / "a.png", (80, 80))
    first = thumbnails.thumbnail(path, size=32)
    assert thumbnails.thumbnail(path, size=32) is first
    assert thumbnails._cached.cache_info().hits == 1
    _save(path, (80, 40), colour=(0, 0, 255))
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = thumbnails.thumbnail(path, size=32)
    assert second.shape == (16, 32, 3) and second[0, 0, 2] > 200


def test_the_cache_is_bounded(tmp_path):
    path = _save(tmp_path / "a.png", (40, 40))
    sizes = range(8, 8 + thumbnails.CACHE_SIZE + 1)  # one file at CACHE_SIZE + 1 sizes: as many cache keys
    for size in sizes:
        thumbnails.thumbnail(path, size=size)
    info = thumbnails._cached.cache_info()
    assert info.misses == len(sizes) and info.currsize == thumbnails.CACHE_SIZE
    thumbnails.thumbnail(path, size=sizes[-1])  # the newest is kept
    assert thumbnails._cached.cache_info().hits == 1
    thumbnails.thumbnail(path, size=sizes[0])  # the oldest was dropped: made again
    assert thumbnails._cached.cache_info().misses == len(sizes) + 1


@pytest.mark.parametrize("content", [b"", b"not an image", None], ids=["empty", "text", "missing"])
def test_an_unreadable_file_gives_a_grey_square(tmp_path, content):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    square = thumbnails.thumbnail(path, size=40)
    assert square.shape == (40, 40, 3) and (square == square[0, 0]).all()


def test_thumbnail_rejects_a_tiny_size(tmp_path):
    with pytest.raises(ValueError, match="size"):
        thumbnails.thumbnail(tmp_path / "x.jpg", size=2)


def test_mosaic_puts_thumbnails_in_slots(tmp_path):
    paths = [_save(tmp_path / "a.png", (100, 50)), _save(tmp_path / "b.png", (50, 100), colour=(0, 0, 0))]
    image, boxes = thumbnails.mosaic(paths, size=40, gap=4)
    assert image.shape == (40, 84, 3)
    assert boxes == [(0, 10, 40, 20), (54, 0, 20, 40)]
    assert (image[0, :40] == 255).all()  # white above the wide picture
    assert (image[:, 54:74] == 0).all()  # the black tall picture, centred in the second slot


def test_prefetch_fills_the_cache_with_threads(tmp_path):
    paths = [_save(tmp_path / f"{i}.png", (60, 60)) for i in range(5)]
    thumbnails.prefetch(paths + paths, size=24, workers=3)
    assert thumbnails._cached.cache_info().currsize == 5
