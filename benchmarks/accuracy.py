"""Accuracy of every hash on near-duplicates made from real photos by ``dedupkit.edits``.

Run from the repository root::

    .venv/bin/python benchmarks/accuracy.py            # everything, a few minutes
    .venv/bin/python benchmarks/accuracy.py --quick    # dHash and pHash only

Two benchmarks are made with :func:`dedupkit.edits.make_benchmark` under
``out/accuracy/``:

* ``sample``: the 27 original photos of ``data/sample`` (the code's trimming
  rules were tuned on these);
* ``holdout``: photos the code was not tuned on, taken from Debian packages
  when they are installed (``apt-get install lomiri-wallpapers-16.04
  lomiri-wallpapers python3-skimage libjxl-testdata``; used here only, never
  shipped); left out with a note when missing.

For every method (dHash, vertical dHash, pHash, aHash, wHash at 64 and 256
bits; imagehash's crop-resistant hash; PDQ through ``pdqhash`` if installed),
with and without border trimming, it reports the threshold with the highest
recall at pairwise precision >= 0.99 (``t99``), the recall there overall and
per edit family (an edited copy counts as found when it is within the
threshold of its original), and the best-F1 threshold. Then the dihedral
search, the dHash+pHash combination and their costs. Tables go to stdout (as
Markdown) and CSVs and curves to ``out/accuracy/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import dedupkit
from dedupkit.dihedral import find_pairs_dihedral
from dedupkit.edits import edit_table, make_benchmark
from dedupkit.evaluate import precision_recall, recommend_threshold
from dedupkit.hashing import hex_to_codes
from dedupkit.loading import load_image
from dedupkit.trim import trim_borders

REPO = Path(__file__).resolve().parent.parent
HOLDOUT = [  # real photos shipped by Debian packages with a licence that allows use; none is in data/sample
    "/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg",  # lomiri-wallpapers-16.04, CC-BY-SA-4.0
    "/usr/share/backgrounds/Dragonfly_by_Bolly.jpg",  # lomiri-wallpapers-16.04, CC-BY-SA-4.0
    "/usr/share/backgrounds/free_by_Peter_Nerlich.jpg",  # lomiri-wallpapers-16.04, CC-BY-SA-4.0
    "/usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg",  # lomiri-wallpapers-16.04, CC-BY-SA-4.0
    "/usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg",  # lomiri-wallpapers-16.04, CC-BY-SA-4.0
    "/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",  # lomiri-wallpapers (20.04), see its copyright file
    "/usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png",  # python3-skimage (Middlebury stereo)
    "/usr/lib/python3/dist-packages/skimage/data/moon.png",  # python3-skimage, public domain (NASA)
    "/usr/lib/python3/dist-packages/skimage/data/ihc.png",  # python3-skimage, CC0 (microscopy)
    "/usr/share/libjxl-testdata/jxl/hdr_room.png",  # libjxl-testdata, BSD-3-Clause
]
METHODS = ("dhash", "dhash_vertical", "phash", "ahash", "whash")
MIN_PRECISION = 0.99
#: Settings compared at a fixed threshold: method, hash_size, trim, dihedral, max_distance. The first is
#: the library's default today; the thresholds of the others were read off the sample benchmark.
CANDIDATES = [
    ("dhash", 8, False, False, 10),
    ("dhash", 8, True, False, 10),
    ("dhash", 8, True, False, 12),
    ("phash", 8, True, False, 14),
    ("phash", 8, True, False, 16),
    ("dhash", 8, True, True, 10),
    ("phash", 8, True, True, 14),
]
FAMILY_COLUMNS = ["dhash", "phash", "pdq", "crop_resistant", "dhash +trim", "phash +trim", "pdq +trim",
                  "dhash +dihedral +trim", "phash +dihedral +trim", "dhash & phash +dihedral +trim"]


# --- benchmarks --------------------------------------------------------------------------


def build(out: Path) -> dict[str, Path]:
    """Make the benchmark folders; return {name: folder}."""
    sample = sorted(p for p in (REPO / "data" / "sample").glob("*.jpg") if "__" not in p.stem)
    benches = {"sample": (sample, 0)}
    holdout = [Path(p) for p in HOLDOUT if Path(p).exists()]
    missing = len(HOLDOUT) - len(holdout)
    if missing:
        print(f"note: {missing} holdout photos are not installed (see the docstring); using {len(holdout)}")
    if len(holdout) >= 3:
        benches["holdout"] = (holdout, 1)
    folders = {}
    for name, (photos, seed) in benches.items():
        folder = out / name
        make_benchmark(photos, folder, seed=seed)
        folders[name] = folder
    return folders


class Bench:
    """One benchmark folder: its truth, and the distance matrices of each hash."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.truth = pd.read_csv(folder / "truth.csv")
        self.files = [str(folder / f) for f in self.truth["file"]]
        self.group = self.truth["group"].to_numpy()
        self.edit = self.truth["edit"].to_numpy()
        originals = self.truth[self.truth["edit"] == "original"]
        index_of = dict(zip(originals["group"], originals.index))
        self.original = np.array([index_of[g] for g in self.group])  # row of each file's original

    def hashes(self, method: str, hash_size: int, trim: bool, dihedral: bool = False) -> pd.DataFrame:
        table = dedupkit.hash_images(self.files, method=method, hash_size=hash_size, trim=trim,
                                     dihedral=dihedral, workers=1, progress=False)
        return table.set_index("path").loc[self.files].reset_index()  # truth order

    def evaluate(self, distance: np.ndarray, n_bits: int) -> tuple[pd.DataFrame, np.ndarray]:
        """The precision/recall curve (dedupkit.evaluate) from a full distance matrix, and its copy->original distances."""
        i, j = np.triu_indices(len(distance), k=1)
        d = distance[i, j]
        near = d <= n_bits // 2
        paths = np.asarray(self.truth["file"], dtype=object)
        pairs = pd.DataFrame({"path_a": paths[i[near]], "path_b": paths[j[near]], "distance": d[near]})
        curve = precision_recall(pairs, self.truth, max_threshold=n_bits // 2)
        return curve, distance[np.arange(len(distance)), self.original]


def hamming_matrix(codes: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    others = codes if others is None else others
    return np.bitwise_count(codes[:, None, :] ^ others[None, :, :]).sum(axis=2, dtype=np.int64)


def dihedral_matrix(hashes: pd.DataFrame) -> np.ndarray:
    codes = hex_to_codes(hashes["hash"])
    turned = hex_to_codes(hashes["hash_dihedral"]).reshape(len(codes), 8, codes.shape[1])
    best = np.min([hamming_matrix(turned[:, k], codes) for k in range(8)], axis=0)
    return np.minimum(best, best.T)


# --- hashes outside dedupkit (benchmark only) --------------------------------------------


def _image(path: str, trim: bool, side: int):
    image = load_image(path)
    image = trim_borders(image) if trim else image
    image = image.copy()
    image.thumbnail((side, side))
    return image


def crop_resistant_matrix(bench: Bench, trim: bool) -> np.ndarray:
    """imagehash.crop_resistant_hash, scored as imagehash's ``a - b`` (symmetrised), times 10 as an integer."""
    import imagehash

    segments, owner = [], []
    for row, path in enumerate(bench.files):
        multi = imagehash.crop_resistant_hash(_image(path, trim, 512))
        for segment in multi.segment_hashes:
            segments.append(np.packbits(segment.hash.ravel()))
            owner.append(row)
    seg = np.array(segments)
    owner = np.array(owner)
    n = len(bench.files)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    counts = np.diff(np.r_[starts, len(owner)])
    n_bits = seg.shape[1] * 8
    cutoff = n_bits * 0.25
    best = np.minimum.reduceat(hamming_matrix(seg), starts, axis=1)  # (segments, images)
    ok = best <= cutoff
    matches = np.add.reduceat(ok, starts, axis=0).astype(float)  # (images, images)
    total = np.add.reduceat(np.where(ok, best, 0), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(matches > 0, counts[:, None] - matches + total / (matches * n_bits), counts[:, None])
    score = np.minimum(score, score.T)
    assert score.shape == (n, n)
    return np.round(score * 10).astype(np.int64)


def pdq_matrix(bench: Bench, trim: bool) -> np.ndarray | None:
    try:
        import pdqhash
    except ImportError:
        return None
    codes = []
    for path in bench.files:
        image = np.asarray(_image(path, trim, 1024).convert("RGB"))
        bits, _quality = pdqhash.compute(image)
        codes.append(np.packbits(bits.astype(np.uint8)))
    return hamming_matrix(np.array(codes))


# --- reporting ---------------------------------------------------------------------------


def summarise(bench: Bench, label: str, distance: np.ndarray, n_bits: int, fixed: int | None = None) -> tuple[dict, pd.Series]:
    """One row of the method table and the per-edit recall at t99 (or at ``fixed``)."""
    curve, to_original = bench.evaluate(distance, n_bits)
    try:
        t99 = recommend_threshold(curve, min_precision=MIN_PRECISION)
    except ValueError:
        t99 = None
    t = fixed if fixed is not None else t99
    f1_t = recommend_threshold(curve)
    at = curve.set_index("threshold")
    copies = bench.edit != "original"
    found = pd.Series(to_original[copies] <= (t if t is not None else -1), index=bench.edit[copies])
    per_edit = found.groupby(level=0).mean()
    categories = edit_table().set_index("edit")["category"]
    per_category = per_edit.groupby(categories.reindex(per_edit.index)).mean()
    row = {"method": label, "bits": n_bits, "t99": t99, "threshold": t,
           "precision": at.loc[t, "precision"] if t is not None else np.nan,
           "pair_recall": at.loc[t, "recall"] if t is not None else 0.0,
           **{f"{c}": per_category.get(c, np.nan) for c in ("mild", "frame", "dihedral", "hard")},
           "best_f1_t": f1_t, "best_f1": at.loc[f1_t, "f1"]}
    curve = curve.assign(method=label)
    row["_curve"] = curve
    return row, per_edit.rename(label)


def combined(bench: Bench, d1: np.ndarray, d2: np.ndarray, n1: int, n2: int) -> tuple[int, int, float, float]:
    """Best (t1, t2) for "d1 <= t1 and d2 <= t2" at precision >= 0.99: thresholds, precision, pair recall."""
    i, j = np.triu_indices(len(d1), k=1)
    same = bench.group[i] == bench.group[j]
    a, b = np.minimum(d1[i, j], n1 // 2 + 1), np.minimum(d2[i, j], n2 // 2 + 1)
    shape = (n1 // 2 + 2, n2 // 2 + 2)
    tp = np.zeros(shape, np.int64)
    fp = np.zeros(shape, np.int64)
    np.add.at(tp, (a[same], b[same]), 1)
    np.add.at(fp, (a[~same], b[~same]), 1)
    tp, fp = tp.cumsum(0).cumsum(1)[:-1, :-1], fp.cumsum(0).cumsum(1)[:-1, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0)
    recall = tp / same.sum()
    score = np.where(precision >= MIN_PRECISION, recall, -1)
    t1, t2 = np.unravel_index(np.argmax(score), score.shape)
    return int(t1), int(t2), float(precision[t1, t2]), float(recall[t1, t2])


def markdown(table: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else floatfmt.format(v)
        return "" if v is None else str(v)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def timed(function: Callable, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_bench(name: str, bench: Bench, quick: bool, out: Path) -> dict:
    rows, edits, curves, matrices = [], [], [], {}
    methods = ("dhash", "phash") if quick else METHODS
    for trim in (False, True):
        for hash_size in (8, 16):
            for method in methods:
                hashes = bench.hashes(method, hash_size, trim)
                distance = hamming_matrix(hex_to_codes(hashes["hash"]))
                label = f"{method}{'-256' if hash_size == 16 else ''}{' +trim' if trim else ''}"
                matrices[(method, hash_size, trim)] = distance
                row, per_edit = summarise(bench, label, distance, hash_size**2)
                rows.append(row)
                edits.append(per_edit)
        if not quick:
            label = f"crop_resistant{' +trim' if trim else ''}"
            row, per_edit = summarise(bench, label, crop_resistant_matrix(bench, trim), 200)
            row["bits"] = None
            rows.append(row)
            edits.append(per_edit)
        pdq = pdq_matrix(bench, trim)
        if pdq is not None:
            row, per_edit = summarise(bench, f"pdq{' +trim' if trim else ''}", pdq, 256)
            rows.append(row)
            edits.append(per_edit)
    # dihedral search
    dihedral = {}
    for method in ("dhash", "phash"):
        for trim in (False, True):
            hashes = bench.hashes(method, 8, trim, dihedral=True)
            label = f"{method} +dihedral{' +trim' if trim else ''}"
            distance = dihedral_matrix(hashes)
            dihedral[(method, trim)] = distance
            matrices[(method, 8, trim, "dihedral")] = distance
            row, per_edit = summarise(bench, label, distance, 64)
            rows.append(row)
            edits.append(per_edit)
    # candidate defaults at a fixed threshold (chosen on the sample benchmark)
    for position, (method, size, trim, turned, t) in enumerate(CANDIDATES):
        key = (method, size, trim, "dihedral") if turned else (method, size, trim)
        label = f"{'DEFAULT TODAY ' if position == 0 else ''}{method}{' +trim' if trim else ''}" \
                f"{' +dihedral' if turned else ''} <= {t}"
        row, per_edit = summarise(bench, label, matrices[key], size**2, fixed=t)
        rows.insert(position, row)
        edits.insert(position, per_edit)
    # combinations: dHash and pHash both under their thresholds
    combos = []
    for trim in (False, True):
        for d1, d2, label in ((matrices[("dhash", 8, trim)], matrices[("phash", 8, trim)], "dhash & phash"),
                              (dihedral[("dhash", trim)], dihedral[("phash", trim)], "dhash & phash +dihedral")):
            t1, t2, p, r = combined(bench, d1, d2, 64, 64)
            label = f"{label}{' +trim' if trim else ''}"
            combos.append({"method": label, "t_dhash": t1, "t_phash": t2, "precision": p, "pair_recall": r})
            both = np.maximum(np.where(d1 <= t1, 0, 99), np.where(d2 <= t2, 0, 99))
            row, per_edit = summarise(bench, label, both, 64, fixed=0)
            row.update(t99=f"{t1}/{t2}", threshold=f"{t1}/{t2}")
            rows.append(row)
            edits.append(per_edit)
    summary = pd.DataFrame(rows)
    curves = pd.concat([r.pop("_curve") for r in rows], ignore_index=True)
    summary = summary.drop(columns="_curve")
    families = pd.concat(edits, axis=1)
    order = [e for e in edit_table()["edit"] if e in families.index]
    families = families.loc[order]
    folder = out / name
    summary.to_csv(out / f"{name}_summary.csv", index=False)
    families.to_csv(out / f"{name}_families.csv")
    curves.to_csv(out / f"{name}_curves.csv", index=False)
    return {"summary": summary, "families": families, "combos": pd.DataFrame(combos), "folder": folder}


def costs(bench: Bench) -> pd.DataFrame:
    """Median seconds to hash the benchmark (one process) and to find pairs, plain / +trim / +dihedral."""
    rows = []
    base = timed(lambda: bench.hashes("dhash", 8, False))
    for label, options in (("plain", {}), ("+trim", {"trim": True}), ("+dihedral", {"dihedral": True}),
                           ("+trim +dihedral", {"trim": True, "dihedral": True})):
        seconds = timed(lambda: bench.hashes("dhash", 8, options.get("trim", False), options.get("dihedral", False)))
        rows.append({"step": f"hash {len(bench.files)} files {label}", "seconds": seconds, "ratio": seconds / base})
    photos = [f for f, e in zip(bench.files, bench.edit) if e == "original"]  # JPEG photos, decoded at draft size
    jpeg = {}
    for trim in (False, True):
        jpeg[trim] = timed(lambda: dedupkit.hash_images(photos, trim=trim, workers=1, progress=False), repeat=5)
        rows.append({"step": f"hash the {len(photos)} original JPEG photos{' +trim' if trim else ''}",
                     "seconds": jpeg[trim], "ratio": jpeg[trim] / jpeg[False]})
    rng = np.random.default_rng(0)  # unrelated hashes: the search cost without the cost of the answer
    n = 20000
    big = pd.DataFrame({"path": [f"{i}.jpg" for i in range(n)],
                        "hash": [r.tobytes().hex() for r in rng.integers(0, 256, (n, 8), dtype=np.uint8)],
                        "hash_dihedral": [r.tobytes().hex() for r in rng.integers(0, 256, (n, 64), dtype=np.uint8)]})
    plain = timed(lambda: dedupkit.find_pairs(big, max_distance=10))
    turned = timed(lambda: find_pairs_dihedral(big, max_distance=10))
    rows.append({"step": f"find_pairs on {len(big)} hashes", "seconds": plain, "ratio": 1.0})
    rows.append({"step": f"find_pairs_dihedral on {len(big)} hashes", "seconds": turned, "ratio": turned / plain})
    return pd.DataFrame(rows)


COLUMNS = ["method", "t99", "threshold", "precision", "pair_recall", "mild", "frame", "dihedral", "hard", "best_f1_t", "best_f1"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "accuracy")
    parser.add_argument("--quick", action="store_true", help="dHash and pHash only, no crop-resistant hash")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    folders = build(args.out)
    results = {}
    for name, folder in folders.items():
        bench = Bench(folder)
        n_copies = int((bench.edit != "original").sum())
        print(f"\n## {name}: {bench.truth['group'].nunique()} photos, {n_copies} edited copies, "
              f"{len(bench.files)} files, {len(bench.files) * (len(bench.files) - 1) // 2} pairs")
        result = run_bench(name, bench, args.quick, args.out)
        results[name] = result
        print(f"\n### Methods ({name}): recall per category at t99 (precision >= {MIN_PRECISION})\n")
        print(markdown(result["summary"][COLUMNS]))
        print(f"\n### Combinations ({name})\n")
        print(markdown(result["combos"]))
        print(f"\n### Recall per edit ({name}), copy found within the threshold of its original\n")
        keep = [c for c in result["families"].columns if c in FAMILY_COLUMNS or " <= " in c]
        print(markdown(result["families"][keep].reset_index().rename(columns={"index": "edit"}), "{:.2f}"))
    bench = Bench(folders["sample"])
    print("\n### Cost of trimming and of the dihedral search (sample benchmark, one process, median of 3)\n")
    print(markdown(costs(bench), "{:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
