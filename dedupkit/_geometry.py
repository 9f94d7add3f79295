"""Matching ORB descriptors and fitting the geometry between two pictures (for :mod:`dedupkit.verify`).

Mutual nearest neighbours passing a ratio test, a similarity or affine model
fitted by RANSAC, its decomposition into scale, turn, stretch and mirror, and
the polygons where one picture lies on the other.
"""

from __future__ import annotations

import math

import numpy as np

from .features import Features, _cv2, features_of_image

RATIO = 0.85  # Lowe's ratio test on Hamming distances
MAX_HAMMING = 80  # a match's best distance, of 256 bits
RANSAC_PX = 0.01  # RANSAC threshold, share of B's working copy's long side
_REFLECTIVE = frozenset({"mirror", "flip", "transpose", "transverse"})
# (u, v) in A's content box (0..1) to B's, for each orientation (as dedupkit.dihedral names them)
_ORIENT = {
    "identity": ((1, 0, 0), (0, 1, 0)), "mirror": ((-1, 0, 1), (0, 1, 0)), "flip": ((1, 0, 0), (0, -1, 1)),
    "rotate_180": ((-1, 0, 1), (0, -1, 1)), "rotate_90": ((0, 1, 0), (-1, 0, 1)),
    "rotate_270": ((0, -1, 1), (1, 0, 0)), "transpose": ((0, 1, 0), (1, 0, 0)),
    "transverse": ((0, -1, 1), (-1, 0, 1)),
}


