"""Hashing throughput: dedupkit against imagehash on a full decode and against bare decoding.

Run from the repository root (about 3 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_hash.py                 # generated photos
    .venv/bin/python benchmarks/bench_hash.py --folder DIR    # your own images
    .venv/bin/python benchmarks/bench_hash.py --quick         # fewer files, shorter timings
    .venv/bin/python benchmarks/bench_hash.py --skip percore allcore quality sweep cache  # real photos only

Without ``--folder`` it makes seeded photo-like JPEGs (smooth colour fields,
shapes, texture and sensor noise, saved at quality 90, so their entropy decoding
costs about what a camera JPEG of the same size costs) at 640x480, 1920x1080
and 4000x3000, plus a few edited copies (re-encoded at quality 60, half size)
so that the pair check has pairs to find. They are kept under
``--data`` (default: a folder in the system's temp dir) and reused.

Real photos (``--photos DIR``, default ``bench-data/photos``, the JPEGs that
``benchmarks/bench_data.py`` takes from Debian packages): the JPEGs whose long
side is 700-1280 px, the size of most scraped and web datasets, and the larger
ones shrunk to 1280 px (LANCZOS, quality 90, kept under ``--data``). Skipped
with a note when the folder is not there.

What is measured, each in the same run and interleaved so that other load on
the machine hits every contender alike (the best of the rounds is reported):

* per core (one process): ``imagehash.dhash(Image.open(path))`` (the usual
  code: a full decode); bare scaled decoding (``draft('L', ...)`` + ``load()``,
  at dedupkit's draft size, no hash); dedupkit's ``hash_file`` (fast path) and
  ``hash_file(exact=True)``; ratios between them;
* all cores: ``hash_images(files, workers=1)`` against ``workers=2`` (and
  imagehash and bare decoding over the same process pool);
* quality: bits between the fast and the exact hash for every method, and
  whether ``find_pairs`` at the default threshold finds the same pairs;
* the draft size: quality and speed of other decoded sizes (pixels per hash cell);
* the cache: re-scanning an unchanged folder of 10,000 files;
* real photos: CPU time per image of ``hash_images(files, workers=1)`` (the
  whole call: open, EXIF, decode, trim, hash, the table) against the bare
  scaled decode, interleaved, medians of the rounds; the ratio says how close
  to decoding alone a scan runs: as installed (the trim's compiled walk,
  ``dedupkit/_trimwalk.c``), with numpy's walk (an install without a C
  compiler) and with ``trim=False``.

``uptime`` is printed before and after: the all-core numbers mean little when
other work loads the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dedupkit  # noqa: E402
import dedupkit.trim  # noqa: E402
from dedupkit import fastpath, find_pairs, hamming, hash_file, hash_images, hex_to_codes  # noqa: E402
from dedupkit.fastpath import fast_draft_size  # noqa: E402

SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080), "4000x3000": (4000, 3000)}
COUNTS = {"640x480": 48, "1920x1080": 32, "4000x3000": 10}
QUICK_COUNTS = {"640x480": 16, "1920x1080": 12, "4000x3000": 4}
METHODS = ("dhash", "dhash_vertical", "phash", "ahash", "whash")


# -- data --------------------------------------------------------------------
def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A seeded RGB picture with the statistics of a photo: smooth fields, edges, texture, noise."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(3 + seed % 4, 4 + seed % 5, 3), dtype=np.uint8)
    base = Image.fromarray(grid, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(6, 16))):
        x0, y0 = int(rng.integers(-width // 10, width)), int(rng.integers(-height // 10, height))
        w, h = int(rng.integers(width // 20, width // 3)), int(rng.integers(height // 20, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        elif shape == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.line([x0, y0, x0 + w, y0 + h], fill=colour, width=max(2, width // 150))
    base = base.filter(ImageFilter.GaussianBlur(radius=max(1, width // 600)))
    pixels = np.asarray(base, dtype=np.float32)
    texture = rng.normal(0, 1, size=(height // 16 + 1, width // 16 + 1)).astype(np.float32)
    texture = np.asarray(Image.fromarray(texture, "F").resize((width, height), Image.Resampling.BILINEAR))
    pixels += 14 * texture[..., None]  # foliage, fabric, ...
    pixels += rng.normal(0, 5, size=pixels.shape).astype(np.float32)  # sensor noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def make_photos(folder: Path, counts: dict[str, int]) -> dict[str, list[Path]]:
    """Seeded photo-like JPEGs per size (kept and reused), with edited copies of the first three."""
    sets = {}
    for label, (width, height) in SIZES.items():
        sub = folder / label
        sub.mkdir(parents=True, exist_ok=True)
        files = []
        for i in range(counts[label]):
            path = sub / f"photo_{i:03d}.jpg"
            if not path.exists():
                image = photo_like(width, height, seed=width * 1000 + i)
                image.save(path, quality=90)
                if i < 3:  # near-duplicates for the pair check
                    image.save(sub / f"photo_{i:03d}__q60.jpg", quality=60)
                    image.resize((width // 2, height // 2), Image.Resampling.LANCZOS).save(
                        sub / f"photo_{i:03d}__half.jpg", quality=90)
            files.append(path)
        files += sorted(sub.glob("*__*.jpg"))
        sets[label] = sorted(files)
    return sets


PHOTO_SIDES = (700, 1280)  # long side of the real-photo set, px


def real_photos(folder: Path, data: Path) -> list[Path] | None:
    """The JPEGs of ``folder`` with a long side of 700-1280 px, and the larger ones shrunk to 1280 px.

    The shrunk copies (LANCZOS, quality 90) are kept under ``data`` and reused.
    ``None`` when ``folder`` is not there.
    """
    if not folder.is_dir():
        return None
    low, high = PHOTO_SIDES
    shrunk = data / f"photos_{high}"
    files = []
    for path in sorted(folder.glob("*.jp*g")):
        with Image.open(path) as image:
            side = max(image.size)
            if low <= side <= high:
                files.append(path)
            elif side > high:
                target = shrunk / path.name
                if not target.exists():
                    shrunk.mkdir(parents=True, exist_ok=True)
                    size = (round(image.width * high / side), round(image.height * high / side))
                    image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(target, quality=90)
                files.append(target)
    return files


def scan_against_decode(files: list, rounds: int, at_least: int = 900) -> dict:
    """CPU ms per image of ``hash_images(files, workers=1)`` and of the bare scaled decode (interleaved medians).

    A small set is repeated to ``at_least`` files per call (900: the folder of
    real JPEGs issue 10 measured on), so that the table's fixed cost is spread
    as over a folder of that size: about 3 ms alone, but 25-30 ms right after a
    scan, when pandas' code and data are no longer in the CPU's caches (so 0.07
    ms a photo at 400 files a call, 0.03 at 900).
    The weights that shrink a trimmed box are cached by the box, so the cache
    is emptied before each call: the set is repeated, a folder's photos are
    not. The trim's walk is compiled (``dedupkit._trimwalk``) when the extension was
    built at install, numpy's otherwise: both are measured
    (``hash_images``: as installed; ``hash_images_numpy_walk``: without the
    extension).
    """
    trim = dedupkit.trim
    photos = len(files)
    files = [str(p) for p in files] * max(1, -(-at_least // photos))

    def scan(walk, **options):
        trim._trimwalk = walk
        for weights in (fastpath._box_weights, fastpath._box_weights32):  # a trimmed photo's box is its own: in a
            weights.cache_clear()  # folder of distinct photos its shrinking weights are made for it, not found cached
        return hash_images(files, workers=1, progress=False, **options)

    installed = trim._trimwalk
    contenders = {
        "bare_decode": lambda: [bare_decode(p) for p in files],
        "hash_images": lambda: scan(installed),
        "hash_images_numpy_walk": lambda: scan(None),
        "hash_images_no_trim": lambda: scan(installed, trim=False),
    }
    try:
        for fn in contenders.values():  # warm up: page cache, imports, weight tables, the compiled kernel
            fn()
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, fn in contenders.items():
                start = time.process_time()
                fn()
                times[name].append(1000 * (time.process_time() - start) / len(files))
    finally:
        trim._trimwalk = installed
    ms = {name: float(np.median(t)) for name, t in times.items()}
    return {"photos": photos, "images": len(files), "rounds": rounds, **{f"{k}_ms": v for k, v in ms.items()},
            "ratio": ms["bare_decode"] / ms["hash_images"],
            "ratio_numpy_walk": ms["bare_decode"] / ms["hash_images_numpy_walk"],
            "ratio_no_trim": ms["bare_decode"] / ms["hash_images_no_trim"]}


def folder_sets(folder: Path) -> dict[str, list[Path]]:
    files, _ = dedupkit.list_images(folder)
    return {folder.name or str(folder): [Path(p) for p in files]}


# -- contenders (module level, so that a process pool can run them) ------------
DRAFT = fast_draft_size(8)


def imagehash_full(path) -> str:
    with Image.open(path) as image:
        return str(imagehash.dhash(image))


def bare_decode(path) -> tuple[int, int]:
    with Image.open(path) as image:
        if image.format in ("JPEG", "MPO"):
            image.draft("L", (DRAFT, DRAFT))
        image.load()
        return image.size


def dedupkit_fast(path) -> str:
    return hash_file(path)["hash"]


def dedupkit_exact(path) -> str:
    return hash_file(path, exact=True)["hash"]


# -- timing ------------------------------------------------------------------
def per_core(contenders: dict, files: list, seconds: float, rounds: int, clock=time.process_time) -> dict[str, float]:
    """Images per CPU second of each contender in this process: best of ``rounds`` interleaved passes.

    CPU time of this process, not wall time, so that other processes on the
    machine do not count against whichever contender runs while they do.
    """
    for fn in contenders.values():  # warm up: page cache, imports
        for path in files[:3]:
            fn(path)
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, fn in contenders.items():
            done, start = 0, clock()
            while True:
                for path in files:
                    fn(path)
                done += len(files)
                elapsed = clock() - start
                if elapsed >= seconds / rounds:
                    break
            best[name] = max(best[name], done / elapsed)
    return best


def pool_rate(fn, files: list, workers: int) -> float:
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(fn, files[: 2 * workers]))  # start the workers
        start = time.perf_counter()
        list(pool.map(fn, files, chunksize=16))
        return len(files) / (time.perf_counter() - start)


def api_rate(files: list, workers: int) -> tuple[float, float]:
    """Images per wall second of ``hash_images(files, workers=...)``, and CPU milliseconds per image.

    The CPU time is this process's plus that of the pool's worker processes
    (which have ended and been waited for when ``hash_images`` returns).
    """
    cpu = _cpu_seconds()
    start = time.perf_counter()
    table = hash_images(files, workers=workers, progress=False)
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu
    assert len(table) == len(files)
    return len(files) / elapsed, 1000 * cpu / len(files)


def _cpu_seconds() -> float:
    import resource  # noqa: PLC0415 - Unix only, like this measurement

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"load average {os.getloadavg()}"


# -- quality -----------------------------------------------------------------
def quality(files: list, methods=METHODS, hash_sizes=(8,)) -> list[dict]:
    rows = []
    for hash_size in hash_sizes:
        for method in methods:
            fast = hash_images(files, method=method, hash_size=hash_size, workers=1, progress=False)
            exact = hash_images(files, method=method, hash_size=hash_size, workers=1, exact=True, progress=False)
            ok = fast["hash"].notna() & exact["hash"].notna()
            bits = hamming(hex_to_codes(fast["hash"][ok]), hex_to_codes(exact["hash"][ok]))
            threshold = 10 if hash_size == 8 else 40
            pairs_fast, pairs_exact = (_pairs(find_pairs(t, max_distance=threshold)) for t in (fast, exact))
            rows.append({
                "method": method, "hash_size": hash_size, "images": int(ok.sum()),
                "mean_bits": float(bits.mean()), "max_bits": int(bits.max()),
                "share_identical": float((bits == 0).mean()),
                "pairs_exact": len(pairs_exact), "pairs_fast": len(pairs_fast),
                "only_exact": sorted(pairs_exact - pairs_fast), "only_fast": sorted(pairs_fast - pairs_exact),
            })
    return rows


def _pairs(frame) -> set[tuple[str, str]]:
    a, b = frame.columns[:2]
    return {tuple(sorted((Path(x).name, Path(y).name))) for x, y in zip(frame[a], frame[b])}


def draft_sweep(sets: dict, sample: list, seconds: float) -> list[dict]:
    """dHash quality and speed when decoding to other sizes (pixels per hash cell)."""
    rows = []
    for per_cell in (8, 12, 16, 24):
        size = per_cell * 8

        def fast(path, size=size):
            with Image.open(path) as image:
                image.draft("L", (size, size))
                return imagehash.dhash(image)

        row = {"pixels_per_cell": per_cell, "draft_size": size}
        for label, files in {"sample": sample, **sets}.items():
            exact = [imagehash.dhash(Image.open(p).convert("RGB")) for p in files]
            bits = np.array([fast(p) - e for p, e in zip(files, exact)])
            row[f"{label}_mean_bits"] = float(bits.mean())
            row[f"{label}_max_bits"] = int(bits.max())
            if label != "sample":
                row[f"{label}_per_s"] = per_core({"f": fast}, files, seconds, 2)["f"]
        rows.append(row)
    return rows


# -- cache -------------------------------------------------------------------
def cache_rescan(folder: Path, n: int) -> dict:
    """Time a first scan and an unchanged re-scan of ``n`` small files with a cache."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "data" / "sample").glob("*.jpg"))
    thumbs = []
    for i, src in enumerate(sources[:10]):
        thumb = folder.parent / f"thumb_{i}.jpg"
        Image.open(src).convert("RGB").resize((96, 64)).save(thumb, quality=85)
        thumbs.append(thumb)
    for i in range(n):
        sub = folder / f"d{i // 1000:02d}"
        sub.mkdir(exist_ok=True)
        target = sub / f"img_{i:05d}.jpg"
        if not target.exists():
            shutil.copyfile(thumbs[i % len(thumbs)], target)
    cache = folder / dedupkit.cache.DEFAULT_CACHE_NAME
    if cache.exists():
        cache.unlink()
    start = time.perf_counter()
    first = hash_images(folder, cache=True, progress=False)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    second = hash_images(folder, cache=True, progress=False)
    second_s = time.perf_counter() - start
    start = time.perf_counter()
    dedupkit.list_images(folder)
    listing_s = time.perf_counter() - start
    return {"files": n, "first_scan_s": first_s, "first_hashed": first.attrs["hashed"],
            "rescan_s": second_s, "rescan_hashed": second.attrs["hashed"], "listing_s": listing_s,
            "cache_bytes": cache.stat().st_size}


