"""Verified pairs: does B show the same picture as A, and how do they relate?

Each candidate pair is checked three ways:

1. **local features**: ORB descriptors (:mod:`dedupkit.features`) matched
   both ways (mutual nearest neighbours passing a ratio test);
2. **geometry**: a similarity (or, for a stretch, affine) model fitted by
   RANSAC (:mod:`dedupkit._geometry`); one picture must lie (nearly) inside
   the other: a crop, or a frame, caption or screenshot around the whole
   picture. Two framings of one scene that each show something the other does
   not are not the same picture;
3. **pixels** (:mod:`dedupkit._pixels`): both grey working copies are
   sampled on one grid over the overlap, aligned finely (rounds of ECC, the
   best fit kept) and compared after fitting a global tone curve, so that
   brightness, contrast, gamma, greyscale, blur and noise change little,
   while a changed region (a moved person, another language's labels,
   another phase of the moon) or another exposure does not pass. A pair
   that fails only there, alike overall and different only at edges, is
   aligned again on a grid of the coarser copy's own pixels and compared
   once more (a fraction of a pixel lights every edge of a screenshot).

Mirror images are matched by recomputing ORB on B mirrored (ORB is not
mirror invariant), when the thumbnails agree better mirrored or the pair
table says so; turns by 90° need nothing more. Smooth pictures with too few
features (wallpapers, gradients) are compared whole, content box to content
box, in the orientation whose thumbnails agree best.

Fast path: a pair whose thumbnails agree upright is compared whole first;
when that verifies it, upright and aligned as it is, the features are not
matched (nor, in :func:`verify_pairs`, extracted for it). A pair the whole
comparison verifies was verified anyway, so the verdicts are the same.

The thresholds below were chosen on the tune half of ``bench-data`` only
(``benchmarks/tune_verify.py --pairs``): on the candidate pairs the verified
pipelines meet there (hash, crop and dihedral candidates, hard negatives
included), the rules with the most recall per edit family at pairwise
precision >= 0.998.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._checks import check_int
from ._geometry import (
    _REFLECTIVE,
    _area,
    _box,
    _box_map,
    _clip,
    _corners,
    _decompose,
    _geometry,
    _mirror_features,
    _overlap,
    _to_full,
)
from ._pixels import _compare, _content_box
from ._thumbs import _probe, _probe_part, _probe_parts, _thumb
from .features import DEFAULT_N_FEATURES, DEFAULT_SIDE, Features, _grey_of_file, _with_orb

__all__ = ["Match", "relation", "verify_features", "verify_pairs"]

logger = logging.getLogger(__name__)

# --- rules (chosen on the tune half of the benchmark: benchmarks/tune_verify.py --pairs, the candidate pairs the
# verified systems really meet there, for the most recall per edit family at pairwise precision >= 0.998) -----
MIN_INLIERS = 6
MIN_INLIER_RATIO = 0.1  # inliers / matches
MAX_ANISOTROPY = 1.35  # ratio of the model's two singular values (a slight stretch)
MIN_CONTAINED = 0.85  # the contained picture's share of its own area inside the other
MIN_SIMILARITY = 0.85
MAX_LOCAL_ERROR = 0.3  # the worst window's (a sixth of the side) mean error
MAX_SMALL_ERROR = 0.25  # the worst window's (a twelfth of the side) mean error: one region that differs
MAX_EDGE_ERROR = 0.15  # ... of a sixth, with differences at edges forgiven (>= 1: not measured)
MAX_GAIN = 0.5  # |log| of the ratio of mean brightness: not another exposure (day and night)
# Pictures with too few features to match (smooth wallpapers, gradients) are compared whole: content box to
# content box, in the orientation whose pixels agree best, with their own rules.
FALLBACK_PROBE = 0.8  # correlation of 32-pixel thumbnails to try an orientation
FALLBACK_MIN_SIMILARITY = 0.95
FALLBACK_MAX_LOCAL_ERROR = 0.1
FALLBACK_MAX_GAIN = 0.3
# Speed only (the verdicts are the same at any value): pairs whose 32-pixel thumbnails correlate at least this
# much upright are compared whole before their local features are matched (most such pairs are copies).
FAST_PROBE = 0.9
# ... and verified so when the content boxes map onto each other as they are (the fine alignment moves no corner
# by more than this share of the side): then the box map's scale, turn and coverage are the pair's (on the tune
# half, 1,147 of the 3,771 verified hash candidates under the rules of 8c60bde; a turn or crop the alignment
# absorbed goes on to the features)
FAST_MAX_SHIFT = 0.01
# A pair rejected only by its pixels, whose similarity is at least this and whose differences lie at edges (the
# edge-forgiving error at most FINE_RETRY_EDGE), is aligned again on a finer grid and compared once more
# (_pixels._finer): a fraction of a pixel of misalignment lights every edge of a screenshot.
FINE_RETRY = 0.85
FINE_RETRY_EDGE = MAX_EDGE_ERROR
# A pair whose pixels differ in one small patch only (a logo or a word laid over the picture) is the same picture:
# the patch's box covers at most PATCH_MAX_SHARE of the overlap, it differs clearly (the worst small window at least
# PATCH_MIN_ERROR: a pair just over the rules everywhere is no overlay) and outside it no small window errs by more
# than PATCH_OUTSIDE_ERROR (chosen on bench-data's tune half: of the 3,302 candidate pairs the pixels rejected, 131
# true pairs verified and none false)
PATCH_MAX_SHARE = 0.02
PATCH_MIN_ERROR = 0.35
PATCH_OUTSIDE_ERROR = 0.1
_PIXELS = "pixels differ after alignment"


class Match(NamedTuple):
    """How picture B relates to picture A.

    Attributes
    ----------
    same
        B shows the same picture as A.
    inliers, matches
        Feature matches consistent with the model, and all matches tried
        (both 0 when the pictures were verified whole without matching
        features: the fast path of :func:`verify_pairs`).
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
    frame_a, frame_b
        How much the part of A (of B) outside the picture the other shows
        looks like an added frame, 0 to 1: one plain colour that stops at the
        picture's edge. Near 1 for a frame, padding, caption bar or a turn's
        filled corners; low for more of the picture (the other is a crop).
        ``nan`` when that part is under 1% of the image, and for pairs not
        verified (measured for the keep rules, which read verified pairs only).
    overlay
        The share of the overlap in one small patch where the pixels differ
        clearly while agreeing everywhere else: a logo or text laid over one
        of the two. 0 when the pixels agree all over, and for pairs not
        verified.
    overlay_box
        ``(x0, y0, x1, y1)`` in A's full pixels: that patch, when ``overlay``
        is above 0; else ``None``.
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
    frame_a: float = float("nan")
    frame_b: float = float("nan")
    overlay: float = 0.0
    overlay_box: tuple[float, float, float, float] | None = None


