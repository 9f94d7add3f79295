"""The same pixels hash the same whatever the file format; trimming decides on the picture, not on decoder noise.

A JPEG and lossless re-saves of its full decode (PNG, WebP lossless, BMP,
TIFF) hold the same pixels. ``exact=True`` decodes them all in full: the same
hash, always. The fast path decodes the JPEG at 1/2 to 1/8 scale by libjpeg's
DCT scaling and brings every other file to the same grey image by box means
(:func:`dedupkit.fastpath.reduce_like_jpeg`): the two agree to a grey level,
and the hashes are kept in floating point so that such a level rarely flips a
bit. Measured on the sample's 27 photos, 1080p and 12 MP copies of them and 270
framed copies (``benchmarks/README.md``): 96% of JPEGs hash exactly like their
PNG, none more than one bit apart without a frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from dedupkit import hamming, hash_file, hex_to_codes
from dedupkit.fastpath import draft_scale, fast_draft_size, fast_hash_hex, reduce_like_jpeg
from dedupkit.loading import decode_image, load_image
from dedupkit.trim import trim_box

LOSSLESS = {"png": {"compress_level": 1}, "webp": {"lossless": True, "quality": 0, "method": 0, "exact": True},
            "bmp": {}, "tiff": {}}


def bits(a: str, b: str) -> int:
    return int(hamming(hex_to_codes([a]), hex_to_codes([b]))[0])


def _resave(jpeg, formats=LOSSLESS):
    decoded = load_image(jpeg)  # the full decode, upright, as a viewer shows it
    copies = {}
    for fmt, options in formats.items():
        copies[fmt] = jpeg.with_suffix(f".{fmt}")
        decoded.save(copies[fmt], **options)
    return copies


@pytest.fixture(scope="module")
def resaved(tmp_path_factory, originals):
    """Every sample photo as a JPEG and its lossless copies, as it is and as a 1080p JPEG (libjpeg's 1/8 scale)."""
    root = tmp_path_factory.mktemp("identical")
    sets = []
    for path in originals:
        jpeg = root / path.name
        jpeg.write_bytes(path.read_bytes())
        sets.append((jpeg, _resave(jpeg)))
        photo = load_image(path)
        factor = 1080 / min(photo.size)
        big = root / f"{path.stem}_1080p.jpg"
        photo.resize((round(photo.width * factor), round(photo.height * factor)), Image.Resampling.LANCZOS).save(
            big, quality=90)
        sets.append((big, _resave(big, {"png": {"compress_level": 1}})))
    return sets


@pytest.mark.parametrize("trim", [False, True], ids=["no-trim", "trim"])
def test_exact_hashes_of_the_same_pixels_are_identical(resaved, trim):
    for jpeg, copies in resaved:
        expected = hash_file(jpeg, exact=True, trim=trim)["hash"]
        for fmt, copy in copies.items():
            assert hash_file(copy, exact=True, trim=trim)["hash"] == expected, (jpeg.name, fmt)


def test_lossless_copies_hash_identically_on_the_fast_path(resaved):
    for jpeg, copies in resaved:
        hashes = {fmt: hash_file(copy)["hash"] for fmt, copy in copies.items()}
        assert len(set(hashes.values())) == 1, (jpeg.name, hashes)


def test_a_jpeg_and_its_lossless_copy_on_the_fast_path(resaved):
    """Not always 0: libjpeg's scaled decode is not a function of the decoded pixels (it rounds once, per block)."""
    for method in ("dhash", "phash"):
        distances = [bits(hash_file(jpeg, method=method)["hash"], hash_file(copies["png"], method=method)["hash"])
                     for jpeg, copies in resaved]
        # measured on these 54: dHash 51 at 0 and 3 at 1 bit; pHash 53 at 0 and 1 at 2 bits
        # (before this design: dHash 42 at 0, max 2; pHash 43 at 0, max 4)
        assert max(distances) <= 2, (method, distances)
        assert np.mean(np.array(distances) == 0) >= 0.9, (method, distances)


def test_the_working_images_agree_to_a_grey_level(resaved):
    draft = fast_draft_size(8)
    for jpeg, copies in resaved:
        drafted = decode_image(jpeg, draft_size=draft).image  # libjpeg's DCT scaling, greyscale
        ours = reduce_like_jpeg(decode_image(copies["png"]).image, draft)
        assert ours.size == drafted.size and ours.mode == "L"
        difference = np.abs(np.asarray(ours, int) - np.asarray(drafted, int))
        assert (difference <= 1).mean() >= 0.97 and difference.max() <= 12, (jpeg.name, difference.max())


def test_reduce_like_jpeg_against_a_plain_reference():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (21, 30), dtype=np.uint8)  # neither side a multiple of the scale
    image = Image.fromarray(pixels, "L")
    for draft in (2, 3, 5, 11, 30):
        scale = draft_scale(image.size, draft)
        padded = np.pad(pixels, ((0, -21 % scale), (0, -30 % scale)), mode="edge").astype(float)
        h, w = padded.shape
        means = padded.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))
        expected = np.floor(means + 0.5).astype(np.uint8)
        assert np.array_equal(np.asarray(reduce_like_jpeg(image, draft)), expected), draft
    assert [draft_scale((1920, 1080), 96), draft_scale((600, 400), 96), draft_scale((300, 200), 96),
            draft_scale((150, 100), 96)] == [8, 4, 2, 1]


