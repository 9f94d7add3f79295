"""Which copy of a picture to keep: the original, not the edit.

Every member of a group is described by a few facts read from its file
(:func:`file_facts`), and the members are ranked by a list of rules, each a
comparison of two files that may call them equal (:data:`KEEP_RULES`). The
first rule that tells two files apart decides between them, and says why
(``keep_reason`` in a group table). Since rules with a margin do not chain
(qualities 98 and 94 are equal, 94 and 90 too, yet 98 beats 90), the members
of a group of up to 64 are first ordered by how many others each beats by a
rule before ``path``, then by that comparison.

The default order, and why:

``reference``
    A file under a reference folder is always kept (the "does my test set
    leak my training set" case).
``frame``
    A copy with an added frame, padding, letterbox or caption bar is not
    "more pixels" of the picture: a file whose picture (its trim box,
    :func:`dedupkit.trim.trim_box`) fills it wins over one that has a frame.
``colour``
    Colour wins over greyscale.
``pixels``
    More picture pixels (the trim box's area) win: a crop or a smaller copy
    loses. Within 2% they are equal. Only pixels that carry detail count: a
    copy at least 1.15 times larger (each side) whose detail pixels
    (``detail_pixels``, below; scaled to the other's picture when a verified
    pair says how the pictures relate) are fewer than 1.1 times the other's
    is an enlarged copy, not more of the picture, and the two are equal here
    (the next rules decide; an upscaled copy has 2.25 times the pixels at
    1.5x and no more detail).
``lossless``
    A lossless file wins over a lossy one, and a lossy one over a lossless
    file that holds a decoded JPEG (a PNG re-save of a JPEG shows its 8x8
    blocks; it is a copy of that JPEG, with nothing more in it) or an
    enlarged copy of a lossy member (a PNG of an upscaled JPEG).
``quality``
    Between two JPEGs, the clearly higher estimated quality (from the
    quantisation tables, more than 5 points apart); between other lossy
    files, clearly more bytes per picture pixel (1.5 times; not for an
    animation, whose bytes hold every frame). A re-save at a
    slightly higher quality is not better than its source, so small
    differences count as equal.
``still``
    A still image wins over an animation.
``camera``
    A file with camera metadata (EXIF make, model or date taken) wins over
    one without: edits saved by most tools drop it. An orientation tag alone
    does not count.
``copy_name``
    A file whose name extends another member's name (``photo (1).jpg``,
    ``photo-edited.jpg``, ``photo_copy.png``, ``photo-300x200.jpg`` beside
    ``photo.jpg``) is that file's copy and loses to it.
``prefer``
    A file under one of the preferred folders (earlier ones first) wins.
``older``
    The older file (modification time, more than 2 seconds apart) wins.
``path``
    The shorter path, then the first in alphabetical order: always decides.

A file's detail pixels are its picture pixels over the square of its
*detail scale*, how much larger the picture is than the detail it holds. It
is read off the spectrum of an 8 x 8 grid of 128-pixel tiles spread over the
picture at full resolution (the power of white noise of one grey level
squared taken off, so that the 8-bit steps of a smooth gradient, sharp at
any size, do not count): the frequency above which 30% of the gradient
energy lies, along the larger axis, is 1 over the detail scale. A sharp
photo's is about 1.3; a copy enlarged f times holds nothing above 1/f of its
Nyquist frequency, and its detail scale is about f times its original's, so
both have the same detail pixels. The constants were chosen with
``benchmarks/bench_keep_upscale.py`` on bench-data's tune half (upscales of
1.2-2.5x by bilinear, bicubic and Lanczos filters, saved as JPEG and PNG,
against downscales of 0.3-0.9x). Smooth pictures with little detail
(gradients, soft renders) are where it fails: an enlarged copy of one can
still win, and an original can tie with a slight downscale of it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from PIL import Image

from .loading import _ORIENTATION, ImageLoadError, normalize_mode, open_image
from .opener import image_file

__all__ = ["FACT_COLUMNS", "KEEP_RULES", "file_facts", "keep_order"]

#: The rules, in the default order (see the module's documentation).
KEEP_RULES = ("reference", "content", "colour", "pixels", "lossless", "quality", "still", "camera", "copy_name",
              "prefer", "older", "path")

#: The columns of :func:`file_facts`.
FACT_COLUMNS = ("path", "width", "height", "picture_pixels", "detail_pixels", "framed", "colour", "lossless",
                "decoded_jpeg", "format", "quality", "bytes", "animated", "camera", "mtime", "error")

_LOSSLESS_FORMATS = frozenset({"PNG", "BMP", "DIB", "TIFF", "PPM", "TGA", "ICO"})  # GIF: a palette loses colours
_WORK_SIDE = 512  # the decode that frames and colour are judged on
_FRAMED = 0.97  # picture share below which a file has a frame
_GREY_SPREAD = 8  # 99th percentile of a pixel's channel spread up to which a picture is grey
_DIP_QUALITIES = range(40, 100)  # the JPEG qualities a lossless file is re-encoded at, to find a decoded JPEG
_DIP = 0.3  # re-encoding error at one quality over its neighbours', below which a file holds a decoded JPEG
_PIXELS_EQUAL = 1.02
_PLAIN = 0.35  # frame share (verify._frame_share) of what one picture has more of, above which that is a frame
_WHOLE = 0.95  # coverage of a verified pair above which a picture is shown whole, or is all picture
_QUALITY_EQUAL = 5
_BYTES_EQUAL = 1.5
_MTIME_EQUAL = 2.0
_DETAIL_TILE = 128  # side of the full-resolution tiles the detail is measured on
_DETAIL_GRID = 8  # a grid of 8 x 8 of them, spread over the picture
_DETAIL_NOISE = 1.0  # variance (grey levels squared) of the noise taken off the tiles' power: not detail
_DETAIL_SHARE = 0.3  # share of gradient energy above the frequency that bounds a picture's detail
_DETAIL_EQUAL = 1.1  # a larger copy with fewer than this times the other's detail pixels holds no more detail
_DETAIL_MIN_SCALE = 1.15  # ... when it is at least this much larger (one side); closer, the measure cannot tell
_WINS_UP_TO = 64  # groups up to this size are ranked by wins first (see _Judge._wins)
_CAMERA_TAGS = (0x010F, 0x0110)  # Make, Model
_CAMERA_EXIF_TAGS = (0x9003, 0x829A, 0x829D)  # DateTimeOriginal, ExposureTime, FNumber
# libjpeg's standard luminance table, from which quality scales every JPEG's table
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


def file_facts(paths: Iterable[str | os.PathLike], *, progress: bool | None = None, detail: bool = True
               ) -> pd.DataFrame:
    """What the keep rules look at, for each file.

    Parameters
    ----------
    paths
        Image files.
    progress
        Show a progress bar; default: only for more than 200 files.
    detail
        Measure ``detail_pixels``, which takes a decode at full resolution
        (tens of milliseconds for a photo). With False it is left missing
        and a JPEG is decoded at reduced scale (at least 512 pixels a side):
        the keep rules (:func:`dedupkit.find_groups`) then measure it only
        for the files that need it, copies of one picture at least 1.15
        times apart in size.

    Returns
    -------
    pandas.DataFrame
        One row per path (:data:`FACT_COLUMNS`): ``width`` and ``height`` as
        displayed; ``picture_pixels``, the area of the picture inside any
        frame (the trim box); ``detail_pixels``, those of them that carry
        detail (an upscaled copy has as many as its original; missing for a
        picture with no detail above the noise); ``framed``; ``colour``
        (False for a grey picture, whatever its mode); ``lossless`` (the
        format keeps every pixel); ``decoded_jpeg`` (a lossless file showing
        JPEG's 8x8 blocks); ``format``; ``quality`` (a JPEG's estimated quality, 1 to
        100); ``bytes``; ``animated``; ``camera`` (EXIF make, model or date
        taken); ``mtime``; and ``error``, why a file could not be read (its
        other facts are then missing, and every rule calls it equal).

    Examples
    --------
    >>> facts = file_facts(["data/sample/tulips.jpg", "data/sample/tulips__png.png"])  # doctest: +SKIP
    >>> facts[["path", "lossless", "decoded_jpeg", "quality"]]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm  # noqa: PLC0415

    paths = [str(p) for p in paths]
    show = progress if progress is not None else len(paths) > 200
    rows = [_facts_of(p, detail=bool(detail))
            for p in tqdm(paths, desc="file facts", unit="file", disable=not show)]
    return pd.DataFrame(rows, columns=list(FACT_COLUMNS))


