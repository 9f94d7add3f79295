"""Small previews of image files for galleries, made once and kept in a bounded cache.

The cache is a :func:`functools.lru_cache` keyed by the file's path, its
modification time and size, and the thumbnail size: a file changed on disk
gets a new thumbnail, and at most :data:`CACHE_SIZE` thumbnails are kept (about
80 KB each at the default 160 pixels, so at most ~40 MB). Nothing is written to
disk. :func:`clear_cache` empties it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageOps

from ._checks import check_int
from ._keys import is_elsewhere
from .loading import DEFAULT_MAX_PIXELS, ImageLoadError, normalize_mode, open_image
from .opener import image_file

__all__ = ["CACHE_SIZE", "clear_cache", "mosaic", "placeholder", "prefetch", "thumbnail"]

logger = logging.getLogger(__name__)

#: Most thumbnails kept in memory.
CACHE_SIZE = 512

_PLACEHOLDER_GREY = 200


def thumbnail(path: str | os.PathLike, *, size: int = 160) -> np.ndarray:
    """A preview of an image file that fits in ``size`` x ``size`` pixels.

    Decoding is cheap for large JPEGs (libjpeg decodes at a reduced scale) and
    happens once per file: the result is cached (see the module docstring).

    Parameters
    ----------
    path
        The image file, or any key :mod:`dedupkit.opener` opens: a URL or a
        tar shard member (cached by its key), a row of a table being read from
        (cached by a digest of its bytes).
    size
        Longest side of the thumbnail, in pixels.

    Returns
    -------
    numpy.ndarray
        Read-only ``(height, width, 3)`` ``uint8`` RGB array, upright (EXIF
        orientation applied), aspect ratio kept. A file that cannot be read
        gives a grey square (see :func:`placeholder`), and a warning in the log.

    Raises
    ------
    ValueError
        ``size`` is below 8 pixels.

    Examples
    --------
    >>> thumbnail("data/sample/coffee.jpg").shape  # doctest: +SKIP
    (107, 160, 3)
    """
    size = check_int(size, "size", low=8, unit="pixels")
    path = os.fspath(path)
    try:
        target = image_file(path, fetch=False)  # a URL or a shard member is not read here, only on a cache miss
    except ImageLoadError as exc:
        logger.warning("no thumbnail for %s", exc)
        return placeholder(int(size))
    if not isinstance(target, str):  # a table row's bytes: cached by their digest
        digest = hashlib.blake2b(target, digest_size=8).digest()
        return _cached(path, int.from_bytes(digest), len(target), int(size))
    if is_elsewhere(target):  # a URL or a tar shard member: known by its key (objects are rarely rewritten)
        return _cached(target, 0, 0, int(size))
    path = target  # the file itself, or the one a table row names
    try:
        stat = os.stat(path)
    except OSError:
        return placeholder(int(size))
    return _cached(path, stat.st_mtime_ns, stat.st_size, int(size))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached(path: str, stamp: int, n_bytes: int, size: int) -> np.ndarray:
    try:
        image = open_image(path, max_pixels=DEFAULT_MAX_PIXELS)
    except ImageLoadError as exc:
        logger.warning("no thumbnail for %s", exc)
        return placeholder(size)
    try:
        if image.format == "JPEG":
            image.draft("RGB", (size, size))  # decode at 1/2 .. 1/8 scale, still >= size
        image.load()
        upright = normalize_mode(ImageOps.exif_transpose(image)).convert("RGB")
        upright.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        array = np.asarray(upright, dtype=np.uint8).copy()
    except Exception as exc:  # noqa: BLE001 - a gallery must draw whatever one file does
        logger.warning("no thumbnail for %s: %s", path, exc)
        return placeholder(size)
    finally:
        image.close()
    array.flags.writeable = False  # shared by every caller through the cache
    return array


def prefetch(paths: Iterable[str | os.PathLike], *, size: int = 160, workers: int | None = None) -> None:
    """Make the thumbnails of many files at once, in threads, so a gallery then draws from the cache.

    Pillow decodes without holding the GIL, so threads use several cores.
    ``workers=None`` uses up to 8 threads.
    """
    unique = list(dict.fromkeys(os.fspath(p) for p in paths))
    workers = workers or min(8, os.cpu_count() or 1, len(unique) or 1)
    if workers == 1 or len(unique) < 2:
        for path in unique:
            thumbnail(path, size=size)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(functools.partial(thumbnail, size=size), unique))


def mosaic(
    paths: Sequence[str | os.PathLike], *, size: int = 160, gap: int | None = None
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Thumbnails side by side, each centred in a ``size``-pixel-wide slot, on white.

    Parameters
    ----------
    paths
        The image files, left to right.
    size
        Width of each slot and longest side of each thumbnail, in pixels.
    gap
        White pixels between slots; default ``size // 12``.

    Returns
    -------
    image : numpy.ndarray
        ``(height, n*size + (n-1)*gap, 3)`` ``uint8`` RGB, as high as the
        tallest thumbnail. The centre of slot ``i`` is at
        ``x = i*(size+gap) + size/2``.
    boxes : list of (left, top, width, height)
        Where each thumbnail was put, in pixels.
    """
    gap = size // 12 if gap is None else gap
    thumbs = [thumbnail(path, size=size) for path in paths]
    height = max((t.shape[0] for t in thumbs), default=0)
    canvas = np.full((height, max(len(thumbs) * (size + gap) - gap, 0), 3), 255, dtype=np.uint8)
    boxes = []
    for i, thumb in enumerate(thumbs):
        h, w = thumb.shape[:2]
        top, left = (height - h) // 2, i * (size + gap) + (size - w) // 2
        canvas[top : top + h, left : left + w] = thumb
        boxes.append((left, top, w, h))
    return canvas, boxes


def placeholder(size: int = 160) -> np.ndarray:
    """The grey square drawn for a file that cannot be read (read-only)."""
    array = np.full((size, size, 3), _PLACEHOLDER_GREY, dtype=np.uint8)
    array.flags.writeable = False
    return array


def clear_cache() -> None:
    """Forget every cached thumbnail."""
    _cached.cache_clear()
