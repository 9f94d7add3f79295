"""One image into one row of the hash table: :func:`hash_file`, whatever holds the image.

:func:`dedupkit.hash_images` calls it for each file, object or shard member
(:mod:`dedupkit.scan`) and each row of a table of image bytes
(:mod:`dedupkit.bytes_table`); the service for each upload.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from .fastpath import fast_draft_size, fast_hash_hex, prepare, reduce_like_jpeg
from .hashing import dihedral_hex, hash_hex
from .loading import DEFAULT_MAX_PIXELS, ImageLoadError, decode_image
from .tables import HASH_COLUMNS, resolve_trim
from .trim import trim_borders, trim_box

__all__ = ["error_row", "hash_file"]

logger = logging.getLogger(__name__)


def hash_file(
    path: str | os.PathLike,
    *,
    method: str = "dhash",
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exact: bool = False,
    trim: bool | None = None,
    dihedral: bool = False,
    data: bytes | None = None,
) -> dict:
    """Hash one file into a row of the hash table; never raises for a bad file.

    Parameters
    ----------
    path
        The image file, or its key: a URL or a tar shard member
        (:func:`dedupkit.loading.open_image`).
    method, hash_size
        See :func:`dedupkit.hash_images`.
    max_pixels
        Decompression-bomb guard: larger images get an error row.
    exact
        Decode at full resolution, so the hash is bit-identical to imagehash on
        the fully decoded image. By default (the fast path) JPEGs are decoded
        in greyscale at a reduced scale (libjpeg DCT scaling, 1/2 to 1/8),
        keeping at least 12 pixels per hash cell, and any other image is
        brought to the same grey working image by box means
        (:func:`dedupkit.fastpath.reduce_like_jpeg`), so that a JPEG and a PNG
        of its pixels hash alike (the same bits for 96% of photos, never more
        than 1 bit apart without a frame, ``tests/test_identical_pixels.py``);
        then shrunk by the same LANCZOS filter as imagehash's, kept in floating
        point, and ``whash`` works on a square of at most 16 pixels per cell
        instead of imagehash's image-size-dependent one
        (:mod:`dedupkit.fastpath`). That is 4-7x faster per core for photos
        of 1080p and up, and on average within about half a bit (of 64) of the
        exact hash, rarely more than 2 (``benchmarks/README.md``; up to 7 on
        flat textures, where imagehash's own rounding decides).
    trim, dihedral
        See :func:`dedupkit.hash_images`.
    data
        The image's bytes, already read (``path`` then only names the row).

    Returns
    -------
    dict
        One row with the keys of :data:`HASH_COLUMNS`; a file that cannot be
        read also has ``error_kind`` (the :class:`ImageLoadError` ``kind``).
    """
    path = os.fspath(path)
    row = dict.fromkeys(HASH_COLUMNS)
    row["path"] = path
    try:
        row["bytes"] = len(data) if data is not None else os.stat(path).st_size
    except OSError:
        pass
    try:
        draft = None if exact else fast_draft_size(hash_size)
        decoded = decode_image(path, max_pixels=max_pixels, draft_size=draft, data=data)
        image = decoded.image
        if not exact and image.size == (decoded.width, decoded.height):  # not scaled by libjpeg: scale alike
            image = reduce_like_jpeg(image, draft)
        scale = max(decoded.width, decoded.height) / max(image.size)  # full size / working size
        if exact or dihedral:
            image = trim_borders(image) if resolve_trim(trim, exact) else image
        if exact:
            row["hash"] = hash_hex(image, method=method, hash_size=hash_size)
        elif dihedral:  # the 8 turns of one image that imagehash shrinks (see dedupkit.fastpath)
            image = prepare(image, method, hash_size, scale=scale, square_only=True)
            row["hash"] = hash_hex(image, method=method, hash_size=hash_size)
        else:  # shrink as imagehash would, cheaper; a frame cut to a fraction of a pixel (see dedupkit.fastpath)
            levels = np.asarray(image) if image.mode == "L" else None  # made once: the trim measures it too
            box = trim_box(image if levels is None else levels, subpixel=True) if resolve_trim(trim, exact) else None
            row["hash"] = fast_hash_hex(image, method, hash_size, scale=scale, box=box, pixels=levels)
        if dihedral:
            row["hash_dihedral"] = dihedral_hex(image, method=method, hash_size=hash_size)
        row["width"], row["height"], row["format"] = decoded.width, decoded.height, decoded.format
    except ImageLoadError as exc:
        row["error"], row["error_kind"] = exc.reason, exc.kind
    except Exception as exc:  # noqa: BLE001 - one odd file must not end a scan
        logger.warning("unexpected error hashing %s", path, exc_info=True)
        row["error"] = f"unexpected error ({type(exc).__name__}: {exc})"
    return row


def error_row(key: str, error: ImageLoadError) -> dict:
    """The row of an image that could not be read (before :func:`hash_file` could open it)."""
    row = dict.fromkeys(HASH_COLUMNS)
    row["path"], row["error"], row["error_kind"] = key, error.reason, error.kind
    return row
