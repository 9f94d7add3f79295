"""The fast hashing path: decode no more than the hash needs, and shrink cheaply.

imagehash shrinks the decoded image to a few pixels (9x8 for a 64-bit dHash)
with Pillow's LANCZOS filter. dedupkit's default (``exact=False``) path gets
there with less work and nearly the same pixels:

* JPEGs are decoded in greyscale at 1/2 to 1/8 scale by libjpeg's DCT scaling
  (:func:`dedupkit.loading.decode_image` with ``draft_size``), keeping at least
  :func:`fast_draft_size` pixels (12 per hash cell) on the short side: any
  photo of 768 pixels or more is decoded at 1/8, libjpeg's fastest.
* The small decoded image is shrunk to imagehash's working size by the same
  LANCZOS filter as Pillow's (same taps and weights, same clipping and
  rounding between the two passes), as two small matrix products: a third to
  a half of Pillow's cost on such images. Results differ from Pillow's by at
  most one grey level, rarely. imagehash then hashes that image unchanged.
* ``whash`` works on a square of ``min(16 * hash_size, p)`` pixels, where ``p``
  is the largest power of two within the full-size image's short side, where
  imagehash uses ``p`` itself (1024 for a 1080p photo, 2048 for 12 MP): the
  wavelet's 8x8 low band hardly changes, and the work no longer grows with the
  image.

``benchmarks/bench_hash.py`` measures the speed and the distance to the exact
hash (``exact=True``: imagehash on the full decode) of every method.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

__all__ = ["fast_draft_size", "fast_hash_hex", "prepare"]

DRAFT_PER_CELL = 12  # decoded pixels per hash cell, at least
WHASH_PER_CELL = 16  # side of whash's working square, per hash cell
_MATRIX_MAX_PIXELS = 600_000  # larger images (not drafted) are left to Pillow's own resize


def fast_draft_size(hash_size: int) -> int:
    """The smallest side a JPEG is decoded to on the fast path: 12 pixels per hash cell.

    96 pixels for 64-bit hashes, so any photo whose short side is at least 768
    pixels is decoded at 1/8 scale, libjpeg's fastest. Smaller drafts barely
    decode faster but hash further from the full decode; larger ones cost more
    for small photos and gain little (measured in ``benchmarks/bench_hash.py``).
    """
    return DRAFT_PER_CELL * int(hash_size)


def working_size(method: str, hash_size: int, image_size: tuple[int, int], scale: float = 1.0) -> tuple[int, int]:
    """The (width, height) imagehash shrinks to for ``method`` (whash: the fast path's square)."""
    hs = int(hash_size)
    if method == "dhash":
        return hs + 1, hs
    if method == "dhash_vertical":
        return hs, hs + 1
    if method == "phash":
        return 4 * hs, 4 * hs  # imagehash's highfreq_factor
    if method == "whash":
        natural = 1 << max(int(min(image_size) * scale).bit_length() - 1, 0)
        side = max(min(natural, WHASH_PER_CELL * hs), hs)
        return side, side
    return hs, hs  # ahash


def prepare(image: Image.Image, method: str, hash_size: int, *, scale: float = 1.0,
            square_only: bool = False) -> Image.Image:
    """Shrink a decoded image to the size imagehash would shrink it to, as imagehash would.

    Parameters
    ----------
    image
        The decoded (possibly drafted) image.
    method, hash_size
        The hash to be computed from the result.
    scale
        Full-resolution size / decoded size (for whash's working square).
    square_only
        Only shrink when the working size is square (a rectangle would not
        survive the turns of :func:`dedupkit.dihedral.dihedral_hex`); a
        non-square method then gets ``image`` back (whash always gets its square).

    Returns
    -------
    PIL.Image.Image
        An ``L`` image of the working size, or ``image`` itself when it is
        left to imagehash (large non-JPEG images, or ``square_only``).
    """
    width, height = working_size(method, hash_size, image.size, scale)
    if square_only and width != height:
        return image
    if image.size == (width, height) and image.mode == "L":
        return image
    if not _shrinkable(image, (width, height)):
        if method == "whash":  # Pillow does it; imagehash's own resize is then a no-op
            return image.convert("L").resize((width, height), Image.Resampling.LANCZOS)
        return image
    grey = image if image.mode == "L" else image.convert("L")
    return lanczos_shrink(grey, (width, height))


def fast_hash_hex(image: Image.Image, method: str, hash_size: int, *, scale: float = 1.0,
                  square_only: bool = False) -> str:
    """The fast path's hash of a decoded image, as imagehash's hex string.

    :func:`prepare`, then imagehash (through :func:`dedupkit.hash_hex`); for
    ``dhash``, ``dhash_vertical`` and ``ahash`` the bits are taken straight
    from the shrunk pixels by imagehash's own formulas, which saves building
    two more images per file.
    """
    from .hashing import hash_hex  # noqa: PLC0415 - hashing imports nothing from here, but keep it lazy

    size = working_size(method, hash_size, image.size, scale)
    if method in _DIRECT and image.mode in ("L", "RGB") and _shrinkable(image, size):
        grey = image if image.mode == "L" else image.convert("L")
        return _DIRECT[method](_shrink_array(grey, size))
    return hash_hex(prepare(image, method, hash_size, scale=scale, square_only=square_only),
                    method=method, hash_size=hash_size)


def _shrinkable(image: Image.Image, size: tuple[int, int]) -> bool:
    return image.width * image.height <= _MATRIX_MAX_PIXELS and image.width >= size[0] and image.height >= size[1]


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits, axis=None).tobytes().hex()


_DIRECT = {  # imagehash's formulas on the shrunk uint8 pixels
    "dhash": lambda px: _hex(px[:, 1:] > px[:, :-1]),
    "dhash_vertical": lambda px: _hex(px[1:, :] > px[:-1, :]),
    "ahash": lambda px: _hex(px > px.mean()),
}


def lanczos_shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Pillow's ``resize(size, LANCZOS)`` of an ``L`` image, by matrix products (downscaling only)."""
    return Image.fromarray(_shrink_array(image, size), "L")


def _shrink_array(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    pixels = np.asarray(image, dtype=np.float32)
    # einsum, not matmul: BLAS would start threads, which costs far more than
    # these tiny products whenever the other cores are busy
    across = np.einsum("yx,ox->yo", pixels, _weights(image.width, width))  # horizontal first, as Pillow
    across = np.clip(np.floor(across + 0.5), 0, 255)  # Pillow keeps 8 bits between the passes
    down = np.einsum("oy,yx->ox", _weights(image.height, height), across)
    return np.clip(np.floor(down + 0.5), 0, 255).astype(np.uint8)


@lru_cache(maxsize=512)
def _weights(n_in: int, n_out: int) -> np.ndarray:
    """Pillow's LANCZOS (a = 3) resampling weights from ``n_in`` to ``n_out`` samples."""
    scale = n_in / n_out
    filter_scale = max(scale, 1.0)
    support = 3.0 * filter_scale
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        center = (i + 0.5) * scale
        low = max(int(center - support + 0.5), 0)
        high = min(int(center + support + 0.5), n_in)
        x = (np.arange(low, high) - center + 0.5) / filter_scale
        taps = np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)
        weights[i, low:high] = taps / taps.sum()
    weights = weights.astype(np.float32)
    weights.setflags(write=False)  # shared through the cache
    return weights
