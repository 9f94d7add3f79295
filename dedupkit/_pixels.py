"""Comparing two pictures' pixels once their geometry is known (for :mod:`dedupkit.verify`).

Both grey working copies are sampled on one grid over the overlap (blurred
alike), aligned finely (rounds of ECC, the best fit kept; on request first on
a finer grid), and compared after fitting a tone curve; the errors are
summarised over the whole overlap and over its worst windows. Also: the
picture inside plain borders. The small thumbnails that choose an
orientation are :mod:`dedupkit._thumbs`.
"""

from __future__ import annotations

import math

import numpy as np

from .features import Features, _cv2

COMPARE_SIDE = 192  # long side of the overlap when pixels are compared
NATIVE_SHRINK = 2.0  # the coarser copy's pixels per compared pixel, at least
EDGE_WEIGHT = 2.0  # how much an edge (a spread per pixel) excuses a difference
MIN_SPREAD = 10.0  # grey levels: errors are measured against the picture's contrast, at least this
ECC_ITERATIONS = 20  # fine alignment (ECC) of the pixels before they are compared, on the same grid
ECC_ROUNDS = 3  # ... refined again from where the last round left them, the best kept
_HOPELESS = 0.2  # mean error (in spreads) past which another round of alignment is not tried: no copy there
_SETTLED = 0.002  # ... nor when the last round moved no corner by more than this share of the side
FINE_SIDE = 384  # long side of the finer grid a pair near the rules is aligned on first (verify.FINE_RETRY)
DETAIL_SIGMA = 1.0  # grid pixels: the fine detail a sharpened copy strengthens
MAX_SHARPEN = 4.0  # the most a copy's detail may be strengthened (an unsharp mask of 400%)
PATCH_LEVEL = 0.5  # spreads: a pixel this far off the tone curve differs clearly (a patch laid over the picture)


def _content_box(f: Features) -> tuple[float, float, float, float]:
    """The picture inside plain borders, caption bars or a plain screen, in full pixels.

    (As :func:`dedupkit.trim.trim_box` finds it.)
    """
    from PIL import Image  # noqa: PLC0415

    from .trim import trim_box  # noqa: PLC0415

    x0, y0, x1, y1 = trim_box(Image.fromarray(f.grey))
    w, h = f.size
    return (min(x0 * f.scale, w), min(y0 * f.scale, h), min(x1 * f.scale, w), min(y1 * f.scale, h))

def _tone_residual(x: np.ndarray, y: np.ndarray, detail_x: np.ndarray | None = None) -> np.ndarray:
    """|y - f(x) - b * detail_x|, with f the tone curve through y's mean in each 4-level bin of x.

    Brightness, contrast, gamma, greyscale and clipping are such curves; a
    change in one place only (a moved person, lights at night) is not.
    ``detail_x`` (x's fine detail, :func:`_detail`) is added with the one
    weight ``b >= 0`` that fits best: y is x sharpened (an unsharp mask
    strengthens every edge alike); a weight found over the whole overlap
    cannot explain a difference in one place.
    """
    which = np.clip(x, 0, 255).astype(np.int64) // 4
    count = np.bincount(which, minlength=64)
    seen = count > 0
    centres = np.bincount(which, x, 64)[seen] / count[seen]

    def off_the_curve(v: np.ndarray) -> np.ndarray:  # v less the curve through its means over x's bins
        return v - np.interp(x, centres, np.bincount(which, v, 64)[seen] / count[seen])

    residual = off_the_curve(y)
    if detail_x is not None:  # fitted with the tone curve: the detail is taken off the curve too
        detail = off_the_curve(detail_x)
        weight = float(np.dot(residual, detail)) / max(float(np.dot(detail, detail)), 1e-6)
        residual = residual - min(max(weight, 0.0), MAX_SHARPEN) * detail
    return np.abs(residual)