# --- one pair --------------------------------------------------------------------------------


def _measure(a: Features, b: Features, *, mirror: bool = True, mirrored_b=None, boxes=None, thumbs=None,
             rect_thumbs=None, mirror_first: bool = False, full: bool = False, probes=None, rect_probes=None,
             keypoints=None, fast: bool = True) -> dict:
    """Everything :func:`verify_features` decides on, as a dict with its ``reason`` (also for the tuning script).

    B as it is is matched first; then B mirrored, when ``mirror`` and the
    thumbnails agree better mirrored than not (or first, with
    ``mirror_first``); then, if neither matched, the pictures are compared
    whole (:func:`_whole`). ``mirrored_b``, ``boxes``, ``thumbs`` and
    ``rect_thumbs`` are callables giving B's mirrored features, both content
    boxes, both thumbnails of them and of the whole images, so that a caller
    can cache them (``probes`` and ``rect_probes``: the thumbnails'
    correlations). ``full`` measures everything, even after a check has
    failed.

    The fast path: when the thumbnails agree upright (identity probe at least
    :data:`FAST_PROBE`), the whole comparison is made first, and a pair it
    verifies upright, its content boxes aligned as they are (fine alignment
    under :data:`FAST_MAX_SHIFT`), is verified without local features. That gives the same
    verdict as the order above (a pair the whole comparison verifies is
    verified whatever the features say), only without matching (``fast``
    False: features first, as described above). Then ``a``
    and ``b`` may come without keypoints: ``keypoints`` gives both with them,
    when the features are needed.
    """
    if boxes is None:
        boxes = _lazy(lambda: (_content_box(a), _content_box(b)))
    if thumbs is None:
        thumbs = _lazy(lambda: (_thumb(a, boxes()[0]), _thumb(b, boxes()[1])))
    if rect_thumbs is None:
        rect_thumbs = _lazy(lambda: (_thumb(a, (0, 0, *a.size)), _thumb(b, (0, 0, *b.size))))
    if probes is None:
        probes = _lazy(lambda: _probe(*thumbs()))
    if rect_probes is None:
        rect_probes = _lazy(lambda: _probe(*rect_thumbs()))  # no content boxes needed: cheap

    def mirror_likely() -> bool:
        p = rect_probes()
        return max(p[o] for o in _REFLECTIVE) > max(v for o, v in p.items() if o not in _REFLECTIVE)

    def whole_likely() -> bool:  # whole pictures that look alike, or one with a plain edge (a frame, maybe)
        return max(rect_probes().values()) >= FALLBACK_PROBE - 0.3 or _plain_edge(a) or _plain_edge(b)

    whole, tried = None, False
    if fast and not full and not mirror_first and probes()["identity"] >= FAST_PROBE and whole_likely():
        whole, tried = _whole(a, b, boxes, False, mirror, probes), True
        if (whole is not None and _whole_ok(whole) and whole["orientation"] == "identity"
                and whole.get("ecc_shift", 1.0) < FAST_MAX_SHIFT):
            whole.update(matches=0, inliers=0, whole=True, fast=True, reason="",
                         points=(np.zeros((0, 2)), np.zeros((0, 2))))
            return whole
    if keypoints is not None:
        a, b = keypoints()
    best = None
    for flipped in ([True, False] if mirror_first else [False, True]):
        if flipped and not mirror_first and not (mirror and (full or mirror_likely())):
            continue
        other = (mirrored_b() if mirrored_b is not None else _mirror_features(b)) if flipped else b
        found = _evaluate(a, b, other, flipped, boxes, full)
        found["reason"] = _decide(found)
        if not found["reason"]:
            return found
        if best is None or found["inliers"] > best["inliers"]:
            best = found
    if not tried:
        whole = _whole(a, b, boxes, full, mirror or mirror_first, probes) if full or whole_likely() else None
    if whole is not None and (full or _whole_ok(whole)):
        whole.update(matches=best["matches"], inliers=best["inliers"], whole=True,
                     points=(np.zeros((0, 2)), np.zeros((0, 2))))
        whole["reason"] = "" if _whole_ok(whole) else best["reason"]
        if full:
            best["whole_stats"] = whole
        if not whole["reason"]:
            return whole
    return best


