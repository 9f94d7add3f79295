"""The turns of :func:`dedupkit.trim.trim_box` on a grey image, compiled with numba (loaded only after many trims).

:func:`grey_turns` gives the box of ``trim._turns`` (the same rules and
arithmetic, the same boxes to the pixel, ``tests/test_trim.py``) from a
histogram of each line, made only when a walk from an edge reaches the line:
its median, whether it is plain and the share of its pixels off any colour
are then a few lookups in the line's cumulative counts, so a photo whose edge
lines end after a line or two costs a few microseconds instead of some sixty
numpy calls. A line's counts are kept for the next turn while the span it is
measured over stays the same. ``make install`` compiles it into numba's cache
(``tools/warm_kernels.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _measure(grid, line, span, scratch, doubled, plain, done, doubled_tolerance, max_outliers,
             colour=-1, far_tolerance=np.inf):  # pragma: no cover
    """The median (``doubled``: twice it) of ``grid[line, span[0]:span[1]]`` and whether the line is plain.

    Gives up, leaving the line unmeasured and returning False, once more than
    ``max_outliers`` of its pixels ``p`` have ``|2p - colour| > far_tolerance``.
    """
    if done[line]:
        return True
    n = span[1] - span[0]
    low, high, far = 255, 0, 0
    far_limit = _whole(far_tolerance)
    for k in range(span[0], span[1]):  # count the levels (``scratch`` is all zeros between calls)
        level = np.int64(grid[line, k])
        scratch[level] += 1
        low = min(low, level)
        high = max(high, level)
        if abs(2 * level - colour) > far_limit:
            far += 1
            if far / n > max_outliers:
                scratch[low : high + 1] = 0
                return False
    half = n // 2
    seen, lower, upper = 0, -1, -1
    for level in range(low, high + 1):  # the values at sorted positions half - 1 and half (np.median's middle)
        seen += scratch[level]
        if lower < 0 and seen > half - 1:
            lower = level
        if seen > half:
            upper = level
            break
    middle = lower + upper if n % 2 == 0 else 2 * upper
    off, limit = 0, _whole(doubled_tolerance)
    for level in range(low, high + 1):
        if abs(2 * level - middle) > limit:
            off += scratch[level]
        scratch[level] = 0
    doubled[line] = middle
    plain[line] = off / n <= max_outliers
    done[line] = True
    return True


@njit(cache=True)
def _whole(tolerance):  # pragma: no cover
    """The largest whole number a whole distance may reach and still be within ``tolerance`` (``inf``: any)."""
    return np.int64(min(np.floor(tolerance), 1 << 40))


@njit(cache=True)
def _off(grid, line, span, colour, doubled_tolerance):  # pragma: no cover
    """Pixels ``p`` of the line with ``|2p - colour| > doubled_tolerance``, and the largest ``|2p - colour|``."""
    off, largest, limit = 0, 0, _whole(doubled_tolerance)
    for k in range(span[0], span[1]):
        far = abs(2 * np.int64(grid[line, k]) - colour)
        if far > limit:
            off += 1
        largest = max(largest, far)
    return off, largest


@njit(cache=True)
def _same(grid, line, span, colour, scratch, doubled, plain, done, tolerance,
          max_outliers):  # pragma: no cover
    """Whether ``line`` is plain and its median within ``tolerance`` of ``colour`` (doubled, as every colour here)."""
    # a plain line of this colour has at most its outliers further than twice the tolerance: most lines of the
    # picture are told so before they are measured
    if not _measure(grid, line, span, scratch, doubled, plain, done, 2 * tolerance, max_outliers, colour,
                    4 * tolerance):
        return False
    return plain[line] and abs(doubled[line] - colour) <= 2 * tolerance


@njit(cache=True)
def _edge_run(grid, start, step, n, span, scratch, doubled, plain, done, tolerance, max_outliers, band,
              edge_fraction, band_fraction):  # pragma: no cover
    """``trim._edge_run`` from line ``start`` walking by ``step`` over ``n`` lines: the run's length, captioned."""
    colour = doubled[start]
    width = span[1] - span[0]

    def same(j):
        return _same(grid, start + step * j, span, colour, scratch, doubled, plain, done, tolerance, max_outliers)

    run = 0
    while run < n and same(run):
        run += 1
    captioned = False
    while 0 < run < n:
        # a caption band: lines mostly of the frame's colour, closed by a line of the frame within ``band``; the
        # first line before the closing one that is not so ends the search (as trim._edge_run's test of them all)
        stop = min(n, run + band)
        end = run
        mostly, largest = True, 0
        while end < stop and not same(end):
            off, far = _off(grid, start + step * end, span, colour, 2 * tolerance)
            if not 1 - off / width >= band_fraction:
                mostly = False
                break
            largest = max(largest, far)
            end += 1
        if not mostly or end == stop:
            break  # not mostly of the frame's colour, or no line of the frame closes the band
        if largest <= 8 * tolerance:
            break  # only shades of the frame's colour (a sky, not text)
        run = end
        while run < n and same(run):
            run += 1
        captioned = True
    if 0 < run < n:  # a frame ends at an edge: most of the next lines' pixels are off its colour
        after = 0.0
        for j in range(run, min(n, run + 2)):
            after = max(after, _off(grid, start + step * j, span, colour, 2 * tolerance)[0] / width)
        if after < edge_fraction:
            return 0, False
    return run, captioned


