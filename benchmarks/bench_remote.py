"""Hashing from object storage against the same files on local disk, in the same run.

Run from the repository root (about 3 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_remote.py            # 2,000 JPEGs
    .venv/bin/python benchmarks/bench_remote.py --quick    # 400 JPEGs, 2 rounds

It makes ``--count`` seeded photo-like JPEGs (``benchmarks/bench_hash.py``'s
``photo_like``: 40 pictures at 1920x1080, each file a different crop of one of
them saved at quality 85-92, so every file decodes as a camera JPEG of that
size would), kept under ``--data`` and reused; starts moto's S3 server
(``tests/s3server.py``) on 127.0.0.1 in its own process, credentials not
checked; puts the files in a bucket; then, interleaved for ``--rounds``
rounds so that other load on the machine hits both alike:

* local: ``hash_images(folder, workers=W)``;
* S3: ``hash_images("s3://bench/photos/", workers=W, storage_options=...)``
  (listed, each object read once into memory by s3fs, a chunk's reads as one
  batch of coroutines, ``IO_THREADS`` at once per worker process, decoded by
  the same fast path).

It prints the median seconds and images per second of each, the ratio S3 /
local (the median of each round's ratio, its two runs back to back), and the
CPU milliseconds per image spent here (this process and its workers) and in
the S3 server. The S3 server runs on the same cores as the hashing: every
request it serves is CPU taken from the hashing, which a real bucket does not
take; so it also prints the ratio a CPU-bound run would reach with and without
the server's CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from bench_hash import photo_like  # noqa: E402
from s3server import S3Server  # noqa: E402

from dedupkit import hash_images  # noqa: E402

SIZE = (1920, 1080)
BASES = 40


def make_files(folder: Path, count: int) -> list[Path]:
    """``count`` JPEGs: crops of ``BASES`` photo-like pictures at varied quality (kept and reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [folder / f"photo_{i:05d}.jpg" for i in range(count)]
    missing = [p for p in wanted if not p.exists()]
    if missing:
        width, height = SIZE
        bases = [photo_like(width + 32, height + 32, seed=7_000 + b) for b in range(BASES)]
        for path in missing:
            i = int(path.stem.split("_")[1])
            dx, dy = i % 29, (i // 29) % 31
            bases[i % BASES].crop((dx, dy, dx + width, dy + height)).save(path, quality=85 + i % 8)
    return wanted


def upload(server: S3Server, bucket: str, files: list[Path]) -> None:
    client = server.client()
    client.create_bucket(Bucket=bucket)

    def put(path: Path) -> None:
        client.put_object(Bucket=bucket, Key=f"photos/{path.name}", Body=path.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dedupkit-bench-remote")
    parser.add_argument("--quick", action="store_true", help="400 files, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.count, args.rounds = 400, 2
    folder = args.data / f"{SIZE[0]}x{SIZE[1]}"
    started = time.perf_counter()
    files = make_files(folder, args.count)
    local_files = [str(p) for p in files]
    print(f"{len(files)} JPEGs at {SIZE[0]}x{SIZE[1]} in {folder} ({time.perf_counter() - started:.0f} s)")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with S3Server(auth=False) as server:
        started = time.perf_counter()
        upload(server, "bench", files)
        print(f"uploaded to moto on {server.endpoint} ({time.perf_counter() - started:.0f} s)")
        options = server.storage_options()
        url = "s3://bench/photos/"
        times: dict[str, list[float]] = {"local": [], "s3": []}
        cpu: dict[str, list[float]] = {"local": [], "s3": [], "server": []}
        for round_ in range(args.rounds):
            for name in ("local", "s3") if round_ % 2 == 0 else ("s3", "local"):
                mine, served = _cpu_seconds(), _process_cpu_seconds(server.pid)
                began = time.perf_counter()
                if name == "local":
                    table = hash_images(local_files, workers=args.workers, progress=False)
                else:
                    table = hash_images(url, workers=args.workers, progress=False, storage_options=options)
                times[name].append(time.perf_counter() - began)
                cpu[name].append(_cpu_seconds() - mine)
                if name == "s3":
                    cpu["server"].append(_process_cpu_seconds(server.pid) - served)
                assert len(table) == len(files) and table["error"].isna().all(), table["error"].dropna().head()
            print(f"round {round_ + 1}: local {times['local'][-1]:.2f} s, s3 {times['s3'][-1]:.2f} s")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    local, remote = statistics.median(times["local"]), statistics.median(times["s3"])
    n = len(files)
    print(f"\n{n} JPEGs, workers={args.workers}, median of {args.rounds} rounds")
    print(f"local disk: {local:6.2f} s  {n / local:7.0f} img/s   "
          f"CPU {1000 * statistics.median(cpu['local']) / n:.2f} ms/img")
    print(f"moto S3:    {remote:6.2f} s  {n / remote:7.0f} img/s   "
          f"CPU {1000 * statistics.median(cpu['s3']) / n:.2f} ms/img here + "
          f"{1000 * statistics.median(cpu['server']) / n:.2f} ms/img in the S3 server")
    ratios = [a / b for a, b in zip(times["local"], times["s3"])]  # each round's pair ran back to back
    print(f"ratio S3 / local: median of the rounds' ratios {statistics.median(ratios):.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); ratio of the medians {local / remote:.2f}x")
    here, served, alone = (statistics.median(cpu[k]) for k in ("s3", "server", "local"))
    print(f"CPU-bound bounds: local CPU / (client + server CPU) {alone / (here + served):.2f}x (moto on these "
          f"cores); local CPU / client CPU {alone / here:.2f}x (a server elsewhere)")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """CPU time of another process (the S3 server), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
