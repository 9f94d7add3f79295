"""Hashing from a Parquet table of image bytes against hashing the same images as files.

Run from the repository root (about a minute on 2 cores)::

    .venv/bin/python benchmarks/bench_table.py

It writes seeded photo-like JPEGs (``bench_hash.make_photos``: 640x480 and
1920x1080) and the same bytes in a Hugging Face-style Parquet file (an ``id``
column and ``struct<bytes, path>`` images, row groups of 32), then times
``hash_images(files)`` and ``hash_images(table, key="id")`` in one process
(``workers=1``, CPU time), interleaved over the rounds so that other load on
the machine hits both alike, and prints the median rates, their ratio, whether
every hash is the same, and Arrow's peak memory while a fresh process hashes
the table (with the size of its largest row group: Arrow holds about three).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_hash import make_photos  # noqa: E402 - the photo maker has one owner

from dedupkit import hash_images  # noqa: E402


def write_table(files: list[Path], path: Path, row_group_size: int = 32) -> Path:
    """The files' bytes as a Hugging Face-style table (id, image struct<bytes, path>), a row group at a time."""
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("id", pa.int64()), ("image", image_type)])
    with pq.ParquetWriter(path, schema, use_dictionary=False) as writer:
        for start in range(0, len(files), row_group_size):
            group = files[start : start + row_group_size]
            images = pa.array([{"bytes": f.read_bytes(), "path": f.name} for f in group], image_type)
            writer.write_table(pa.table({"id": pa.array(range(start, start + len(group)), pa.int64()),
                                         "image": images}, schema=schema))
    return path


_PEAK = """
import sys
import pyarrow as pa
from dedupkit import hash_images
hash_images(sys.argv[1], key="id", workers=1, progress=False)
print(pa.default_memory_pool().max_memory())
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-table")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    sets = make_photos(args.data / "photos", {"640x480": 160, "1920x1080": 40, "4000x3000": 0})
    files = sorted(p for paths in sets.values() for p in paths)
    table = write_table(files, args.data / "photos.parquet")
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"{len(files)} JPEGs ({mb:.0f} MB), as files and as {table.name} "
          f"({pq.ParquetFile(table).num_row_groups} row groups)")
    rates = {"files": [], "table": []}
    results = {}
    for _ in range(args.rounds):  # interleaved: load on the machine hits both alike
        for name, run in (("files", lambda: hash_images(files, workers=1, progress=False)),
                          ("table", lambda: hash_images(table, key="id", workers=1, progress=False))):
            start = time.process_time()  # this process's CPU (hashing and Arrow's reads alike: use_threads off)
            results[name] = run()
            rates[name].append(len(files) / (time.process_time() - start))
    of_file = dict(zip(results["files"]["path"], results["files"]["hash"]))
    same = results["table"]["hash"].tolist() == [of_file[str(f)] for f in files]
    files_rate, table_rate = statistics.median(rates["files"]), statistics.median(rates["table"])
    print(f"files: {files_rate:.0f} images/s, table: {table_rate:.0f} images/s (per CPU second, medians of "
          f"{args.rounds} rounds, one process): table/files = {table_rate / files_rate:.2f}; same hashes: {same}")
    peak = subprocess.run([sys.executable, "-c", _PEAK, str(table)], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip()
    largest = max(pq.ParquetFile(table).metadata.row_group(i).total_byte_size
                  for i in range(pq.ParquetFile(table).num_row_groups))
    print(f"Arrow's peak memory hashing the table in a fresh process: {float(peak) / 1e6:.1f} MB for a "
          f"{mb:.0f} MB table (its largest row group: {largest / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