def _detail(grid: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``grid`` minus its blur (a Gaussian of ``DETAIL_SIGMA`` grid pixels over the valid pixels only)."""
    cv2 = _cv2()
    blur = cv2.GaussianBlur(np.where(valid, grid, 0).astype(np.float32), (0, 0), DETAIL_SIGMA)
    share = cv2.GaussianBlur(valid.astype(np.float32), (0, 0), DETAIL_SIGMA)  # of the blur that fell on valid pixels
    return grid - blur / np.maximum(share, 1e-6)


def _sample(grey: np.ndarray, m: np.ndarray, size: tuple[int, int], shrink: float) -> np.ndarray:
    """``grey`` at the points ``m @ (u, v, 1)`` of a ``size`` grid, -1 outside.

    When shrinking, the picture is first blurred by a Gaussian of 0.6 grid
    pixels (in its own pixels: ``0.6 * shrink``), so that two copies of one
    picture at different sizes come out alike; an integer area average does
    most of the shrinking first, cheaply. Only the part the grid covers is
    filtered.
    """
    cv2 = _cv2()
    h, w = grey.shape
    corners = np.array([[0, 0, 1], [size[0], 0, 1], [0, size[1], 1], [size[0], size[1], 1]], float) @ m.T
    margin = 2.0 * shrink + 3
    x0, y0 = (int(max(0, np.floor(corners[:, i].min() - margin))) for i in (0, 1))
    x1, y1 = int(min(w, np.ceil(corners[:, 0].max() + margin))), int(min(h, np.ceil(corners[:, 1].max() + margin)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.full(size[::-1], -1.0, np.float32)
    src = grey[y0:y1, x0:x1]
    m = np.array([[1, 0, -x0], [0, 1, -y0]], float) @ np.vstack([m, [0, 0, 1]])
    if shrink > 1.0:
        n = max(1, int(shrink // 2))
        if n > 1 and min(src.shape) >= 2 * n:
            small = (src.shape[1] // n, src.shape[0] // n)
            src = cv2.resize(src[: small[1] * n, : small[0] * n], small, interpolation=cv2.INTER_AREA)
            m = np.array([[1 / n, 0, 0.5 / n - 0.5], [0, 1 / n, 0.5 / n - 0.5]]) @ np.vstack([m, [0, 0, 1]])
        else:
            n = 1
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


def _aligned(a: Features, b: Features, model: np.ndarray, to_a: np.ndarray, size: tuple[int, int], shrink_b: float,
             grid_a: np.ndarray, grid_b: np.ndarray, valid: np.ndarray, finer: np.ndarray | None = None):
    """The model (3x3) after fine alignment, B's grid and the valid pixels there, and how far the alignment moved.

    Each round of ECC refines the last; the model whose pixels agree best
    (least mean error off the tone curve) is kept, the features' own included:
    one round alone can leave the copies further apart than they started
    (seen on a letterboxed screenshot, identical pixels: worst window 0.08 from
    the features' model, 0.13 after one round, 0.02 after two). With
    ``finer`` (a model from :func:`_finer`) no round is run: the better
    fitting of it and the features' model is kept.

    The move is the kept model's from the features' (corners on the grid, as a
    share of its side); when the features' model is kept, the first round's
    (or ``finer``'s); ``None`` when there was none.
    """
    if valid.sum() < 64:
        return model, grid_b, valid, None
    start = model

    def move(before: np.ndarray, after: np.ndarray) -> float:  # the largest move of a grid corner, per side
        h, w = grid_a.shape
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], float)
        moved = np.linalg.inv(to_a) @ np.linalg.inv(before) @ after @ to_a
        return float(np.abs(corners @ (moved - np.eye(3))[:2].T).max()) / max(w, h)

    best = (_misfit(grid_a, grid_b, valid), model, grid_b, valid, None)
    first = None  # how far the first try moved: the move reported when the features' model is kept
    for _ in range(1 if finer is not None else ECC_ROUNDS):
        refined = finer if finer is not None else _ecc_step(model, to_a, grid_a, grid_b, valid)
        if refined is None:
            break
        shift, step = move(start, refined), move(model, refined)  # from the features' model; this round's own
        first = shift if first is None else first
        if shift >= 0.1:  # a refinement, not another answer
            break
        model = refined
        grid_b = _sample(b.grey, (model @ to_a)[:2], size, shrink_b)
        valid = _valid(grid_a, grid_b)
        if valid.sum() < 64:
            break
        misfit = _misfit(grid_a, grid_b, valid)
        if misfit < best[0]:
            best = (misfit, model, grid_b, valid, shift)
        if best[0] > _HOPELESS or step < _SETTLED:
            break  # far from any copy, or settled: another round would change nothing
    return best[1], best[2], best[3], first if best[4] is None else best[4]


def _finer(a: Features, b: Features, model: np.ndarray, box: tuple) -> np.ndarray | None:
    """``model`` (3x3) refined by one round of ECC on a grid of up to ``FINE_SIDE`` pixels over ``box``.

    The grid's pixels are the coarser copy's own, not two of them as the
    comparison's: a fraction of a pixel that grid cannot see is seen here.
    ``None`` when ECC fails or too little of the grid is valid.
    """
    grid_a, grid_b, valid, to_a = _grids(a, b, model, box, FINE_SIDE, native=1.0)
    return _ecc_step(model, to_a, grid_a, grid_b, valid) if valid.sum() >= 64 else None


def _ecc_step(model: np.ndarray, to_a: np.ndarray, grid_a: np.ndarray, grid_b: np.ndarray,
              valid: np.ndarray) -> np.ndarray | None:
    """``model`` (3x3) corrected by one round of ECC between the grids (``to_a``: grid to A); ``None`` if it fails."""
    warp = _refine(np.where(valid, grid_a, 0).astype(np.float32), np.where(grid_b >= 0, grid_b, 0).astype(np.float32),
                   valid.astype(np.uint8))
    return None if warp is None else model @ to_a @ np.vstack([warp, [0, 0, 1]]) @ np.linalg.inv(to_a)


def _misfit(grid_a: np.ndarray, grid_b: np.ndarray, valid: np.ndarray) -> float:
    """Mean error off the tone curve (B from A), in units of A's spread: how well the grids are aligned."""
    va, vb = grid_a[valid], grid_b[valid]
    return float(_tone_residual(va, vb).mean()) / max(float(np.std(va)), MIN_SPREAD)


def _worst_window(error: np.ndarray, valid: np.ndarray, win: int) -> float:
    """The largest mean error over the windows of ``win`` pixels that are mostly valid."""
    cv2 = _cv2()
    e_sum = cv2.boxFilter(error, -1, (win, win), normalize=False, borderType=cv2.BORDER_CONSTANT)
    n_sum = cv2.boxFilter(valid.astype(np.float32), -1, (win, win), normalize=False,
                          borderType=cv2.BORDER_CONSTANT)
    full = n_sum >= 0.6 * win * win
    return float((e_sum[full] / n_sum[full]).max()) if full.any() else 1.0


def _one_patch(error: np.ndarray, valid: np.ndarray) -> dict:
    """The largest patch of clear differences, and how the rest compares without it.

    Pixels off by more than :data:`PATCH_LEVEL` spreads (specks removed) are
    joined when closer than a 32nd of the side (the letters of a word, a
    logo's parts): ``patch_share`` is the share of the overlap in the box of
    the largest such patch (``patch_box``: x0, y0, x1, y1 in grid pixels),
    ``outside_small`` the worst small window (a twelfth of the side) outside
    that box (1.0: nothing left to compare).
    """
    cv2 = _cv2()
    side = max(error.shape)
    bad = cv2.morphologyEx(((error > PATCH_LEVEL) & valid).astype(np.uint8), cv2.MORPH_OPEN,
                           np.ones((2, 2), np.uint8))
    reach = max(3, round(side / 32))
    n, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(bad, np.ones((reach, reach), np.uint8)),
                                                      connectivity=8)
    if n < 2:
        return {"patch_share": 0.0, "outside_small": 1.0}
    x, y, w, h = (int(v) for v in stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])), :4])
    outside = valid.copy()
    outside[y:y + h, x:x + w] = False
    share = w * h / max(int(valid.sum()), 1)
    box = (x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5)
    if outside.sum() < 64:
        return {"patch_share": share, "patch_box": box, "outside_small": 1.0}
    return {"patch_share": share, "patch_box": box,
            "outside_small": _worst_window(np.where(outside, error, 0.0).astype(np.float32), outside,
                                           max(3, round(side / 12)))}


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