def _framed(photo: Image.Image, border: int, fill) -> Image.Image:
    return ImageOps.expand(photo, border=border, fill=fill)


@pytest.mark.parametrize("border, fill, thin", [(13, (255, 255, 255), False), (29, (236, 236, 230), False),
                                               (5, (0, 0, 0), True)],
                         ids=["white-13px", "off-white-29px", "black-5px"])
def test_a_borderline_frame_is_trimmed_alike_in_both_formats(tmp_path, originals, border, fill, thin):
    """Frames not a whole number of 8-pixel blocks wide: at 1/8 scale the line after the frame is a blend.

    The blend is cut to a fraction of a pixel, so whether the line counted as
    frame or picture moves the box by a small fraction. A frame thinner than
    one working pixel (5 of 8) leaves no line of frame alone to measure the
    blend against: it is cut or not by a grey level (measured: 1 photo of 27
    cut differently, by a pixel, 3 bits apart).
    """
    draft = fast_draft_size(8)
    box_gaps, distances = [], []
    for path in originals:
        photo = load_image(path).convert("RGB")
        factor = 768 / min(photo.size)  # decoded at 1/8 scale
        photo = photo.resize((round(photo.width * factor), round(photo.height * factor)), Image.Resampling.LANCZOS)
        jpeg = tmp_path / f"{path.stem}.jpg"
        _framed(photo, border, fill).save(jpeg, quality=85)
        png = _resave(jpeg, {"png": {"compress_level": 1}})["png"]
        boxes = [np.array(trim_box(image, subpixel=True)) for image in (
            decode_image(jpeg, draft_size=draft).image, reduce_like_jpeg(decode_image(png).image, draft))]
        box_gaps.append(np.abs(boxes[0] - boxes[1]).max())
        distances.append(bits(hash_file(jpeg)["hash"], hash_file(png)["hash"]))
    box_gaps, distances = np.array(box_gaps), np.array(distances)
    if thin:
        assert (box_gaps > 0.25).sum() <= 1 and box_gaps.max() <= 1.5, box_gaps.round(2)
        assert (distances > 0).sum() <= 1 and distances.max() <= 3, distances
    else:
        assert box_gaps.max() <= 0.25, box_gaps.round(2)
        assert distances.max() <= 1 and (distances == 0).mean() >= 0.9, distances


def test_a_box_cut_to_a_fraction_of_a_pixel_moves_the_hash_smoothly(originals):
    image = reduce_like_jpeg(load_image(originals[0]), 96)
    width, height = image.size
    whole = fast_hash_hex(image, "dhash", 8, box=(3, 2, width - 4, height - 1))
    assert whole == fast_hash_hex(image.crop((3, 2, width - 4, height - 1)), "dhash", 8)
    nearby = [fast_hash_hex(image, "dhash", 8, box=(3 + d, 2, width - 4 - d, height - 1)) for d in (0.05, 0.1)]
    assert all(bits(whole, h) <= 1 for h in nearby)