def _plain_edge(f: Features) -> bool:
    """Whether a row or column at the edge of the working copy is plain (a frame, bar or screen may start there)."""
    g = f.grey
    return min(float(g[0].std()), float(g[-1].std()), float(g[:, 0].std()), float(g[:, -1].std())) < 4.0


def _lazy(make):
    """A callable that calls ``make`` once, on first use, and then returns its value."""
    held = []

    def get():
        if not held:
            held.append(make())
        return held[0]

    return get


def _evaluate(a: Features, b: Features, other: Features, flipped: bool, boxes, full: bool) -> dict:
    found = _geometry(a, other, 3 if full else MIN_INLIERS)
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
        out.update(_compare(a, b, work[:2], poly_a, full, MAX_EDGE_ERROR < 1))
        if _near(out) and _decide(out) == _PIXELS:  # differences at edges only: align closer, look again
            out = _closer(out, a, b, work[:2], poly_a, full, lambda m: not _decide(m))
    return out


def _full_points(found: dict, a: Features, b: Features, flipped: bool) -> tuple[np.ndarray, np.ndarray]:
    """The inlier matches in A's and B's full pixels (as :func:`_to_full` maps working copies)."""
    pa, pb = (np.asarray(p, np.float64).reshape(-1, 2) for p in found.get("pairs", (np.zeros((0, 2)),) * 2))
    if flipped:  # found on B mirrored: x_b = (w - 1) - x_mirrored
        pb = np.column_stack([b.grey.shape[1] - 1.0 - pb[:, 0], pb[:, 1]])
    return pa * a.scale, pb * b.scale


