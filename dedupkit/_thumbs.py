"""Small thumbnails of pictures' content boxes and their correlations in each orientation (for `verify`).

They choose the orientation in which two pictures are compared whole, and
decide which pairs take the fast path.
"""

from __future__ import annotations

import math

import numpy as np

from ._geometry import _ORIENT
from ._pixels import _sample
from .features import Features

_THUMB = 32  # side of the thumbnails that choose an orientation


def _thumb(f: Features, box: tuple) -> np.ndarray:
    """A ``_THUMB`` x ``_THUMB`` grey thumbnail of the content ``box`` (full pixels), whatever its shape."""
    x0, y0, x1, y1 = (v / f.scale for v in box)
    kx, ky = max(x1 - x0, 1e-3) / _THUMB, max(y1 - y0, 1e-3) / _THUMB
    m = np.array([[kx, 0, x0 + 0.5 * kx - 0.5], [0, ky, y0 + 0.5 * ky - 0.5]])
    return _sample(f.grey, m, (_THUMB, _THUMB), math.sqrt(kx * ky))


def _probe_index() -> tuple[tuple[str, ...], np.ndarray]:
    """For each orientation, which of B's thumbnail cells each of A's cells sees (flat indexes, one row each)."""
    centres = (np.arange(_THUMB) + 0.5) / _THUMB
    u, v = np.meshgrid(centres, centres)
    rows = []
    for row_u, row_v in _ORIENT.values():
        ub = row_u[0] * u + row_u[1] * v + row_u[2]
        vb = row_v[0] * u + row_v[1] * v + row_v[2]
        i, j = np.minimum((vb * _THUMB).astype(int), _THUMB - 1), np.minimum((ub * _THUMB).astype(int), _THUMB - 1)
        rows.append((i * _THUMB + j).ravel())
    return tuple(_ORIENT), np.array(rows)


_PROBE_INDEX = _probe_index()  # a constant table: 8 x 1024 indexes


def _probe(thumb_a: np.ndarray, thumb_b: np.ndarray) -> dict[str, float]:
    """Correlation of A's thumbnail with B's, for each orientation of B (B's cells read as A's)."""
    return _probe_parts(_probe_part(thumb_a), _probe_part(thumb_b))


def _probe_part(thumb: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """What :func:`_probe` needs of one thumbnail, made once per image: its cells less their mean (as A) and
    their sum of squares; its cells seen in each orientation less their mean (as B) and their sums of squares."""
    names, index = _PROBE_INDEX
    flat = thumb.ravel().astype(np.float64)
    flat -= flat.mean()
    seen = thumb.ravel().astype(np.float64)[index]  # (8, cells)
    seen -= seen.mean(axis=1, keepdims=True)
    return flat, float(flat @ flat), seen, (seen * seen).sum(axis=1)


def _probe_parts(part_a: tuple, part_b: tuple) -> dict[str, float]:
    """:func:`_probe` from both thumbnails' :func:`_probe_part` (the same numbers, computed the same way)."""
    flat_a, square_a, _, _ = part_a
    _, _, seen, squares = part_b
    norm = np.sqrt(square_a * squares)
    r = np.divide(seen @ flat_a, norm, out=np.zeros(len(_PROBE_INDEX[0])), where=norm > 0)
    return dict(zip(_PROBE_INDEX[0], r.tolist()))