@njit(cache=True)
def _known(colour, colours, count, tolerance):  # pragma: no cover
    """Whether ``colour`` is within ``tolerance`` of one of the first ``count`` ``colours`` (all doubled)."""
    for i in range(count):
        if abs(colour - colours[i]) <= 2 * tolerance:
            return True
    return False


@njit(cache=True)
def grey_turns(pixels, tolerance, max_outliers, max_band, edge_fraction, band_fraction):  # pragma: no cover
    """The box ``(top, bottom, left, right)`` of ``trim._turns`` for a grey image (``uint8``, rows x columns)."""
    h, w = pixels.shape
    columns = pixels.T  # the columns as rows (a view)
    most = max(h, w)
    scratch = np.zeros(256, np.int64)  # a line's count of each level
    doubled = np.empty((2, most), np.int64)  # per axis (rows, columns) and line: twice its median
    plain = np.zeros((2, most), np.bool_)
    done = np.zeros((2, most), np.bool_)  # measured
    spans = np.full((2, 2), -1)  # the span each axis's counts were made over
    box = np.array([0, h, 0, w])
    colours = np.empty(24, np.int64)  # the frames' colours found (doubled): at most two per axis and turn
    found = np.zeros(1, np.int64)  # how many
    for turn in range(6):
        before = box.copy()
        for axis in range(2):
            lines, span = box[2 * axis : 2 * axis + 2].copy(), box[2 - 2 * axis : 4 - 2 * axis].copy()
            if spans[axis, 0] != span[0] or spans[axis, 1] != span[1]:
                done[axis, :] = False  # measured over another span: count again when reached
                spans[axis] = span
            state = (scratch, doubled[axis], plain[axis], done[axis])
            if axis == 0:
                first, last = _cut_axis(pixels, lines, span, state, colours, found, turn == 0, tolerance,
                                        max_outliers, max_band, edge_fraction, band_fraction)
            else:
                first, last = _cut_axis(columns, lines, span, state, colours, found, turn == 0, tolerance,
                                        max_outliers, max_band, edge_fraction, band_fraction)
            box[2 * axis], box[2 * axis + 1] = lines[0] + first, lines[0] + last
        if (box == before).all():
            break
    return box[0], box[1], box[2], box[3]