def _knn2(queries: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two nearest ``base`` descriptors of each query (Hamming), as distances and indexes."""
    import faiss  # noqa: PLC0415 - faiss is already a dependency of search

    index = faiss.IndexBinaryFlat(base.shape[1] * 8)
    index.add(base)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # small searches: an OpenMP team costs more than it saves
    try:
        distances, labels = index.search(queries, 2)
    finally:
        faiss.omp_set_num_threads(before)
    return distances, labels


def _mutual_matches(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray]:
    """Indexes ``(ia, ib)`` of mutual nearest neighbours that pass the ratio test.

    B's descriptors are searched in A's only where one of A's chose them
    (the nearest neighbours of the others cannot make a mutual match).
    """
    empty = np.zeros(0, np.int64)
    if a.n < 2 or b.n < 2:
        return empty, empty
    d_ab, i_ab = _knn2(a.descriptors, b.descriptors)
    ia = np.arange(a.n)
    ib = i_ab[:, 0]
    keep = (d_ab[:, 0] <= MAX_HAMMING) & (d_ab[:, 0] < RATIO * d_ab[:, 1])
    if not keep.any():
        return empty, empty
    ia, ib = ia[keep], ib[keep]
    chosen, where = np.unique(ib, return_inverse=True)
    d_ba, i_ba = _knn2(np.ascontiguousarray(b.descriptors[chosen]), a.descriptors)
    keep = (i_ba[where, 0] == ia) & (d_ba[where, 0] < RATIO * d_ba[where, 1])
    return ia[keep], ib[keep].astype(np.int64)


def _affine(pa: np.ndarray, pb: np.ndarray, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    """A similarity (turn, scale, shift) fitted by RANSAC, or an affine map when that explains clearly more.

    (An affine map is a stretch.)
    """
    cv2 = _cv2()
    none = None, np.zeros(len(pa), bool)
    if len(pa) < 3:
        return none
    # 1,000 draws find a model held by 10% of the matches (2-point samples) 99.5% of the time
    options = {"method": cv2.RANSAC, "ransacReprojThreshold": threshold, "maxIters": 1000, "confidence": 0.995,
               "refineIters": 10}
    best = none
    for estimate in (cv2.estimateAffinePartial2D, cv2.estimateAffine2D):
        if estimate is cv2.estimateAffine2D and best[1].sum() < 4:
            break  # no similarity to speak of: a stretch of it will not be found either
        model, mask = estimate(pa, pb, **options)
        if model is None:
            continue
        inlier = mask.ravel().astype(bool)
        if best[0] is None or inlier.sum() > 1.1 * best[1].sum() + 3:
            best = model, inlier
    return best


def _mirror_features(f: Features) -> Features:
    """ORB features of the mirror image of ``f``'s working copy (ORB is not mirror invariant)."""
    return features_of_image(np.ascontiguousarray(f.grey[:, ::-1]), side=max(f.grey.shape),
                             n_features=max(f.n, 1), full_size=f.size)


def _geometry(a: Features, b: Features, least: int = 3) -> dict:
    """Match ``a`` to ``b`` and fit an affine model, in working-copy pixels (if there are ``least`` matches)."""
    ia, ib = _mutual_matches(a, b)
    found = {"matches": len(ia), "inliers": 0, "model": None}
    if len(ia) < max(3, least):
        return found
    threshold = RANSAC_PX * max(b.grey.shape)
    model, inlier = _affine(a.xy[ia], b.xy[ib], threshold)
    found.update(model=model, inliers=int(inlier.sum()), pairs=(a.xy[ia][inlier], b.xy[ib][inlier]))
    return found


def _to_full(model: np.ndarray, a: Features, b: Features, mirrored: bool) -> np.ndarray:
    """The working-copy model as a 3x3 map from A's full pixels to B's."""
    m = np.vstack([model, [0.0, 0.0, 1.0]])
    if mirrored:  # the model maps A into B mirrored: x_b = (w - 1) - x_mirrored
        w = b.grey.shape[1]
        m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    return np.diag([b.scale, b.scale, 1.0]) @ m @ np.diag([1 / a.scale, 1 / a.scale, 1.0])


def _decompose(linear: np.ndarray) -> tuple[float, float, float, bool]:
    """Scale, counter-clockwise rotation (degrees), anisotropy and mirror of a 2x2 map in image coordinates."""
    mirrored = bool(np.linalg.det(linear) < 0)
    if mirrored:
        linear = linear @ np.diag([-1.0, 1.0])
    u, s, vt = np.linalg.svd(linear)
    r = u @ vt
    rotation = math.degrees(math.atan2(r[0, 1], r[0, 0]))
    scale = math.sqrt(abs(s[0] * s[1]))
    anisotropy = float(s[0] / s[1]) if s[1] > 0 else float("inf")
    return scale, rotation, anisotropy, mirrored


def _corners(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _clip(polygon: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The part of a convex polygon inside an upright box (Sutherland-Hodgman)."""
    for axis, limit, keep_below in ((0, box[0], False), (0, box[2], True), (1, box[1], False), (1, box[3], True)):
        if len(polygon) == 0:
            break
        inside = polygon[:, axis] <= limit if keep_below else polygon[:, axis] >= limit
        out = []
        for i in range(len(polygon)):
            p, q = polygon[i - 1], polygon[i]
            p_in, q_in = inside[i - 1], inside[i]
            if p_in != q_in:  # the edge crosses the line: keep the crossing point
                t = (limit - p[axis]) / (q[axis] - p[axis])
                out.append(p + t * (q - p))
            if q_in:
                out.append(q)
        polygon = np.array(out, np.float64).reshape(-1, 2)
    return polygon


def _overlap(m: np.ndarray, box_from: tuple, box_to: tuple) -> np.ndarray:
    """``box_from`` mapped by the 3x3 map ``m``, clipped to ``box_to``."""
    return _clip(_corners(box_from) @ m[:2, :2].T + m[:2, 2], box_to)


def _area(polygon: np.ndarray) -> float:
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _box(polygon: np.ndarray) -> tuple[float, float, float, float] | None:
    if len(polygon) < 3:
        return None
    (x0, y0), (x1, y1) = polygon.min(0), polygon.max(0)
    return (round(float(x0), 1), round(float(y0), 1), round(float(x1), 1), round(float(y1), 1))


def _box_map(orientation: str, box_a: tuple, box_b: tuple) -> np.ndarray:
    """The 3x3 map from A's full pixels to B's that takes A's content box onto B's, turned as ``orientation``."""
    def unit(box):
        x0, y0, x1, y1 = box
        return np.array([[1 / max(x1 - x0, 1e-6), 0, -x0 / max(x1 - x0, 1e-6)],
                         [0, 1 / max(y1 - y0, 1e-6), -y0 / max(y1 - y0, 1e-6)], [0, 0, 1]])

    return np.linalg.inv(unit(box_b)) @ np.vstack([np.array(_ORIENT[orientation], float), [0, 0, 1]]) @ unit(box_a)
