"""Hashes of every benchmark file for every system, computed once and cached (benchmarks only).

A *hasher* maps a file to a hex hash (and, for dedupkit's dihedral option, a
``hash_dihedral``). Hashers that decode the file the same way (the peers: the
full decode a user would do with ``Image.open``) share one decode per file
(and its grey and RGB conversions); each one's time is the decode plus its own
work. imagehash and imagededup hash that decode exactly as their own loaders
do (checked bit for bit); PDQ gets it shrunk to fit 512x512 first, as the PDQ
paper recommends for megapixel input ("prohibitively time-consuming"
otherwise).

Results are kept in ``<cache>/hashes_<hasher>.parquet``, one row per file,
keyed by the file's size and modification time and the hasher's version (the
library versions, or a digest of dedupkit's source for dedupkit's hashers).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class Hasher:
    """One way of hashing a file: ``name``, hash length in ``bits``, and the ``decode`` it shares."""

    name: str
    bits: int
    decode: str  # "full": shares one PIL full decode; "own": reads the file itself
    version: Callable[[], str]
    function: Callable  # (path, image_or_None) -> dict with "hash" (and maybe "hash_dihedral")


# --- versions -------------------------------------------------------------------------


@functools.cache  # once per run: others may edit the files while it runs
def source_digest(*modules: str) -> str:
    """A short digest of dedupkit's source files: cached results are redone when the code changes."""
    h = hashlib.sha1()
    for name in modules:
        h.update((REPO / "dedupkit" / f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def _imagehash_version() -> str:
    import imagehash

    return f"imagehash-{getattr(imagehash, '__version__', '?')}"


PDQ_SIDE = 512


def _pdq_version() -> str:
    from importlib.metadata import version

    return f"pdqhash-{version('pdqhash')}-fit{PDQ_SIDE}"


def _imagededup_version() -> str:
    return f"imagededup-{import_imagededup()[2]}"


def _dedupkit_version() -> str:
    import imagehash

    return "dedupkit-" + source_digest("scan", "fastpath", "hashing", "trim", "loading", "dihedral") + \
        f"-imagehash-{getattr(imagehash, '__version__', '?')}"


# --- peers -----------------------------------------------------------------------------

_IMAGEDEDUP: dict = {}


def import_imagededup(install: bool = False):
    """imagededup's PHash and DHash, installed and imported as ``benchmarks/bench_peer.py`` does (no torch).

    Returns ``(PHash, DHash, version, stand_ins)``; raises ImportError when it is not installed
    and ``install`` is false.
    """
    if "classes" in _IMAGEDEDUP:
        return _IMAGEDEDUP["classes"]
    sys.path.insert(0, str(HERE))
    import bench_peer  # noqa: PLC0415 - its installer and torch stand-ins

    try:
        _dhash, version, stand_ins = bench_peer.import_imagededup(install, bench_peer.PEER_DIR)
    except SystemExit:  # bench_peer says "not installed: run with --install"
        raise ImportError(f"imagededup is not installed: run benchmarks/accuracy.py with --install-peers "
                          f"(pip-installs it without dependencies into {bench_peer.PEER_DIR})") from None
    from imagededup.methods import DHash, PHash  # noqa: PLC0415

    _IMAGEDEDUP["classes"] = (PHash, DHash, version, stand_ins)
    return _IMAGEDEDUP["classes"]


def _full_decode(path: str):
    """What a user of imagehash / PDQ / imagededup does: ``Image.open`` and decode all pixels."""
    from PIL import Image

    image = Image.open(path)
    image.load()
    return image


class _Decoded:
    """One full decode of a file, and the conversions the peers make of it, each made once."""

    def __init__(self, image):
        self.image = image
        self._grey = self._rgb = None

    @property
    def grey(self):  # imagehash's first step: image.convert("L") (of an "L" image: the same pixels)
        if self._grey is None:
            self._grey = self.image.convert("L")
        return self._grey

    @property
    def rgb(self):  # imagededup's load_image: RGB as it is, anything else through RGBA
        if self._rgb is None:
            image = self.image
            self._rgb = image if image.mode == "RGB" else image.convert("RGBA").convert("RGB")
        return self._rgb


def _imagehash(function_name: str):
    def run(path, decoded):
        import imagehash

        return {"hash": str(getattr(imagehash, function_name)(decoded.grey))}

    return run


def _pdq(path, decoded):
    """PDQ of the full decode shrunk to fit 512x512 first, as the PDQ paper recommends for megapixel input."""
    import pdqhash

    rgb = decoded.rgb
    if max(rgb.size) > PDQ_SIDE:
        rgb = rgb.copy()
        rgb.thumbnail((PDQ_SIDE, PDQ_SIDE))  # Pillow's default filter (bicubic, reducing gap 2)
    bits, _quality = pdqhash.compute(np.asarray(rgb))
    return {"hash": np.packbits(bits.astype(np.uint8)).tobytes().hex()}


def _imagededup(which: str):
    def run(path, decoded):
        from imagededup.utils.image_utils import preprocess_image

        phash, dhash, _, _ = import_imagededup()
        method = {"phash": phash, "dhash": dhash}[which](verbose=False)
        # encode_image(image_file=path) is load_image (PIL, RGB) + preprocess_image + _hash_func
        pixels = preprocess_image(decoded.rgb, target_size=method.target_size, grayscale=True)
        return {"hash": method._hash_func(pixels)}

    return run


# --- dedupkit ----------------------------------------------------------------------------


def _dedupkit(method: str, dihedral: bool = False):
    def run(path, image):
        import dedupkit

        row = dedupkit.hash_file(path, method=method, trim=True, dihedral=dihedral)
        if row.get("error"):
            raise ValueError(row["error"])
        out = {"hash": row["hash"]}
        if dihedral:
            out["hash_dihedral"] = row["hash_dihedral"]
        return out

    return run


HASHERS: dict[str, Hasher] = {h.name: h for h in [
    Hasher("imagehash_phash", 64, "full", _imagehash_version, _imagehash("phash")),
    Hasher("imagehash_dhash", 64, "full", _imagehash_version, _imagehash("dhash")),
    Hasher("pdq", 256, "full", _pdq_version, _pdq),
    Hasher("imagededup_phash", 64, "full", _imagededup_version, _imagededup("phash")),
    Hasher("imagededup_dhash", 64, "full", _imagededup_version, _imagededup("dhash")),
    Hasher("dedupkit_dhash", 64, "own", _dedupkit_version, _dedupkit("dhash")),
    Hasher("dedupkit_phash", 64, "own", _dedupkit_version, _dedupkit("phash")),
    Hasher("dedupkit_dhash_dihedral", 64, "own", _dedupkit_version, _dedupkit("dhash", dihedral=True)),
]}


def _hash_files(names: list[str], paths: list[str]) -> list[dict]:
    """Worker: every hasher of ``names`` on every file; one dict per (file, hasher) with seconds."""
    hashers = [HASHERS[n] for n in names]
    out = []
    for path in paths:
        decode_s, image, decode_error = 0.0, None, None
        if any(h.decode == "full" for h in hashers):
            start = time.perf_counter()
            try:
                image = _Decoded(_full_decode(path))
            except Exception as exc:  # noqa: BLE001 - a file a peer cannot read is a row with an error
                decode_error = f"{type(exc).__name__}: {exc}"
            decode_s = time.perf_counter() - start
        for hasher in hashers:
            row = {"hasher": hasher.name, "path": path, "hash": None, "hash_dihedral": None, "error": None}
            start = time.perf_counter()
            try:
                if hasher.decode == "full" and decode_error:
                    raise ValueError(decode_error)
                row.update(hasher.function(path, image))
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"{type(exc).__name__}: {exc}"
            row["seconds"] = time.perf_counter() - start + (decode_s if hasher.decode == "full" else 0.0)
            out.append(row)
    return out


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


def _signature(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def hash_table(names: list[str], root: Path, files: list[str], cache: Path, *, workers: int = 2,
               use_cache: bool = True) -> dict[str, pd.DataFrame]:
    """Hash ``files`` (relative to ``root``) with each hasher of ``names``, reusing the cache.

    Returns ``{hasher: table}``, each with ``path`` (the relative file), ``hash``,
    ``hash_dihedral``, ``error``, ``seconds`` (one core, measured when computed)
    and ``cached``, in the order of ``files``.
    """
    cache.mkdir(parents=True, exist_ok=True)
    signatures = {f: _signature(str(root / f)) for f in files}
    versions = {n: HASHERS[n].version() for n in names}
    known: dict[str, pd.DataFrame] = {}
    todo: dict[str, set[str]] = {}
    for name in names:
        store = cache / f"hashes_{name}.parquet"
        table = pd.read_parquet(store) if use_cache and store.exists() else pd.DataFrame(
            columns=["path", "size", "mtime_ns", "version", "hash", "hash_dihedral", "error", "seconds"])
        if len(table):
            sig = pd.DataFrame([(f, *signatures[f]) for f in files], columns=["path", "size", "mtime_ns"])
            table = table.merge(sig, on=["path", "size", "mtime_ns"], how="inner")
            table = table[table["version"] == versions[name]].drop_duplicates("path", keep="last")
        known[name] = table
        todo[name] = set(files) - set(table["path"])
    # one task list of (file, hashers it lacks), grouped by the set of hashers
    missing: dict[tuple[str, ...], list[str]] = {}
    for f in files:
        lacking = tuple(n for n in names if f in todo[n])
        if lacking:
            missing.setdefault(lacking, []).append(f)
    total = sum(len(v) for v in missing.values())
    new_rows: list[dict] = []
    if total:
        chunk = 16
        tasks = [(list(lacking), [str(root / f) for f in fs[i:i + chunk]])
                 for lacking, fs in missing.items() for i in range(0, len(fs), chunk)]
        with tqdm(total=total, desc="hashing", unit="file") as bar:
            if workers > 1 and total > chunk:
                with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
                    futures = [pool.submit(_hash_files, *task) for task in tasks]
                    for task, future in zip(tasks, futures):
                        new_rows.extend(future.result())
                        bar.update(len(task[1]))
            else:
                for task in tasks:
                    new_rows.extend(_hash_files(*task))
                    bar.update(len(task[1]))
    prefix = str(root) + os.sep
    result = {}
    for name in names:
        fresh = pd.DataFrame([r for r in new_rows if r["hasher"] == name],
                             columns=["hasher", "path", "hash", "hash_dihedral", "error", "seconds"])
        if len(fresh):
            fresh["path"] = [p[len(prefix):] if p.startswith(prefix) else p for p in fresh["path"]]
            fresh["size"] = [signatures[p][0] for p in fresh["path"]]
            fresh["mtime_ns"] = [signatures[p][1] for p in fresh["path"]]
            fresh["version"] = versions[name]
            fresh = fresh.drop(columns="hasher")
            keep = fresh[fresh["error"].isna()]  # errors are not cached: a missing file may come back
            store = cache / f"hashes_{name}.parquet"
            old = pd.read_parquet(store) if store.exists() else None
            merged = pd.concat([t for t in (old, keep) if t is not None and len(t)], ignore_index=True)
            merged = merged.drop_duplicates("path", keep="last")
            for column in ("hash", "hash_dihedral", "error"):
                merged[column] = merged[column].astype("string")
            merged.to_parquet(store, index=False)
        table = pd.concat([t for t in (known[name].assign(cached=True), fresh.assign(cached=False)) if len(t)],
                          ignore_index=True)
        table = table.drop_duplicates("path", keep="last").set_index("path").reindex(files).reset_index()
        for column in ("hash", "hash_dihedral", "error"):
            table[column] = table[column].astype("string")
        result[name] = table[["path", "hash", "hash_dihedral", "error", "seconds", "cached"]]
    return result


def time_hashers(names: list[str], paths: list[str], *, repeat: int = 3) -> pd.DataFrame:
    """Milliseconds per file of each hasher on the same files, now, in this process (1 core).

    Hashers are interleaved file by file and each file is timed ``repeat``
    times (median), so machine load hits all of them alike. A peer's time is
    its own full decode plus its hashing (the decode is not shared here).
    """
    rows = []
    for _ in range(repeat):
        for path in paths:
            for name in names:
                start = time.perf_counter()
                _hash_files([name], [path])
                rows.append({"hasher": name, "path": path, "seconds": time.perf_counter() - start})
    table = pd.DataFrame(rows).groupby(["hasher", "path"])["seconds"].median().groupby("hasher").mean()
    return (table * 1000).rename("ms per file").reset_index()