def _detail_pixels_of(path: str) -> float:
    """A file's ``detail_pixels`` (:func:`file_facts`), NaN when it cannot be read or holds no detail."""
    facts = _facts_of(path, detail=True)
    return float(facts.get("detail_pixels", np.nan)) if not facts.get("error") else float("nan")


def _facts_of(path: str, *, detail: bool) -> dict:
    row: dict = {"path": path}
    try:
        target = image_file(path)  # the file, or the bytes of a URL, a shard member or a table row (no mtime)
        if isinstance(target, str):
            stat = os.stat(target)
            row.update(bytes=stat.st_size, mtime=stat.st_mtime)
            image = open_image(target)
        else:
            row.update(bytes=len(target))
            image = open_image(path, data=target)
    except (OSError, ImageLoadError) as exc:
        return {**row, "error": str(exc)}
    try:
        fmt = image.format or ""
        row.update(format=fmt, animated=bool(getattr(image, "is_animated", False)), camera=_has_camera(image))
        if fmt in ("JPEG", "MPO"):
            row["quality"] = _jpeg_quality(image)
        lossless = fmt in _LOSSLESS_FORMATS or (fmt == "WEBP" and _webp_lossless(target))
        full = image.size[::-1] if image.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8) else image.size  # as shown
        if not detail and fmt in ("JPEG", "MPO"):
            image.draft(image.mode, (_WORK_SIDE, _WORK_SIDE))  # libjpeg's DCT scaling: frames and colour need no more
        from PIL import ImageOps  # noqa: PLC0415

        upright = normalize_mode(ImageOps.exif_transpose(image))
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        return {**row, "error": f"{path}: cannot decode the image ({exc})"}
    finally:
        image.close()
    width, height = upright.size
    row.update(lossless=lossless, decoded_jpeg=lossless and _looks_like_decoded_jpeg(upright))
    work = upright
    if max(width, height) > _WORK_SIDE:
        work = upright.copy()
        work.thumbnail((_WORK_SIDE, _WORK_SIDE), Image.Resampling.BOX)
    from .trim import trim_box  # noqa: PLC0415

    x0, y0, x1, y1 = trim_box(work)
    share = (x1 - x0) * (y1 - y0) / (work.size[0] * work.size[1])
    sx, sy = width / work.size[0], height / work.size[1]
    row.update(width=full[0], height=full[1], picture_pixels=share * full[0] * full[1], framed=share < _FRAMED,
               colour=_is_colour(work.crop(tuple(round(v) for v in (x0, y0, x1, y1)))))
    if detail:
        picture = upright.crop((round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)))  # full resolution
        scale = _detail_scale(_detail_shares(np.asarray(picture.convert("L"), np.float32)))
        row["detail_pixels"] = share * full[0] * full[1] / scale**2
    return row


