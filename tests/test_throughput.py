"""The fast hashing path: what it decodes, and how close it stays to imagehash on the full decode.

Speed is measured by ``benchmarks/bench_hash.py``, not here; these tests pin
the quality and the exactness of ``exact=True``.
"""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageOps

from dedupkit import find_pairs, hamming, hash_file, hash_images, hex_to_codes
from dedupkit.fastpath import fast_draft_size, lanczos_shrink, prepare, working_size
from dedupkit.loading import decode_image

FUNCTIONS = {"dhash": imagehash.dhash, "dhash_vertical": imagehash.dhash_vertical, "phash": imagehash.phash,
             "ahash": imagehash.average_hash, "whash": imagehash.whash}


def _photo_like(width, height, seed):
    """A smooth colour field with shapes and noise (as in benchmarks/bench_hash.py, smaller)."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(grid, "RGB").resize((width, height), Image.Resampling.BICUBIC), float)
    for _ in range(6):
        x, y = int(rng.integers(0, width - width // 4)), int(rng.integers(0, height - height // 4))
        image[y : y + height // 5, x : x + width // 5] = rng.integers(0, 256, 3)
    image += rng.normal(0, 6, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def full_hd(tmp_path_factory):
    """Three 1920x1080 photo-like JPEGs."""
    root = tmp_path_factory.mktemp("fullhd")
    paths = []
    for seed in range(3):
        path = root / f"photo_{seed}.jpg"
        _photo_like(1920, 1080, seed).save(path, quality=90)
        paths.append(path)
    return paths


def _reference(path, method, hash_size):
    """imagehash on the full decode, upright, as a viewer shows it."""
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        return str(FUNCTIONS[method](upright, hash_size=hash_size))


@pytest.mark.parametrize("method", list(FUNCTIONS))
@pytest.mark.parametrize("hash_size", [8, 16])
def test_exact_is_bit_identical_to_imagehash_on_the_full_decode(sample_dir, full_hd, method, hash_size):
    files = [sample_dir / name for name in ("coffee.jpg", "grace_hopper__exif_rotated.jpg", "camera.jpg",
                                            "blossom__webp.webp", "tulips__png.png")] + full_hd[:1]
    for path in files:
        assert hash_file(path, method=method, hash_size=hash_size, exact=True)["hash"] == _reference(
            path, method, hash_size), path.name


def test_jpegs_are_decoded_small_and_in_greyscale(full_hd, sample_dir):
    assert fast_draft_size(8) == 96 and fast_draft_size(16) == 192
    decoded = decode_image(full_hd[0], draft_size=fast_draft_size(8))
    assert decoded.image.size == (240, 135) and decoded.image.mode == "L"  # 1/8 scale
    assert (decoded.width, decoded.height) == (1920, 1080)  # the table keeps the real size
    small = decode_image(sample_dir / "coffee.jpg", draft_size=fast_draft_size(8))  # 600x400
    assert small.image.size == (150, 100)  # 1/4: at least 96 pixels kept


def test_multi_picture_jpegs_are_drafted_too(full_hd, tmp_path):
    image = Image.open(full_hd[0])
    mpo = tmp_path / "camera.jpg"
    image.save(mpo, format="MPO", save_all=True, append_images=[image.resize((320, 180))])
    decoded = decode_image(mpo, draft_size=fast_draft_size(8))
    assert decoded.format == "MPO" and decoded.image.size == (240, 135)
    exact = hash_file(mpo, exact=True)["hash"]
    assert exact == _reference(mpo, "dhash", 8)
    assert hamming(hex_to_codes([hash_file(mpo)["hash"]]), hex_to_codes([exact]))[0] <= 2


def test_shrinking_matches_pillows_lanczos(sample_dir):
    for path in sorted(sample_dir.glob("*.jpg"))[:12]:
        image = decode_image(path, draft_size=96).image.convert("L")
        for size in ((9, 8), (8, 9), (8, 8), (32, 32), (128, 128)):
            if size[0] > image.width or size[1] > image.height:
                continue
            ours = np.asarray(lanczos_shrink(image, size), dtype=int)
            pillow = np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=int)
            assert np.abs(ours - pillow).max() <= 1, (path.name, size)
            assert (ours != pillow).mean() < 0.05


def test_working_sizes():
    assert working_size("dhash", 8, (240, 135)) == (9, 8)
    assert working_size("dhash_vertical", 8, (240, 135)) == (8, 9)
    assert working_size("phash", 8, (240, 135)) == (32, 32)
    assert working_size("ahash", 16, (240, 135)) == (16, 16)
    # whash: 16 pixels per cell, or less for a small image (as imagehash would)
    assert working_size("whash", 8, (240, 135), scale=8) == (128, 128)
    assert working_size("whash", 16, (500, 375), scale=8) == (256, 256)
    assert working_size("whash", 8, (100, 70)) == (64, 64)
    image = Image.new("L", (240, 135))
    assert prepare(image, "whash", 8, scale=8).size == (128, 128)
    assert prepare(image, "dhash", 8, square_only=True) is image  # dihedral turns need the whole image
    assert prepare(image, "ahash", 8, square_only=True).size == (8, 8)


@pytest.mark.parametrize("method", list(FUNCTIONS))
def test_fast_hashes_stay_within_a_few_bits_on_the_sample(sample_dir, method):
    fast = hash_images(sample_dir, method=method, workers=1)
    exact = hash_images(sample_dir, method=method, workers=1, exact=True)
    ok = fast["hash"].notna()
    bits = hamming(hex_to_codes(fast["hash"][ok]), hex_to_codes(exact["hash"][ok]))
    # measured: mean 0.32 (aHash) to 0.85 (vertical dHash), max 2 to 7 (brick.jpg, a flat texture): the fast
    # hash keeps the shrunk pixels in floating point, imagehash rounds them (see test_identical_pixels.py)
    assert bits.mean() <= 1.0 and bits.max() <= 8, (bits.mean(), bits.max())
    if method in ("dhash", "phash", "whash"):
        def key(pairs):
            return set(zip(pairs.iloc[:, 0], pairs.iloc[:, 1]))

        # the same pairs at the default threshold
        assert key(find_pairs(fast)) == key(find_pairs(exact))


def test_fast_hashes_of_large_photos_are_nearly_exact(full_hd):
    for method in FUNCTIONS:
        bits = [int(hamming(hex_to_codes([hash_file(p, method=method)["hash"]]),
                            hex_to_codes([hash_file(p, method=method, exact=True)["hash"]]))[0])
                for p in full_hd]
        assert np.mean(bits) <= 1.0 and max(bits) <= 2, (method, bits)


def test_256_bit_fast_hashes_stay_close(sample_dir):
    for method in ("dhash", "whash"):
        fast = hash_images(sample_dir, method=method, hash_size=16, workers=1)
        exact = hash_images(sample_dir, method=method, hash_size=16, workers=1, exact=True)
        ok = fast["hash"].notna()
        bits = hamming(hex_to_codes(fast["hash"][ok]), hex_to_codes(exact["hash"][ok]))
        assert bits.mean() <= 3.0 and bits.max() <= 12, (method, bits.mean(), bits.max())  # measured 2.71, 9


def test_dihedral_and_trim_still_work_on_the_fast_path(sample_dir):
    path = sample_dir / "coffee.jpg"
    for method in FUNCTIONS:
        row = hash_file(path, method=method, dihedral=True)
        assert row["hash_dihedral"][: len(row["hash"])] == row["hash"], method
        assert hash_file(path, method=method, trim=True)["hash"]


def _float_shrink(image, size):
    """Pillow's LANCZOS in floating point, one pass at a time, clipped between the passes as Pillow's 8-bit one."""
    across = np.asarray(image.convert("F").resize((size[0], image.height), Image.Resampling.LANCZOS))
    across = Image.fromarray(np.clip(across, 0, 255).astype(np.float32), "F")
    return np.clip(np.asarray(across.resize(size, Image.Resampling.LANCZOS), dtype=np.float64), 0, 255)


def _phash_bits(pixels):
    from scipy.fftpack import dct

    low = dct(dct(pixels, axis=0), axis=1)[:8, :8]
    return low > np.median(low)


FLOAT_FORMULAS = {  # imagehash's formulas on unrounded pixels; dHash: brighter by more than half a level
    "dhash": lambda px: px[:, 1:] - px[:, :-1] > 0.5,
    "dhash_vertical": lambda px: px[1:, :] - px[:-1, :] > 0.5,
    "ahash": lambda px: px > px.mean(),
    "phash": _phash_bits,
}


@pytest.mark.parametrize("method", list(FUNCTIONS))
def test_fast_hash_is_imagehash_on_the_shrunk_image(sample_dir, method):
    from dedupkit.fastpath import fast_hash_hex

    for path in sorted(sample_dir.glob("*.jpg"))[:8]:
        decoded = decode_image(path, draft_size=fast_draft_size(8))
        scale = decoded.width / decoded.image.width
        small = prepare(decoded.image, method, 8, scale=scale)
        assert small.size == working_size(method, 8, decoded.image.size, scale)
        if method in FLOAT_FORMULAS:  # the formula on the shrunk pixels kept in floating point
            bits = FLOAT_FORMULAS[method](_float_shrink(decoded.image.convert("L"), small.size))
            expected = np.packbits(bits, axis=None).tobytes().hex()
        else:
            expected = str(FUNCTIONS[method](small, hash_size=8))
        assert fast_hash_hex(decoded.image, method, 8, scale=scale) == expected
        assert hash_file(path, method=method)["hash"] == expected


def test_the_compiled_box_weights_are_numpys():
    """dedupkit/_lanczos.c against the numpy reference: whole and fractional boxes, shrinking and enlarging."""
    from dedupkit import fastpath

    assert fastpath._lanczos is not None, "the C weights (dedupkit/_lanczos.c) were not built: run make install"
    rng = np.random.default_rng(0)
    cases = [(320, 9, 0.0, 320.0), (180, 8, 2.25, 171.5), (96, 32, 0.0, 96.0), (20, 33, 0.5, 19.75), (1, 1, 0.0, 1.0)]
    for _ in range(300):
        n_in, n_out = int(rng.integers(1, 600)), int(rng.integers(1, 40))
        low = float(rng.uniform(0, n_in / 3))
        cases.append((n_in, n_out, low, float(rng.uniform(low + 0.01, n_in))))
    for case in cases:
        compiled, reference = fastpath._box_weights.__wrapped__(*case), fastpath._box_weights_numpy(*case)
        assert compiled.shape == reference.shape == (case[1], case[0])
        np.testing.assert_allclose(compiled, reference, rtol=0, atol=1e-12, err_msg=str(case))
        np.testing.assert_allclose(compiled.sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="low < high"):
        fastpath._lanczos.box_weights(10, 3, 5.0, 5.0)
