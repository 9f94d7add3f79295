"""Cut away plain borders, padding, letterbox bars and canvas before hashing.

A copy of a photo with a white frame, black letterbox bars, a caption bar or
pasted onto a plain background hashes far from the photo: the hash sees the
frame. :func:`trim_borders` finds the picture inside such a frame and returns
it. A photo without a frame comes back as it is.

A line (row or column) at the edge is *plain* when almost all its pixels are
within ``tolerance`` levels of its median colour (JPEG noise stays well
inside). A run of plain lines of one colour is a frame when it ends at an
edge (the next line is mostly of other colours) and there is one at the
opposite side too (a border, letterbox or pillarbox bars, a canvas), or it
has the colour of a frame already found (the rest of a canvas, after a title
bar). A band of lines mostly of the frame's colour with strong contrast in it
(text), closed by another plain line of that colour, is cut as well: a
caption bar. A plain sky at one edge only is not a frame, so photos keep
their pixels. Images are measured on a nearest-neighbour copy of at most 512
pixels, and the box is mapped back to full size.

The walk over the lines of a grey image (what the fast hashing path trims) is
compiled (:mod:`dedupkit._trimwalk`, C, built at install): it measures only
the lines a walk from an edge reaches, several times faster than numpy's walk,
which gives the same boxes and is used for colour images and when the
extension was not built (an install without a C compiler).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ._checks import check_real

try:
    from . import _trimwalk  # the compiled walk (setup.py); None: numpy's, the same boxes
except ImportError:  # pragma: no cover - an install without a C compiler
    _trimwalk = None

__all__ = ["trim_borders", "trim_box"]

_WORK_SIDE = 512  # larger images are measured on a copy shrunk to this
_EDGE_FRACTION = 0.3  # of the line after a frame that must differ from the frame's colour
_BAND_FRACTION = 0.6  # of each line of a caption band that must have the frame's colour (text is thin)


def trim_box(
    image: Image.Image | np.ndarray,
    *,
    tolerance: int = 24,
    max_outliers: float = 0.02,
    max_band: float = 0.25,
    min_keep: float = 0.1,
    subpixel: bool = False,
) -> tuple[int, int, int, int] | tuple[float, float, float, float]:
    """The box ``(left, top, right, bottom)`` of the picture inside plain borders.

    Parameters
    ----------
    image
        A decoded image (``RGB``, ``L`` or anything that converts to ``RGB``),
        or its pixels as ``np.asarray`` gives them (``uint8``, rows x columns,
        with a last axis of 3 for colour): the same box, without making the
        array again.
    tolerance
        Largest difference, in levels of 0..255 on any channel, between a
        pixel and its line's median colour for the pixel to count as plain.
    max_outliers
        Fraction of a line's pixels that may be further off (noise, dust) for
        the line to still count as plain.
    max_band
        Longest caption band cut, as a fraction of the image's side.
    min_keep
        If less than this fraction of the width or height would remain, the
        image is taken to be plain all over and nothing is cut.
    subpixel
        Return each cut side to a fraction of a pixel: the first line kept
        after a frame is often a blend of frame and picture (an image shrunk
        by averaging, such as a JPEG decoded at reduced scale), and the part of
        it that is frame is cut too, as the least-squares share of the frame's
        colour in it. Whether such a line counts as plain can tip on a grey
        level of decoder noise; this way the box then moves by a small
        fraction of a pixel instead of a whole one (the fast hashing path hashes
        this box, :func:`dedupkit.fastpath.fast_hash_hex`).

    Returns
    -------
    tuple of int, or of float with ``subpixel=True``
        The box to pass to :meth:`PIL.Image.Image.crop`;
        ``(0, 0, width, height)`` when there is nothing to cut.

    Examples
    --------
    >>> from PIL import Image, ImageOps
    >>> photo = Image.effect_noise((60, 40), 64)
    >>> trim_box(ImageOps.expand(photo, border=10, fill=255))
    (10, 10, 70, 50)
    """
    for name, value, low, high in (("max_outliers", max_outliers, 0, 1), ("max_band", max_band, 0, 1),
                                   ("min_keep", min_keep, 0, 1), ("tolerance", tolerance, 0, 255)):
        check_real(value, name, low=low, high=high)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(f"trim_box takes an image, or its pixels as np.asarray gives them: uint8, rows x columns "
                             f"(x 3 for colour); got {image.dtype} of shape {image.shape}")
        if max(image.shape[:2]) > _WORK_SIDE:
            image = Image.fromarray(image)  # measured on a smaller copy, as an image is
    if isinstance(image, np.ndarray):
        (height, width), levels = image.shape[:2], image
        scale = max(width, height) / _WORK_SIDE
    else:
        width, height = image.size
        scale = max(width, height) / _WORK_SIDE
        work = image if image.mode in ("RGB", "L") else image.convert("RGB")
        if scale > 1:
            work = work.resize((max(1, round(width / scale)), max(1, round(height / scale))),
                               Image.Resampling.NEAREST)
        levels = np.asarray(work)
    h, w = levels.shape[:2]
    compiled = _trimwalk is not None and levels.ndim == 2 and h > 0 and w > 0  # grey: the fast hashing path
    if compiled:
        levels = np.ascontiguousarray(levels, dtype=np.uint8)
        box = list(_trimwalk.grey_turns(levels, tolerance, max_outliers, max_band, _EDGE_FRACTION, _BAND_FRACTION))
        pixels = None
    else:
        pixels = levels.astype(np.int16) if levels.ndim == 3 else levels.astype(np.int16)[:, :, None]
        box = _turns(pixels, tolerance, max_outliers, max_band)
    top, bottom, left, right = box
    if bottom - top < min_keep * h or right - left < min_keep * w:
        return 0, 0, width, height
    if subpixel:
        sx, sy = (width / w, height / h) if scale > 1 else (1.0, 1.0)
        if compiled:
            top_f, bottom_f, left_f, right_f = _trimwalk.grey_edges(levels, *box)
        else:
            top_f, bottom_f, left_f, right_f = _blended_edges(pixels, box, w, h)
        return left_f * sx, top_f * sy, right_f * sx, bottom_f * sy
    if scale > 1:  # back to full size, keeping every pixel that may be picture
        sx, sy = width / w, height / h
        left, top = int(np.floor(left * sx)), int(np.floor(top * sy))
        right, bottom = min(width, int(np.ceil(right * sx))), min(height, int(np.ceil(bottom * sy)))
    return left, top, right, bottom


def _turns(pixels: np.ndarray, tolerance: float, max_outliers: float, max_band: float) -> list[int]:
    """The box ``[top, bottom, left, right]`` inside plain runs of ``pixels`` (rows x columns x channels, ``int16``).

    Rows, then columns over the rows left, until nothing changes (at most six
    turns); before the ``min_keep`` check.
    """
    h, w = pixels.shape[:2]
    box = [0, h, 0, w]  # top, bottom, left, right
    frame_colours: list[np.ndarray] = []
    for turn in range(6):  # rows, then columns over the rows left, until nothing changes
        before = list(box)
        for axis in (0, 1):
            block = pixels[box[0] : box[1], box[2] : box[3]]
            if axis:
                block = block.transpose(1, 0, 2)
            first, last = _cut_axis(block, frame_colours, turn == 0, tolerance, max_outliers,
                                    max(1, int(max_band * len(block))))
            box[2 * axis], box[2 * axis + 1] = box[2 * axis] + first, box[2 * axis] + last
        if box == before or box[1] <= box[0] or box[3] <= box[2]:
            break
    return box


def _blended_edges(pixels: np.ndarray, box: list[int], w: int, h: int) -> tuple[float, float, float, float]:
    """``box`` (top, bottom, left, right) with each cut side moved to where the frame ends inside its lines.

    A line at the boundary can be a blend of frame and picture, and counted as
    either: the last line cut gives back the part of it that is picture, the
    first line kept loses the part of it that is frame.
    """
    top, bottom, left, right = box
    if min(bottom - top, right - left) < 3 or box == [0, h, 0, w]:
        return float(top), float(bottom), float(left), float(right)
    rows, columns = pixels[:, left:right], pixels[top:bottom].transpose(1, 0, 2)
    return (_edge_position(rows, top, +1), _edge_position(rows, bottom - 1, -1) + 1,
            _edge_position(columns, left, +1), _edge_position(columns, right - 1, -1) + 1)


def _edge_position(lines: np.ndarray, first_kept: int, inward: int) -> float:
    """Where the frame ends, to a fraction of a line, on the side whose first line kept is ``first_kept``."""
    cut = first_kept - inward  # the last line cut, if any
    if not 0 <= cut < len(lines):
        return float(first_kept)
    outer = cut - inward if 0 <= cut - inward < len(lines) else cut  # a line of frame to take its colour from
    frame = lines[outer]
    position = float(first_kept)
    if outer != cut:
        position -= inward * (1 - _frame_share(lines[cut], lines[first_kept], frame))
    return position + inward * _frame_share(lines[first_kept], lines[first_kept + inward], frame)


def _frame_share(line: np.ndarray, inner: np.ndarray, frame_line: np.ndarray) -> float:
    """How much of ``line`` is the frame's colour blended over the picture (``inner``, the next line in): 0 to 1.

    The least-squares ``a`` in ``line = a * frame + (1 - a) * inner``, over
    every pixel and channel, with ``frame`` the median colour of the frame
    line next to it.
    """
    frame = _median_lines(frame_line.reshape(1, len(frame_line), -1))[0]
    inner = inner.reshape(len(inner), -1).astype(np.float64)
    towards = frame[None, :] - inner
    moved = line.reshape(len(line), -1) - inner
    scale = float((towards * towards).sum())
    if scale <= 1e-9:
        return 0.0
    return float(np.clip((moved * towards).sum() / scale, 0.0, 1.0))


def _cut_axis(block: np.ndarray, frame_colours: list[np.ndarray], first_turn: bool, tolerance: int,
              max_outliers: float, band: int) -> tuple[int, int]:
    """The rows of ``block`` (rows x columns x channels) to keep, as ``(first, last + 1)``.

    On the first turn, plain runs at both ends are cut, and their colours
    remembered in ``frame_colours``. Otherwise a run (a sky, a white wall) is
    cut only if it is a caption band or has the colour of a frame already cut.
    """
    n = len(block)
    if n == 0:
        return 0, 0
    edges = block[[0, -1]]  # most photos: neither edge line is plain, and nothing more to look at
    off = _share_off(_distance(edges, _median_lines(edges)[:, None, :]), tolerance)
    if (off > max_outliers).all():
        return 0, n
    reference = _median_lines(block)  # (rows, channels): each row's colour
    plain = _share_off(_distance(block, reference[:, None, :]), tolerance) <= max_outliers
    head = _edge_run(block, reference, plain, tolerance, band)
    tail = _edge_run(block[::-1], reference[::-1], plain[::-1], tolerance, band)
    # a frame of one line may be a blend of a thinner frame and the picture, plain or not by a grey level of
    # decoder noise: it must be plain at half the tolerance and outliers (a line of frame alone is)
    for run, line, end in ((head, block[0], 0), (tail, block[-1], 1)):
        if run[0] == 1 and _share_off(_distance(line, reference[-end]), tolerance / 2) > max_outliers / 2:
            head, tail = ((0, False, run[2]), tail) if end == 0 else (head, (0, False, run[2]))
    if head[0] + tail[0] >= n:  # plain all over: leave it
        return 0, n

    def known(colour: np.ndarray) -> bool:
        return any(np.abs(colour - c).max() <= tolerance for c in frame_colours)

    cut = []
    for run, captioned, colour in (head, tail):
        keep = run > 0 and ((first_turn and head[0] > 0 and tail[0] > 0) or captioned or known(colour))
        cut.append(run if keep else 0)
        if keep and not known(colour):
            frame_colours.append(colour)
    return cut[0], n - cut[1]


def _share_off(difference: np.ndarray, tolerance: float) -> np.ndarray:
    """Per line (rows of ``difference``, from :func:`_distance`), the share of pixels further than ``tolerance``."""
    n = difference.shape[-1]
    off = (difference > 2 * tolerance).view(np.uint8)  # doubled distances
    return np.add.reduce(off, axis=-1, dtype=np.uint16 if n < 65536 else np.intp) / n


def _distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Twice the largest difference over the channels (the last axis) between ``pixels`` and ``colour``.

    Whole numbers (``int16``), as a median colour is a whole or half level:
    compare with twice the tolerance.
    """
    doubled = np.asarray(2 * colour, dtype=np.int16)
    if pixels.shape[-1] == 1:  # grey: no maximum over one channel to take
        return np.abs(2 * pixels[..., 0] - doubled[..., 0])
    return np.abs(2 * pixels - doubled).max(axis=-1)