@njit(cache=True)
def _cut_axis(grid, lines, span, state, colours, found, first_turn, tolerance, max_outliers, max_band,
              edge_fraction, band_fraction):  # pragma: no cover
    """``trim._cut_axis``: of the lines ``lines`` of ``grid`` over ``span``, those to keep, ``(first, last + 1)``."""
    scratch, doubled, plain, done = state
    n = lines[1] - lines[0]
    _measure(grid, lines[0], span, scratch, doubled, plain, done, 2 * tolerance, max_outliers)
    _measure(grid, lines[1] - 1, span, scratch, doubled, plain, done, 2 * tolerance, max_outliers)
    if not plain[lines[0]] and not plain[lines[1] - 1]:
        return 0, n
    band = max(1, int(max_band * n))
    head, head_captioned = _edge_run(grid, lines[0], 1, n, span, scratch, doubled, plain, done, tolerance,
                                     max_outliers, band, edge_fraction, band_fraction)
    tail, tail_captioned = _edge_run(grid, lines[1] - 1, -1, n, span, scratch, doubled, plain, done, tolerance,
                                     max_outliers, band, edge_fraction, band_fraction)
    head_colour, tail_colour = doubled[lines[0]], doubled[lines[1] - 1]
    # a frame of one line must be plain at half the tolerance and outliers (trim._cut_axis)
    width = span[1] - span[0]
    if head == 1 and _off(grid, lines[0], span, head_colour, tolerance)[0] / width > max_outliers / 2:
        head, head_captioned = 0, False
    if tail == 1 and _off(grid, lines[1] - 1, span, tail_colour, tolerance)[0] / width > max_outliers / 2:
        tail, tail_captioned = 0, False
    if head + tail >= n:  # plain all over: leave it
        return 0, n
    first, last = 0, n
    known = _known(head_colour, colours, found[0], tolerance)
    if head > 0 and ((first_turn and tail > 0) or head_captioned or known):
        first = head
        if not known:
            colours[found[0]] = head_colour
            found[0] += 1
    known = _known(tail_colour, colours, found[0], tolerance)
    if tail > 0 and ((first_turn and head > 0) or tail_captioned or known):
        last = n - tail
        if not known:
            colours[found[0]] = tail_colour
            found[0] += 1
    return first, last


@njit(cache=True)
def grey_edges(pixels, top, bottom, left, right):  # pragma: no cover
    """``trim._blended_edges`` of a grey image (``uint8``): each cut side of the box, to a fraction of a pixel.

    The least-squares sums are of multiples of a quarter level, exact in
    floating point whatever their order, so the sides are numpy's to the bit.
    """
    h, w = pixels.shape
    if min(bottom - top, right - left) < 3 or (top == 0 and bottom == h and left == 0 and right == w):
        return float(top), float(bottom), float(left), float(right)
    columns = pixels.T
    scratch = np.zeros(256, np.int64)
    return (_edge_position(pixels, (left, right), top, 1, scratch),
            _edge_position(pixels, (left, right), bottom - 1, -1, scratch) + 1,
            _edge_position(columns, (top, bottom), left, 1, scratch),
            _edge_position(columns, (top, bottom), right - 1, -1, scratch) + 1)


@njit(cache=True)
def _edge_position(grid, span, first_kept, inward, scratch):  # pragma: no cover
    """``trim._edge_position`` over the lines (rows) of ``grid``, each over ``span``."""
    n = grid.shape[0]
    cut = first_kept - inward
    if not 0 <= cut < n:
        return float(first_kept)
    outer = cut - inward if 0 <= cut - inward < n else cut
    frame = _median(grid, outer, span, scratch)
    position = float(first_kept)
    if outer != cut:
        position -= inward * (1 - _frame_share(grid, span, cut, first_kept, frame))
    return position + inward * _frame_share(grid, span, first_kept, first_kept + inward, frame)


@njit(cache=True)
def _median(grid, line, span, scratch):  # pragma: no cover
    """``np.median`` of ``grid[line, span[0]:span[1]]``."""
    for k in range(span[0], span[1]):
        scratch[grid[line, k]] += 1
    n = span[1] - span[0]
    half = n // 2
    seen, lower, upper = 0, -1, -1
    for level in range(256):
        seen += scratch[level]
        if lower < 0 and seen > half - 1:
            lower = level
        if upper < 0 and seen > half:
            upper = level
        scratch[level] = 0
    return (lower + upper) / 2 if n % 2 == 0 else float(upper)


@njit(cache=True)
def _frame_share(grid, span, line, inner, frame):  # pragma: no cover
    """``trim._frame_share``: how much of ``line`` is ``frame``'s colour blended over the line ``inner``, 0 to 1."""
    scale, dot = 0.0, 0.0
    for k in range(span[0], span[1]):
        towards = frame - float(grid[inner, k])
        scale += towards * towards
        dot += (float(grid[line, k]) - float(grid[inner, k])) * towards
    if scale <= 1e-9:
        return 0.0
    return min(max(dot / scale, 0.0), 1.0)
