"""Verified pairs on real wallpapers the verifier's rules were never chosen on: the independent check of issue 9.

The pictures come from two Debian packages that issue 9 keeps out of bench-data for this check
(``bench_data.FORBIDDEN``): ``plasma-workspace-wallpapers`` (each wallpaper's largest landscape image, its
dark variant where it ships one, and its ``screenshot`` preview: a natural copy of the light one) and
``mate-backgrounds``. They are downloaded once with ``apt-get download`` into ``--cache``, shrunk to 1920
pixels and given bench-data's edits (``bench_edits.make_edits``, ten copies of every family) plus one logo
and one text watermark each. Light and dark variants of one wallpaper, and MATE's colour variants of one
design, are different pictures, as bench-data counts day and night variants. Left out: MATE pictures whose
colour channels are one flat colour (the pattern is in the alpha channel only: blank once flattened), and
the smaller sizes of MATE's Elephants.

The folder is scanned as a user would (``hash_images`` then ``find_duplicates(crops=True)``, the CLI's
``find --crops``); it prints the verified pairs' precision, the share of each edit family found paired with
its original, and the false pairs by the pictures they join::

    .venv/bin/python benchmarks/bench_verify_unseen.py                      # this checkout
    .venv/bin/python benchmarks/bench_verify_unseen.py --checkout /tmp/old  # another (a git archive), same set
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_data import FORBIDDEN, download_and_unpack  # noqa: E402

SOURCES = ("plasma-workspace-wallpapers", "mate-backgrounds")
MAX_SIDE = 1920
SEED = 7


def fetch(cache: Path) -> dict[str, Path]:
    """Download (once) and unpack each source package; its unpacked root."""
    if not set(SOURCES) <= FORBIDDEN:
        raise ValueError("the independent check takes only packages bench-data keeps out (bench_data.FORBIDDEN)")
    return download_and_unpack(SOURCES, cache / "debs", cache / "unpacked")


def _pixels(path: Path) -> int:
    with Image.open(path) as im:
        return im.width * im.height if im.width >= im.height else 0


def pictures(roots: dict[str, Path]) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """``(name, path)`` of every original, and of every natural copy (named after its original)."""
    originals, natural = [], []
    for folder in sorted((roots["plasma-workspace-wallpapers"] / "usr/share/wallpapers").iterdir()):
        for kind, label in (("images", "light"), ("images_dark", "dark")):
            files = [f for f in (folder / "contents" / kind).glob("*") if f.is_file() and not f.is_symlink()]
            files = [f for f in files if _pixels(f)]  # landscape: the portrait ones are other layouts
            if files:
                originals.append((f"{folder.name}-{label}", max(files, key=_pixels)))
        shots = sorted((folder / "contents").glob("screenshot.*"))
        if shots and any(name == f"{folder.name}-light" for name, _ in originals):
            natural.append((f"{folder.name}-light", shots[0]))
    for path in sorted((roots["mate-backgrounds"] / "usr/share/backgrounds/mate").glob("*/*")):
        if path.stem.startswith("Elephants") and path.stem != "Elephants_5640x3172":
            continue  # one picture shipped at three sizes: keep the largest only
        if float(np.asarray(Image.open(path).convert("L")).std()) < 1.0:
            continue  # one flat colour once the alpha channel is dropped
        originals.append((f"mate-{path.stem}", path))
    return originals, natural


def build(out: Path, roots: dict[str, Path]) -> pd.DataFrame:
    """Write the originals, natural copies and edits into ``out/files`` and return the truth table."""
    import bench_edits

    Image.MAX_IMAGE_PIXELS = None  # 5120x2880 wallpapers, trusted packages
    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    fonts = bench_edits.find_fonts()
    originals, natural = pictures(roots)
    rows = []
    for group, path in natural:
        name = f"{group}-screenshot{path.suffix.lower()}"
        shutil.copyfile(path, files / name)
        rows.append(dict(file=name, group=group, kind="natural", family="natural", edit="natural_preview"))
    for group, path in originals:
        im = Image.open(path).convert("RGB")
        scale = MAX_SIDE / max(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        im.save(files / f"{group}.jpg", quality=95)
        rows.append(dict(file=f"{group}.jpg", group=group, kind="original", family="original", edit="original"))
        copies = bench_edits.make_edits(im, SEED, group, fonts=fonts)
        for k, edit in enumerate(("watermark_logo", "watermark_text")):
            rng = bench_edits.rng_for(SEED, group, "watermark", k)
            copies.append(("watermark", k, bench_edits.edit_mild(im, rng, fonts=fonts, edit=edit)))
        for family, i, edited in copies:
            name = f"{group}__{family}{i}-{edited.edit}{edited.suffix}"
            edited.save(files / name)
            rows.append(dict(file=name, group=group, kind="edit", family=family, edit=edited.edit))
    truth = pd.DataFrame(rows)
    truth.to_csv(out / "truth.csv", index=False)
    return truth


def evaluate(truth: pd.DataFrame, pairs: pd.DataFrame) -> dict:
    """Precision of the verified pairs, and each family's copies found paired with their original."""
    group = dict(zip(truth.file, truth.group))
    a = pairs.path_a.map(os.path.basename)
    b = pairs.path_b.map(os.path.basename)
    same = a.map(group).to_numpy() == b.map(group).to_numpy()
    found = set(zip(a, b)) | set(zip(b, a))
    original = dict(zip(truth[truth.kind == "original"].group, truth[truth.kind == "original"].file))
    copies = truth[truth.kind != "original"]
    hit = pd.Series([(f, original[g]) in found for f, g in zip(copies.file, copies.group)], index=copies.index)
    false = pd.Series([" / ".join(sorted((group[x], group[y]))) for x, y in zip(a[~same], b[~same])])
    return {
        "pairs": len(pairs), "false_pairs": int((~same).sum()), "precision": float(same.mean()) if len(same) else 1.0,
        "families": hit.groupby(copies.family).agg(["sum", "size"]),
        "watermarks": hit[copies.family == "watermark"].groupby(copies.edit).agg(["sum", "size"]),
        "false": false.value_counts(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=HERE.parent / "bench-data" / "unseen-debs")
    parser.add_argument("--out", type=Path, default=HERE.parent / "out" / "verify-unseen")
    parser.add_argument("--checkout", type=Path, help="import dedupkit from this repository root instead")
    args = parser.parse_args(argv)
    if args.checkout:
        sys.path.insert(0, str(args.checkout.resolve()))
    import dedupkit

    data = args.out / "set"
    truth = pd.read_csv(data / "truth.csv") if (data / "truth.csv").exists() else build(data, fetch(args.cache))
    print(f"{truth.group.nunique()} pictures, {len(truth)} files in {data / 'files'}")
    print(f"dedupkit from {dedupkit.__file__}")
    hashes = dedupkit.hash_images(data / "files")
    pairs = dedupkit.find_duplicates(hashes, crops=True)
    pairs.to_csv(args.out / "pairs.csv", index=False)
    got = evaluate(truth, pairs)
    print(f"{got['pairs']} verified pairs, {got['false_pairs']} false: precision {got['precision']:.4f}")
    for title in ("families", "watermarks"):
        table = got[title]
        print(f"{title}: " + ", ".join(f"{k} {int(r['sum'])}/{int(r['size'])}" for k, r in table.iterrows()))
    if len(got["false"]):
        print("false pairs by the pictures they join:\n" + got["false"].to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