def _grid(a: Features, b: Features, model: np.ndarray, box: tuple, side: float, native: float = NATIVE_SHRINK):
    """A grid over ``box`` (A's working pixels): its size, the grid-to-A map (3x3) and each copy's shrink factor.

    ``model`` (3x3) maps A's working pixels to B's. Both copies are shrunk
    (and so blurred alike) at least ``native`` times.
    """
    x0, y0, x1, y1 = box
    extent = max(x1 - x0, y1 - y0, 1.0)
    s_b = math.sqrt(abs(np.linalg.det(model[:2, :2])))  # B's working pixels per A's
    k = extent / max(8.0, min(side, min(extent, extent * s_b) / native))  # A's working pixels per grid pixel
    size = (max(2, math.ceil((x1 - x0) / k)), max(2, math.ceil((y1 - y0) / k)))
    to_a = np.array([[k, 0, x0 + 0.5 * k - 0.5], [0, k, y0 + 0.5 * k - 0.5], [0, 0, 1]])
    return size, to_a, k, k * s_b


def _valid(grid_a: np.ndarray, grid_b: np.ndarray) -> np.ndarray:
    """Where both copies were sampled, two grid pixels in from any edge, the grid's own included.

    Near an edge, the blur before sampling mixes in pixels from beyond it (a
    crop's border is reflected, its original's is not): the grid's border is
    eroded too (OpenCV's default border would keep it; seen on bench-data's
    tune half: a bright frame round every error map, and crops at the same
    scale rejected for it).
    """
    cv2 = _cv2()
    both = ((grid_a >= 0) & (grid_b >= 0)).astype(np.uint8)
    return cv2.erode(both, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def _grids(a: Features, b: Features, model: np.ndarray, box: tuple, side: float, native: float = NATIVE_SHRINK):
    """A's and B's working copies on one grid over ``box``, where both are valid, and the grid-to-A map."""
    size, to_a, shrink_a, shrink_b = _grid(a, b, model, box, side, native)
    grid_a = _sample(a.grey, to_a[:2], size, shrink_a)
    grid_b = _sample(b.grey, (model @ to_a)[:2], size, shrink_b)
    return grid_a, grid_b, _valid(grid_a, grid_b), to_a


def _compare(a: Features, b: Features, model: np.ndarray, polygon_a: np.ndarray, full: bool = False,
             edges: bool = False, fine: bool = False) -> dict:
    """Align the two working copies finely over the overlap, then compare their pixels.

    ``model`` (2x3) maps A's working pixels to B's; ``polygon_a`` is the
    overlap in A's full pixels. ``edges`` adds the edge-forgiving error,
    ``full`` all the statistics the tuning script looks at. ``fine`` first
    aligns them on a grid of the coarser copy's own pixels (:func:`_finer`):
    slower, and closer.
    """
    poly = polygon_a / a.scale
    box = (*poly.min(0), *poly.max(0))
    model = np.vstack([model, [0, 0, 1]])
    size, to_a, shrink_a, shrink_b = _grid(a, b, model, box, COMPARE_SIDE)
    grid_a = _sample(a.grey, to_a[:2], size, shrink_a)
    grid_b = _sample(b.grey, (model @ to_a)[:2], size, shrink_b)
    valid = _valid(grid_a, grid_b)
    out = {}
    finer = _finer(a, b, model, box) if fine else None
    model, grid_b, valid, ecc_shift = _aligned(a, b, model, to_a, size, shrink_b, grid_a, grid_b, valid, finer)
    if ecc_shift is not None:
        out["ecc_shift"] = ecc_shift
    n_valid = int(valid.sum())
    if n_valid < 64:
        return {"similarity": 0.0, "worst_local": 1.0, "worst_small": 1.0, "edge_local": 1.0, "gain": 0.0,
                "valid": n_valid}
    va, vb = grid_a[valid], grid_b[valid]
    ra = _tone_residual(vb, va, _detail(grid_b, valid)[valid])  # A from B (A the sharper, maybe)
    rb = _tone_residual(va, vb, _detail(grid_a, valid)[valid])
    sa, sb = max(float(np.std(va)), MIN_SPREAD), max(float(np.std(vb)), MIN_SPREAD)
    residual = ra / sa if ra.mean() / sa < rb.mean() / sb else rb / sb
    error = np.zeros(grid_a.shape, np.float32)
    error[valid] = np.minimum(residual, 1.0)
    side = max(grid_a.shape)
    out.update({
        "similarity": float(1.0 - error[valid].mean()),
        "worst_small": _worst_window(error, valid, max(3, round(side / 12))),
        "worst_local": _worst_window(error, valid, max(3, round(side / 6))),
        "gain": float(np.log((vb.mean() + 10) / (va.mean() + 10))),
        "valid": n_valid,
        "error_map": error,
    })
    if full or edges:
        # the same, forgiving near edges, where a fraction of a pixel or a little blur makes a large difference
        gradient = np.maximum(_gradient(grid_a, sa), _gradient(grid_b, sb))
        edge_error = np.zeros(grid_a.shape, np.float32)
        edge_error[valid] = np.minimum(residual / (1.0 + EDGE_WEIGHT * gradient[valid]), 1.0)
        out["edge_local"] = _worst_window(edge_error, valid, max(3, round(side / 6)))
        out.update(_one_patch(error, valid))
        if "patch_box" in out:  # grid pixels -> A's full pixels
            x0, y0, x1, y1 = out.pop("patch_box")
            k, ox, oy = to_a[0, 0] * a.scale, to_a[0, 2] * a.scale, to_a[1, 2] * a.scale
            out["patch_box_a"] = (k * x0 + ox, k * y0 + oy, k * x1 + ox, k * y1 + oy)
    if full:
        out.update({
            "bad_share": float((error[valid] > 0.5).mean()),
            "blob": _largest_blob(error > 0.5) / n_valid,
            "edge_similarity": float(1.0 - edge_error[valid].mean()),
            "edge_small": _worst_window(edge_error, valid, max(3, round(side / 12))),
            "contrast": float(np.log((np.std(vb) + 2) / (np.std(va) + 2))),
            "spread": float(min(np.std(va), np.std(vb))),
        })
    return out