def _jpeg_quality(image: Image.Image) -> float:
    """libjpeg's quality setting that gives (about) this file's luminance table."""
    tables = getattr(image, "quantization", None) or {}
    if 0 not in tables:
        return float("nan")
    table = np.asarray(tables[0], np.float64)
    if len(table) != 64:
        return float("nan")
    scale = float(np.mean(np.clip(table, 1, 255) / _STD_LUMA)) * 100  # Pillow gives tables in natural order
    quality = 5000 / scale if scale > 100 else (200 - scale) / 2
    return float(np.clip(quality, 1, 100))


def _webp_lossless(target: str | bytes) -> bool:
    """A WebP file (or its bytes) whose first chunk is VP8L (lossless), or VP8X followed by one."""
    if not isinstance(target, str):
        head = bytes(target[:4096])
    else:
        with open(target, "rb") as f:
            head = f.read(4096)
    return b"VP8L" in head[12:] and b"VP8 " not in head[12:]


def _has_camera(image: Image.Image) -> bool:
    try:
        exif = image.getexif()
        if any(exif.get(tag) for tag in _CAMERA_TAGS):
            return True
        inner = exif.get_ifd(0x8769)
        return any(inner.get(tag) for tag in _CAMERA_EXIF_TAGS)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return False


def _is_colour(image: Image.Image) -> bool:
    if image.mode == "L":
        return False
    small = image.copy()
    small.thumbnail((64, 64), Image.Resampling.BOX)  # averages noise away: colour noise on grey is still grey
    pixels = np.asarray(small, np.int16)
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return bool(np.percentile(spread, 99) > _GREY_SPREAD)


