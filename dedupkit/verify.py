"""Verified pairs: does B show the same picture as A, and how do they relate?

Each candidate pair is checked three ways:

1. **local features**: ORB descriptors (:mod:`dedupkit.features`) matched
   both ways (mutual nearest neighbours passing a ratio test);
2. **geometry**: an affine model fitted by RANSAC, kept only if it is nearly a
   similarity (a turn, a scale, a slight stretch) with enough inliers; one
   picture must lie (nearly) inside the other: a crop, or a frame, caption or
   screenshot around the whole picture. Two framings of one scene that each
   show something the other does not are not the same picture;
3. **pixels**: B's grey working copy is warped into A's frame and compared
   over the overlap after fitting a global tone curve, so that brightness,
   contrast, gamma, greyscale, blur and noise change nothing, while a moved
   person, another time of day or another screen's content does.

Mirror images are matched by recomputing ORB on B mirrored (ORB is not
mirror invariant); turns by 90° need nothing more.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from .features import DEFAULT_N_FEATURES, DEFAULT_SIDE, Features, _cv2, extract_features, features_of_image

__all__ = ["Match", "relation", "verify_features", "verify_pairs"]

logger = logging.getLogger(__name__)

# --- rules (chosen on the tune half of the benchmark: benchmarks/tune_verify.py) -------------
RATIO = 0.85  # Lowe's ratio test on Hamming distances
MAX_HAMMING = 80  # a match's best distance, of 256 bits
RANSAC_PX = 0.01  # RANSAC threshold, share of B's working copy's long side
MIN_INLIERS = 12
MIN_INLIER_RATIO = 0.2  # inliers / matches
MAX_ANISOTROPY = 1.35  # ratio of the model's two singular values (a slight stretch)
MIN_CONTAINED = 0.9  # the contained picture's share of its own area inside the other
MIN_SIMILARITY = 0.7
MAX_LOCAL_ERROR = 0.5  # the worst window's mean error: one region that differs
COMPARE_SIDE = 192  # long side of the overlap when pixels are compared
ECC_SIDE = 192  # ... and when they are aligned finely first
NATIVE_SHRINK = 2.0  # the coarser copy's pixels per compared pixel, at least
EDGE_WEIGHT = 2.0  # how much an edge (a spread per pixel) excuses a difference
MIN_SPREAD = 10.0  # grey levels: errors are measured against the picture's contrast, at least this
ECC_ITERATIONS = 20  # fine alignment of the pixels before they are compared
_REFLECTIVE = frozenset({"mirror", "flip", "transpose", "transverse"})


class Match(NamedTuple):
    """How picture B relates to picture A.

    Attributes
    ----------
    same
        B shows the same picture as A.
    inliers, matches
        Feature matches consistent with the model, and all matches tried.
    scale
        Size of B's picture over A's, in full-image pixels (0.5: B is half size).
    rotation
        Counter-clockwise turn of B's picture in degrees, in (-180, 180]
        (after the mirror, when ``mirrored``).
    mirrored
        B shows A mirrored (left-right; a top-bottom flip is a mirror turned 180°).
    coverage_a
        Share of A's area that B shows (< 1 when B is a crop).
    coverage_b
        Share of B's area that shows A's picture (< 1 when B has a frame,
        caption or screen around it).
    similarity
        Photometric agreement over the overlap after alignment, 0 to 1.
    box_a, box_b
        ``(x0, y0, x1, y1)`` in full pixels: the part of A seen in B, and
        the part of B that shows A.
    reason
        Why not the same (empty when ``same``).
    transform
        2x3 affine map from A's full pixels to B's, or ``None``.
    points_a, points_b
        With ``verify_features(..., points=True)``: the inlier matches of the
        fitted model, ``(n, 2)`` arrays of full-pixel positions in A and in B
        (row ``i`` of each is one match; empty when no model was fitted).
        Otherwise ``None``.
    """

    same: bool
    inliers: int = 0
    matches: int = 0
    scale: float = float("nan")
    rotation: float = float("nan")
    mirrored: bool = False
    coverage_a: float = 0.0
    coverage_b: float = 0.0
    similarity: float = float("nan")
    box_a: tuple[float, float, float, float] | None = None
    box_b: tuple[float, float, float, float] | None = None
    reason: str = ""
    transform: np.ndarray | None = None
    points_a: np.ndarray | None = None
    points_b: np.ndarray | None = None


# --- matching and geometry -------------------------------------------------------------------


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
    """Indexes ``(ia, ib)`` of mutual nearest neighbours that pass the ratio test."""
    empty = np.zeros(0, np.int64)
    if a.n < 2 or b.n < 2:
        return empty, empty
    d_ab, i_ab = _knn2(a.descriptors, b.descriptors)
    d_ba, i_ba = _knn2(b.descriptors, a.descriptors)
    ia = np.arange(a.n)
    ib = i_ab[:, 0]
    keep = (i_ba[ib, 0] == ia) & (d_ab[:, 0] <= MAX_HAMMING) & (d_ab[:, 0] < RATIO * d_ab[:, 1])
    keep &= d_ba[ib, 0] < RATIO * d_ba[ib, 1]
    return ia[keep], ib[keep].astype(np.int64)


def _affine(pa: np.ndarray, pb: np.ndarray, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    """A similarity (turn, scale, shift) fitted by RANSAC, or an affine map when that explains clearly more (a stretch)."""
    cv2 = _cv2()
    none = None, np.zeros(len(pa), bool)
    if len(pa) < 3:
        return none
    options = {"method": cv2.RANSAC, "ransacReprojThreshold": threshold, "maxIters": 2000, "confidence": 0.995,
               "refineIters": 10}
    best = none
    for estimate in (cv2.estimateAffinePartial2D, cv2.estimateAffine2D):
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


def _geometry(a: Features, b: Features) -> dict:
    """Match ``a`` to ``b`` and fit an affine model, in working-copy pixels."""
    ia, ib = _mutual_matches(a, b)
    found = {"matches": len(ia), "inliers": 0, "model": None}
    if len(ia) < 3:
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


# --- pixels ----------------------------------------------------------------------------------


def _content_box(f: Features) -> tuple[float, float, float, float]:
    """The picture inside plain borders, caption bars or a plain screen (:func:`dedupkit.trim.trim_box`), full pixels."""
    from PIL import Image  # noqa: PLC0415

    from .trim import trim_box  # noqa: PLC0415

    x0, y0, x1, y1 = trim_box(Image.fromarray(f.grey))
    w, h = f.size
    return (min(x0 * f.scale, w), min(y0 * f.scale, h), min(x1 * f.scale, w), min(y1 * f.scale, h))

def _tone_residual(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|y - f(x)|, with f the tone curve through y's mean in each 4-level bin of x.

    Brightness, contrast, gamma, greyscale and clipping are such curves; a
    change in one place only (a moved person, lights at night) is not.
    """
    which = np.clip(x, 0, 255).astype(np.int64) // 4
    count = np.bincount(which, minlength=64)
    seen = count > 0
    centres = np.bincount(which, x, 64)[seen] / count[seen]
    means = np.bincount(which, y, 64)[seen] / count[seen]
    return np.abs(y - np.interp(x, centres, means))


