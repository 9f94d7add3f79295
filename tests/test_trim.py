"""dedupkit.trim: plain frames are cut, photos without one are left alone."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from dedupkit.edits import DEFAULT_EDITS, apply_edit
from dedupkit.trim import trim_borders, trim_box

EDITS = {e.name: e for e in DEFAULT_EDITS}


def _jpeg(image: Image.Image, quality: int = 75) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert(image.mode)


@pytest.fixture(scope="module")
def small_photo(sample_dir) -> Image.Image:
    """A photo with no plain sky at its edges (a white sky next to a white frame is cut with it)."""
    return Image.open(sample_dir / "coffee.jpg").convert("RGB").resize((150, 100))


def test_untouched_photos_stay_untouched(originals):
    untouched = 0
    for path in originals:
        image = Image.open(path).convert("RGB")
        image.thumbnail((200, 200))
        left, top, right, bottom = trim_box(image)
        if (left, top, right, bottom) == (0, 0, *image.size):
            untouched += 1
        else:  # a photo whose own edge is plain may lose a sliver, never more
            assert right - left >= 0.95 * image.width and bottom - top >= 0.95 * image.height, path.name
    assert untouched >= len(originals) - 3
    image = Image.open(originals[0]).convert("RGB")
    assert trim_borders(image) is image or trim_borders(image).size[0] >= 0.95 * image.width


@pytest.mark.parametrize("name", ["border_white", "border_black", "letterbox_black", "pad_16x9_white", "caption",
                                  "screenshot", "screenshot_bar"])
def test_frames_are_cut_back_to_the_picture(small_photo, name):
    framed = _jpeg(apply_edit(small_photo, EDITS[name], seed=2, key="t").image)
    trimmed = trim_borders(framed)
    expected = {"screenshot": (90, 60), "screenshot_bar": (75, 50)}.get(name, (150, 100))
    assert abs(trimmed.width - expected[0]) <= 3 and abs(trimmed.height - expected[1]) <= 3, trimmed.size


def test_padded_copy_is_recovered_pixel_for_pixel(small_photo):
    padded = ImageOps.expand(small_photo, border=(7, 0, 3, 25), fill=(255, 255, 255))
    assert trim_box(padded) == (7, 0, 157, 100)
    assert np.array_equal(np.asarray(trim_borders(padded)), np.asarray(small_photo))


def test_greyscale_and_large_images(small_photo):
    grey = ImageOps.expand(ImageOps.grayscale(small_photo), border=12, fill=0)
    assert trim_box(grey) == (12, 12, 162, 112)
    large = ImageOps.expand(small_photo.resize((1500, 1000)), border=100, fill=(255, 255, 255))
    left, top, right, bottom = trim_box(large)  # measured on a shrunk copy, mapped back
    assert 96 <= left <= 100 and 96 <= top <= 100 and 1600 <= right <= 1604 and 1100 <= bottom <= 1104


def test_plain_images_are_left_whole():
    blank = Image.new("RGB", (50, 40), (200, 10, 10))
    assert trim_box(blank) == (0, 0, 50, 40)
    dot = blank.copy()
    dot.putpixel((25, 20), (0, 0, 0))
    assert trim_box(dot) == (0, 0, 50, 40)  # less than min_keep would remain


def test_bad_options_are_refused(small_photo):
    with pytest.raises(ValueError, match="max_outliers"):
        trim_box(small_photo, max_outliers=2)


def test_hash_images_with_trim_hashes_a_padded_copy_like_the_photo(tmp_path, small_photo):
    from dedupkit import find_pairs, hash_images, hash_settings

    small_photo.save(tmp_path / "photo.png")
    ImageOps.expand(small_photo, border=(0, 40), fill=(0, 0, 0)).save(tmp_path / "letterboxed.png")
    plain = hash_images(tmp_path, workers=1, trim=False)
    trimmed = hash_images(tmp_path, workers=1)  # trimming is on by default
    assert hash_settings(trimmed)["trim"] is True and hash_settings(plain)["trim"] is False
    assert hash_settings(hash_images(tmp_path, workers=1, exact=True))["trim"] is False
    assert find_pairs(plain, max_distance=10).empty
    assert find_pairs(trimmed, max_distance=0)["distance"].tolist() == [0]


@pytest.fixture(scope="module")
def grey_pictures(sample_dir) -> list[Image.Image]:
    """Grey pictures as the fast hashing path trims them: the sample's photos and framed, padded, captioned copies."""
    from dedupkit.fastpath import fast_draft_size, reduce_like_jpeg

    pictures = []
    for path in sorted(sample_dir.glob("*.jpg")):
        photo = Image.open(path).convert("RGB")
        pictures.append(reduce_like_jpeg(photo, fast_draft_size(8)))
        for name in ("border_white", "border_black", "letterbox_black", "pad_16x9_white", "caption", "screenshot",
                     "screenshot_bar"):
            framed = _jpeg(apply_edit(photo, EDITS[name], seed=len(pictures), key=path.stem).image)
            pictures.append(reduce_like_jpeg(framed, fast_draft_size(8)))
            pictures.append(ImageOps.grayscale(framed))  # full size: measured on the 512-pixel copy
    return pictures


@pytest.mark.parametrize("options", [{}, {"tolerance": 12, "max_outliers": 0.05, "max_band": 0.4},
                                     {"tolerance": 40, "max_outliers": 0.0, "max_band": 0.1}],
                         ids=["default", "tight", "loose"])
def test_the_compiled_walk_gives_the_numpy_walks_boxes(monkeypatch, grey_pictures, options):
    import dedupkit.trim as trim

    assert trim._trimwalk is not None, "the C walk (dedupkit/_trimwalk.c) was not built: run make install"
    compiled = trim._trimwalk
    cut = 0
    for picture in grey_pictures:
        for subpixel in (False, True):
            for image in (picture, np.asarray(picture)):  # an image, or its pixels: the same box
                monkeypatch.setattr(trim, "_trimwalk", None)  # numpy's walk
                expected = trim_box(image, subpixel=subpixel, **options)
                monkeypatch.setattr(trim, "_trimwalk", compiled)
                assert trim_box(image, subpixel=subpixel, **options) == expected, (picture.size, subpixel)
            cut += expected != (0, 0, *picture.size)
    assert cut >= len(grey_pictures) // 2  # frames were found, so the walks' rules were exercised


def test_the_compiled_walk_refuses_what_is_not_a_grey_image():
    from dedupkit import _trimwalk

    with pytest.raises(ValueError, match="grey image"):
        _trimwalk.grey_turns(np.zeros((4, 4, 3), np.uint8), 24, 0.02, 0.25, 0.3, 0.6)
    with pytest.raises(ValueError, match="grey image"):
        _trimwalk.grey_turns(np.zeros((4, 4), np.float64), 24, 0.02, 0.25, 0.3, 0.6)
    with pytest.raises(ValueError, match="not inside"):
        _trimwalk.grey_edges(np.zeros((4, 4), np.uint8), 0, 5, 0, 4)


def test_pixels_given_as_an_array_must_be_what_np_asarray_gives():
    photo = ImageOps.expand(Image.effect_noise((60, 40), 64), border=10, fill=255)
    assert trim_box(np.asarray(photo)) == trim_box(photo) == (10, 10, 70, 50)
    assert trim_box(np.asarray(photo.convert("RGB"))) == (10, 10, 70, 50)
    with pytest.raises(ValueError, match="uint8, rows x columns"):
        trim_box(np.asarray(photo) / 255.0)
    with pytest.raises(ValueError, match="uint8, rows x columns"):
        trim_box(np.asarray(photo.convert("RGBA")))