# -- report ------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import PIL  # noqa: PLC0415

    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, Pillow {PIL.__version__}, "
            f"imagehash {imagehash.__version__}, numpy {np.__version__}")


def table(rows: list[dict], columns: list[str], fmt=None) -> str:
    fmt = fmt or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c, "")
            cells.append(fmt[c].format(value) if c in fmt and value != "" else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--folder", type=Path, help="measure these images instead of generated ones")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-photos",
                        help="where generated photos are kept (default: %(default)s)")
    parser.add_argument("--photos", type=Path, default=ROOT / "bench-data" / "photos",
                        help="real JPEGs; those of 700-1280 px, and larger ones shrunk to 1280 px, are measured "
                             "against a bare decode (default: %(default)s; skipped if missing)")
    parser.add_argument("--quick", action="store_true", help="fewer files and shorter timings")
    parser.add_argument("--seconds", type=float, default=None, help="timing per contender and set")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["percore", "allcore", "quality", "sweep", "cache", "photos"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.5 if args.quick else 4.0)

    print("# dedupkit hashing benchmark\n")
    print(f"machine: {machine()}")
    print(f"uptime at start: {uptime()}\n")
    results: dict = {"machine": machine(), "uptime_start": uptime(), "draft_size": DRAFT}
    start_all = time.perf_counter()
    sets = folder_sets(args.folder) if args.folder else make_photos(
        args.data, QUICK_COUNTS if args.quick else COUNTS)
    for label, files in sets.items():
        print(f"set {label}: {len(files)} images")
    sample = sorted((ROOT / "data" / "sample").glob("*.jpg"))

    if "percore" not in args.skip:
        print(f"\n## Per core (one process, images per CPU second; best of 3 interleaved rounds, "
              f"{seconds:.1f} s per contender)\n")
        rows = []
        for label, files in sets.items():
            rates = per_core({"imagehash": imagehash_full, "bare_decode": bare_decode,
                              "dedupkit": dedupkit_fast, "dedupkit_exact": dedupkit_exact},
                             files, seconds, 3)
            rows.append({"set": label, **rates,
                         "x_imagehash": rates["dedupkit"] / rates["imagehash"],
                         "of_bare_decode": rates["dedupkit"] / rates["bare_decode"],
                         "exact_x_imagehash": rates["dedupkit_exact"] / rates["imagehash"]})
        print(table(rows, ["set", "imagehash", "bare_decode", "dedupkit", "dedupkit_exact", "x_imagehash",
                           "of_bare_decode", "exact_x_imagehash"],
                    {c: "{:.1f}" for c in ("imagehash", "bare_decode", "dedupkit", "dedupkit_exact")}
                    | {"x_imagehash": "{:.2f}x", "of_bare_decode": "{:.0%}", "exact_x_imagehash": "{:.2f}x"}))
        print("\nimages per CPU second; imagehash = imagehash.dhash(Image.open(path)); bare_decode = draft('L', "
              f"({DRAFT}, {DRAFT})) + load(); dedupkit = hash_file(path) (dHash, 64 bits).")
        results["per_core"] = rows

    if "allcore" not in args.skip:
        print("\n## All cores (hash_images over a process pool)\n")
        print(f"uptime: {uptime()}\n")
        rows = []
        for label, files in sets.items():
            target = {"640x480": 1500, "1920x1080": 900, "4000x3000": 120}.get(label, 600)
            if args.quick:
                target //= 3
            many = [str(p) for p in files] * max(1, -(-target // len(files)))
            one, cpu_one = api_rate(many, 1)
            two, cpu_two = api_rate(many, 2)
            rows.append({"set": label, "files": len(many), "workers=1": one, "workers=2": two,
                         "speedup": two / one, "cpu_ms_1": cpu_one, "cpu_ms_2": cpu_two,
                         "cpu_efficiency": cpu_one / cpu_two,
                         "imagehash_2": pool_rate(imagehash_full, many[: len(many) // 3], 2),
                         "bare_decode_2": pool_rate(bare_decode, many, 2)})
        print(table(rows, ["set", "files", "workers=1", "workers=2", "speedup", "cpu_ms_1", "cpu_ms_2",
                           "cpu_efficiency", "imagehash_2", "bare_decode_2"],
                    {"workers=1": "{:.1f}", "workers=2": "{:.1f}", "speedup": "{:.2f}x", "cpu_ms_1": "{:.2f}",
                     "cpu_ms_2": "{:.2f}", "cpu_efficiency": "{:.0%}", "imagehash_2": "{:.1f}",
                     "bare_decode_2": "{:.1f}"}))
        print("\nimages per wall second of hash_images(files, workers=N) (N=2 includes starting the pool); "
              "cpu_ms: CPU milliseconds per image, all processes; cpu_efficiency = cpu_ms_1 / cpu_ms_2 (100%: "
              "the pool adds no work, so on an idle machine two workers run twice as fast); imagehash_2 and "
              "bare_decode_2: images per wall second of a pool of 2 running those.")
        print(f"uptime: {uptime()}")
        results["all_cores"] = rows

    if "quality" not in args.skip:
        print("\n## Quality: fast path against exact=True (imagehash on the full decode)\n")
        groups = {"sample": sample, "generated" if not args.folder else "folder": [
            p for files in sets.values() for p in files]}
        rows = []
        for name, files in groups.items():
            for row in quality(files, hash_sizes=(8, 16) if name == "sample" else (8,)):
                rows.append({"set": name, **row,
                             "pairs_differ": ", ".join(" ~ ".join(p) for p in row["only_exact"] + row["only_fast"])
                             or "none"})
        print(table(rows, ["set", "method", "hash_size", "images", "mean_bits", "max_bits", "share_identical",
                           "pairs_exact", "pairs_fast", "pairs_differ"],
                    {"mean_bits": "{:.2f}", "share_identical": "{:.0%}"}))
        print("\npairs at the default threshold (10 bits of 64, 40 of 256).")
        results["quality"] = rows

    if "sweep" not in args.skip:
        print("\n## Draft size (dHash 64-bit): decoded pixels per hash cell\n")
        sweep_sets = {k: v[: 12] for k, v in sets.items()}
        rows = draft_sweep(sweep_sets, sample, seconds / 2)
        columns = ["pixels_per_cell", "draft_size", "sample_mean_bits", "sample_max_bits"]
        for label in sweep_sets:
            columns += [f"{label}_mean_bits", f"{label}_per_s"]
        print(table(rows, columns, {c: "{:.2f}" for c in columns if c.endswith("mean_bits")}
                    | {c: "{:.0f}" for c in columns if c.endswith("per_s")}))
        print(f"\ndedupkit uses {DRAFT // 8} pixels per cell (draft size {DRAFT} for 64-bit hashes).")
        results["draft_sweep"] = rows

    if "cache" not in args.skip:
        print("\n## Cache: re-scanning an unchanged folder\n")
        n = 2000 if args.quick else 10_000
        row = cache_rescan(args.data / f"cache_{n}", n)
        print(table([row], list(row), {"first_scan_s": "{:.2f}", "rescan_s": "{:.3f}", "listing_s": "{:.3f}"}))
        print("\nrescan_s is the whole hash_images call (listing, stat of every file, cache lookup); "
              "listing_s is list_images alone.")
        results["cache"] = row

    if "photos" not in args.skip:
        print(f"\n## Real photos: hash_images against a bare decode (long side {PHOTO_SIDES[0]}-{PHOTO_SIDES[1]} px)\n")
        photos = real_photos(args.photos, args.data)
        if not photos:
            print(f"skipped: no JPEGs in {args.photos} (pass --photos DIR; benchmarks/bench_data.py makes "
                  "bench-data/photos)")
        else:
            row = {"set": args.photos.name, **scan_against_decode(photos, 3 if args.quick else 7)}
            scans = ("hash_images", "hash_images_numpy_walk", "hash_images_no_trim")
            ratios = ("ratio", "ratio_numpy_walk", "ratio_no_trim")
            print(table([row], ["set", "photos", "images", "rounds", "bare_decode_ms",
                                *(c for pair in zip((f"{s}_ms" for s in scans), ratios) for c in pair)],
                        {c: "{:.3f}" for c in ("bare_decode_ms", *(f"{s}_ms" for s in scans))}
                        | dict.fromkeys(ratios, "{:.2f}")))
            walk = "compiled: dedupkit._trimwalk" if dedupkit.trim._trimwalk else "numpy: the extension is not built"
            print(f"\nCPU ms per image (time.process_time, this process), medians of interleaved rounds; "
                  f"bare_decode = Image.open + draft('L', ({DRAFT}, {DRAFT})) + load(), no hash; hash_images = "
                  "hash_images(files, workers=1, progress=False) (dHash, trim on), the whole call; "
                  "ratio = bare_decode_ms / hash_images_ms (1.0: the scan costs only its decode); "
                  f"hash_images walks the trim as installed ({walk}), hash_images_numpy_walk in numpy (an install "
                  "without a C compiler); images: files per call (a small set repeated, so that the table's fixed "
                  "cost is spread as over a folder; the cache of box weights emptied before each call).")
            results["real_photos"] = row

    print(f"\nuptime at end: {uptime()}")
    print(f"total time: {time.perf_counter() - start_all:.0f} s")
    results["uptime_end"] = uptime()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