def _whole(a: Features, b: Features, boxes, full: bool, mirror: bool = True, probes=None) -> dict | None:
    """Compare the pictures whole (content box to content box), in the orientation that agrees best.

    Mirror images are among the orientations tried only with ``mirror``.
    ``probes`` gives the thumbnails' correlations (:func:`_probe`), for caching.
    """
    box_a, box_b = boxes()
    wa, ha = box_a[2] - box_a[0], box_a[3] - box_a[1]
    wb, hb = box_b[2] - box_b[0], box_b[3] - box_b[1]
    if min(wa, ha, wb, hb) < 4:
        return None
    scores = probes() if probes is not None else _probe(_thumb(a, box_a), _thumb(b, box_b))
    best, best_r = None, -1.0
    for orientation, r in scores.items():
        if not mirror and orientation in _REFLECTIVE:
            continue
        turned = orientation in ("rotate_90", "rotate_270", "transpose", "transverse")
        aspect = (ha / wa if turned else wa / ha) / (wb / hb)
        if abs(math.log(aspect)) <= math.log(MAX_ANISOTROPY) and r > best_r:
            best, best_r = orientation, r
    if best is None or (best_r < FALLBACK_PROBE and not full):
        return None
    m = _box_map(best, box_a, box_b)
    work = np.diag([1 / b.scale, 1 / b.scale, 1.0]) @ m @ np.diag([a.scale, a.scale, 1.0])
    scale, rotation, anisotropy, reflected = _decompose(m[:2, :2])
    poly_a = _clip(_corners(box_a), box_a)
    poly_b = _overlap(m, box_a, box_b)
    out = {"model": m, "scale": scale, "rotation": rotation, "anisotropy": anisotropy, "reflected": reflected,
           "mirrored": reflected, "probe": best_r, "orientation": best, "poly_a": poly_a, "poly_b": poly_b,
           "coverage_a": _area(poly_a) / (a.size[0] * a.size[1]), "coverage_b": _area(poly_b) / (b.size[0] * b.size[1]),
           "contained_a": 1.0, "contained_b": 1.0}
    out.update(_compare(a, b, work[:2], poly_a, full, MAX_EDGE_ERROR < 1))
    if _near(out) and best_r >= FALLBACK_PROBE and not _whole_ok(out):  # as in _evaluate
        out = _closer(out, a, b, work[:2], poly_a, full, _whole_ok)
    return out


def _closer(out: dict, a: Features, b: Features, work: np.ndarray, poly_a: np.ndarray, full: bool, passes) -> dict:
    """``out`` with the pixels compared again after a finer alignment (:func:`_pixels._finer`), if that passes."""
    again = {**out, **_compare(a, b, work, poly_a, full, MAX_EDGE_ERROR < 1, fine=True)}
    return again if passes(again) else out


def _near(m: dict) -> bool:
    """Rejected by its pixels, maybe, but near the rules: alike overall, and what differs is at edges."""
    return m.get("similarity", 0.0) >= FINE_RETRY and m.get("edge_local", 1.0) <= FINE_RETRY_EDGE


