"""Pair search: dedupkit's exact self-join against faiss's flat binary index and brute-force numpy.

Run from the repository root (about 15 minutes on 2 cores; most of it is
faiss at 300,000 hashes, the 10M join and the block-count table)::

    .venv/bin/python benchmarks/bench_search.py
    .venv/bin/python benchmarks/bench_search.py --quick                 # 10k and 100k, about a minute
    .venv/bin/python benchmarks/bench_search.py --only sizes --sizes 1M  # one section, one size

Sections (``--only``, default all):

* ``sizes``: random 64-bit hashes with planted near-duplicates (10% of the
  rows are copies of another row with 0 to 12 bits flipped), all pairs within
  distance 10. dedupkit (``pairs_from_codes``: collapse identical hashes, then
  the automatic choice of algorithm, then expand to rows), faiss
  ``IndexBinaryFlat.range_search`` over every row (what a faiss user would
  write; up to ``--faiss-up-to``, 300k by default: 1M takes minutes), and
  brute force in numpy (``np.bitwise_count`` over every pair; up to
  ``--numpy-up-to``, 10k). Each contender runs in a fresh process, so its
  peak resident memory is its own; the medians of several runs are reported,
  and ratios of those medians. Exactness: the pairs of every contender that
  ran are compared with dedupkit's, one by one. ``find_pairs`` s is the whole
  DataFrame path (hex strings in, a sorted table of paths out) once.
* ``blocks``: the multi-index join forced to 3 to 8 blocks (and brute force)
  on the distinct hashes of the 100k and 1M sets, beside the plan dedupkit
  chooses and its cost estimate; every plan must give the same pairs.
* ``clustered``: 1M hashes (as above) plus 20,000 identical ones plus 100
  bursts of 500 near-identical ones (0 to 3 bits from the burst's centre):
  ``find_pairs`` on the hash table, ``find_groups`` on its result, and
  ``find_value_pairs``; the groups are checked against connected components
  computed independently from the pairs of distinct values.
* ``wide``: 256-bit hashes (``hash_size=16``) at distance 10 and 40,
  dedupkit against faiss at 100k (and dedupkit alone at 1M).

The numba kernels are loaded from their cache (or compiled) before timing;
that one-off cost per process is reported as "kernel load". ``uptime`` is
printed before and after: on a 2-core machine shared with other jobs, expect
noise of a factor of two between runs; ratios within a run are fairer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_DISTANCE = 10


# -- data --------------------------------------------------------------------
def flip_bits(rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rows`` (``uint8`` codes) with ``counts[i]`` distinct random bits of row ``i`` flipped."""
    out = rows.copy()
    n_bits = rows.shape[1] * 8
    for lo in range(0, len(rows), 100_000):
        hi = min(lo + 100_000, len(rows))
        ranks = rng.random((hi - lo, n_bits)).argsort(axis=1)
        flips = ranks < counts[lo:hi, None]
        out[lo:hi] ^= np.packbits(flips, axis=1)
    return out