def _sample(grey: np.ndarray, m: np.ndarray, size: tuple[int, int], shrink: float) -> np.ndarray:
    """``grey`` at the points ``m @ (u, v, 1)`` of a ``size`` grid, -1 outside.

    When shrinking, the picture is first blurred by a Gaussian of 0.6 grid
    pixels (in its own pixels: ``0.6 * shrink``), so that two copies of one
    picture at different sizes come out alike; an integer area average does
    most of the shrinking first, cheaply.
    """
    cv2 = _cv2()
    src = grey
    if shrink > 1.0:
        n = max(1, int(shrink // 2))
        if n > 1:
            h, w = grey.shape
            small = (max(2, w // n), max(2, h // n))
            src = cv2.resize(grey[: small[1] * n, : small[0] * n], small, interpolation=cv2.INTER_AREA)
            m = np.array([[1 / n, 0, 0.5 / n - 0.5], [0, 1 / n, 0.5 / n - 0.5]]) @ np.vstack([m, [0, 0, 1]])
        sigma = math.sqrt(max((0.6 * shrink / n) ** 2 - (0.29 if n > 1 else 0.0) ** 2, 0.09))
        src = cv2.GaussianBlur(src.astype(np.float32), (0, 0), sigma)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(src.astype(np.float32), m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=-1.0)


def _refine(template: np.ndarray, moving: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The small affine correction (2x3, grid to grid) that best aligns ``moving`` onto ``template`` (ECC)."""
    cv2 = _cv2()
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(template, moving, warp, cv2.MOTION_AFFINE,
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, 1e-4),
                                       mask, 3)
    except cv2.error:  # no convergence: keep the features' model
        return None
    return warp.astype(np.float64)


def _worst_window(error: np.ndarray, valid: np.ndarray, win: int) -> float:
    """The largest mean error over the windows of ``win`` pixels that are mostly valid."""
    cv2 = _cv2()
    e_sum = cv2.boxFilter(error, -1, (win, win), normalize=False, borderType=cv2.BORDER_CONSTANT)
    n_sum = cv2.boxFilter(valid.astype(np.float32), -1, (win, win), normalize=False,
                          borderType=cv2.BORDER_CONSTANT)
    full = n_sum >= 0.6 * win * win
    return float((e_sum[full] / n_sum[full]).max()) if full.any() else 1.0


def _gradient(grid: np.ndarray, spread: float) -> np.ndarray:
    """Local gradient magnitude (largest in a 3x3 neighbourhood), in units of the picture's spread per pixel."""
    cv2 = _cv2()
    g = np.where(grid >= 0, grid, 0).astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 8
    return cv2.dilate(magnitude, np.ones((3, 3), np.uint8)) / spread


def _largest_blob(bad: np.ndarray) -> float:
    """Pixels in the largest connected patch of ``bad`` after removing specks (a 2x2 opening)."""
    cv2 = _cv2()
    bad = cv2.morphologyEx(bad.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(bad, connectivity=8)
    return float(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0.0


def _grids(a: Features, b: Features, model: np.ndarray, box: tuple, side: float):
    """A's and B's working copies sampled on one grid over ``box`` (A's working pixels), and where both are valid.

    ``model`` (3x3) maps A's working pixels to B's. Returns the two grids, the
    valid mask and the grid-to-A map (3x3).
    """
    cv2 = _cv2()
    x0, y0, x1, y1 = box
    extent = max(x1 - x0, y1 - y0, 1.0)
    s_b = math.sqrt(abs(np.linalg.det(model[:2, :2])))  # B's working pixels per A's
    # both copies shrunk (and so blurred alike) at least NATIVE_SHRINK times
    k = extent / max(8.0, min(side, min(extent, extent * s_b) / NATIVE_SHRINK))  # A's working pixels per grid pixel
    size = (max(2, math.ceil((x1 - x0) / k)), max(2, math.ceil((y1 - y0) / k)))
    to_a = np.array([[k, 0, x0 + 0.5 * k - 0.5], [0, k, y0 + 0.5 * k - 0.5], [0, 0, 1]])
    grid_a = _sample(a.grey, to_a[:2], size, k)
    grid_b = _sample(b.grey, (model @ to_a)[:2], size, k * s_b)
    valid = cv2.erode(((grid_a >= 0) & (grid_b >= 0)).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return grid_a, grid_b, valid, to_a


def _compare(a: Features, b: Features, model: np.ndarray, polygon_a: np.ndarray) -> dict:
    """Align the two working copies finely over the overlap, then compare their pixels.

    ``model`` (2x3) maps A's working pixels to B's; ``polygon_a`` is the overlap in A's full pixels.
    """
    poly = polygon_a / a.scale
    box = (*poly.min(0), *poly.max(0))
    model = np.vstack([model, [0, 0, 1]])
    out = {}
    grid_a, grid_b, valid, to_a = _grids(a, b, model, box, ECC_SIDE)
    if valid.sum() >= 64:
        warp = _refine(np.where(valid, grid_a, 0).astype(np.float32), np.where(grid_b >= 0, grid_b, 0).astype(np.float32),
                       valid.astype(np.uint8))
        if warp is not None:
            h, w = grid_a.shape
            shift = np.abs(np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]]) @ (warp - np.eye(2, 3)).T)
            out["ecc_shift"] = float(shift.max()) / max(w, h)
            if out["ecc_shift"] < 0.1:  # a refinement, not another answer
                model = model @ to_a @ np.vstack([warp, [0, 0, 1]]) @ np.linalg.inv(to_a)
    grid_a, grid_b, valid, _ = _grids(a, b, model, box, COMPARE_SIDE)
    n_valid = int(valid.sum())
    if n_valid < 64:
        return {"similarity": 0.0, "worst_local": 1.0, "valid": n_valid}
    va, vb = grid_a[valid], grid_b[valid]
    ra, rb = _tone_residual(vb, va), _tone_residual(va, vb)
    sa, sb = max(float(np.std(va)), MIN_SPREAD), max(float(np.std(vb)), MIN_SPREAD)
    residual = ra / sa if ra.mean() / sa < rb.mean() / sb else rb / sb
    error = np.zeros(grid_a.shape, np.float32)
    error[valid] = np.minimum(residual, 1.0)
    # the same, forgiving near edges, where a fraction of a pixel or a little blur makes a large difference
    edges = np.maximum(_gradient(grid_a, sa), _gradient(grid_b, sb))
    edge_error = np.zeros(grid_a.shape, np.float32)
    edge_error[valid] = np.minimum(residual / (1.0 + EDGE_WEIGHT * edges[valid]), 1.0)
    side = max(grid_a.shape)
    out.update({
        "similarity": float(1.0 - error[valid].mean()),
        "worst_local": _worst_window(error, valid, max(3, round(side / 6))),
        "worst_small": _worst_window(error, valid, max(3, round(side / 12))),
        "bad_share": float((error[valid] > 0.5).mean()),
        "blob": _largest_blob(error > 0.5) / n_valid,
        "edge_similarity": float(1.0 - edge_error[valid].mean()),
        "edge_local": _worst_window(edge_error, valid, max(3, round(side / 6))),
        "edge_small": _worst_window(edge_error, valid, max(3, round(side / 12))),
        "gain": float(np.log((vb.mean() + 10) / (va.mean() + 10))),
        "contrast": float(np.log((np.std(vb) + 2) / (np.std(va) + 2))),
        "spread": float(min(np.std(va), np.std(vb))),
        "valid": n_valid,
        "error_map": error,
    })
    return out


# --- one pair --------------------------------------------------------------------------------


def _measure(a: Features, b: Features, *, mirror: bool = True, mirrored_b=None, boxes=None,
             mirror_first: bool = False, full: bool = False) -> dict:
    """Everything :func:`verify_features` decides on, as a dict with its ``reason`` (also for the tuning script).

    ``mirrored_b`` is a callable giving B's mirrored features and ``boxes``
    one giving both pictures' content boxes (so that a caller can cache them). B mirrored is tried when B as it is fails (or
    first, with ``mirror_first``). ``full`` measures everything, even after a
    check has failed.
    """
    tries = [True, False] if mirror_first else [False, True]
    if not mirror:
        tries = tries[:1]
    if boxes is None:
        boxes = _lazy(lambda: (_content_box(a), _content_box(b)))
    best = None
    for flipped in tries:
        other = (mirrored_b() if mirrored_b is not None else _mirror_features(b)) if flipped else b
        found = _evaluate(a, b, other, flipped, boxes, full)
        found["reason"] = _decide(found)
        if not found["reason"]:
            return found
        if best is None or found["inliers"] > best["inliers"]:
            best = found
    return best


def _lazy(make):
    """A callable that calls ``make`` once, on first use, and then returns its value."""
    held = []

    def get():
        if not held:
            held.append(make())
        return held[0]

    return get


def _evaluate(a: Features, b: Features, other: Features, flipped: bool, boxes, full: bool) -> dict:
    found = _geometry(a, other)
    out = {"matches": found["matches"], "inliers": found["inliers"], "mirrored": flipped, "model": None,
           "points": _full_points(found, a, b, flipped)}
    if found["model"] is None or not (full or _geometry_ok(out)):
        return out
    m = _to_full(found["model"], a, b, flipped)
    scale, rotation, anisotropy, reflected = _decompose(m[:2, :2])
    out.update(model=m, scale=scale, rotation=rotation, anisotropy=anisotropy, reflected=reflected)
    if not full and _distorted(out):
        return out
    work = np.linalg.inv(np.diag([b.scale, b.scale, 1.0])) @ m @ np.diag([a.scale, a.scale, 1.0])
    content_a, content_b = boxes()
    poly_b = _overlap(m, content_a, content_b)  # where B shows A's picture
    poly_a = _overlap(np.linalg.inv(m), content_b, content_a)  # the part of A's picture that B shows
    area_a, area_b = _area(poly_a), _area(poly_b)
    out.update(poly_a=poly_a, poly_b=poly_b, coverage_a=area_a / (a.size[0] * a.size[1]),
               coverage_b=area_b / (b.size[0] * b.size[1]),
               contained_a=area_a / max(_area(_corners(content_a)), 1.0),
               contained_b=area_b / max(_area(_corners(content_b)), 1.0))
    if len(poly_a) >= 3 and len(poly_b) >= 3 and (full or _contained(out)):
        out.update(_compare(a, b, work[:2], poly_a))
    return out


def _full_points(found: dict, a: Features, b: Features, flipped: bool) -> tuple[np.ndarray, np.ndarray]:
    """The inlier matches in A's and B's full pixels (as :func:`_to_full` maps working copies)."""
    pa, pb = (np.asarray(p, np.float64).reshape(-1, 2) for p in found.get("pairs", (np.zeros((0, 2)),) * 2))
    if flipped:  # found on B mirrored: x_b = (w - 1) - x_mirrored
        pb = np.column_stack([b.grey.shape[1] - 1.0 - pb[:, 0], pb[:, 1]])
    return pa * a.scale, pb * b.scale


def _distorted(m: dict) -> bool:
    return m["anisotropy"] > MAX_ANISOTROPY or not 0.04 < m["scale"] < 25 or m["reflected"] != m["mirrored"]


def _contained(m: dict) -> bool:
    """One picture lies (nearly) inside the other: B shows all of A's picture, or B's picture is all A's."""
    return max(m["contained_a"], m["contained_b"]) >= MIN_CONTAINED


def _geometry_ok(found: dict) -> bool:
    return found["inliers"] >= MIN_INLIERS and found["inliers"] >= MIN_INLIER_RATIO * found["matches"]


def _decide(m: dict) -> str:
    """The reason ``m`` is not the same picture, or ``""``."""
    if m["matches"] < MIN_INLIERS:
        return "too few matches"
    if m["model"] is None or not _geometry_ok(m):
        return "no consistent geometry"
    if _distorted(m):
        return "distorted geometry"
    if "contained_a" not in m:
        return "no overlap"
    if not _contained(m):
        return "partial overlap (neither picture contains the other)"
    if "similarity" not in m:
        return "no overlap"
    if m["similarity"] < MIN_SIMILARITY or m["worst_local"] > MAX_LOCAL_ERROR:
        return "pixels differ after alignment"
    return ""


def _to_match(m: dict, points: bool = False) -> Match:
    reason = m["reason"]
    pa, pb = m["points"] if points and "points" in m else (None, None)
    if m.get("model") is None:
        return Match(False, m["inliers"], m["matches"], mirrored=m["mirrored"], reason=reason, points_a=pa,
                     points_b=pb)
    return Match(
        same=not reason, inliers=m["inliers"], matches=m["matches"], scale=float(m["scale"]),
        rotation=float(m["rotation"]), mirrored=bool(m["reflected"]),
        coverage_a=float(min(1.0, m.get("coverage_a", 0.0))), coverage_b=float(min(1.0, m.get("coverage_b", 0.0))),
        similarity=float(m.get("similarity", float("nan"))),
        box_a=_box(m.get("poly_a", ())), box_b=_box(m.get("poly_b", ())), reason=reason, transform=m["model"][:2].copy(),
        points_a=pa, points_b=pb,
    )


def verify_features(a: Features, b: Features, *, mirror: bool = True, points: bool = False) -> Match:
    """Decide whether B shows the same picture as A, and how they relate.

    Parameters
    ----------
    a, b
        Features of the two images (:func:`dedupkit.features.extract_features`).
    mirror
        Also try B mirrored when the direct match fails (finds mirror images
        and flips; costs one more ORB extraction).
    points
        Also return the inlier matches (``points_a``, ``points_b``, full
        pixels), e.g. to draw them (:func:`dedupkit.explain.plot_match`).

    Returns
    -------
    Match
        ``same`` and the relation: scale, rotation, mirror, coverage of each
        picture, boxes, photometric similarity, and the reason when not the same.

    Examples
    --------
    >>> from dedupkit.features import extract_features
    >>> a = extract_features("data/sample/coffee.jpg")  # doctest: +SKIP
    >>> b = extract_features("data/sample/coffee__half_size.jpg")  # doctest: +SKIP
    >>> m = verify_features(a, b)  # doctest: +SKIP
    >>> m.same, round(m.scale, 2)  # doctest: +SKIP
    (True, 0.5)
    """
    if not isinstance(a, Features) or not isinstance(b, Features):
        raise TypeError(f"verify_features takes two Features, got {type(a).__name__} and {type(b).__name__}")
    return _to_match(_measure(a, b, mirror=mirror), points=points)


# --- tables ----------------------------------------------------------------------------------

_PROGRESS_FROM = 200  # pairs: show a bar by default above this
_OUT_COLUMNS = ("verified", "inliers", "scale", "rotation", "mirrored", "coverage_a", "coverage_b", "similarity",
                "reason")


class _Images:
    """Each file's features, mirrored features and content box, made once and on first use (thread-safe enough:
    a race only costs a repeated extraction)."""

    def __init__(self, given: Mapping[str, Features], side: int, n_features: int):
        self.features: dict[str, Features | str] = dict(given)
        self.mirrored: dict[str, Features] = {}
        self.boxes: dict[str, tuple] = {}
        self.side, self.n_features = side, n_features

    def load(self, path: str) -> None:
        from .loading import ImageLoadError  # noqa: PLC0415

        if path in self.features:
            return
        try:
            self.features[path] = extract_features(path, side=self.side, n_features=self.n_features)
        except ImageLoadError as exc:
            self.features[path] = f"cannot read {exc.path}: {exc.reason}"

    def mirror_of(self, path: str) -> Features:
        if path not in self.mirrored:
            self.mirrored[path] = _mirror_features(self.features[path])
        return self.mirrored[path]

    def box_of(self, path: str) -> tuple:
        if path not in self.boxes:
            self.boxes[path] = _content_box(self.features[path])
        return self.boxes[path]


def _verify_row(images: _Images, path_a: str, path_b: str, mirror: bool, mirror_first: bool) -> Match:
    a, b = images.features[path_a], images.features[path_b]
    for f in (a, b):
        if isinstance(f, str):
            return Match(False, reason=f)
    m = _measure(a, b, mirror=mirror, mirror_first=mirror_first, mirrored_b=lambda: images.mirror_of(path_b),
                 boxes=lambda: (images.box_of(path_a), images.box_of(path_b)))
    return _to_match(m)


def _map(function, items: list, workers: int, bar) -> list:
    if workers == 1 or len(items) < 8:
        out = []
        for item in items:
            out.append(function(item))
            bar.update()
        return out
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(max_workers=workers) as pool:
        out = []
        for result in pool.map(function, items, chunksize=1):
            out.append(result)
            bar.update()
        return out


def verify_pairs(
    pairs: pd.DataFrame,
    *,
    features: Mapping[str, Features] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    mirror: bool = True,
    side: int = DEFAULT_SIDE,
    n_features: int = DEFAULT_N_FEATURES,
) -> pd.DataFrame:
    """Verify each candidate pair by local features, geometry and pixels.

    Parameters
    ----------
    pairs
        A pair table with ``path_a`` and ``path_b`` (as from
        :func:`dedupkit.find_pairs`); other columns are kept. An
        ``orientation`` column (from :func:`dedupkit.find_pairs_dihedral`)
        that names a mirror image (``"mirror"``, ``"flip"``, ``"transpose"``,
        ``"transverse"``) makes B mirrored the first try.
    features
        Features already extracted, by path (e.g. from the crop-candidate
        index); the others are extracted once per distinct file.
    workers
        Threads (OpenCV and faiss release the GIL); default: the number of CPUs.
    progress
        Show a progress bar; default: only for more than 200 pairs.
    mirror
        Also try B mirrored when B as it is does not match.
    side, n_features
        Working copy size and ORB keypoints per image, as for
        :func:`dedupkit.features.extract_features`.

    Returns
    -------
    pandas.DataFrame
        ``pairs`` with the columns ``verified`` (bool), ``inliers``,
        ``scale``, ``rotation``, ``mirrored``, ``coverage_a``, ``coverage_b``,
        ``similarity`` and ``reason`` (empty when verified) added (replaced
        if present). A file that cannot be read gives ``verified=False``
        and says why in ``reason``.

    Raises
    ------
    TypeError
        ``pairs`` is not a DataFrame.
    ValueError
        ``pairs`` lacks ``path_a``/``path_b``, or ``workers`` is not a positive integer.

    Examples
    --------
    >>> import dedupkit
    >>> hashes = dedupkit.hash_images("data/sample")  # doctest: +SKIP
    >>> pairs = dedupkit.find_pairs(hashes, max_distance=14)  # doctest: +SKIP
    >>> checked = verify_pairs(pairs)  # doctest: +SKIP
    >>> checked[checked.verified]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm  # noqa: PLC0415

    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(f"pairs must be a DataFrame with path_a and path_b columns, got {type(pairs).__name__}")
    missing = {"path_a", "path_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"the pair table needs 'path_a' and 'path_b' columns; missing {sorted(missing)} "
                         f"(columns are {list(pairs.columns)})")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    n_workers = workers or os.cpu_count() or 1
    path_a = pairs["path_a"].astype(str).tolist()
    path_b = pairs["path_b"].astype(str).tolist()
    orientation = pairs["orientation"].astype(str).tolist() if "orientation" in pairs.columns else [""] * len(pairs)
    images = _Images({str(k): v for k, v in (features or {}).items()}, side, n_features)
    show = progress if progress is not None else len(pairs) > _PROGRESS_FROM
    paths = list(dict.fromkeys(path_a + path_b))
    with tqdm(total=len(paths), desc="features", unit="image", disable=not show) as bar:
        _map(images.load, paths, n_workers, bar)
    rows = list(zip(path_a, path_b, orientation))
    with tqdm(total=len(rows), desc="verify", unit="pair", disable=not show) as bar:
        found = _map(lambda r: _verify_row(images, r[0], r[1], mirror, r[2] in _REFLECTIVE), rows, n_workers, bar)
    out = pairs.drop(columns=[c for c in _OUT_COLUMNS if c in pairs.columns]).copy()
    columns = {
        "verified": np.array([m.same for m in found], bool),
        "inliers": np.array([m.inliers for m in found], np.int64),
        "scale": np.array([m.scale for m in found], np.float64),
        "rotation": np.array([m.rotation for m in found], np.float64),
        "mirrored": np.array([m.mirrored for m in found], bool),
        "coverage_a": np.array([m.coverage_a for m in found], np.float64),
        "coverage_b": np.array([m.coverage_b for m in found], np.float64),
        "similarity": np.array([m.similarity for m in found], np.float64),
        "reason": pd.array([m.reason for m in found], dtype="string"),
    }
    for name, values in columns.items():
        out[name] = values
    return out


def relation(match: Match) -> str:
    """A one-line answer: how B relates to A.

    Examples
    --------
    >>> relation(Match(True, 80, 90, 0.5, 0.0, False, 1.0, 1.0, 0.97))
    'B is A at 50% size'
    >>> relation(Match(False, reason="too few matches"))
    'not the same picture: too few matches'
    """
    if not match.same:
        return f"not the same picture: {match.reason}"
    parts = []
    if match.coverage_a < 0.97:
        parts.append(f"a {match.coverage_a:.0%} crop of A")
    else:
        parts.append("A")
    extra = []
    if abs(match.scale - 1) > 0.03:
        extra.append(f"at {match.scale:.0%} size")
    if match.mirrored:
        extra.append("mirrored")
    turn = match.rotation
    if abs(turn) >= 0.5:
        extra.append(f"turned {abs(turn):.0f}° {'counter-clockwise' if turn > 0 else 'clockwise'}")
    if match.coverage_b < 0.97:
        extra.append(f"in a frame (the picture is {match.coverage_b:.0%} of B)")
    text = "B is " + parts[0]
    return text + (" " + ", ".join(extra) if extra else "")
