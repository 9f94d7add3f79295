"""Requests per second and latency of ``POST /search``: the service against the seed's design.

The seed service loaded its faiss index file from disk and saved it again on
every request. dedupkit's service keeps the index in memory, rebuilt from
SQLite at start-up. Both are measured here in the same run, each as a real
uvicorn server on 127.0.0.1, with the same stored hashes (inserted directly,
not by uploading images) and the same queries: stored hashes with 0-3 bits
flipped, so that most queries find a match.

The seed stand-in is generous to the seed: it answers with faiss labels only
(no names from a database), and it searches single-threaded like the service
(``OMP_NUM_THREADS=1``; an OpenMP team per single query is slow on a busy
machine), so the difference measured is the index I/O.

Run from the repository root (about two minutes)::

    .venv/bin/python benchmarks/service_bench.py
    .venv/bin/python benchmarks/service_bench.py --sizes 10000 --requests 500   # quicker

Not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from dedupkit.search import faiss_radius
from dedupkit.service.schemas import ImageFacts
from dedupkit.service.store import ImageStore

MAX_DISTANCE = 10
CONCURRENCY = 8
ROUNDS = 5  # blocks per design and concurrency, taken in turns


def seed_app(index_path: Path):
    """The seed's design: read the faiss index file, search, write the file back, on every request."""
    import faiss
    from fastapi import FastAPI, Form, Query

    app = FastAPI()

    @app.post("/search")
    def search(hash: str = Form(...), max_distance: int = Query(MAX_DISTANCE)) -> dict:  # noqa: A002
        index = faiss.read_index_binary(str(index_path))
        code = np.frombuffer(bytes.fromhex(hash), dtype=np.uint8).reshape(1, -1)
        lims, distances, labels = index.range_search(code, faiss_radius(max_distance))
        faiss.write_index_binary(index, str(index_path))
        return {"matches": [{"id": int(i) + 1, "distance": int(d)} for i, d in zip(labels, distances)]}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, env: dict | None = None) -> tuple[subprocess.Popen, float]:
    """Start a server; return it and the seconds until it answered."""
    began = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(1200):  # at most 60 s
        if server.poll() is not None:
            raise RuntimeError(f"{command} exited with {server.returncode}")
        try:
            httpx.post(f"http://127.0.0.1:{port}/search", data={"hash": "0" * 16}, timeout=2).raise_for_status()
            return server, time.perf_counter() - began
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"{command} did not answer within 60 s")


def measure(port: int, queries: list[str], concurrency: int) -> tuple[list[float], int, float]:
    """Send every query once, ``concurrency`` at a time.

    Returns the latencies (ms) of the answered requests (status 200), the
    number of the others, and the wall-clock seconds.
    """
    url = f"http://127.0.0.1:{port}/search"

    def run(part: list[str]) -> tuple[list[float], int]:
        times, errors = [], 0
        with httpx.Client(timeout=30) as client:
            for query in part:
                began = time.perf_counter()
                try:
                    ok = client.post(url, data={"hash": query}).status_code == 200
                except httpx.HTTPError:  # the seed design under concurrency: a torn index file
                    ok = False
                if ok:
                    times.append((time.perf_counter() - began) * 1000)
                errors += not ok
        return times, errors

    parts = [queries[i::concurrency] for i in range(concurrency)]
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(run, parts))
    seconds = time.perf_counter() - began
    return [t for times, _ in done for t in times], sum(e for _, e in done), seconds


def summarise(blocks: list[tuple[list[float], int, float]]) -> dict:
    """Requests per second (answered ones) and p50/p99 latency over all blocks of one design."""
    latencies = np.asarray([t for times, _, _ in blocks for t in times], dtype=float)
    errors = sum(e for _, e, _ in blocks)
    seconds = sum(s for _, _, s in blocks)
    p50, p99 = np.percentile(latencies, [50, 99]) if len(latencies) else (np.nan, np.nan)
    return {"rps": len(latencies) / seconds, "p50": float(p50), "p99": float(p99), "errors": errors,
            "n": len(latencies) + errors}