def planted_codes(n: int, *, n_bytes: int = 8, seed: int = 0, top: int = MAX_DISTANCE + 2) -> np.ndarray:
    """``n`` random codes of which 10% are copies of another row with 0 .. ``top`` bits flipped, shuffled."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    n_copies = n // 10
    sources = rng.integers(n_copies, n, n_copies)
    codes[:n_copies] = flip_bits(codes[sources], rng.integers(0, top + 1, n_copies), rng)
    return codes[rng.permutation(n)]


def clustered_codes(seed: int = 1) -> np.ndarray:
    """1M planted codes + 20,000 identical + 100 bursts of 500 within 0-3 bits of their centre, shuffled."""
    rng = np.random.default_rng(seed)
    base = planted_codes(1_000_000, seed=seed)
    identical = np.repeat(rng.integers(0, 256, size=(1, 8), dtype=np.uint8), 20_000, axis=0)
    centres = np.repeat(rng.integers(0, 256, size=(100, 8), dtype=np.uint8), 500, axis=0)
    bursts = flip_bits(centres, rng.integers(0, 4, len(centres)), rng)
    codes = np.vstack([base, identical, bursts])
    return codes[rng.permutation(len(codes))]


def label(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size and n % (size // 10) == 0:
            value = n / size
            return f"{value:g}{unit}"
    return str(n)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


# -- measuring in a fresh process ----------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def save_pairs(path: str, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> None:
    i, j, d = (np.asarray(x, dtype=np.int64) for x in (i, j, d))
    a, b = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((b, a))
    np.savez(path, i=a[order], j=b[order], d=d[order])


def worker(task: dict) -> dict:
    """Run one measurement (called in a child process) and return what it measured."""
    import numba

    from dedupkit import codejoin as search
    from dedupkit.multiindex import pack_words, plan_blocks, self_join

    kind = task["kind"]
    r = task.get("max_distance", MAX_DISTANCE)
    result: dict = {"threads": numba.get_num_threads()}
    if kind == "clustered":
        return clustered_worker(task, result)
    codes = np.load(task["data"])
    n_bits = codes.shape[1] * 8
    if kind in ("dedupkit", "blocks"):  # load (or compile) the kernels first
        start = time.perf_counter()
        self_join(pack_words(codes[:2000]), r, n_bits=n_bits)
        result["kernel_load_s"] = time.perf_counter() - start
    result["rss_before_mb"] = rss_mb()
    if kind == "dedupkit":
        values, _, _ = search.unique_rows(codes)
        result["distinct"] = len(values)
        result["method"] = search.choose_method(len(values), n_bits, r)
        if result["method"] == "mih":
            result["plan"] = plan_blocks(len(values), n_bits, r).describe()
        times, (i, j, d) = timed(lambda: search.pairs_from_codes(codes, max_distance=r), task["repeat"])
        result["peak_mb"] = peak_mb()
        if task.get("frame"):
            import pandas as pd

            from dedupkit import codes_to_hex

            frame = pd.DataFrame({"path": [f"photos/{k:08d}.jpg" for k in range(len(codes))],
                                  "hash": codes_to_hex(codes)})
            start = time.perf_counter()
            pairs = search.find_pairs(frame, max_distance=r)
            result["find_pairs_s"] = time.perf_counter() - start
            assert len(pairs) == len(i)
    elif kind == "faiss":
        times, (i, j, d) = timed(lambda: search._self_range_search(codes, r), task["repeat"])
        result["peak_mb"] = peak_mb()
    elif kind == "numpy":
        times, (i, j, d) = timed(lambda: numpy_brute_force(codes, r), task["repeat"])
        result["peak_mb"] = peak_mb()
    elif kind == "blocks":
        values, _, _ = search.unique_rows(codes)
        words = pack_words(values)
        rows = []
        for n_blocks in task["blocks"]:
            plan = plan_blocks(len(words), n_bits, r, n_blocks=n_blocks)
            start = time.perf_counter()
            i, j, d = self_join(words, r, n_bits=n_bits, n_blocks=n_blocks)
            elapsed = time.perf_counter() - start
            key = np.sort(i * len(words) + j)
            rows.append({"n_blocks": n_blocks, "plan": plan.describe(), "s": elapsed, "estimate_s": plan.cost / 1e9,
                         "pairs": len(i), "checksum": hashlib.sha1(key.tobytes()).hexdigest()})
        auto = plan_blocks(len(words), n_bits, r)
        result.update(distinct=len(words), rows=rows, auto=auto.describe(), auto_blocks=auto.n_blocks)
        return result
    else:
        raise ValueError(kind)
    result.update(times=times, pairs=len(i))
    if task.get("save"):
        save_pairs(task["save"], i, j, d)
    return result


def numpy_brute_force(codes: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair, by numpy: XOR a block of rows with all later rows, ``np.bitwise_count``."""
    words = codes.view(np.uint64) if codes.shape[1] % 8 == 0 else codes
    firsts, seconds, dists = [], [], []
    block = 256
    for lo in range(0, len(words), block):
        hi = min(lo + block, len(words))
        d = np.bitwise_count(words[lo:hi, None, :] ^ words[None, lo + 1:, :]).sum(axis=2, dtype=np.int64)
        a, b = np.nonzero(d <= r)
        b = b + lo + 1
        a = a + lo
        keep = b > a
        firsts.append(a[keep])
        seconds.append(b[keep])
        dists.append(d[a[keep] - lo, b[keep] - lo - 1])
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(dists)