def _detail_shares(grey: np.ndarray, *, noise: float = _DETAIL_NOISE) -> np.ndarray | None:
    """The share of a picture's gradient energy above each frequency, from full-resolution tiles.

    ``shares[k]`` is the share of gradient energy (power spectrum times
    squared frequency, summed over an 8 x 8 grid of Hann-windowed tiles of
    :data:`_DETAIL_TILE` pixels spread over the picture) at frequencies above
    ``k / (len(shares) - 1)`` of the Nyquist frequency, along the larger axis
    (a resize limits both axes). The power of white noise of variance
    ``noise`` (grey levels squared) is taken off first: the 8-bit steps of a
    smooth gradient are sharp at any size, and are not detail. None for a
    picture smaller than 32 pixels, or with no detail above the noise.
    """
    height, width = grey.shape
    n = min(_DETAIL_TILE, height, width) // 2 * 2
    if n < 32:
        return None
    half = n // 2
    fy, fx = np.meshgrid(np.fft.fftfreq(n) * 2, np.fft.rfftfreq(n) * 2, indexing="ij")  # in Nyquist units
    weight = (fx**2 + fy**2) * np.where((fx > 0) & (fx < 1), 2, 1)  # gradient energy; the half rfft2 leaves out
    shell = np.minimum(np.rint(np.maximum(np.abs(fx), np.abs(fy)) * half), half).astype(np.int64).ravel()
    window = np.outer(*(2 * [np.hanning(n)])).astype(np.float32)
    ys = np.unique(np.linspace(0, height - n, _DETAIL_GRID).round().astype(int))
    xs = np.unique(np.linspace(0, width - n, _DETAIL_GRID).round().astype(int))
    tiles = np.stack([grey[y:y + n, x:x + n] for y in ys for x in xs])
    tiles = (tiles - tiles.mean(axis=(1, 2), keepdims=True)) * window
    power = np.abs(np.fft.rfft2(tiles)) ** 2 - noise * float((window.astype(np.float64) ** 2).sum())
    energy = np.bincount(shell, (np.maximum(power, 0).sum(axis=0) * weight).ravel(), half + 1)
    total = energy.sum()
    if not total > 0:
        return None
    return np.r_[np.cumsum(energy[::-1])[::-1][1:], 0.0] / total


def _detail_scale(shares: np.ndarray | None, share: float = _DETAIL_SHARE) -> float:
    """How much larger a picture is than the detail it holds: 1 over the frequency (in Nyquist units) above which
    ``share`` of its gradient energy lies, between shells by linear interpolation; about 1.3 for a sharp photo,
    about f times that for a copy enlarged f times. NaN when ``shares`` is None."""
    if shares is None:
        return float("nan")
    k = int(np.argmax(shares <= share))  # the first frequency with little enough above it (shares[-1] is 0)
    if k == 0:
        return 1.0
    above, below = shares[k - 1], shares[k]  # shares fall from above to below between shells k-1 and k
    position = k - 1 + (above - share) / (above - below) if above > below else k
    return (len(shares) - 1) / max(position, 1.0)