def _pixels_differ(m: dict) -> bool:
    return (m["similarity"] < MIN_SIMILARITY or m.get("worst_local", 0.0) > MAX_LOCAL_ERROR
            or m["worst_small"] > MAX_SMALL_ERROR or m.get("edge_local", 0.0) > MAX_EDGE_ERROR)


def _one_patch(m: dict) -> bool:
    """What differs is one small patch laid over the picture (a logo, a word): clear there, close everywhere else."""
    return (m.get("patch_share", 1.0) <= PATCH_MAX_SHARE and m["worst_small"] >= PATCH_MIN_ERROR
            and m.get("outside_small", 1.0) <= PATCH_OUTSIDE_ERROR)


def _whole_ok(m: dict) -> bool:
    return (m["probe"] >= FALLBACK_PROBE and m["similarity"] >= FALLBACK_MIN_SIMILARITY
            and m.get("worst_local", 1.0) <= FALLBACK_MAX_LOCAL_ERROR and abs(m.get("gain", 0.0)) <= FALLBACK_MAX_GAIN)


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
    if _pixels_differ(m) and not _one_patch(m):
        return _PIXELS
    if abs(m["gain"]) > MAX_GAIN:
        return "another exposure (brightness differs too much)"
    return ""


def _frame_share(f: Features, polygon: np.ndarray) -> float:
    """How much ``f`` outside ``polygon`` (full pixels) looks like an added frame, 0 to 1.

    A frame is plain and the picture stops at it; the part of a picture a crop
    cut away goes on across the crop's edge. The smaller of two shares:

    - plain: the share of the part outside within 6 grey levels of its
      commonest level, times the share of the picture's edge next to it that
      is *not* that colour (more of a picture with a plain part, a night sky
      or a wallpaper's background, goes on across the edge);
    - break: the share of the pixels a few pixels outside the edge that
      differ from the picture a few pixels inside it (their local mean) by
      more than :data:`_BREAK_LEVELS` grey levels and twice its local
      spread: a frame, a caption bar or a screen's widgets, but not the rest
      of a photo (a retina's black surround, cut by a crop, is plain but the
      picture goes on across the cut).
    """
    import cv2  # noqa: PLC0415

    inside = np.zeros(f.grey.shape, np.uint8)
    if len(polygon) >= 3:
        cv2.fillPoly(inside, [np.round(np.asarray(polygon) / f.scale).astype(np.int32)], 1)
    mask = inside == 0
    values = f.grey[mask]
    if values.size < 0.01 * inside.size:
        return float("nan")
    counts = np.convolve(np.bincount(values.astype(np.uint8).ravel(), minlength=256), np.ones(13), mode="same")
    level = int(np.argmax(counts))
    edge = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~mask
    inner = f.grey[edge].astype(np.int16)
    continued = float((np.abs(inner - level) <= 6).mean()) if inner.size else 0.0
    plain = float(counts[level] / values.size) * (1.0 - continued)
    stop = _edge_break(f.grey, inside)
    return plain if math.isnan(stop) else min(plain, stop)  # too short an edge to measure: the plain share alone


_BREAK_GAP = 1  # pixels either side of the edge left out (alignment, resampling, JPEG ringing)
_BREAK_RING = 3  # pixels compared either side, beyond the gap
_BREAK_LEVELS = 10.0  # grey levels a pixel must differ by (and twice the picture's local spread) to break


