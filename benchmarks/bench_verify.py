"""Speed budget of verification: folder -> verified pairs against hashing alone, in one run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_verify.py                          # 1,000 1080p JPEGs, median of 3
    .venv/bin/python benchmarks/bench_verify.py --source sample-photos   # cut from 27 camera photos instead
    .venv/bin/python benchmarks/bench_verify.py --candidate-distance 12 --repeat 5
    .venv/bin/python benchmarks/bench_verify.py --pipelines a,b                # without crop candidates

The folder (made once, under the system's temp dir) holds ``--count`` JPEGs
(quality 90), 10% of them near-duplicates: ``0.9 * count`` distinct 1920x1080
pictures and ``0.1 * count`` edited copies of some of them (the families of
``benchmarks/bench_edits.py`` in turn: mild, frame, crop, turn, dihedral,
combo; saved as JPEG q90 too, at the size the edit gives). The distinct
pictures are the left and the right half of each ``bench-data/photos/``
original (``--source bench-data``, default) or of ``/work/shared/sample-photos``
(``--source sample-photos``), each cut to 16:9 and scaled to 1920x1080 (the two
halves of one photo share no pixels), then seeded photo-like pictures
(``bench_hash.photo_like``) when there are not enough photos. bench-data's
pictures are meant to be hard (flat wallpapers, star fields, screenshots,
series of lookalikes), so they give many more hash candidates than a folder of
camera photos would.

Pipelines, timed from a cold start (no hash cache; the page cache warmed for
all alike), interleaved and repeated (median of ``--repeat``, order rotated
each round):

(a) ``dedupkit.hash_images(folder)``;
(b) (a), then ``find_pairs(max_distance=d)`` and ``dedupkit.verify.verify_pairs``
    on those candidates, for each ``d`` of ``--candidate-distance``;
(c) (b) with ``dedupkit.candidates.crop_candidates`` added to the candidates.

It prints the seconds and the ratios b/a and c/a (the target is <= 1.3).
A pipeline whose module is not there yet is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from bench_hash import machine, photo_like, uptime  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

import dedupkit  # noqa: E402

SIZE = (1920, 1080)


# -- data ------------------------------------------------------------------------------------------
SOURCES = {"bench-data": ROOT / "bench-data" / "photos", "sample-photos": Path("/work/shared/sample-photos")}


def _sources(which: str) -> list[Path]:
    folder = SOURCES[which]
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def _cover(image: Image.Image) -> Image.Image:
    """The largest 16:9 centre cut of an image, scaled to 1920x1080."""
    return ImageOps.fit(image, SIZE, Image.Resampling.LANCZOS)


def _halves(path: Path) -> list[Image.Image]:
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = image.size
    return [_cover(image.crop((0, 0, w // 2, h))), _cover(image.crop((w - w // 2, 0, w, h)))]


def _edit(image: Image.Image, k: int, seed: int, name: str, other: Image.Image):
    """The k-th copy: one of bench_edits' families in turn."""
    import bench_edits  # noqa: PLC0415 - the benchmark data's own edits

    family = bench_edits.FAMILIES[k % len(bench_edits.FAMILIES)]
    rng = bench_edits.rng_for(seed, name, family, 0)
    kwargs: dict = {"fonts": bench_edits.find_fonts()}
    if family == "frame":
        kwargs["other"] = other
    if family in ("mild", "frame"):
        pool = bench_edits.MILD_EDITS if family == "mild" else bench_edits.FRAME_EDITS
        kwargs["edit"] = str(rng.choice(pool))
    edited = bench_edits.EDITORS[family](image, rng, **kwargs)
    return family, edited


