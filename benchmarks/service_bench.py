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

``--verify`` measures instead what verified search costs, with real images
(data/sample) on two real servers in the same run: one that keeps each added
image's local features and one with ``DEDUPKIT_STORE_FEATURES=false``. It
reports the latency of ``POST /images`` on each (the 27 originals, one per
request, taken in turns), the feature bytes per image in the database, and
the latency of ``POST /search`` for 41 queries that each have a true match
(the 14 edited copies and the 27 originals at half size), unverified at the
default threshold, unverified at 16 bits and ``verify=true``, taken in turns.
``--side 1920`` first enlarges every image to 1920 pixels on its long side
(JPEG quality 90), to see the cost for photo-sized uploads::

    .venv/bin/python benchmarks/service_bench.py --verify
    .venv/bin/python benchmarks/service_bench.py --verify --side 1920

Not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from dedupkit.codejoin import faiss_radius
from dedupkit.duplicates import CANDIDATE_DISTANCE
from dedupkit.service.records import ImageFacts
from dedupkit.service.store import ImageStore

MAX_DISTANCE = 10
CONCURRENCY = 8
ROUNDS = 5  # blocks per design and concurrency, taken in turns
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


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


# -- --verify: the cost of verified search --------------------------------------------------


def jpeg(image, side: int | None = None, quality: int = 90) -> bytes:
    """``image`` as JPEG bytes, first resized to ``side`` pixels on its long side if given."""
    from PIL import Image

    image = image.convert("RGB")
    if side:
        shrink = side / max(image.size)
        image = image.resize((max(1, round(image.width * shrink)), max(1, round(image.height * shrink))),
                             Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def verify_images(side: int | None) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """The images to store (data/sample's originals) and the queries (edited copies, originals at half size).

    With ``side``, every image is first enlarged (or shrunk) to ``side``
    pixels on its long side, so a query keeps its size relative to its original.
    """
    from PIL import Image

    from dedupkit.loading import load_image

    names = sorted(p.name for p in SAMPLE.iterdir() if p.suffix in (".jpg", ".png", ".webp"))
    originals = [n for n in names if "__" not in n]
    edited = [n for n in names if "__" in n]

    def data(name: str, scale: float = 1.0) -> bytes:
        if not side and scale == 1.0:
            return (SAMPLE / name).read_bytes()
        image = load_image(SAMPLE / name)  # upright
        base = side or max(image.size)
        if "__" in name:  # keep an edited copy's size relative to its original
            original = Image.open(SAMPLE / (name.split("__")[0] + ".jpg"))
            base = base * max(image.size) / max(original.size)
        return jpeg(image, max(1, round(base * scale)))

    stored = [(n, data(n)) for n in originals]
    queries = [(n, data(n)) for n in edited] + [(n.replace(".jpg", "__half.jpg"), data(n, 0.5)) for n in originals]
    return stored, queries


def timed(client: httpx.Client, method: str, path: str, **kwargs) -> tuple[float, dict]:
    began = time.perf_counter()
    response = client.request(method, path, **kwargs)
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, response.json() if response.content else {}


def feature_bytes(db: Path) -> np.ndarray:
    """Bytes of each stored image's features row: the blobs and the six numbers (8 bytes each)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT length(xy) + length(descriptors) + length(grey) + 48 FROM features").fetchall()
    connection.close()
    return np.array([r[0] for r in rows], float)


def verify_main(args: argparse.Namespace) -> None:
    """Measure ``POST /images`` with and without stored features, and verified against unverified search."""
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    stored, queries = verify_images(args.side)
    sizes = [len(data) for _, data in stored]
    print(f"{len(stored)} images to store (median {np.median(sizes) / 1000:.0f} kB"
          f"{f', enlarged to {args.side} px' if args.side else ', as in data/sample'}), {len(queries)} queries")
    with tempfile.TemporaryDirectory() as tmp:
        servers, dbs = {}, {}
        designs = {"features": {}, "hash-only": {"DEDUPKIT_STORE_FEATURES": "false"}}
        try:
            for design, extra in designs.items():
                port, dbs[design] = free_port(), Path(tmp) / f"{design}.db"
                env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUPKIT_")} | extra
                command = dedupkit_command() + ["serve", "--db", str(dbs[design]), "--log-level", "warning",
                                                "--port", str(port)]
                servers[design] = (start(command, port, env=env)[0], f"http://127.0.0.1:{port}")
            clients = {design: httpx.Client(base_url=url, timeout=120) for design, (_, url) in servers.items()}
            for client in clients.values():  # warm-up: imports, first decode, first ORB
                timed(client, "POST", "/search", files={"file": queries[0]}, params={"verify": "true"})
            # POST /images: every original, one per request, the two servers in turns; deleted between rounds
            add_ms = {design: [] for design in designs}
            for round_ in range(args.rounds):
                ids = {design: [] for design in designs}
                for name, data in stored:
                    for design, client in clients.items():
                        ms, body = timed(client, "POST", "/images", files=[("files", (name, data))])
                        add_ms[design].append(ms)
                        ids[design].append(body["images"][0]["id"])
                if round_ < args.rounds - 1:
                    for design, client in clients.items():
                        for image_id in ids[design]:
                            client.delete(f"/images/{image_id}").raise_for_status()
            print(f"\nPOST /images, one image per request ({args.rounds} rounds x {len(stored)} images per server)")
            base = np.median(add_ms["hash-only"])
            for design in designs:
                median = np.median(add_ms[design])
                print(f"  {design:10s} median {median:7.1f} ms  p90 {np.percentile(add_ms[design], 90):7.1f} ms"
                      f"  ({median / base:.2f}x hash-only, +{median - base:.1f} ms)")
            per_image = feature_bytes(dbs["features"])
            print(f"  features per image in the database: median {np.median(per_image) / 1000:.1f} kB, "
                  f"max {per_image.max() / 1000:.1f} kB ({len(per_image)} images)")
            # POST /search on the server with features: three ways, in turns, query by query
            ways = {"hash": {}, f"hash<={CANDIDATE_DISTANCE}": {"max_distance": CANDIDATE_DISTANCE},
                    "verify": {"verify": "true"}}
            search_ms = {way: [] for way in ways}
            found = {way: [] for way in ways}
            client = clients["features"]
            for _ in range(args.rounds):
                for name, data in queries:
                    for way, params in ways.items():
                        ms, body = timed(client, "POST", "/search", files={"file": (name, data)}, params=params)
                        search_ms[way].append(ms)
                        found[way].append(body)
            print(f"\nPOST /search, {len(queries)} queries x {args.rounds} rounds, {len(stored)} images stored")
            base = np.median(search_ms["hash"])
            for way in ways:
                median = np.median(search_ms[way])
                n_matches = np.mean([len(b["matches"]) for b in found[way]])
                extra = ""
                if way == "verify":
                    candidates = np.mean([b["candidates"] for b in found[way]])
                    rejected = np.mean([b["rejected"] for b in found[way]])
                    extra = f", {candidates:.2f} candidates checked, {rejected:.2f} rejected"
                print(f"  {way:10s} median {median:7.1f} ms  p90 {np.percentile(search_ms[way], 90):7.1f} ms"
                      f"  ({median / base:.2f}x hash, +{median - base:.1f} ms)  {n_matches:.2f} matches per query"
                      f"{extra}")
            truth = [name.split("__")[0] + ".jpg" for name, _ in queries]
            for way in ways:
                answers = [[m["name"] for m in b["matches"]] for b in found[way][: len(queries)]]
                right = sum(t in names for t, names in zip(truth, answers))
                wrong = sum(n != t for t, names in zip(truth, answers) for n in names)
                print(f"  {way:10s} found its original for {right} of {len(queries)} queries; "
                      f"{wrong} matches with another picture")
            for client in clients.values():
                client.close()
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
        sizes = {design: db.stat().st_size for design, db in dbs.items()}
        print(f"\ndatabase files after shutdown: features {sizes['features'] / 1e6:.2f} MB, "
              f"hash-only {sizes['hash-only'] / 1e6:.2f} MB: "
              f"{(sizes['features'] - sizes['hash-only']) / len(stored) / 1000:.1f} kB more per image")
    print("\nuptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="stored hashes")
    parser.add_argument("--requests", type=int, default=2000, help="requests to the service per measurement")
    parser.add_argument("--seed-requests", type=int, default=400, help="requests to the seed design per measurement")
    parser.add_argument("--verify", action="store_true",
                        help="measure verified search and stored features instead (real images, two servers)")
    parser.add_argument("--side", type=int, help="with --verify: resize every image to this long side first")
    parser.add_argument("--rounds", type=int, default=3, help="with --verify: rounds of uploads and of queries")
    parser.add_argument("--serve-seed", type=Path, help=argparse.SUPPRESS)  # internal: run the seed server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_seed:
        import uvicorn

        uvicorn.run(seed_app(args.serve_seed), host="127.0.0.1", port=args.port, log_level="warning")
        return
    if args.verify:
        verify_main(args)
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
                    for design, (_port, server, startup) in servers.items():
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
