"""Crop candidates (``dedupkit.candidates.crop_candidates``): recall per edit family, cost, scaling.

Run from the repository root::

    .venv/bin/python benchmarks/bench_candidates.py                    # tune half, a few settings
    .venv/bin/python benchmarks/bench_candidates.py --split report     # the reporting half, defaults only
    .venv/bin/python benchmarks/bench_candidates.py --scale 1000,10000 # index time and memory by size

Recall: an edited copy counts as found when its pair with its group's original
is among the candidates (as ``benchmarks/accuracy.py`` counts a copy found),
per ``family`` of ``bench-data/truth.csv``. Settings are chosen on
``--split tune``; ``report`` is for quoting. Features are extracted once
(timed) and every setting reuses them. ``per_image`` and ``min_votes`` are
applied to one wide search (``per_image=1000, min_votes=1``) the way
``crop_candidates`` applies them, so that one search serves all of them.

Scaling (``--scale``): the index and search part at N images, from the real
descriptors of bench-data (both halves; above that, random 256-bit
descriptors make up the count, which only measures time and memory:
random descriptors match nothing).

Results of 2026-12-02 on the shared 2-core machine (load average 6-8 from other
jobs, so times are pessimistic and noisy), tune half (2,896 files, 452 ORB
descriptors per image), recall of copy-with-original among the candidates:

| setting | per_image | min_votes | pairs/img | crop | frame | turn | combo | mild | dihedral | search ms/img |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| default | 10 | 5 | 5.06 | 0.887 | 0.933 | 0.935 | 0.885 | 0.972 | 0.667 | 32 |
| default | 20 | 3 | 11.22 | 0.927 | 0.952 | 0.966 | 0.923 | 0.973 | 0.732 | 32 |
| queries_per_image=150 | 10 | 3 | 5.05 | 0.864 | 0.918 | 0.939 | 0.866 | 0.969 | 0.605 | 17 |
| mirror=True | 10 | 3 | 5.41 | 0.887 | 0.931 | 0.943 | 0.881 | 0.968 | 0.981 | 24-40 |

(``max_distance`` 48 instead of 64 changed no number by more than 0.002.)
Feature extraction: 9-12 ms per image (wall, 2 threads). Index build and
search (``--scale``): 1,000 images 2.9 s + 16 ms/img (IVF nlist 2048);
2,896: 16 s + 24 ms/img (nlist 4096); 5,818: 31 s + 29 ms/img; 10,000
(4,300 of them random): 93 s + 36 ms/img (nlist 8192); index 40 bytes per
descriptor (18 KB per image).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dedupkit import candidates as cand  # noqa: E402

FAMILIES = ("crop", "frame", "turn", "combo", "mild", "dihedral", "natural")


def load_truth(data: Path, split: str | None) -> pd.DataFrame:
    truth = pd.read_csv(data / "truth.csv", dtype=str, keep_default_na=False)
    if split:
        truth = truth[truth["split"] == split]
    truth = truth.reset_index(drop=True)
    truth["path"] = [str(data / f) for f in truth["file"]]
    return truth


def recall(truth: pd.DataFrame, table: pd.DataFrame) -> tuple[dict, dict]:
    """Share of copies found with their original, by family and by edit."""
    found = set(zip(table["path_a"].astype(str), table["path_b"].astype(str)))
    originals = truth[truth["kind"] == "original"].drop_duplicates("group").set_index("group")["path"]
    copies = truth[(truth["kind"] != "original") & truth["group"].isin(originals.index)]
    hit = [tuple(sorted((p, originals[g]))) in found for p, g in zip(copies["path"], copies["group"])]
    copies = copies.assign(hit=hit)
    return copies.groupby("family")["hit"].mean().to_dict(), copies.groupby("edit")["hit"].mean().to_dict()


def select(wide: pd.DataFrame, per_image: int, min_votes: int, names: list[str]) -> pd.DataFrame:
    """``crop_candidates``' own selection (min_votes, then per_image) applied to a wide result."""
    rank = {p: k for k, p in enumerate(names)}
    t = wide[wide["votes"] >= min_votes]
    i = t["path_a"].astype(str).map(rank).to_numpy()
    j = t["path_b"].astype(str).map(rank).to_numpy()
    return t[cand._top_per_image(i, j, t["votes"].to_numpy(), per_image)]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_split(args) -> None:
    truth = load_truth(args.data, args.split)
    if args.limit:
        groups = sorted(truth["group"].unique())[: args.limit]
        truth = truth[truth["group"].isin(groups)].reset_index(drop=True)
    t = time.perf_counter()
    features = cand.extract_all(truth["path"], workers=args.workers, progress=True)
    extract_s = time.perf_counter() - t
    n = len(features)
    names = sorted(features)
    print(f"{args.split or 'all'}: {len(truth)} files, {n} read; features {extract_s:.1f} s "
          f"= {extract_s / n * 1000:.1f} ms/img wall with {args.workers or 'all'} workers; "
          f"{np.mean([f.n for f in features.values()]):.0f} descriptors/img; peak RSS {rss_mb():.0f} MB")
    settings = json.loads(args.settings)
    rows = []
    for setting in settings:
        t = time.perf_counter()
        wide = cand.crop_candidates(features, per_image=1000, min_votes=1, workers=args.workers,
                                    progress=False, **setting)
        wall = time.perf_counter() - t
        secs = wide.attrs["seconds"]
        print(f"\n{setting}: index {wide.attrs['index']} over {wide.attrs['n_descriptors']:,} descriptors; "
              f"index {secs['index']:.1f} s, search+votes {secs['search']:.1f} s, select {secs['select']:.1f} s "
              f"= {wall / n * 1000:.1f} ms/img (wall, {args.workers or 'all'} workers); peak RSS {rss_mb():.0f} MB")
        for per_image in args.per_image:
            for min_votes in args.min_votes:
                table = select(wide, per_image, min_votes, names)
                fam, edit = recall(truth, table)
                rows.append({**setting, "per_image": per_image, "min_votes": min_votes,
                             "pairs_per_img": round(len(table) / n, 2),
                             **{f: round(fam.get(f, float("nan")), 3) for f in FAMILIES},
                             "ms_per_img": round(wall / n * 1000, 1)})
                if args.edits and per_image == args.per_image[0] and min_votes == args.min_votes[0]:
                    print("  by edit: " + ", ".join(f"{e} {r:.2f}" for e, r in sorted(edit.items())))
    table = pd.DataFrame(rows)
    print()
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def run_scale(args) -> None:
    truth = load_truth(args.data, None)
    sizes = [int(s) for s in args.scale.split(",")]
    need = min(max(sizes), len(truth))
    features = cand.extract_all(truth["path"][:need], workers=args.workers, progress=True)
    real = [features[p].descriptors for p in sorted(features)]
    per_img = int(np.mean([len(d) for d in real]))
    rng = np.random.default_rng(0)
    print(f"real descriptors of {len(real)} images ({per_img}/img); random ones above that")
    for size in sizes:
        blocks = real[:size] + [rng.integers(0, 256, (per_img, 32), dtype=np.uint8)
                                for _ in range(max(0, size - len(real)))]
        counts = np.array([len(b) for b in blocks])
        codes = np.ascontiguousarray(np.concatenate(blocks))
        owner = np.repeat(np.arange(size), counts)
        before = rss_mb()
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1) as pool:  # as crop_candidates builds it
            index = pool.submit(cand._make_index, codes, cand.NPROBE, True).result()
        build = time.perf_counter() - t
        t = time.perf_counter()
        with cand.tqdm(total=len(codes), disable=True) as bar:
            i, j, v = cand._search_votes(index, codes, owner, owner, cand.RADIUS, size, args.workers or 2, bar)
        search = time.perf_counter() - t
        index_mb = len(codes) * (32 + (8 if type(index).__name__ == "IndexBinaryIVF" else 0)) / 2**20
        print(f"{size:>7,} images, {len(codes):>10,} descriptors, {type(index).__name__}"
              f"{'' if not hasattr(index, 'nlist') else f' nlist={index.nlist} nprobe={index.nprobe}'}: "
              f"build {build:.1f} s, search {search:.1f} s ({search / size * 1000:.2f} ms/img, "
              f"{search / len(codes) * 1e6:.1f} us/query, votes counted), {len(i):,} voted pairs; "
              f"index ~{index_mb:.0f} MB, "
              f"peak RSS {rss_mb():.0f} MB (was {before:.0f})")
        del index, i, j, v


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--split", default="tune", help="tune (default), report, or '' for both")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N groups")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--settings", default='[{}, {"queries_per_image": 150}, {"mirror": true}]',
                        help="JSON list of crop_candidates keyword arguments, one search each")
    parser.add_argument("--per-image", type=int, nargs="+", default=[10, 5, 3, 1])
    parser.add_argument("--min-votes", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--edits", action="store_true", help="also print recall by edit")
    parser.add_argument("--scale", default=None, help="comma-separated image counts: index/search cost only")
    args = parser.parse_args(argv)
    if not (args.data / "truth.csv").exists():
        print(f"{args.data / 'truth.csv'} not found: build bench-data first (benchmarks/bench_data.py)")
        return 1
    if args.scale:
        run_scale(args)
    else:
        run_split(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