def make_folder(folder: Path, count: int, source: str, seed: int = 0) -> pd.DataFrame:
    """``0.9 * count`` distinct 1080p pictures and ``0.1 * count`` edited copies; returns the list."""
    listing = folder / "files.csv"
    if listing.exists() and len(pd.read_csv(listing)) == count:
        return pd.read_csv(listing)
    folder.mkdir(parents=True, exist_ok=True)
    n_copies = count // 10
    n_distinct = count - n_copies
    rows = []
    sources = _sources(source)
    from tqdm.auto import tqdm  # noqa: PLC0415

    pictures: list[str] = []
    with tqdm(total=n_distinct, desc="pictures") as bar:
        for source in sources:  # two halves of each photo, written as they are made
            if len(pictures) >= n_distinct:
                break
            names = [f"{source.stem}_{side}" for side in ("left", "right")]
            if not all((folder / f"{n}.jpg").exists() for n in names):
                for n, half in zip(names, _halves(source)):
                    half.save(folder / f"{n}.jpg", quality=90)
            for n in names[: n_distinct - len(pictures)]:
                pictures.append(n)
                rows.append({"file": f"{n}.jpg", "picture": n, "origin": "photo half", "edit": ""})
                bar.update()
        for i in range(n_distinct - len(pictures)):
            n = f"photolike_{i:04d}"
            if not (folder / f"{n}.jpg").exists():
                photo_like(*SIZE, seed=9_000_000 + i).save(folder / f"{n}.jpg", quality=90)
            pictures.append(n)
            rows.append({"file": f"{n}.jpg", "picture": n, "origin": "photo_like", "edit": ""})
            bar.update()
    step = max(1, n_distinct // max(1, n_copies))
    for k in tqdm(range(n_copies), desc="edited copies"):
        name = pictures[(k * step) % n_distinct]
        image = Image.open(folder / f"{name}.jpg").convert("RGB")
        other = Image.open(folder / f"{pictures[(k * step + 1) % n_distinct]}.jpg").convert("RGB")
        family, edited = _edit(image, k, seed, name, other)
        path = folder / f"{name}__{family}.jpg"
        if not path.exists():
            out = edited.image.convert("RGB")
            out.save(path, quality=90, **({"exif": edited.exif} if edited.exif else {}))
        rows.append({"file": path.name, "picture": name, "origin": "edited copy", "edit": f"{family}/{edited.edit}"})
    table = pd.DataFrame(rows)
    table.to_csv(listing, index=False)
    return table


# -- pipelines ---------------------------------------------------------------------------------------
def _verify_pairs():
    try:
        from dedupkit.verify import verify_pairs  # noqa: PLC0415
    except ImportError as exc:
        return None, f"dedupkit.verify.verify_pairs is not there yet ({exc})"
    return verify_pairs, ""


def _crop_candidates():
    try:
        from dedupkit.candidates import crop_candidates  # noqa: PLC0415
    except ImportError as exc:
        return None, f"dedupkit.candidates.crop_candidates is not there yet ({exc})"
    return crop_candidates, ""


def pipeline(which: str, folder: Path, args) -> dict:
    """Run one pipeline from the folder (``"a"``, or ``"b@16"``: b with candidates within 16 bits)."""
    which, _, distance = which.partition("@")
    out: dict = {}
    features = None
    start = time.perf_counter()
    hashes = dedupkit.hash_images(folder, progress=False, workers=args.workers)
    out["hash_s"] = time.perf_counter() - start
    if which == "a":
        out["total_s"] = out["hash_s"]
        return out
    t = time.perf_counter()
    candidates = dedupkit.find_pairs(hashes, max_distance=int(distance))
    out["search_s"] = time.perf_counter() - t
    out["hash_candidates"] = len(candidates)
    if which == "c":
        crop_candidates, _ = _crop_candidates()
        t = time.perf_counter()
        crops = crop_candidates(hashes["path"].astype(str).tolist(), **{"progress": False,
                                                                         **json.loads(args.crop_options)})
        out["crop_s"] = time.perf_counter() - t
        if isinstance(crops, tuple):  # (pairs, features): verify_pairs reuses the features, as find_duplicates does
            crops, features = crops
        out["crop_candidates"] = len(crops)
        a = np.minimum(crops["path_a"].astype(str), crops["path_b"].astype(str))
        b = np.maximum(crops["path_a"].astype(str), crops["path_b"].astype(str))
        crops = pd.DataFrame({"path_a": a, "path_b": b}).drop_duplicates()
        known = set(zip(candidates["path_a"].astype(str), candidates["path_b"].astype(str)))
        extra = crops[[(x, y) not in known for x, y in zip(crops["path_a"], crops["path_b"])]]
        codes = dict(zip(hashes["path"].astype(str), dedupkit.hex_to_codes(hashes["hash"].astype(str))))
        distance = [int(np.bitwise_count(codes[x] ^ codes[y]).sum()) for x, y in zip(extra["path_a"], extra["path_b"])]
        candidates = pd.concat([candidates.astype({"path_a": str, "path_b": str}),
                                extra.assign(distance=np.asarray(distance, np.int64))], ignore_index=True)
    verify_pairs, _ = _verify_pairs()
    t = time.perf_counter()
    options = {"progress": False, **json.loads(args.verify_options)}
    if features is not None:
        options["features"] = features
    checked = verify_pairs(candidates, **options)
    out["verify_s"] = time.perf_counter() - t
    out["candidates"] = len(candidates)
    out["verified"] = int(checked["verified"].sum())
    out["total_s"] = time.perf_counter() - start
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000, help="JPEGs in the folder (default %(default)s)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-verify")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median; default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="hash_images workers (default: all cores)")
    parser.add_argument("--candidate-distance", default="10,16",
                        help="hash distance(s) of the candidates, comma-separated (default %(default)s)")
    parser.add_argument("--source", choices=sorted(SOURCES), default="bench-data",
                        help="photos the pictures are cut from (default %(default)s)")
    parser.add_argument("--verify-options", default="{}", help="JSON keyword arguments of verify_pairs")
    parser.add_argument("--crop-options", default="{}", help="JSON keyword arguments of crop_candidates")
    parser.add_argument("--pipelines", default="a,b,c", help="which of (a), (b), (c) to run (default %(default)s; "
                                                             "(a) always runs: the ratios are against it)")
    args = parser.parse_args(argv)

    folder = args.data / f"{args.source}_{args.count}"
    files = make_folder(folder, args.count, args.source)
    distances = [int(d) for d in str(args.candidate_distance).split(",") if d.strip()]
    for path in folder.glob("*.jpg"):  # the page cache is warmed for all alike
        path.read_bytes()
    notes, which = [], ["a"]
    verify_pairs, why = _verify_pairs()
    if verify_pairs is None:
        notes.append(f"(b) and (c) skipped: {why}")
    else:
        wanted = {p.strip() for p in args.pipelines.split(",")}
        which += [f"b@{d}" for d in distances] if "b" in wanted else []
        crop_candidates, why = _crop_candidates()
        if "c" not in wanted:
            pass
        elif crop_candidates is None:
            notes.append(f"(c) skipped: {why}")
        else:
            which += [f"c@{d}" for d in distances]
    print("# Verification speed budget: folder -> verified pairs against hashing alone\n")
    print(f"machine: {machine()}")
    print(f"folder: {folder} ({len(files)} JPEGs 1920x1080 q90: "
          + ", ".join(f"{n} {k}" for k, n in files["origin"].value_counts().items()) + ")")
    print(f"dedupkit {dedupkit.__version__}; candidates within {args.candidate_distance} bits (dHash); "
          f"verify options {args.verify_options}; crop options {args.crop_options}")
    print(f"uptime: {uptime()}\n")
    runs: dict[str, list[dict]] = {w: [] for w in which}
    for round_ in range(args.repeat):
        order = which[round_ % len(which):] + which[:round_ % len(which)]
        for w in order:
            runs[w].append(pipeline(w, folder, args))
            print(f"round {round_ + 1}: ({w}) {runs[w][-1]['total_s']:.2f} s", file=sys.stderr)
    def label(w: str) -> str:
        kind, _, d = w.partition("@")
        return {"a": "(a) hash_images", "b": f"(b) + find_pairs(<= {d}) + verify_pairs",
                "c": f"(c) (b) <= {d} + crop_candidates"}[kind]

    rows = []
    median = {w: float(np.median([r["total_s"] for r in runs[w]])) for w in which}
    for w in which:
        stages = {k: float(np.median([r.get(k, np.nan) for r in runs[w]])) for k in runs[w][0]}
        rows.append({"pipeline": label(w), "seconds (median)": median[w],
                     "all rounds": " / ".join(f"{r['total_s']:.2f}" for r in runs[w]),
                     "hash s": stages.get("hash_s"), "find_pairs s": stages.get("search_s"),
                     "crop cand. s": stages.get("crop_s"), "verify s": stages.get("verify_s"),
                     "candidates": stages.get("candidates"), "verified": stages.get("verified"),
                     "x (a)": median[w] / median["a"]})
    table = pd.DataFrame(rows)
    print("| " + " | ".join(table.columns) + " |")
    print("|---|" + "--:|" * (len(table.columns) - 1))
    for row in table.itertuples(index=False):
        cells = []
        for v in row:
            if v is None:
                cells.append("")
            elif isinstance(v, float) and np.isnan(v):
                cells.append("")
            elif isinstance(v, float):
                cells.append(f"{v:.0f}" if float(v).is_integer() and v >= 10 else f"{v:.2f}")
            else:
                cells.append(str(v))
        print("| " + " | ".join(cells) + " |")
    print()
    for w in which[1:]:
        print(f"{label(w)}: {w.partition('@')[0]}/a = {median[w] / median['a']:.2f}  (target <= 1.3)")
    for note in notes:
        print(f"note: {note}")
    print(f"\nuptime: {uptime()}")
    return 0


if __name__ == "__main__":
    if os.environ.get("OMP_NUM_THREADS") is None:
        os.environ["OMP_NUM_THREADS"] = "1"
    raise SystemExit(main())