def clustered_worker(task: dict, result: dict) -> dict:
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from dedupkit import codes_to_hex, find_groups, find_pairs
    from dedupkit.codejoin import value_pairs_from_codes
    from dedupkit.multiindex import pack_words, self_join
    from dedupkit.search import TooManyPairsWarning, find_value_pairs

    codes = np.load(task["data"])
    start = time.perf_counter()
    self_join(pack_words(codes[:2000]), MAX_DISTANCE)
    result["kernel_load_s"] = time.perf_counter() - start
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"path": [f"photos/{k:08d}.jpg" for k in rng.permutation(len(codes))],
                          "hash": codes_to_hex(codes)})
    result["rss_before_mb"] = rss_mb()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TooManyPairsWarning)
        pairs = find_pairs(frame, max_distance=MAX_DISTANCE)
    result["find_pairs_s"] = time.perf_counter() - start
    result["rows_returned"] = len(pairs)
    result["warning"] = str(caught[0].message) if caught else ""
    start = time.perf_counter()
    groups = find_groups(pairs, frame)
    result["find_groups_s"] = time.perf_counter() - start
    result["peak_mb"] = peak_mb()
    start = time.perf_counter()
    values = find_value_pairs(frame, max_distance=MAX_DISTANCE)
    result["find_value_pairs_s"] = time.perf_counter() - start
    result["value_pairs"] = int((values.hash_a != values.hash_b).sum())
    same = (values.hash_a == values.hash_b).to_numpy()
    result["file_pairs"] = int(np.where(same, values.count_a * (values.count_a - 1) // 2,
                                        values.count_a * values.count_b).sum())
    # the groups, independently: components of the value graph, each file in its value's component
    found = value_pairs_from_codes(codes, max_distance=MAX_DISTANCE)
    n_values = len(found.values)
    graph = coo_matrix((np.ones(len(found.first)), (found.first, found.second)), shape=(n_values, n_values))
    _, component = connected_components(graph, directed=False)
    linked = np.zeros(n_values, bool)
    linked[found.first] = linked[found.second] = True
    linked |= found.counts > 1
    file_component = component[found.inverse]
    in_group = linked[found.inverse]
    expected = pd.Series(file_component[in_group]).groupby(file_component[in_group]).size()
    got = groups.groupby("group").size()
    by_path = dict(zip(frame["path"], file_component))
    same_component = groups.groupby("group")["path"].agg(lambda p: len({by_path[x] for x in p}) == 1)
    result["groups"] = len(got)
    result["largest_groups"] = sorted(got.tolist(), reverse=True)[:3]
    result["groups_right"] = bool(sorted(got.tolist()) == sorted(expected.tolist()) and same_component.all()
                                  and len(groups) == int(in_group.sum()))
    return result


def run(task: dict) -> dict:
    """Run ``task`` in a fresh Python process and return its result."""
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(task)], capture_output=True, text=True,
                          cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"worker failed: {task['kind']}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_pairs(a: str, b: str) -> bool:
    x, y = np.load(a), np.load(b)
    return all(np.array_equal(x[k], y[k]) for k in ("i", "j", "d"))


