"""The fast hashing path: decode no more than the hash needs, and shrink cheaply.

imagehash shrinks the decoded image to a few pixels (9x8 for a 64-bit dHash)
with Pillow's LANCZOS filter. dedupkit's default (``exact=False``) path gets
there with less work and nearly the same pixels:

* JPEGs are decoded in greyscale at 1/2 to 1/8 scale by libjpeg's DCT scaling
  (:func:`dedupkit.loading.decode_image` with ``draft_size``), keeping at least
  :func:`fast_draft_size` pixels (12 per hash cell) on the short side: any
  photo of 768 pixels or more is decoded at 1/8, libjpeg's fastest.
* Every other image (PNG, WebP, TIFF, a JPEG libjpeg could not scale, ...) is
  brought to the same grey image by :func:`reduce_like_jpeg`: grey (Pillow's
  ``L``, the JPEG's own luma to within a level), then the mean of each
  ``scale x scale`` box, which is what libjpeg's scaled IDCT computes (its
  reduced IDCTs are exact box means of the full IDCT; a partial box at the
  right or bottom edge is filled by repeating the last pixels, as a JPEG
  encoder pads its blocks). So the same pixels give the same working image
  whatever their format, to within a grey level, and trimming
  (:mod:`dedupkit.trim`) and the hash see the same picture.
* The working image is shrunk to imagehash's working size by the same
  LANCZOS filter as Pillow's (same taps and weights, same clipping between
  the two passes), as two small matrix products, a third to a half of
  Pillow's cost on such images, and kept in floating point: ``dhash``,
  ``dhash_vertical``, ``ahash`` and ``phash`` take imagehash's formulas on
  those values (dHash: a cell brighter than its neighbour by more than half a
  grey level), so that a grey level of decoder noise seldom flips a bit, as
  rounding to whole levels would (:func:`fast_hash_hex`). A box cut to a
  fraction of a pixel (a trimmed frame, :func:`dedupkit.trim.trim_box`) is
  hashed with its edge pixels weighted by how much of them is inside.
* ``whash`` works on a square of ``min(16 * hash_size, p)`` pixels, where ``p``
  is the largest power of two within the full-size image's short side, where
  imagehash uses ``p`` itself (1024 for a 1080p photo, 2048 for 12 MP): the
  wavelet's 8x8 low band hardly changes, and the work no longer grows with the
  image.

``benchmarks/bench_hash.py`` measures the speed and the distance to the exact
hash (``exact=True``: imagehash on the full decode) of every method;
``tests/test_identical_pixels.py`` pins what the same pixels in two formats
give.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

try:
    from . import _lanczos  # compiled box weights (setup.py); None: numpy's
except ImportError:  # pragma: no cover - an install without a C compiler
    _lanczos = None

__all__ = ["draft_scale", "fast_draft_size", "fast_hash_hex", "prepare", "reduce_like_jpeg"]

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


def draft_scale(size: tuple[int, int], draft_size: int) -> int:
    """The DCT scale (1, 2, 4 or 8) Pillow's ``draft`` picks for a JPEG of ``size`` and ``draft_size``.

    The largest of 8, 4, 2 and 1 that keeps both sides at least ``draft_size``
    pixels (:meth:`PIL.JpegImagePlugin.JpegImageFile.draft`).
    """
    most = min(size[0] // draft_size, size[1] // draft_size)
    return next(scale for scale in (8, 4, 2, 1) if most >= scale or scale == 1)


def reduce_like_jpeg(image: Image.Image, draft_size: int) -> Image.Image:
    """The grey image libjpeg's DCT scaling would decode from a JPEG of these pixels.

    Parameters
    ----------
    image
        A fully decoded image (``RGB`` or ``L``), as displayed.
    draft_size
        The smallest side to keep (:func:`fast_draft_size`).

    Returns
    -------
    PIL.Image.Image
        An ``L`` image of ``ceil(width / scale) x ceil(height / scale)``
        pixels, ``scale`` from :func:`draft_scale`: each pixel the rounded mean
        of a ``scale x scale`` box, boxes cut short by the right or bottom edge
        filled by repeating the last column or row (a JPEG encoder pads its
        8x8 blocks so). ``image`` itself converted to ``L`` when ``scale`` is 1.

    Examples
    --------
    >>> from PIL import Image
    >>> reduce_like_jpeg(Image.new("RGB", (1920, 1080)), 96).size
    (240, 135)
    """
    grey = image if image.mode == "L" else image.convert("L")
    scale = draft_scale(grey.size, draft_size)
    if scale == 1:
        return grey
    reduced = grey.reduce(scale)
    width, height = grey.size
    right, bottom = width % scale, height % scale
    if not right and not bottom:
        return reduced
    pixels = np.array(reduced)
    if right:  # the last column of boxes, from the last ``right`` columns padded to a whole box
        pixels[:, -1] = _padded_box_means(np.asarray(grey.crop((width - right, 0, width, height))), scale)[:, 0]
    if bottom:
        pixels[-1, :] = _padded_box_means(np.asarray(grey.crop((0, height - bottom, width, height))), scale)[0, :]
    return Image.fromarray(pixels, "L")


def _padded_box_means(strip: np.ndarray, scale: int) -> np.ndarray:
    """Rounded means of ``scale x scale`` boxes of ``strip``, padded by repeating its last row and column."""
    rows, cols = -(-strip.shape[0] // scale) * scale, -(-strip.shape[1] // scale) * scale
    padded = np.pad(strip, ((0, rows - strip.shape[0]), (0, cols - strip.shape[1])), mode="edge")
    sums = padded.reshape(rows // scale, scale, cols // scale, scale).sum(axis=(1, 3), dtype=np.int64)
    return ((2 * sums + scale * scale) // (2 * scale * scale)).astype(np.uint8)  # half up, as Pillow rounds


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
                  box: tuple[float, float, float, float] | None = None, pixels: np.ndarray | None = None) -> str:
    """The fast path's hash of a decoded image, as imagehash's hex string.

    For ``dhash``, ``dhash_vertical``, ``ahash`` and ``phash`` the bits come
    from imagehash's formulas on the shrunk image kept in floating point (the
    same LANCZOS filter, without rounding to whole grey levels between and
    after the two passes), and dHash calls a cell brighter than its neighbour
    only when it is so by more than half a grey level. Rounding turns the
    grey level of decoder noise (a JPEG decoded at 1/8 scale against a PNG of
    its full decode) into flipped bits; in floating point the same pixels give
    the same bits in 96% of photos instead of 83% (never more than one bit
    apart, against up to 4), at about 0.2 bits more from imagehash's own
    rounded bits (``exact=True``). ``whash`` is :func:`prepare` then
    imagehash.

    Parameters
    ----------
    image
        The working image (:func:`reduce_like_jpeg`, or libjpeg's scaled decode).
    method, hash_size
        The hash.
    scale
        Full-resolution size / ``image`` size (for whash's working square).
    box
        ``(left, top, right, bottom)``, possibly fractional: hash only this
        part, a partly covered edge pixel weighted by how much of it is inside
        (:func:`dedupkit.trim.trim_box` with ``subpixel=True``), so that the
        hash moves smoothly with the box.
    pixels
        ``np.asarray(image)`` of an ``L`` image, if already made (the trim
        measures it too).
    """
    full = (0.0, 0.0, float(image.width), float(image.height))
    box = full if box is None else tuple(map(float, box))
    inside = (max(1, round(box[2] - box[0])), max(1, round(box[3] - box[1])))
    size = working_size(method, hash_size, inside, scale)
    if method in _DIRECT and image.mode in ("L", "RGB") and _shrinkable(image, size, box):
        if pixels is None or image.mode != "L":
            pixels = np.asarray(image if image.mode == "L" else image.convert("L"))
        return _hex(_DIRECT[method](_shrink_float(pixels, size, box), int(hash_size)))
    from .hashing import hash_hex  # noqa: PLC0415 - hashing imports nothing from here, but keep it lazy

    if box != full:
        image = image.crop(tuple(int(round(v)) for v in box))
    return hash_hex(prepare(image, method, hash_size, scale=scale), method=method, hash_size=hash_size)


def _shrinkable(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None = None
) -> bool:
    width, height = (image.width, image.height) if box is None else (box[2] - box[0], box[3] - box[1])
    return image.width * image.height <= _MATRIX_MAX_PIXELS and width >= size[0] and height >= size[1]


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits, axis=None).tobytes().hex()


def _phash_bits(pixels: np.ndarray, hash_size: int) -> np.ndarray:
    from scipy.fftpack import dct  # noqa: PLC0415 - as imagehash.phash

    low = dct(dct(pixels, axis=0), axis=1)[:hash_size, :hash_size]
    return low > np.median(low)


_DHASH_MARGIN = 0.5  # grey levels: a cell is brighter than its neighbour by more than this (rounding's middle)

_DIRECT = {  # imagehash's formulas on the shrunk pixels, kept in floating point
    "dhash": lambda px, hs: px[:, 1:] - px[:, :-1] > _DHASH_MARGIN,
    "dhash_vertical": lambda px, hs: px[1:, :] - px[:-1, :] > _DHASH_MARGIN,
    "ahash": lambda px, hs: px > px.mean(),
    "phash": _phash_bits,
}


def _shrink_float(pixels: np.ndarray, size: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """Pillow's two-pass LANCZOS shrink of a grey image's pixels (or of ``box`` of them), without rounding."""
    width, height = size
    left, top, right, bottom = box
    # the large first pass in single precision (a ten-thousandth of a grey level), by einsum: a scan measured slower
    # with BLAS (OpenBLAS starts threads on the larger drafts); the small second in double, by BLAS: single-threaded
    # for dHash (8 x 180 by 180 x 9: 1.8 against einsum's 9.7 us), and less CPU than einsum even where it threads
    across = np.einsum("yx,ox->yo", pixels.astype(np.float32), _box_weights32(pixels.shape[1], width, left, right))
    across = np.minimum(np.maximum(across, 0.0, dtype=np.float64), 255.0)  # Pillow clips between the passes
    down = _box_weights(pixels.shape[0], height, top, bottom) @ across
    return np.minimum(np.maximum(down, 0.0), 255.0)  # np.clip's checks cost more than these two ufuncs


@lru_cache(maxsize=1024)
def _box_weights32(n_in: int, n_out: int, low: float, high: float) -> np.ndarray:
    """:func:`_box_weights` in single precision, for the first pass."""
    weights = _box_weights(n_in, n_out, low, high).astype(np.float32)
    weights.setflags(write=False)  # shared through the cache
    return weights


@lru_cache(maxsize=1024)
def _box_weights(n_in: int, n_out: int, low: float, high: float) -> np.ndarray:
    """LANCZOS (a = 3) weights from the part ``[low, high]`` of ``n_in`` samples to ``n_out`` (rows of ``n_in``).

    For a whole-pixel part these are Pillow's weights for the cropped image; a
    pixel partly inside counts by the part of it that is, so the weights move
    smoothly with ``low`` and ``high``. Compiled (:mod:`dedupkit._lanczos`) when
    the extension was built: a trimmed box's weights are made for each image.
    """
    if _lanczos is None:
        weights = _box_weights_numpy(n_in, n_out, low, high)
    else:
        weights = np.frombuffer(_lanczos.box_weights(n_in, n_out, low, high), dtype=np.float64).reshape(n_out, n_in)
    weights.setflags(write=False)  # shared through the cache (a buffer of bytes: read-only already)
    return weights


def _box_weights_numpy(n_in: int, n_out: int, low: float, high: float) -> np.ndarray:
    """:func:`_box_weights` in numpy."""
    scale = (high - low) / n_out
    filter_scale = max(scale, 1.0)
    first, last = int(np.floor(low)), min(n_in, int(np.ceil(high)))
    index = np.arange(first, last)
    cover = np.minimum(index + 1, high) - np.maximum(index, low)
    centres = low + (np.arange(n_out) + 0.5) * scale
    x = (index[None, :] + 0.5 - centres[:, None]) / filter_scale
    taps = np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0) * cover
    weights = np.zeros((n_out, n_in))
    weights[:, first:last] = taps / taps.sum(axis=1, keepdims=True)
    return weights


def lanczos_shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Pillow's ``resize(size, LANCZOS)`` of an ``L`` image, by matrix products (downscaling only)."""
    return Image.fromarray(_shrink_array(image, size), "L")


def _shrink_array(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Pillow's ``resize(size, LANCZOS)`` of an ``L`` image as ``uint8`` (8 bits between the passes)."""
    width, height = size
    pixels = np.asarray(image).astype(np.float32)  # not asarray(dtype=): several times slower
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