def _looks_like_decoded_jpeg(image: Image.Image) -> bool:
    """Whether a lossless image holds a decoded JPEG.

    Re-encoded as JPEG at its source's quality, a decoded JPEG comes back
    almost unchanged (its 8x8 blocks already hold quantised coefficients), so
    the re-encoding error, plotted over the quality setting, has a sharp dip
    there; the error of a picture that never was a JPEG falls smoothly. Seen
    on real PNGs (icons, screenshots, renders): the deepest dip keeps at
    least 0.8 of its neighbours' error; a PNG re-save of a JPEG: under 0.05.
    """
    import io  # noqa: PLC0415

    grey = image.convert("L")
    width, height = grey.size
    if min(width, height) < 32:
        return False
    grey = grey.crop((0, 0, min(width, 256) // 8 * 8, min(height, 256) // 8 * 8))  # on the source's block grid
    pixels = np.asarray(grey, np.float64)
    errors = []
    for quality in _DIP_QUALITIES:
        buffer = io.BytesIO()
        grey.save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as again:
            errors.append(float(np.abs(np.asarray(again, np.float64) - pixels).mean()))
    e = np.array(errors)
    neighbours = np.minimum(e[:-2], e[2:])
    return bool(((e[1:-1] < _DIP * neighbours) & (neighbours > 0.05)).any())  # not a picture re-encoded exactly


# --- ranking ---------------------------------------------------------------------------------


def _under(path: str, folders: Sequence[str]) -> int:
    """The index of the first folder ``path`` is under, or ``len(folders)``."""
    resolved = Path(os.path.abspath(path))
    for i, folder in enumerate(folders):
        if resolved.is_relative_to(folder):
            return i
    return len(folders)


def _stem(path: str) -> str:
    return Path(path).stem.lower()


def _copy_of(a: str, b: str) -> bool:
    """Whether the name of ``a`` extends the name of ``b`` past a separator (``b (1)``, ``b-edited``, ``b_copy``)."""
    sa, sb = _stem(a), _stem(b)
    return len(sa) > len(sb) and sa.startswith(sb) and not sa[len(sb)].isalnum()


def _bigger(x: float, y: float, equal: float) -> int:
    """1 if x is clearly (by the ratio ``equal``) bigger than y, -1 if clearly smaller, 0 otherwise or unknown."""
    if not (x > 0 and y > 0):
        return 0
    return 1 if x > y * equal else -1 if y > x * equal else 0


def _flag(x, y) -> int:
    """1 if x is true and y false, -1 the other way round, 0 when equal or unknown."""
    if pd.isna(x) or pd.isna(y) or bool(x) == bool(y):
        return 0
    return 1 if x else -1


class _Rule(NamedTuple):
    compare: Callable[[int, int], int]  # 1 when the first file is the better one to keep, -1 the other way, 0 equal
    why: str


class _Judge:
    """Compares files by the rules, in order; the first rule that tells two apart decides.

    ``relations`` maps a pair of row positions ``(i, j)`` to how file j's
    picture relates to file i's (``coverage_a``, ``coverage_b``, ``scale`` of
    a verified pair, :func:`dedupkit.verify_pairs`): what the geometry saw is
    surer than what each file's facts suggest. With ``measure_detail``, a
    missing ``detail_pixels`` is measured from the file when a rule needs it
    (:func:`file_facts` with ``detail=False`` leaves it to this).
    """

    def __init__(self, facts: pd.DataFrame, rules: Sequence[str], reference=None, prefer=None, *,
                 relations: dict[tuple[int, int], tuple[float, float, float]] | None = None, total: bool = True,
                 measure_detail: bool = False):
        self.reference = _folders(reference, "reference")
        self.prefer = _folders(prefer, "prefer")
        self.records = facts.to_dict("records")
        self.relations = relations or {}
        self._same_pixels: dict[tuple[int, int], bool] = {}
        self._resaves: dict[int, bool] = {}
        self._component: np.ndarray | None = None
        self._unmeasured = {k for k, r in enumerate(self.records) if measure_detail and pd.isna(r.get("detail_pixels"))
                            and not isinstance(r.get("error"), str) and isinstance(r.get("path"), str)}
        table = self._rules()
        if isinstance(rules, str) or not all(isinstance(r, str) and r in table for r in rules):
            bad = [rules] if isinstance(rules, str) else [r for r in rules if not (isinstance(r, str) and r in table)]
            raise ValueError(f"unknown keep rules {bad}; the rules are {list(KEEP_RULES)}")
        self.order = [table[r] for r in dict.fromkeys([*rules, *(["path"] if total else [])])]

    def decide(self, i: int, j: int) -> tuple[int, str]:
        """1 when file ``i`` is the better one to keep, -1 when ``j`` is (0: equal), and the deciding rule's words."""
        for rule in self.order:
            result = rule.compare(i, j)
            if result:
                return result, rule.why
        return 0, ""

    def rank(self, component: np.ndarray) -> np.ndarray:
        rank = np.zeros(len(self.records), np.int64)
        self._component = np.asarray(component)
        order = np.argsort(component, kind="stable")  # one pass over the components, not one scan per component
        starts = np.flatnonzero(np.r_[True, component[order][1:] != component[order][:-1]])
        for members in np.split(order, starts[1:]):
            members = members.tolist()
            wins = self._wins(members)
            members.sort(key=functools.cmp_to_key(lambda i, j, wins=wins: (wins[j] > wins[i]) - (wins[j] < wins[i])
                                                  or -self.decide(i, j)[0]))
            rank[members] = np.arange(len(members))
        return rank

    def _wins(self, members: list[int]) -> dict[int, int]:
        """How many members each one beats by a rule before ``path``, for a group of at most :data:`_WINS_UP_TO`.

        Rules with a margin ("equal within 5 quality points") do not chain:
        a ties with b, b with c, yet a beats c. Sorting by the pairwise
        comparison alone then lets the order the files come in pick the kept
        one (an upscaled copy at quality 90 tying with an EXIF-rotated copy
        at 95, that one with the original at 98); counting each member's
        wins first keeps the file that beats the most.
        """
        if len(members) > _WINS_UP_TO:
            return dict.fromkeys(members, 0)
        decisive = [rule for rule in self.order if rule.why != "path order"]
        wins = dict.fromkeys(members, 0)
        for a, i in enumerate(members):
            for j in members[a + 1:]:
                result = next((r for r in (rule.compare(i, j) for rule in decisive) if r), 0)
                wins[i if result > 0 else j] += result != 0
        return wins

    def under_reference(self) -> np.ndarray:
        return np.array([bool(self.reference) and _under(r["path"], self.reference) < len(self.reference)
                         for r in self.records], bool)

    # --- what the rules look at ---

    def _relation(self, i: int, j: int) -> tuple[float, float, float, float, float] | None:
        """How j's picture relates to i's: (share of i that j shows, share of j that shows i's picture, j's scale
        over i's, plain share of i outside what j shows, plain share of j outside i's picture)."""
        if (i, j) in self.relations:
            return self.relations[i, j]
        if (j, i) in self.relations:
            cover_j, cover_i, scale, frame_j, frame_i = self.relations[j, i]
            return cover_i, cover_j, 1 / scale if scale > 0 else float("nan"), frame_i, frame_j
        return None

    def _content(self, i: int, j: int) -> int:
        """1 when j is a crop of i, or i with a frame, caption or a turn's corners around it; -1 the other way.

        When one picture lies inside the other, the larger is the original if
        what it has more of is picture (the smaller is a crop), and the copy if
        that is one plain colour (a frame, a caption bar, filled corners).
        """
        relation = self._relation(i, j)
        if relation is None:
            return 0
        cover_i, cover_j, _, frame_i, frame_j = relation
        if cover_i >= _WHOLE and cover_j < _WHOLE:  # j holds all of i, and more
            return 0 if np.isnan(frame_j) else 1 if frame_j >= _PLAIN else -1
        if cover_j >= _WHOLE and cover_i < _WHOLE:  # i holds all of j, and more
            return 0 if np.isnan(frame_i) else -1 if frame_i >= _PLAIN else 1
        return 0

    def _pixels(self, i: int, j: int) -> int:
        relation = self._relation(i, j)
        if relation is not None and relation[2] > 0:  # j's picture is this much i's size
            more = _bigger(1.0, float(relation[2]), _PIXELS_EQUAL)
        else:
            more = _bigger(self.records[i].get("picture_pixels"), self.records[j].get("picture_pixels"), _PIXELS_EQUAL)
        if more and self._no_more_detail(*((i, j) if more > 0 else (j, i))):
            return 0  # the larger one's extra pixels hold no detail: an enlarged copy is not more of the picture
        return more

    def _size_ratio(self, i: int, j: int) -> float:
        """The size of file i's picture over file j's (one side): from a verified pair, else from picture pixels."""
        relation = self._relation(i, j)
        if relation is not None and relation[2] > 0:
            return 1 / float(relation[2])
        a, b = self.records[i].get("picture_pixels"), self.records[j].get("picture_pixels")
        return float(np.sqrt(a / b)) if a is not None and b is not None and a > 0 and b > 0 else float("nan")

    def _no_more_detail(self, big: int, small: int) -> bool:
        """Whether file ``big``, at least :data:`_DETAIL_MIN_SCALE` times the size of ``small``, holds no more
        detail: its detail pixels, scaled to the other's picture (a screenshot's detail is its own), are within
        :data:`_DETAIL_EQUAL` of the other's, or fewer."""
        ratio = self._size_ratio(big, small)
        if not ratio >= _DETAIL_MIN_SCALE:
            return False  # too close in size for the measure to tell, or unknown
        scales = []
        for k in (big, small):
            if k in self._unmeasured:  # measured once, only for the files a rule compares by it
                self._unmeasured.discard(k)
                self.records[k]["detail_pixels"] = _detail_pixels_of(self.records[k]["path"])
            pixels, detail = self.records[k].get("picture_pixels"), self.records[k].get("detail_pixels")
            if pixels is None or detail is None or not (pixels > 0 and detail > 0):
                return False
            scales.append(np.sqrt(pixels / detail))
        return bool(ratio**2 * (scales[1] / scales[0]) ** 2 <= _DETAIL_EQUAL)

    def _enlarged(self, i: int, j: int) -> bool:
        """Whether file ``i`` is an enlarged copy of file ``j``: larger, and no more detail."""
        return self._no_more_detail(i, j)

    def _lossiness(self, i: int, j: int) -> tuple[int, int]:
        """Each file's class: 2 lossless, 1 lossy, 0 a lossless copy of a decoded lossy file, -1 unknown."""
        a, b = self.records[i], self.records[j]
        la, lb = (-1 if pd.isna(f.get("lossless")) else 0 if f["decoded_jpeg"] else 2 if f["lossless"] else 1
                  for f in (a, b))
        if {la, lb} == {1, 2} and (self._identical(i, j) or self._enlarged(*((i, j) if la == 2 else (j, i)))):
            return (0, 1) if la == 2 else (1, 0)  # the lossless one holds the other's decoded pixels, or enlarged
        # ... or those of another lossy member: it is that file's copy against every member, so that the order
        # stays transitive (else: PNG > a tie of the JPEG > the JPEG > PNG, and the input order picks)
        return tuple(0 if c == 2 and self._resave(k) else c for c, k in ((la, i), (lb, j)))

    def _resave(self, i: int) -> bool:
        """Whether lossless file ``i`` holds the decoded pixels of a lossy file ranked with it."""
        if i not in self._resaves:
            found = False
            if self._component is not None:
                me = self.records[i]
                for k in np.flatnonzero(self._component == self._component[i]).tolist():
                    other = self.records[k]
                    if (k != i and other.get("lossless") is not None and not pd.isna(other.get("lossless"))
                            and not other["lossless"]
                            and ((other.get("width"), other.get("height")) == (me.get("width"), me.get("height"))
                                 and self._identical(i, k) or self._enlarged(i, k))):
                        found = True
                        break
            self._resaves[i] = found
        return self._resaves[i]

    def _identical(self, i: int, j: int) -> bool:
        key = (min(i, j), max(i, j))
        if key not in self._same_pixels:
            self._same_pixels[key] = _same_pixels(self.records[i], self.records[j])
        return self._same_pixels[key]

    def _quality(self, i: int, j: int) -> int:
        if self._lossiness(i, j) != (1, 1):
            return 0
        a, b = self.records[i], self.records[j]
        if any(not pd.isna(f.get("animated")) and bool(f.get("animated")) for f in (a, b)):
            return 0  # an animation's bytes hold every frame: per pixel they say nothing (the still rule decides)
        if a["format"] in ("JPEG", "MPO") and b["format"] in ("JPEG", "MPO"):
            qa, qb = a["quality"], b["quality"]
            if pd.isna(qa) or pd.isna(qb) or abs(qa - qb) <= _QUALITY_EQUAL:
                return 0
            return 1 if qa > qb else -1
        return _bigger(a["bytes"] / max(a["picture_pixels"], 1), b["bytes"] / max(b["picture_pixels"], 1),
                       _BYTES_EQUAL)

    def _older(self, i: int, j: int) -> int:
        ta, tb = self.records[i].get("mtime"), self.records[j].get("mtime")
        if pd.isna(ta) or pd.isna(tb) or abs(ta - tb) <= _MTIME_EQUAL:
            return 0
        return 1 if ta < tb else -1

    def _rules(self) -> dict[str, _Rule]:
        r = self.records

        def level(x, y) -> int:  # the lower (an earlier folder, a shorter path) is better
            return (x < y) - (x > y)

        def fact(name: str, good: bool = True):
            return lambda i, j: _flag(r[i].get(name), r[j].get(name)) * (1 if good else -1)

        def lossless(i: int, j: int) -> int:
            la, lb = self._lossiness(i, j)
            return 0 if min(la, lb) < 0 else (la > lb) - (la < lb)

        def path(i: int, j: int) -> int:
            return level(len(r[i]["path"]), len(r[j]["path"])) or level(r[i]["path"], r[j]["path"])

        return {
            "reference": _Rule(lambda i, j: level(_under(r[i]["path"], self.reference),
                                                  _under(r[j]["path"], self.reference)), "under a reference folder"),
            "content": _Rule(self._content, "the other is a crop of it, or adds a frame, caption or turn"),
            "colour": _Rule(fact("colour"), "colour, not greyscale"),
            "pixels": _Rule(self._pixels, "more pixels of the picture"),
            "lossless": _Rule(lossless, "less lossy (the other is lossy, or a lossless re-save of a lossy file)"),
            "quality": _Rule(self._quality, "higher quality"),
            "still": _Rule(fact("animated", good=False), "a still image, not an animation"),
            "camera": _Rule(fact("camera"), "camera metadata"),
            "copy_name": _Rule(lambda i, j: _copy_of(r[j]["path"], r[i]["path"]) - _copy_of(r[i]["path"], r[j]["path"]),
                               "the other's name marks it a copy"),
            "prefer": _Rule(lambda i, j: level(_under(r[i]["path"], self.prefer), _under(r[j]["path"], self.prefer)),
                            "under a preferred folder"),
            "older": _Rule(self._older, "older file"),
            "path": _Rule(path, "path order"),
        }


def _same_pixels(a: dict, b: dict) -> bool:
    """Whether two files of one size decode to (nearly) the same pixels: one is the other's lossless re-save."""
    from .loading import load_image  # noqa: PLC0415

    if (a.get("width"), a.get("height")) != (b.get("width"), b.get("height")):
        return False
    try:
        pa, pb = (np.asarray(load_image(f["path"]).convert("RGB"), np.int16) for f in (a, b))
    except ImageLoadError:
        return False
    return pa.shape == pb.shape and float(np.abs(pa - pb).mean()) < 0.5


def _folders(folders: str | os.PathLike | Sequence[str | os.PathLike] | None, name: str) -> list[str]:
    if folders is None:
        return []
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    out = []
    for folder in folders:
        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"{name} must be folders (str or path), got {type(folder).__name__}")
        out.append(os.path.abspath(folder))
    return out


def keep_order(
    facts: pd.DataFrame,
    component: Sequence[int] | np.ndarray | None = None,
    *,
    rules: Sequence[str] = KEEP_RULES,
    reference: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    prefer: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
) -> np.ndarray:
    """Rank files within their components, the best to keep first.

    Parameters
    ----------
    facts
        A table from :func:`file_facts` (at least ``path``; a missing fact
        makes its rule call two files equal).
    component
        For each row of ``facts``, the set of files it is ranked among;
        default: all in one.
    rules
        Rule names (:data:`KEEP_RULES`) in the order they decide; ``path``
        is always added last, so that the order is total.
    reference, prefer
        Reference folders (files under them are always kept) and preferred
        folders, for the rules of those names.

    Returns
    -------
    numpy.ndarray
        Each file's rank in its component: 0 for the file to keep.

    Raises
    ------
    ValueError
        An unknown rule name.

    Examples
    --------
    >>> facts = file_facts(["data/sample/coffee__half_size.jpg", "data/sample/coffee.jpg"])  # doctest: +SKIP
    >>> keep_order(facts)  # doctest: +SKIP
    array([1, 0])
    """
    judge = _Judge(facts, rules, reference, prefer)
    return judge.rank(np.zeros(len(facts), np.int64) if component is None else np.asarray(component))
