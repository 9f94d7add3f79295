"""CPU seconds of verification in two checkouts, interleaved: a before/after steadier than wall clock on a busy machine.

Run from the repository root, after ``benchmarks/bench_verify.py`` has made its folders::

    .venv/bin/python benchmarks/bench_verify_ab.py /work/main .    # main's code against this checkout's, 5 rounds

Each measurement is a fresh process that puts one checkout first on ``sys.path``, hashes a folder of
bench_verify (one worker), finds its candidates (``find_pairs(max_distance=16)``) and times
``verify_pairs(candidates, workers=1)`` with ``time.process_time``. Checkouts and folders alternate in each
round; the medians and ranges are printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import dedupkit
from dedupkit.verify import verify_pairs
hashes = dedupkit.hash_images(sys.argv[2], progress=False, workers=1)
candidates = dedupkit.find_pairs(hashes, max_distance=int(sys.argv[3]))
start = time.process_time()
out = verify_pairs(candidates, workers=1, progress=False)
print(time.process_time() - start, int(out["verified"].sum()))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("checkouts", nargs=2, help="two repository roots (before, after)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-verify")
    parser.add_argument("--folders", default="bench-data_1000,sample-photos_1000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--candidate-distance", type=int, default=16)
    args = parser.parse_args(argv)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    found: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.rounds):
        for folder in args.folders.split(","):
            for checkout in args.checkouts:
                root = str(Path(checkout).resolve())
                result = subprocess.run([sys.executable, "-c", CHILD, root, str(args.data / folder),
                                         str(args.candidate_distance)], capture_output=True, text=True, env=env,
                                        check=True)
                seconds, verified = result.stdout.split()
                found.setdefault((folder, checkout), []).append(float(seconds))
                print(f"round {round_ + 1}: {folder} {checkout}: {float(seconds):.2f} s, {verified} verified",
                      file=sys.stderr)
    print("| folder | checkout | verify CPU s (median) | range |")
    print("|---|---|--:|--:|")
    for (folder, checkout), values in found.items():
        print(f"| {folder} | {checkout} | {np.median(values):.2f} | {min(values):.2f}–{max(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
