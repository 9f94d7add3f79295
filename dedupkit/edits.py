"""Make a benchmark of near-duplicates from any folder of photos.

Each photo is copied with a set of named, parameterised edits (resize,
recompression, colour changes, crops, borders, mirrors, EXIF orientation, ...)
into one folder, with a ``truth.csv`` (``file,group,edit``) that says which
files show the same picture. Some photos are left unedited as distractors.
Everything is seeded: the same photos, edits and seed give the same files.

>>> truth = make_benchmark("data/sample", "out/bench", seed=0)  # doctest: +SKIP
>>> truth.groupby("edit").size()  # doctest: +SKIP

Run ``python -m dedupkit.edits PHOTOS OUT`` to do the same from a shell.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ._checks import check_int
from ._edit_families import FAMILIES, Edited
from .loading import ImageLoadError, load_image, open_image
from .scan import list_images

__all__ = [
    "DEFAULT_EDITS",
    "Edit",
    "Edited",
    "apply_edit",
    "edit_table",
    "make_benchmark",
]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Edit:
    """A named edit: a family and its parameters.

    Parameters
    ----------
    name
        Used in file names (``<photo>__<name>.<ext>``) and in the ``edit``
        column of ``truth.csv``.
    family
        One of the edit families (``"resize"``, ``"crop"``, ``"border"``, ...).
    category
        How hard it is meant to be, for reporting: ``"mild"``, ``"frame"``
        (borders, padding, caption, screenshot), ``"dihedral"`` (mirrors and
        right-angle turns) or ``"hard"`` (large crops).
    params
        Keyword arguments of the family.
    """

    name: str
    family: str
    category: str
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown edit family {self.family!r}; must be one of: {', '.join(FAMILIES)}")
        if not self.name or "__" in self.name or os.sep in self.name:
            raise ValueError(f"edit name {self.name!r} must be non-empty, without '__' or a path separator")


_WHITE, _BLACK, _SCREEN = (255, 255, 255), (0, 0, 0), (236, 236, 236)

#: The edits a benchmark makes by default, in order.
DEFAULT_EDITS: tuple[Edit, ...] = (
    Edit("resize_50", "resize", "mild", {"scale": 0.5}),
    Edit("thumbnail_160", "thumbnail", "mild", {"max_side": 160}),
    Edit("jpeg_q15", "recompress", "mild", {"fmt": "jpg", "quality": 15}),
    Edit("webp_q25", "recompress", "mild", {"fmt": "webp", "quality": 25}),
    Edit("png", "recompress", "mild", {"fmt": "png"}),
    Edit("brighter_130", "brightness", "mild", {"factor": 1.3}),
    Edit("darker_75", "brightness", "mild", {"factor": 0.75}),
    Edit("contrast_140", "contrast", "mild", {"factor": 1.4}),
    Edit("contrast_70", "contrast", "mild", {"factor": 0.7}),
    Edit("gamma_060", "gamma", "mild", {"gamma": 0.6}),
    Edit("gamma_160", "gamma", "mild", {"gamma": 1.6}),
    Edit("grey", "grey", "mild"),
    Edit("blur_2", "blur", "mild", {"radius": 2.0}),
    Edit("noise_10", "noise", "mild", {"sigma": 10.0}),
    Edit("sharpen", "sharpen", "mild", {"radius": 2.0, "percent": 150}),
    Edit("stretch_120", "stretch", "mild", {"aspect": 1.2}),
    Edit("rotate_2", "small_rotation", "mild", {"degrees": 2.0}),
    Edit("rotate_m3", "small_rotation", "mild", {"degrees": -3.0}),
    Edit("watermark", "watermark", "mild", {"size": 0.06, "opacity": 0.5}),
    Edit("crop_2pct", "crop", "mild", {"fraction": 0.02}),
    Edit("crop_5pct", "crop", "mild", {"fraction": 0.05}),
    Edit("exif_3", "exif_orientation", "mild", {"tag": 3}),
    Edit("exif_6", "exif_orientation", "mild", {"tag": 6}),
    Edit("exif_8", "exif_orientation", "mild", {"tag": 8}),
    Edit("exif_2", "exif_orientation", "mild", {"tag": 2}),
    Edit("border_white", "border", "frame", {"width": 0.05, "colour": _WHITE}),
    Edit("border_black", "border", "frame", {"width": 0.02, "colour": _BLACK}),
    Edit("letterbox_black", "padding", "frame", {"aspect": 1.0, "colour": _BLACK}),
    Edit("pad_16x9_white", "padding", "frame", {"aspect": 16 / 9, "colour": _WHITE}),
    Edit("caption", "caption", "frame", {"height": 0.12, "colour": _WHITE}),
    Edit("screenshot", "screenshot", "frame", {"scale": 0.6, "colour": _SCREEN, "bar": False}),
    Edit("screenshot_bar", "screenshot", "frame", {"scale": 0.5, "colour": _SCREEN, "bar": True}),
    Edit("mirror", "dihedral", "dihedral", {"how": "mirror"}),
    Edit("flip", "dihedral", "dihedral", {"how": "flip"}),
    Edit("rotate_90", "dihedral", "dihedral", {"how": "rotate_90"}),
    Edit("rotate_180", "dihedral", "dihedral", {"how": "rotate_180"}),
    Edit("rotate_270", "dihedral", "dihedral", {"how": "rotate_270"}),
    Edit("crop_15pct", "crop", "hard", {"fraction": 0.15}),
    Edit("crop_30pct", "crop", "hard", {"fraction": 0.30}),
)

def edit_table(edits: Iterable[Edit] = DEFAULT_EDITS) -> pd.DataFrame:
    """The edits as a table: ``edit``, ``family``, ``category``, ``params``; one row each.

    Join it to a ``truth.csv`` on ``edit`` to report by family or category
    (the originals' ``edit`` is ``"original"`` and has no row).
    """
    rows = [{"edit": e.name, "family": e.family, "category": e.category, "params": dict(e.params)} for e in edits]
    return pd.DataFrame(rows, columns=["edit", "family", "category", "params"])


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator for one (photo, edit): the same whatever else is made, and in whatever order."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def apply_edit(image: Image.Image, edit: Edit, *, seed: int = 0, key: str = "") -> Edited:
    """Apply one edit to a decoded image.

    Parameters
    ----------
    image
        An ``RGB`` or ``L`` image, upright.
    edit
        The edit.
    seed, key
        Random choices (crop offsets, noise, text position) depend only on
        the seed, the key (e.g. the photo's name) and the edit's name.

    Returns
    -------
    Edited
        The picture, the file ending to write it with and its save options.

    Examples
    --------
    >>> from PIL import Image
    >>> apply_edit(Image.new("RGB", (100, 50)), DEFAULT_EDITS[0]).image.size
    (50, 25)
    """
    if not isinstance(edit, Edit):
        raise TypeError(f"edit must be an Edit, got {type(edit).__name__}")
    result = FAMILIES[edit.family](image, _rng(seed, key, edit.name), **edit.params)
    return result if isinstance(result, Edited) else Edited(result, "jpg", {"quality": 92})


def _write(edited: Edited, path: Path) -> None:
    image = edited.image
    if edited.ext in ("jpg", "jpeg") and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(path, **edited.save_options)


def make_benchmark(
    source: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    edits: Sequence[Edit] = DEFAULT_EDITS,
    distractors: float | int = 0.25,
    max_photos: int | None = None,
    max_side: int | None = 1024,
    seed: int = 0,
) -> pd.DataFrame:
    """Write a folder of edited copies of photos, and its ``truth.csv``.

    Parameters
    ----------
    source
        A folder of photos (searched recursively) or a list of image files.
    out_dir
        Folder to write into (created; files of the same name are replaced).
    edits
        The edits to make of each photo; default :data:`DEFAULT_EDITS`.
    distractors
        Photos copied without edits, so that there are pictures that are not
        duplicates of anything: a fraction of the photos (``0.25``) or a count.
        Chosen at random with ``seed``.
    max_photos
        Use at most this many photos, picked at random with ``seed`` (to
        calibrate on a sample of a large collection); default: all.
    max_side
        Photos with a longer side are first shrunk to it (keeps the benchmark
        quick); ``None`` keeps them as they are. The original in the benchmark
        is then the shrunk one.
    seed
        Seed of every random choice; the same inputs and seed give the same
        files.

    Returns
    -------
    pandas.DataFrame
        The truth table, also written to ``out_dir/truth.csv``: ``file``
        (relative to ``out_dir``), ``group`` (the photo's name: files of one
        group show the same picture) and ``edit`` (``"original"`` for the
        photo itself).

    Raises
    ------
    ValueError
        No photos could be read, two edits share a name, or ``distractors``
        is negative or more than the photos.
    """
    names = [e.name for e in edits]
    if len(set(names)) != len(names):
        raise ValueError(f"edit names must be unique, got {names}")
    files, _ = list_images(source)
    if max_photos is not None:
        max_photos = check_int(max_photos, "max_photos", low=1, none=True)
        if len(files) > max_photos:
            picked = np.random.default_rng(seed).choice(len(files), size=max_photos, replace=False)
            files = [files[i] for i in sorted(picked)]
    photos = [path for path in files if _opens(path)]  # headers only: one photo is decoded at a time below
    if not photos:
        raise ValueError(f"no readable photos in {source!r}")
    n_distractors = round(distractors * len(photos)) if isinstance(distractors, float) else distractors
    if not 0 <= n_distractors <= len(photos):
        raise ValueError(f"distractors must be between 0 and {len(photos)} photos, got {distractors!r}")
    chosen = set(np.random.default_rng(seed).choice(len(photos), size=n_distractors, replace=False).tolist())

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for number, path in enumerate(photos):
        try:
            image = load_image(path)
        except ImageLoadError as exc:  # the header read, the pixels do not
            logger.warning("skipping %s: %s", path, exc.reason)
            continue
        group = _unique(Path(path).stem.replace("__", "_"), used)
        logger.debug("benchmark photo %d of %d: %s", number + 1, len(photos), path)
        if max_side is not None and max(image.size) > max_side:
            image = image.copy()
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            name = f"{group}.jpg"
            image.save(out / name, quality=95)
        else:
            name = group + Path(path).suffix.lower()
            shutil.copyfile(path, out / name)
        rows.append((name, group, "original"))
        if number in chosen:
            continue
        for edit in edits:
            edited = apply_edit(image, edit, seed=seed, key=group)
            name = f"{group}__{edit.name}.{edited.ext}"
            _write(edited, out / name)
            rows.append((name, group, edit.name))
    if not rows:
        raise ValueError(f"no readable photos in {source!r}")
    truth = pd.DataFrame(rows, columns=["file", "group", "edit"])
    truth.to_csv(out / "truth.csv", index=False)
    return truth


def _opens(path: str) -> bool:
    """Whether an image file opens (its header; not decoded), with a warning naming it if not."""
    try:
        open_image(path).close()
    except ImageLoadError as exc:
        logger.warning("skipping %s: %s", path, exc.reason)
        return False
    return True


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    used.add(candidate)
    return candidate


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dedupkit.edits PHOTOS OUT``: write a benchmark folder."""
    parser = argparse.ArgumentParser(prog="python -m dedupkit.edits",
                                     description=make_benchmark.__doc__.splitlines()[0])
    parser.add_argument("photos", help="folder of photos")
    parser.add_argument("out", help="folder to write the benchmark into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distractors", type=float, default=0.25, help="fraction of photos left unedited")
    parser.add_argument("--max-photos", type=int, default=None, help="use a random sample of this many photos")
    args = parser.parse_args(argv)
    truth = make_benchmark(args.photos, args.out, seed=args.seed, distractors=args.distractors,
                           max_photos=args.max_photos)
    print(f"wrote {len(truth)} files ({truth['group'].nunique()} pictures) and truth.csv to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
