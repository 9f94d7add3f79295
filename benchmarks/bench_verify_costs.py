"""Where verification's time goes, per image and per pair, against hashing: the floor of the speed budget.

Run from the repository root, after ``benchmarks/bench_verify.py`` has made its folders::

    .venv/bin/python benchmarks/bench_verify_costs.py                          # both folders of bench_verify
    .venv/bin/python benchmarks/bench_verify_costs.py --source sample-photos --files 100

One thread, CPU time (``time.process_time``), so that other jobs on the
machine count little. Per image, interleaved file by file: ``hash_file`` (what
each ``hash_images`` worker does per file), the verifier's grey working copy
(one decode at reduced scale) and its ORB features. Per pair: ``verify_pairs``
on the folder's hash candidates (``find_pairs(max_distance=16)``), one thread,
with the decode and ORB time of the images it touches measured apart.

It prints, for each folder, how many images the candidates touch and the
lower bound of (b)/(a) that the per-image costs alone set: hashing plus
decoding and ORB of every touched image, over hashing (pairs free).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import dedupkit  # noqa: E402
from dedupkit.features import _grey_of_file, _with_orb  # noqa: E402
from dedupkit.imagerow import hash_file  # noqa: E402
from dedupkit.verify import verify_pairs  # noqa: E402


def per_image(files: list[str]) -> dict[str, float]:
    """CPU milliseconds per image: hash_file, the verifier's decode, ORB (interleaved, means)."""
    times: dict[str, list[float]] = {"hash ms": [], "decode ms": [], "orb ms": []}
    for path in files:
        start = time.process_time()
        hash_file(path)
        times["hash ms"].append(time.process_time() - start)
        start = time.process_time()
        grey = _grey_of_file(path)
        times["decode ms"].append(time.process_time() - start)
        start = time.process_time()
        _with_orb(grey, 500)
        times["orb ms"].append(time.process_time() - start)
    return {k: 1000 * float(np.mean(v)) for k, v in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-verify")
    parser.add_argument("--source", default="bench-data,sample-photos", help="bench_verify folders, comma-separated")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--files", type=int, default=200, help="files timed (default %(default)s)")
    parser.add_argument("--candidate-distance", type=int, default=16)
    args = parser.parse_args(argv)
    rows = []
    for source in args.source.split(","):
        folder = args.data / f"{source}_{args.count}"
        if not folder.is_dir():
            raise SystemExit(f"{folder}: no such folder; make it first with "
                             f"benchmarks/bench_verify.py --source {source} --count {args.count}")
        files = sorted(str(p) for p in folder.glob("*.jpg"))
        costs = per_image(files[:: max(1, len(files) // args.files)][: args.files])
        hashes = dedupkit.hash_images(folder, progress=False)
        candidates = dedupkit.find_pairs(hashes, max_distance=args.candidate_distance)
        touched = len(pd.unique(candidates[["path_a", "path_b"]].astype(str).to_numpy().ravel()))
        start = time.process_time()
        checked = verify_pairs(candidates, workers=1, progress=False)
        verify_s = time.process_time() - start
        hash_s = costs["hash ms"] * len(files) / 1000
        floor = (hash_s + touched * (costs["decode ms"] + costs["orb ms"]) / 1000) / hash_s
        rows.append({"folder": source, "files": len(files), **{k: round(v, 2) for k, v in costs.items()},
                     "candidates": len(candidates), "images touched": touched,
                     "verified": int(checked["verified"].sum()),
                     "verified without features": int((checked["verified"] & (checked["inliers"] == 0)).sum()),
                     "verify CPU s": round(verify_s, 2), "hash CPU s (est.)": round(hash_s, 2),
                     "(b)/(a) in CPU": round((hash_s + verify_s) / hash_s, 2),
                     "floor: touched images' decode+ORB": round(floor, 2)})
    table = pd.DataFrame(rows)
    print("| " + " | ".join(table.columns) + " |")
    print("|---|" + "--:|" * (len(table.columns) - 1))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
