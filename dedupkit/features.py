"""Local features of an image: ORB keypoints and descriptors on a small grey copy.

The shared base of :mod:`dedupkit.verify` (does B show the same picture as A,
and how?) and of crop candidates (which pictures share many descriptors?).
OpenCV is imported on first use: hashing alone never needs it.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from PIL import Image

from .loading import decode_image

__all__ = ["Features", "extract_features", "features_of_image"]

DEFAULT_SIDE = 480  # long side of the working copy, pixels
DEFAULT_N_FEATURES = 500
_SCALE_FACTOR = 1.2  # ORB's pyramid: each level this much smaller
_N_LEVELS = 8


class Features(NamedTuple):
    """ORB features of one image.

    ``xy`` are keypoint positions in the working copy's pixels; multiply by
    ``scale`` for the full image's. ``grey`` is the working copy itself (for
    photometric checks after alignment). ``size`` is the full image's
    (width, height), upright.
    """

    xy: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 32) uint8
    grey: np.ndarray  # (h, w) uint8
    size: tuple[int, int]
    scale: float

    @property
    def n(self) -> int:
        return len(self.xy)


def _cv2():
    try:
        import cv2  # noqa: PLC0415 - heavy, and only needed for local features
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ImportError("local features need OpenCV: pip install opencv-python-headless") from exc
    return cv2


def features_of_image(
    image: Image.Image | np.ndarray,
    *,
    side: int = DEFAULT_SIDE,
    n_features: int = DEFAULT_N_FEATURES,
    full_size: tuple[int, int] | None = None,
) -> Features:
    """ORB features of a decoded image (PIL image or array), shrunk to ``side`` pixels on its long side.

    Parameters
    ----------
    image
        A decoded image (any mode) or a grey/RGB uint8 array.
    side
        Long side of the working copy; smaller images are not enlarged.
    n_features
        At most this many keypoints (ORB's strongest).
    full_size
        The full image's (width, height) when ``image`` is a reduced decode.
    """
    grey, width, height = _working_grey(image, side)
    if full_size is None:
        full_size = (width, height)
    return _with_orb(_grey_only(grey, full_size), n_features)


def _working_grey(image: Image.Image | np.ndarray, side: int) -> tuple[np.ndarray, int, int]:
    """The grey working copy (long side at most ``side``) and the decoded image's width and height."""
    cv2 = _cv2()
    if isinstance(image, Image.Image):
        grey_image = image.convert("L")
        width, height = grey_image.size
        shrink = min(1.0, side / max(width, height))
        if shrink < 1.0:
            grey_image = grey_image.resize(
                (max(1, round(width * shrink)), max(1, round(height * shrink))), Image.Resampling.BILINEAR,
                reducing_gap=2.0,
            )
        grey = np.asarray(grey_image, dtype=np.uint8)
    else:
        array = np.asarray(image)
        if array.ndim == 3:
            array = cv2.cvtColor(array.astype(np.uint8), cv2.COLOR_RGB2GRAY)
        grey = array.astype(np.uint8)
        height, width = grey.shape
        shrink = min(1.0, side / max(width, height))
        if shrink < 1.0:
            grey = cv2.resize(grey, (max(1, round(width * shrink)), max(1, round(height * shrink))),
                              interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey), width, height


def _grey_only(grey: np.ndarray, full_size: tuple[int, int]) -> Features:
    """Features without keypoints yet: the working copy, its size and scale (what pixel checks need)."""
    scale = full_size[0] / grey.shape[1]
    return Features(np.empty((0, 2), np.float32), np.empty((0, 32), np.uint8), grey,
                    (int(full_size[0]), int(full_size[1])), float(scale))


def _with_orb(f: Features, n_features: int) -> Features:
    """``f`` with ORB keypoints and descriptors of its working copy."""
    cv2 = _cv2()
    grey = f.grey
    orb = cv2.ORB_create(nfeatures=n_features, scaleFactor=_SCALE_FACTOR, nlevels=_N_LEVELS,
                         fastThreshold=10, edgeThreshold=15, patchSize=15)
    # ORB's smallest pyramid level must keep a pixel on each side (OpenCV fails on a 1-pixel-thin image)
    if round(min(grey.shape) / _SCALE_FACTOR ** (_N_LEVELS - 1)) < 1:
        keypoints, descriptors = (), None
    else:
        keypoints, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return f
    return f._replace(xy=_level_zero_xy(keypoints, grey.shape), descriptors=descriptors)


def _level_zero_xy(keypoints, shape: tuple[int, int]) -> np.ndarray:
    """Keypoint positions in the working copy's pixels, exact for every pyramid level.

    ORB reports a keypoint found on level ``k`` at ``pt_k * scaleFactor**k``,
    which ignores pixel centres and the rounded size of each level (each made
    from the one before): up to 2.5 px off at the coarsest level, in opposite
    directions for a picture and its half-turn. This maps ``pt_k`` back
    through the pyramid as the resize did.
    """
    h, w = shape
    sizes = np.array([(w, h)] + [(round(w / _SCALE_FACTOR**k), round(h / _SCALE_FACTOR**k))
                                 for k in range(1, _N_LEVELS)], np.float64)
    pt = np.array([k.pt for k in keypoints], np.float64)
    octave = np.array([k.octave for k in keypoints], np.int64)
    xy = pt / (_SCALE_FACTOR**octave)[:, None]
    for level in range(int(octave.max(initial=0)), 0, -1):
        on = octave >= level
        xy[on] = (xy[on] + 0.5) * (sizes[level - 1] / sizes[level]) - 0.5
    return xy.astype(np.float32)


def extract_features(
    path: str | os.PathLike,
    *,
    side: int = DEFAULT_SIDE,
    n_features: int = DEFAULT_N_FEATURES,
    max_pixels: int | None = None,
    data: bytes | None = None,
) -> Features:
    """ORB features of an image file, decoded at reduced scale where the format allows.

    ``data``: the image's bytes, already read (``path`` then only names it).

    Raises
    ------
    ImageLoadError
        The file cannot be read as an image.
    """
    return _with_orb(_grey_of_file(path, side=side, max_pixels=max_pixels, data=data), n_features)


def _grey_of_file(path: str | os.PathLike, *, side: int = DEFAULT_SIDE, max_pixels: int | None = None,
                  data: bytes | None = None) -> Features:
    """:func:`extract_features` without the keypoints yet (``_with_orb`` adds them)."""
    options = {} if max_pixels is None else {"max_pixels": max_pixels}
    # the short side of a 2:1 picture whose long side is `side`: JPEGs decode at reduced scale
    decoded = decode_image(path, draft_size=max(1, side // 2), data=data, **options)
    grey, _, _ = _working_grey(decoded.image, side)
    return _grey_only(grey, (decoded.width, decoded.height))
