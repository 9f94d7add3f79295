"""The dihedral search (mirrored and turned copies) through find_pairs' machinery, against its faiss-only path.

Run from the repository root (about a minute on 2 cores)::

    .venv/bin/python benchmarks/bench_dihedral.py
    .venv/bin/python benchmarks/bench_dihedral.py --sizes 20000 100000 300000

Random 8-orientation 64-bit codes: every fifth row is an orientation of an
earlier row, and 10% of the rows are exact copies of others (one value held by
two rows). ``find_pairs_dihedral(max_distance=10)`` with ``method="auto"``
(identical rows collapsed, then faiss or the compiled multi-index join, as
``find_pairs`` chooses) against ``method="faiss"`` (every orientation of every
distinct value against the upright codes, batched: the former implementation's
algorithm, which also skipped the collapse), in the same run; medians of 3
after one warm-up call, and the ratio of the medians. Both must give the same
pairs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from dedupkit.dihedral import find_pairs_dihedral
from dedupkit.hashing import codes_to_hex


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    turned = rng.integers(0, 256, size=(n, 8, 8), dtype=np.uint8)
    for b in range(1, n, 5):
        turned[b, 0] = turned[int(rng.integers(0, b)), int(rng.integers(0, 8))]
    turned[-n // 10 :] = turned[: n // 10]
    return pd.DataFrame({"path": [f"i{i:07d}.jpg" for i in range(n)], "hash": codes_to_hex(turned[:, 0]),
                         "hash_dihedral": codes_to_hex(turned.reshape(n, -1))})


def timed(run, repeat: int = 3) -> tuple[float, pd.DataFrame]:
    result = run()  # warm-up: the kernels load once per process
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[20_000, 100_000])
    args = parser.parse_args()
    print("| rows | pairs | auto s | faiss-only s | faiss-only / auto |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        hashes = table(n)
        auto_s, auto = timed(lambda h=hashes: find_pairs_dihedral(h, max_distance=10))
        faiss_s, faiss = timed(lambda h=hashes: find_pairs_dihedral(h, max_distance=10, method="faiss"))
        if not auto.equals(faiss):
            raise SystemExit(f"n={n}: the two paths disagree")
        print(f"| {n:,} | {len(auto):,} | {auto_s:.2f} | {faiss_s:.2f} | {faiss_s / auto_s:.1f} |")


if __name__ == "__main__":
    main()