def setup(folder: Path, n: int, rng: np.random.Generator) -> tuple[Path, Path, np.ndarray]:
    """A service database and a seed index file holding the same ``n`` random 64-bit hashes."""
    import faiss

    codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    db = folder / "service.db"
    with ImageStore(db) as store:  # a bulk insert: no search per image
        store.add([ImageFacts(name=f"img{i:06d}.jpg", sha256=f"{i:064x}", hash=row.tobytes().hex(),
                              width=640, height=480, bytes=50_000) for i, row in enumerate(codes)])
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    faiss.write_index_binary(index, str(folder / "seed.index"))
    return db, folder / "seed.index", codes


def queries_near(codes: np.ndarray, count: int, rng: np.random.Generator) -> list[str]:
    picked = codes[rng.integers(0, len(codes), count)].copy()
    bits = np.unpackbits(picked, axis=1)
    for row in bits:
        row[rng.choice(64, rng.integers(0, 4), replace=False)] ^= 1
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def dedupkit_command() -> list[str]:
    script = shutil.which("dedupkit", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "dedupkit.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="stored hashes")
    parser.add_argument("--requests", type=int, default=2000, help="requests to the service per measurement")
    parser.add_argument("--seed-requests", type=int, default=400, help="requests to the seed design per measurement")
    parser.add_argument("--serve-seed", type=Path, help=argparse.SUPPRESS)  # internal: run the seed server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_seed:
        import uvicorn

        uvicorn.run(seed_app(args.serve_seed), host="127.0.0.1", port=args.port, log_level="warning")
        return

    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rng = np.random.default_rng(20261125)
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            db, seed_index, codes = setup(Path(tmp), n, rng)
            print(f"\n{n:,} stored hashes (set up in {time.perf_counter() - began:.1f} s)")
            designs = {
                "service": (dedupkit_command() + ["serve", "--db", str(db), "--log-level", "warning", "--port"],
                            args.requests, None),
                "seed": ([sys.executable, __file__, "--serve-seed", str(seed_index), "--port"], args.seed_requests,
                         os.environ | {"OMP_NUM_THREADS": "1"}),
            }
            servers = {}
            try:
                for design, (command, _, env) in designs.items():
                    port = free_port()
                    servers[design] = (port, *start(command + [str(port)], port, env=env))
                    measure(port, queries_near(codes, 20, rng), 1)  # warm-up
                for concurrency in (1, CONCURRENCY):
                    # The designs take turns, a block each, so that the load of a shared machine
                    # falls on both alike.
                    blocks = {design: [] for design in designs}
                    for _ in range(ROUNDS):
                        for design, (_, count, _) in designs.items():
                            port, server, _ = servers[design]
                            if server.poll() is None:
                                blocks[design].append(measure(port, queries_near(codes, count // ROUNDS, rng),
                                                              concurrency))
                    results = {}
                    for design, (port, server, startup) in servers.items():
                        result = results[design] = summarise(blocks[design]) | {"crashed": server.poll() is not None}
                        rows.append((n, design, concurrency, result, startup))
                        print(f"  {design:8s} c={concurrency}: {result['rps']:8.0f} req/s  p50 {result['p50']:7.2f} ms"
                              f"  p99 {result['p99']:7.2f} ms  failed {result['errors']}/{result['n']}"
                              f"{'  SERVER CRASHED' if result['crashed'] else ''}  (start-up {startup:.1f} s)")
                    new, old = results["service"], results["seed"]
                    print(f"  c={concurrency}: service/seed {new['rps'] / old['rps']:.2f}x req/s, "
                          f"p50 {new['p50'] / old['p50']:.2f}x, p99 {new['p99'] / old['p99']:.2f}x")
            finally:
                for _, server, _ in servers.values():
                    server.terminate()
                    server.wait(timeout=30)
    print("\n| stored | design | clients | requests | req/s | p50 ms | p99 ms | failed | start-up s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, design, concurrency, r, startup in rows:
        failed = f"{r['errors']}{' (crashed)' if r['crashed'] else ''}"
        print(f"| {n:,} | {design} | {concurrency} | {r['n']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
              f"| {failed} | {startup:.1f} |")
    print("\nuptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