# -- sections -------------------------------------------------------------------
def section_sizes(args, tmp: Path, report: dict) -> None:
    print("\n## Pair search: 64-bit hashes, all pairs within distance 10\n")
    print("| hashes | distinct | pairs | dedupkit s | plan | faiss flat s | numpy s | faiss / dedupkit "
          "| numpy / dedupkit | exact | find_pairs s | peak MB dedupkit (start) | peak MB faiss (start) |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|")
    rows = []
    for n in args.sizes:
        data = tmp / f"planted_{n}.npy"
        np.save(data, planted_codes(n, seed=n % 1000))
        repeat = 5 if n <= 300_000 else 3 if n <= 1_000_000 else 1
        mine = run({"kind": "dedupkit", "data": str(data), "repeat": repeat, "frame": n <= 1_000_000,
                    "save": str(tmp / f"mine_{n}.npz")})
        row = {"n": n, "dedupkit": mine}
        exact = []
        if n <= args.faiss_up_to:
            row["faiss"] = run({"kind": "faiss", "data": str(data), "repeat": 3 if n <= 100_000 else 1,
                                "save": str(tmp / f"faiss_{n}.npz")})
            same = same_pairs(tmp / f"mine_{n}.npz", tmp / f"faiss_{n}.npz")
            exact.append("= faiss" if same else "DIFFERS from faiss")
        if n <= args.numpy_up_to:
            row["numpy"] = run({"kind": "numpy", "data": str(data), "repeat": 3, "save": str(tmp / f"numpy_{n}.npz")})
            same = same_pairs(tmp / f"mine_{n}.npz", tmp / f"numpy_{n}.npz")
            exact.append("= numpy" if same else "DIFFERS from numpy")
        row["exact"] = ", ".join(exact) or "(see blocks)"
        rows.append(row)
        med = statistics.median(mine["times"])
        faiss_s = statistics.median(row["faiss"]["times"]) if "faiss" in row else None
        numpy_s = statistics.median(row["numpy"]["times"]) if "numpy" in row else None
        faiss_peak = memory(row["faiss"]) if "faiss" in row else "–"
        print(f"| {label(n)} | {mine['distinct']:,} | {mine['pairs']:,} | {med:.3f} | "
              f"{mine.get('plan', mine['method'])} | {fmt(faiss_s)} | {fmt(numpy_s)} | "
              f"{ratio(faiss_s, med)} | {ratio(numpy_s, med)} | {row['exact']} | "
              f"{fmt(mine.get('find_pairs_s'))} | {memory(mine)} | {faiss_peak} |", flush=True)
    loads = [r["dedupkit"]["kernel_load_s"] for r in rows]
    print(f"\nkernel load (numba cache, once per process, not in the times above): "
          f"{min(loads):.2f}–{max(loads):.2f} s; threads: {rows[0]['dedupkit']['threads']}")
    report["sizes"] = rows


def section_blocks(args, tmp: Path, report: dict) -> None:
    print("\n## Block count (multi-index join of the distinct hashes, distance 10)\n")
    print("| hashes | 64 / log2(n) | blocks | plan | s | estimate s (1 core) | pairs | same pairs |")
    print("|---:|---:|---:|---|---:|---:|---:|---|")
    results = []
    for n in args.block_sizes:
        data = tmp / f"planted_{n}.npy"
        if not data.exists():
            np.save(data, planted_codes(n, seed=n % 1000))
        blocks = [3, 4, 5, 6, 8] + ([0] if n <= 100_000 else [])
        result = run({"kind": "blocks", "data": str(data), "blocks": blocks})
        results.append({"n": n, **result})
        reference = result["rows"][0]["checksum"], result["rows"][0]["pairs"]
        for row in result["rows"]:
            chosen = " (chosen)" if row["n_blocks"] == result["auto_blocks"] else ""
            same = (row["checksum"], row["pairs"]) == reference
            formula = 64 / np.log2(result["distinct"])
            print(f"| {label(n)} | {formula:.1f} | {row['n_blocks']}{chosen} | {row['plan']} | "
                  f"{row['s']:.3f} | {row['estimate_s']:.3f} | {row['pairs']:,} | {'yes' if same else 'NO'} |",
                  flush=True)
        print(f"| {label(n)} | | auto | {result['auto']} | | | | |")
    report["blocks"] = results


