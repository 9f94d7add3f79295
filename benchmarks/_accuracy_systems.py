"""The systems the accuracy benchmark compares, and how each turns a half of the files into reported pairs.

A system is a hasher (``_accuracy_hashes.HASHERS``) and what is done with its
hashes:

* ``kind="hash"``: pairs within a threshold, reported at the system's own
  default threshold and at the threshold chosen on the tune half;
* ``kind="verified"``: hash candidates at a looser threshold (optionally found
  with all 8 orientations, ``dihedral``), optionally with crop candidates
  (``dedupkit.candidates.crop_candidates``) added, each checked by
  ``dedupkit.verify.verify_pairs``; the verified pairs are reported.

A system whose module is missing (``needs``) is skipped with a note. To add a
system, add a line to :data:`SYSTEMS`.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from _accuracy_hashes import HASHERS, source_digest

import dedupkit
from dedupkit.calibration import MIN_PRECISION, threshold_at_precision
from dedupkit.evaluate import precision_recall


@dataclass(frozen=True)
class System:
    name: str
    hasher: str
    kind: str = "hash"  # "hash" | "verified"
    default_threshold: int = 10
    default_note: str = ""  # where the default threshold comes from
    crop: bool = False
    dihedral: bool = False
    peer: bool = False
    needs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bits(self) -> int:
        return HASHERS[self.hasher].bits


SYSTEMS: list[System] = [
    System("imagehash pHash", "imagehash_phash", peer=True, default_note="10: the usual pick (as imagededup)"),
    System("imagehash dHash", "imagehash_dhash", peer=True, default_note="10: the usual pick (as imagededup)"),
    System("PDQ", "pdq", default_threshold=31, peer=True, needs=("pdqhash",),
           default_note="31 of 256: ThreatExchange's match threshold"),
    System("imagededup PHash", "imagededup_phash", peer=True, needs=("imagededup",),
           default_note="10: find_duplicates' max_distance_threshold"),
    System("imagededup DHash", "imagededup_dhash", peer=True, needs=("imagededup",),
           default_note="10: find_duplicates' max_distance_threshold"),
    System("dedupkit dHash", "dedupkit_dhash", default_note="10: find_pairs' default (trim on)"),
    System("dedupkit pHash", "dedupkit_phash", default_note="10: find_pairs' default (trim on)"),
    System("dedupkit verified", "dedupkit_dhash", kind="verified", needs=("dedupkit.verify:verify_pairs",)),
    System("dedupkit verified +crop", "dedupkit_dhash", kind="verified", crop=True,
           needs=("dedupkit.verify:verify_pairs", "dedupkit.candidates:crop_candidates")),
    System("dedupkit verified +crop +dihedral", "dedupkit_dhash_dihedral", kind="verified", crop=True,
           dihedral=True, needs=("dedupkit.verify:verify_pairs", "dedupkit.candidates:crop_candidates")),
]


def missing_module(system: System) -> str | None:
    """The first ``module[:name]`` a system needs that cannot be imported (with the reason), or None."""
    for need in system.needs:
        module, _, attribute = need.partition(":")
        try:
            if module == "imagededup":
                from _accuracy_hashes import import_imagededup

                import_imagededup()
            else:
                found = importlib.import_module(module)
                if attribute and not hasattr(found, attribute):
                    return f"{need} ({module} has no {attribute} yet)"
        except ImportError as exc:
            return f"{need} ({exc})"
    return None


def max_curve_threshold(bits: int) -> int:
    """How far the precision/recall curve of a hash is computed (far beyond any useful threshold)."""
    return 28 if bits <= 64 else 100


# --- hash-only ---------------------------------------------------------------------------


def usable(hashes: pd.DataFrame) -> pd.DataFrame:
    """The rows with a hash, as a dedupkit hash table."""
    return hashes[hashes["hash"].notna() & hashes["error"].isna()].reset_index(drop=True)


def hash_pairs(hashes: pd.DataFrame, max_distance: int, *, dihedral: bool = False) -> tuple[pd.DataFrame, float]:
    """All pairs within ``max_distance`` (exact), and the seconds the search took."""
    table = usable(hashes)
    start = time.perf_counter()
    if dihedral:
        pairs = dedupkit.find_pairs_dihedral(table, max_distance=max_distance)
    else:
        pairs = dedupkit.find_pairs(table, max_distance=max_distance, max_pairs=None)
    return pairs, time.perf_counter() - start


def tuned_threshold(
    pairs: pd.DataFrame, truth: pd.DataFrame, hashes: pd.DataFrame, bits: int
) -> tuple[int, float, bool]:
    """The threshold with the most pairwise recall at precision >= MIN_PRECISION on ``truth`` (one half).

    When no threshold reaches it, the threshold with the most recall at the
    best precision any threshold reaches. Returns ``(threshold, its precision
    on this half, reached?)``.
    """
    curve = precision_recall(pairs, truth[["file", "group"]], hashes=usable(hashes),
                             max_threshold=max_curve_threshold(bits))
    reached = threshold_at_precision(curve, MIN_PRECISION) is not None
    threshold = threshold_at_precision(curve, MIN_PRECISION, fallback=True)
    return threshold, float(curve.set_index("threshold").loc[threshold, "precision"]), reached


# --- verified ----------------------------------------------------------------------------


def _distances(codes: dict[str, np.ndarray], a: pd.Series, b: pd.Series) -> np.ndarray:
    """Hamming distances of pairs of files by their codes (-1 where a file has no hash)."""
    n_bytes = len(next(iter(codes.values()))) if codes else 8
    blank = np.zeros(n_bytes, np.uint8)
    ca = np.array([codes.get(x, blank) for x in a], np.uint8).reshape(len(a), n_bytes)
    cb = np.array([codes.get(x, blank) for x in b], np.uint8).reshape(len(b), n_bytes)
    distance = np.bitwise_count(ca ^ cb).sum(axis=1).astype(np.int64)
    known = np.array([x in codes and y in codes for x, y in zip(a, b)], bool)
    return np.where(known, distance, -1)


def codes_of(hashes: pd.DataFrame) -> dict[str, np.ndarray]:
    table = usable(hashes)
    return dict(zip(table["path"], dedupkit.hex_to_codes(table["hash"].astype(str)))) if len(table) else {}


def _cache_key(*parts) -> str:
    import hashlib

    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class SharedFeatures:
    """ORB features of the files of a half, extracted once (``dedupkit.candidates.extract_all``) when first
    needed and shared by every verified system: crop candidates and the verifier read the same mapping, as
    ``extract_all``'s documentation suggests. ``seconds / len(files)`` is each file's share of the time."""

    def __init__(self, root: Path, files: list[str], options: dict):
        self.root, self.files, self.options = root, files, options
        self.mapping: dict | None = None
        self.seconds = 0.0

    def get(self) -> dict:
        if self.mapping is None:
            from dedupkit.candidates import extract_all

            keep = {k: self.options[k] for k in ("side", "n_features") if k in self.options}
            start = time.perf_counter()
            self.mapping = extract_all([str(self.root / f) for f in self.files], progress=False, **keep)
            self.seconds = time.perf_counter() - start
        return self.mapping

    def per_file(self) -> float:
        """Seconds per file (0 until extracted)."""
        return self.seconds / max(1, len(self.files)) if self.mapping is not None else 0.0


def crop_pairs(root: Path, files: list[str], options: dict, cache: Path | None,
               features: SharedFeatures) -> tuple[pd.DataFrame, float, bool]:
    """``crop_candidates`` on the files of a half: pairs (relative paths) with votes; seconds; cached?"""
    from dedupkit.candidates import crop_candidates

    key = _cache_key("crop", source_digest(*_code_modules()), options,
                     sorted((f, *_sig(root / f)) for f in files))
    store = cache / f"crop_{key}.parquet" if cache else None
    if store is not None and store.exists() and store.with_suffix(".json").exists():
        seconds = json.loads(store.with_suffix(".json").read_text())["seconds"]
        return pd.read_parquet(store), float(seconds), True
    mapping = features.get()
    start = time.perf_counter()
    found = crop_candidates(mapping, **{"progress": False, **options})
    seconds = time.perf_counter() - start
    prefix = str(root) + "/"
    found = found.copy()
    for column in ("path_a", "path_b"):
        found[column] = [str(p)[len(prefix):] if str(p).startswith(prefix) else str(p) for p in found[column]]
    if store is not None:
        found.to_parquet(store, index=False)
        store.with_suffix(".json").write_text(json.dumps({"seconds": seconds}))
    return found, seconds, False


def _sig(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _code_modules() -> tuple[str, ...]:
    """The modules verdicts and crop candidates depend on: a change to one of them redoes the cached ones."""
    here = Path(dedupkit.__file__).parent
    return tuple(m for m in ("verify", "features", "candidates", "loading") if (here / f"{m}.py").exists())


def verify(root: Path, candidates: pd.DataFrame, options: dict, cache: Path | None,
           features: SharedFeatures) -> tuple[pd.DataFrame, float, int]:
    """``verify_pairs`` on candidate pairs (relative paths); per-pair results are cached by code and options.

    Returns the table with ``verified`` etc., the seconds (measured now for the
    pairs verified now, as measured then for cached ones; features apart) and
    how many were cached.
    """
    from dedupkit.verify import verify_pairs

    key = _cache_key("verify", source_digest(*_code_modules()), options)
    store = cache / f"verify_{key}.parquet" if cache else None
    sigs = {f: _sig(root / f) for f in pd.unique(candidates[["path_a", "path_b"]].to_numpy().ravel())}
    # the orientation found by the dihedral search decides which way B is tried first
    turn = candidates["orientation"].astype(str) if "orientation" in candidates.columns else "identity"
    candidates = candidates.assign(sig_a=[str(sigs[p]) for p in candidates["path_a"]],
                                   sig_b=[str(sigs[p]) for p in candidates["path_b"]], turn=turn)
    old = pd.read_parquet(store) if store is not None and store.exists() else None
    ident = ["path_a", "path_b", "sig_a", "sig_b", "turn"]
    if old is not None and len(old):
        done = candidates[ident].merge(old, on=ident, how="inner")
        todo = candidates.merge(old[ident], on=ident, how="left", indicator=True)
        todo = todo[todo["_merge"] == "left_only"].drop(columns="_merge")
    else:
        done, todo = None, candidates
    fresh, seconds = None, 0.0
    if len(todo):
        absolute = todo.drop(columns=["sig_a", "sig_b", "turn"]).copy()
        absolute["path_a"] = [str(root / p) for p in absolute["path_a"]]
        absolute["path_b"] = [str(root / p) for p in absolute["path_b"]]
        mapping = features.get()
        start = time.perf_counter()
        result = verify_pairs(absolute.reset_index(drop=True), features=mapping, **{"progress": False, **options})
        seconds = time.perf_counter() - start
        result = result.reset_index(drop=True)
        result["path_a"] = todo["path_a"].to_numpy()  # verify_pairs keeps the rows, in order
        result["path_b"] = todo["path_b"].to_numpy()
        for column in ("sig_a", "sig_b", "turn"):
            result[column] = todo[column].to_numpy()
        result["seconds"] = seconds / len(result)
        fresh = result
        if store is not None:
            keep = [c for c in result.columns if c not in ("distance", "orientation", "votes", "source")]
            merged = pd.concat([t for t in (old, result[keep]) if t is not None and len(t)], ignore_index=True)
            merged.drop_duplicates(ident, keep="last").to_parquet(store, index=False)
    cached_seconds = float(done["seconds"].sum()) if done is not None and len(done) else 0.0
    if done is not None and len(done):
        extra = [c for c in candidates.columns if c not in done.columns]
        done = done.merge(candidates[ident + extra], on=ident, how="left")
    table = pd.concat([t for t in (done, fresh) if t is not None and len(t)], ignore_index=True)
    table = table.drop(columns=[c for c in ("sig_a", "sig_b", "turn", "seconds") if c in table.columns])
    table["verified"] = table["verified"].astype(bool)
    return table, seconds + cached_seconds, 0 if done is None else len(done)


def verified_candidates(system: System, root: Path, files: list[str], hashes: pd.DataFrame, *,
                        candidate_distance: int, verify_options: dict, crop_options: dict,
                        cache: Path | None, features: SharedFeatures) -> tuple[pd.DataFrame, dict]:
    """Every candidate pair of a verified system with its verdict, and the seconds of each stage.

    ``features_s`` is the share of the one feature extraction this system
    would need alone: every file with crop candidates, else the files of its
    candidate pairs (measured once per run, or 0 when everything came from the cache).
    """
    pairs, search_s = hash_pairs(hashes, candidate_distance, dihedral=system.dihedral)
    pairs = pairs.assign(source="hash")
    times = {"search_s": search_s}
    if system.crop:
        crops, crop_s, crop_cached = crop_pairs(root, files, crop_options, cache, features)
        times["crop_s"] = crop_s
        times["crop_cached"] = crop_cached
        a = np.minimum(crops["path_a"].astype(str), crops["path_b"].astype(str))
        b = np.maximum(crops["path_a"].astype(str), crops["path_b"].astype(str))
        crops = pd.DataFrame({"path_a": a, "path_b": b, "votes": crops["votes"].to_numpy()})
        crops = crops.drop_duplicates(["path_a", "path_b"])
        key = set(zip(pairs["path_a"].astype(str), pairs["path_b"].astype(str)))
        new = crops[[(x, y) not in key for x, y in zip(crops["path_a"], crops["path_b"])]].copy()
        new["distance"] = _distances(codes_of(hashes), new["path_a"], new["path_b"])
        new["source"] = "crop"
        if "orientation" in pairs.columns:
            new["orientation"] = "identity"
        pairs = pairs.astype({"path_a": str, "path_b": str}).merge(crops, on=["path_a", "path_b"], how="left")
        pairs = pd.concat([pairs, new], ignore_index=True)
        pairs.loc[pairs["source"].eq("hash") & pairs["votes"].notna(), "source"] = "hash+crop"
    pairs = pairs.astype({"path_a": str, "path_b": str}).reset_index(drop=True)
    if len(pairs) == 0:
        return pairs.assign(verified=pd.Series(dtype=bool)), {**times, "verify_s": 0.0, "verify_cached": 0}
    checked, verify_s, n_cached = verify(root, pairs, verify_options, cache, features)
    used = len(files) if system.crop else len(pd.unique(pairs[["path_a", "path_b"]].to_numpy().ravel()))
    times.update(features_s=features.per_file() * used, verify_s=verify_s, verify_cached=n_cached,
                 candidates=len(pairs))
    return checked, times