def _edge_break(grey: np.ndarray, inside: np.ndarray) -> float:
    """The share of the ring just outside ``inside`` (a 0/1 mask) that breaks from the picture next to it."""
    import cv2  # noqa: PLC0415

    far, near = _BREAK_GAP + _BREAK_RING, _BREAK_GAP
    square = {n: np.ones((2 * n + 1, 2 * n + 1), np.uint8) for n in (near, far)}  # n pixels in any direction
    outer = (cv2.dilate(inside, square[far]) > 0) & (cv2.dilate(inside, square[near]) == 0)
    # the image's own border is no edge of the picture
    shrunk = {n: cv2.erode(inside, square[n], borderType=cv2.BORDER_REPLICATE) for n in (near, far)}
    ring = ((shrunk[near] > 0) & (shrunk[far] == 0)).astype(np.float32)  # the picture's side
    g = grey.astype(np.float32)
    side = 2 * far + 3
    sums = [cv2.boxFilter(x, -1, (side, side), normalize=False, borderType=cv2.BORDER_CONSTANT)
            for x in (ring, g * ring, g * g * ring)]
    where = outer & (sums[0] > 0.5)
    if where.sum() < 10:
        return float("nan")
    n = sums[0][where]
    mean = sums[1][where] / n
    spread = np.sqrt(np.maximum(sums[2][where] / n - mean * mean, 0.0))
    return float((np.abs(g[where] - mean) > np.maximum(_BREAK_LEVELS, 2.0 * spread)).mean())