def section_clustered(args, tmp: Path, report: dict) -> None:
    print("\n## Clustered: 1M hashes + 20,000 identical + 100 bursts of 500 near-identical\n")
    data = tmp / "clustered.npy"
    np.save(data, clustered_codes())
    result = run({"kind": "clustered", "data": str(data)})
    report["clustered"] = result
    total = result["find_pairs_s"] + result["find_groups_s"]
    print("| rows | file pairs within 10 | pairs of distinct values | find_pairs s | rows returned "
          "| find_groups s | find_pairs + find_groups s | groups | largest | groups right | peak MB (start) "
          "| find_value_pairs s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
    print(f"| 1,070,000 | {result['file_pairs']:,} | {result['value_pairs']:,} | {result['find_pairs_s']:.1f} | "
          f"{result['rows_returned']:,} | {result['find_groups_s']:.1f} | {total:.1f} | {result['groups']:,} | "
          f"{result['largest_groups']} | {'yes' if result['groups_right'] else 'NO'} | {memory(result)} | "
          f"{result['find_value_pairs_s']:.1f} |")
    print(f"\nwarning: {result['warning']}")


def section_wide(args, tmp: Path, report: dict) -> None:
    print("\n## 256-bit hashes (hash_size=16)\n")
    print("| hashes | max_distance | dedupkit s | plan | faiss flat s | faiss / dedupkit | exact "
          "| peak MB dedupkit (start) |")
    print("|---:|---:|---:|---|---:|---:|---|---:|")
    rows = []
    for n in args.wide_sizes:
        data = tmp / f"wide_{n}.npy"
        np.save(data, planted_codes(n, n_bytes=32, seed=n % 1000, top=44))
        for r in (10, 40):
            mine = run({"kind": "dedupkit", "data": str(data), "repeat": 3, "max_distance": r,
                        "save": str(tmp / f"wide_mine_{n}_{r}.npz")})
            row = {"n": n, "max_distance": r, "dedupkit": mine}
            med = statistics.median(mine["times"])
            faiss_s, exact = None, "(faiss not run)"
            if n <= args.wide_faiss_up_to:
                row["faiss"] = run({"kind": "faiss", "data": str(data), "repeat": 1, "max_distance": r,
                                    "save": str(tmp / f"wide_faiss_{n}_{r}.npz")})
                faiss_s = statistics.median(row["faiss"]["times"])
                same = same_pairs(tmp / f"wide_mine_{n}_{r}.npz", tmp / f"wide_faiss_{n}_{r}.npz")
                exact = "= faiss" if same else "DIFFERS"
            rows.append(row)
            print(f"| {label(n)} | {r} | {med:.3f} | {mine.get('plan', mine['method'])} | {fmt(faiss_s)} | "
                  f"{ratio(faiss_s, med)} | {exact} | {memory(mine)} |", flush=True)
    report["wide"] = rows


def memory(result: dict) -> str:
    """Peak resident memory, and (in brackets) how much of it was there before the search."""
    return f"{result['peak_mb']:.0f} ({result['rss_before_mb']:.0f})"


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def ratio(slow: float | None, fast: float) -> str:
    return "–" if slow is None else f"{slow / fast:.0f}x" if slow / fast >= 10 else f"{slow / fast:.1f}x"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "(uptime not available)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=["sizes", "blocks", "clustered", "wide"])
    parser.add_argument("--sizes", default="10k,100k,300k,1M,10M")
    parser.add_argument("--block-sizes", default="100k,1M")
    parser.add_argument("--wide-sizes", default="100k,1M")
    parser.add_argument("--faiss-up-to", default="300k")
    parser.add_argument("--wide-faiss-up-to", default="100k")
    parser.add_argument("--numpy-up-to", default="10k")
    parser.add_argument("--quick", action="store_true", help="10k and 100k only; no 10M, clustered or 1M wide")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.quick:
        args.sizes, args.block_sizes, args.wide_sizes = "10k,100k", "100k", "100k"
        args.only = args.only or ["sizes", "blocks", "wide"]
    for name in ("sizes", "block_sizes", "wide_sizes"):
        setattr(args, name, [parse_size(s) for s in getattr(args, name).split(",") if s])
    for name in ("faiss_up_to", "wide_faiss_up_to", "numpy_up_to"):
        setattr(args, name, parse_size(getattr(args, name)))
    sections = args.only or ["sizes", "blocks", "clustered", "wide"]

    import faiss
    import numba

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"faiss {faiss.__version__}")
    print(f"before: {uptime()}")
    report: dict = {"uptime_before": uptime()}
    with tempfile.TemporaryDirectory(prefix="bench_search_") as tmp:
        for section in sections:
            globals()[f"section_{section}"](args, Path(tmp), report)
    report["uptime_after"] = uptime()
    print(f"\nafter: {report['uptime_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