def _median_lines(block: np.ndarray) -> np.ndarray:
    """``np.median(block, axis=1)`` of an integer ``block`` (lines x pixels x channels), by one partition."""
    n = block.shape[1]
    if n == 0:
        return np.median(block, axis=1)
    half = n // 2  # one kth: numpy's partition at two is several times slower
    grey = block.shape[2] == 1
    part = np.partition(block[:, :, 0] if grey else block, half, axis=1)  # grey: on the last axis, faster
    upper = part[:, half].astype(np.float64)
    if n % 2 == 0:
        upper = (part[:, :half].max(axis=1) + upper) / 2  # the lower middle: the largest below the upper one
    return upper[:, None] if grey else upper


def _edge_run(block: np.ndarray, reference: np.ndarray, plain: np.ndarray, tolerance: int,
              band: int) -> tuple[int, bool, np.ndarray]:
    """The plain run of one colour at the start of ``block``, extended over caption bands.

    Returns its length, whether it holds a caption band, and its colour.
    """
    n = len(plain)
    colour = reference[0]
    same = plain & (np.abs(reference - colour).max(axis=1) <= tolerance)
    run = int(np.argmin(same)) if not same.all() else n
    captioned = False
    while 0 < run < n:
        closing = np.flatnonzero(same[run : run + band])
        if not len(closing):
            break  # no band: no line of the frame closes one
        end = run + int(closing[0])  # > run: the line at ``run`` is not of the frame
        ahead = _distance(block[run:end], colour)  # the lines of the band
        if not (1 - _share_off(ahead, tolerance) >= _BAND_FRACTION).all() or ahead.max() <= 8 * tolerance:
            break  # not mostly of the frame's colour, or only shades of it (a sky, not text)
        rest = same[end:]
        run = end + (int(np.argmin(rest)) if not rest.all() else len(rest))
        captioned = True
    if 0 < run < n:  # a frame ends at an edge: most of the next lines' pixels are off its colour
        after = _share_off(_distance(block[run : run + 2], colour), tolerance)
        if after.max() < _EDGE_FRACTION:
            return 0, False, colour  # it fades into the picture: a sky or a wall, not a frame
    return run, captioned, colour


def trim_borders(image: Image.Image, **options) -> Image.Image:
    """Cut plain borders, padding, letterbox bars, canvas and caption bars off an image.

    Parameters
    ----------
    image
        A decoded image.
    **options
        ``tolerance``, ``max_outliers``, ``max_band``, ``min_keep``: see
        :func:`trim_box`.

    Returns
    -------
    PIL.Image.Image
        The picture inside the borders; ``image`` itself (not a copy) when
        there is nothing to cut.

    Examples
    --------
    >>> from PIL import Image, ImageOps
    >>> photo = Image.effect_noise((60, 40), 64)
    >>> trim_borders(ImageOps.expand(photo, border=(0, 30), fill=0)).size
    (60, 40)
    >>> trim_borders(photo) is photo
    True
    """
    box = trim_box(image, **options)
    if box == (0, 0, *image.size):
        return image
    return image.crop(box)
