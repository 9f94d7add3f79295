"""Hashes are imagehash's bits; hex and packed codes round-trip; popcount is right."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from dedupkit import codes_to_hex, hamming, hash_file, hash_hex, hex_to_codes, load_image
from dedupkit.hashing import METHODS, check_method, hash_bits

IMAGEHASH = {
    "dhash": imagehash.dhash,
    "dhash_vertical": imagehash.dhash_vertical,
    "phash": imagehash.phash,
    "ahash": imagehash.average_hash,
    "whash": imagehash.whash,
}


@pytest.mark.parametrize("hash_size", [8, 16], ids=["64bit", "256bit"])
@pytest.mark.parametrize("method", METHODS)
def test_bits_equal_imagehash_on_every_sample_image(sample_dir, method, hash_size):
    paths = sorted(p for p in sample_dir.iterdir() if p.suffix in {".jpg", ".png", ".webp"})
    assert len(paths) >= 40
    for path in paths:
        image = load_image(path)
        expected = IMAGEHASH[method](image, hash_size=hash_size)
        assert hash_hex(image, method=method, hash_size=hash_size) == str(expected), path.name
        assert np.array_equal(hash_bits(image, method=method, hash_size=hash_size), expected.hash.ravel())


@pytest.mark.parametrize("method", METHODS)
def test_exact_file_hash_equals_imagehash_on_full_decode(originals, method):
    for path in originals[:6]:
        expected = str(IMAGEHASH[method](Image.open(path), hash_size=8))
        assert hash_file(path, method=method, exact=True)["hash"] == expected


def test_fast_decode_stays_close_to_exact(originals):
    distances = []
    for path in originals:
        fast = hex_to_codes([hash_file(path)["hash"]])
        exact = hex_to_codes([hash_file(path, exact=True)["hash"]])
        distances.append(int(hamming(fast, exact)[0]))
    # a guard only; benchmarks/bench_hash.py measures the quality of the fast path
    assert max(distances) <= 8
    assert np.mean(distances) <= 1.0


def test_hex_round_trip_and_bit_order():
    bits = np.zeros(64, bool)
    bits[0] = True  # the first bit is the most significant hex digit
    image_hash = imagehash.ImageHash(bits.reshape(8, 8))
    assert str(image_hash) == "8000000000000000"
    codes = hex_to_codes([str(image_hash), "00000000000000ff"])
    assert codes.shape == (2, 8) and codes.dtype == np.uint8
    assert codes[0, 0] == 0x80 and codes[1, 7] == 0xFF
    assert codes_to_hex(codes) == ["8000000000000000", "00000000000000ff"]


def test_hamming_matches_python_popcount():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(50, 8), dtype=np.uint8)
    b = rng.integers(0, 256, size=(50, 8), dtype=np.uint8)
    expected = [bin(int.from_bytes(x.tobytes(), "big") ^ int.from_bytes(y.tobytes(), "big")).count("1")
                for x, y in zip(a, b)]
    assert hamming(a, b).tolist() == expected


def test_resized_copy_stays_close_and_other_photo_does_not(originals):
    image = load_image(originals[0])
    other = load_image(originals[1])
    small = image.resize((image.width // 3, image.height // 3))
    h = hex_to_codes([hash_hex(image), hash_hex(small), hash_hex(other)])
    assert hamming(h[0], h[1]) <= 4
    assert hamming(h[0], h[2]) > 10


@pytest.mark.parametrize(
    "method, hash_size, error",
    [("md5", 8, ValueError), (3, 8, TypeError), ("dhash", 6, ValueError), ("dhash", 2, ValueError),
     ("whash", 12, ValueError), ("dhash", 8.0, TypeError)],
    ids=["unknown-method", "method-not-str", "size-not-bytes", "size-too-small", "whash-not-pow2", "size-float"],
)
def test_bad_method_or_size_is_a_clear_error(method, hash_size, error):
    with pytest.raises(error):
        check_method(method, hash_size)


def test_bad_hex_is_a_clear_error():
    with pytest.raises(ValueError, match="same length"):
        hex_to_codes(["00ff", "00ff00ff"])
    with pytest.raises(ValueError, match="not a hex hash"):
        hex_to_codes(["zz00000000000000"])
    with pytest.raises(ValueError, match="hex strings"):
        hex_to_codes([None])


def test_tiny_and_flat_images_hash():
    assert hash_hex(Image.new("RGB", (1, 1), "red")) == "0000000000000000"
    assert len(hash_hex(Image.new("L", (3, 2)), hash_size=16)) == 64