def _to_match(m: dict, points: bool = False, a: Features | None = None, b: Features | None = None) -> Match:
    reason = m["reason"]
    pa, pb = m["points"] if points and "points" in m else (None, None)
    measure_frames = a is not None and b is not None and not reason  # the keep rules read them of verified pairs only
    overlaid = not reason and "similarity" in m and _pixels_differ(m)  # verified for one patch laid over it
    if m.get("model") is None:
        return Match(False, m["inliers"], m["matches"], mirrored=m["mirrored"], reason=reason, points_a=pa,
                     points_b=pb)
    return Match(
        same=not reason, inliers=m["inliers"], matches=m["matches"], scale=float(m["scale"]),
        rotation=float(m["rotation"]), mirrored=bool(m["reflected"]),
        coverage_a=float(min(1.0, m.get("coverage_a", 0.0))), coverage_b=float(min(1.0, m.get("coverage_b", 0.0))),
        similarity=float(m.get("similarity", float("nan"))),
        box_a=_box(m.get("poly_a", ())), box_b=_box(m.get("poly_b", ())), reason=reason,
        transform=m["model"][:2].copy(),
        points_a=pa, points_b=pb,
        frame_a=_frame_share(a, m["poly_a"]) if measure_frames and "poly_a" in m else float("nan"),
        frame_b=_frame_share(b, m["poly_b"]) if measure_frames and "poly_b" in m else float("nan"),
        overlay=float(m["patch_share"]) if overlaid else 0.0,
        overlay_box=tuple(float(v) for v in m["patch_box_a"]) if overlaid and "patch_box_a" in m else None,
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
        Without it, a pair whose pictures match whole, upright and aligned
        as they are, is verified without matching features (the same
        verdict; ``inliers`` and ``matches`` are then 0).

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
    # the inlier points are asked for (to draw them): match the features even where the fast path would not
    return _to_match(_measure(a, b, mirror=mirror, fast=not points), points=points, a=a, b=b)


# --- tables ----------------------------------------------------------------------------------

_PROGRESS_FROM = 200  # pairs: show a bar by default above this
_OUT_COLUMNS = ("verified", "inliers", "scale", "rotation", "mirrored", "coverage_a", "coverage_b", "frame_a",
                "frame_b", "similarity", "overlay", "reason")


class _Images:
    """Each file's working copy, features, mirrored features, content box and thumbnails, made once and on first
    use (thread-safe enough: a race only costs a repeated extraction).

    A file is first decoded to its grey working copy only; its ORB keypoints are added when a pair needs them
    (:meth:`keypoints_of`): pairs the fast path verifies need none."""

    def __init__(self, given: Mapping[str, Features], side: int, n_features: int):
        self.features: dict[str, Features | str] = dict(given)
        self.with_keypoints: set[str] = set(given)
        self.mirrored: dict[str, Features] = {}
        self.boxes: dict[str, tuple] = {}
        self.thumbs: dict[str, np.ndarray] = {}
        self.rect_thumbs: dict[str, np.ndarray] = {}
        self.parts: dict[tuple[str, bool], tuple] = {}
        self.side, self.n_features = side, n_features

    def load(self, path: str) -> None:
        from .loading import ImageLoadError  # noqa: PLC0415

        if path in self.features:
            return
        try:
            self.features[path] = _grey_of_file(path, side=self.side)
        except ImageLoadError as exc:
            self.features[path] = f"cannot read {exc.path}: {exc.reason}"

    def keypoints_of(self, path: str) -> Features:
        if path not in self.with_keypoints:
            self.features[path] = _with_orb(self.features[path], self.n_features)
            self.with_keypoints.add(path)
        return self.features[path]

    def mirror_of(self, path: str) -> Features:
        if path not in self.mirrored:
            self.mirrored[path] = _mirror_features(self.keypoints_of(path))
        return self.mirrored[path]

    def box_of(self, path: str) -> tuple:
        if path not in self.boxes:
            self.boxes[path] = _content_box(self.features[path])
        return self.boxes[path]

    def thumb_of(self, path: str) -> np.ndarray:
        if path not in self.thumbs:
            self.thumbs[path] = _thumb(self.features[path], self.box_of(path))
        return self.thumbs[path]

    def rect_thumb_of(self, path: str) -> np.ndarray:
        if path not in self.rect_thumbs:
            f = self.features[path]
            self.rect_thumbs[path] = _thumb(f, (0, 0, *f.size))
        return self.rect_thumbs[path]

    def probes(self, path_a: str, path_b: str, rect: bool) -> dict[str, float]:
        """:func:`_probe` of the two files' thumbnails (of their content boxes, or with ``rect`` whole)."""
        parts = []
        for path in (path_a, path_b):
            if (path, rect) not in self.parts:
                self.parts[path, rect] = _probe_part(self.rect_thumb_of(path) if rect else self.thumb_of(path))
            parts.append(self.parts[path, rect])
        return _probe_parts(*parts)


def _verify_row(images: _Images, path_a: str, path_b: str, mirror: bool, mirror_first: bool) -> Match:
    a, b = images.features[path_a], images.features[path_b]
    for f in (a, b):
        if isinstance(f, str):
            return Match(False, reason=f)
    m = _measure(a, b, mirror=mirror, mirror_first=mirror_first, mirrored_b=lambda: images.mirror_of(path_b),
                 boxes=lambda: (images.box_of(path_a), images.box_of(path_b)),
                 thumbs=lambda: (images.thumb_of(path_a), images.thumb_of(path_b)),
                 rect_thumbs=lambda: (images.rect_thumb_of(path_a), images.rect_thumb_of(path_b)),
                 probes=_lazy(lambda: images.probes(path_a, path_b, False)),
                 rect_probes=_lazy(lambda: images.probes(path_a, path_b, True)),
                 keypoints=lambda: (images.keypoints_of(path_a), images.keypoints_of(path_b)))
    return _to_match(m, a=a, b=b)


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
        index). Other files are decoded once each, and their ORB features
        extracted only when a pair needs them: a pair whose pictures match
        whole, upright and aligned as they are, is verified without them
        (the same verdict as with them; ``inliers`` is then 0).
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
        ``frame_a``, ``frame_b``, ``similarity``, ``overlay`` (:attr:`Match.overlay`: above 0 when B
        is A but for one patch laid over one of them) and ``reason`` (empty when verified) added (replaced
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
    workers = check_int(workers, "workers", low=1, none=True)
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
        "frame_a": np.array([m.frame_a for m in found], np.float64),
        "frame_b": np.array([m.frame_b for m in found], np.float64),
        "similarity": np.array([m.similarity for m in found], np.float64),
        "overlay": np.array([m.overlay for m in found], np.float64),
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
    if match.overlay > 0:
        extra.append(f"but for one patch laid over it ({match.overlay:.1%} of the picture: a logo or text)")
    text = "B is " + parts[0]
    return text + (" " + ", ".join(extra) if extra else "")
