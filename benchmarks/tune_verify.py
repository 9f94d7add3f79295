"""Choose the verifier's rules on the tune half of bench-data (never the report half).

Run from the repository root (after ``make bench-data``)::

    .venv/bin/python benchmarks/tune_verify.py                  # measure (cached), search, print tables
    .venv/bin/python benchmarks/tune_verify.py --sheets         # + PNG sheets of false and missed pairs
    .venv/bin/python benchmarks/tune_verify.py --side 320 --n-features 500   # another working copy

Candidate pairs, all within ``split == "tune"``:

- **true pairs**: each original with every copy of it (edits and natural copies);
- **hard negatives**: pairs of different groups within one ``lookalike`` set
  (original with original, and original with the other groups' copies), and
  the closest pairs of different groups by dHash (distance <= 16, at most
  3,000), over all tune files.

Every pair is measured once per working-copy setting (``dedupkit.verify``'s
own measurements of B as it is and of B mirrored; cached under
``out/tune_verify/``). The rules (thresholds of :func:`dedupkit.verify._decide`)
are then searched on a grid: among the rules with precision >= 0.999 on these
candidates, the one with the highest mean recall over the edit families
(ties: overall recall). It prints recall per family and per edit, the
negatives passed per lookalike set, and the chosen rules.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

import dedupkit  # noqa: E402
from dedupkit import verify  # noqa: E402
from dedupkit.features import extract_features  # noqa: E402

DATA = REPO / "bench-data"
OUT = REPO / "out" / "tune_verify"
STATS = ("matches", "inliers", "scale", "rotation", "anisotropy", "reflected", "coverage_a", "coverage_b",
         "contained_a", "contained_b", "similarity", "worst_local", "worst_small", "bad_share", "blob", "gain",
         "contrast", "edge_similarity", "edge_local", "edge_small", "spread",
         "ecc_shift")
GRID = {  # the rules of a feature match (dedupkit.verify._decide)
    "min_inliers": [6, 8, 10, 12, 15],
    "min_inlier_ratio": [0.1, 0.2, 0.3],
    "min_contained": [0.85, 0.9, 0.95],
    "min_similarity": [0.0, 0.85, 0.9, 0.93],
    "max_local_error": [0.2, 0.3, 0.4, 9.0],
    "max_small_error": [0.2, 0.25, 0.3, 0.4, 9.0],
    "max_edge_error": [0.06, 0.08, 0.1, 0.12, 0.15, 9.0],
    "max_gain": [0.3, 0.4, 0.5, 0.6, 9.0],
}
FALLBACK_GRID = {  # the rules of a whole-picture comparison (dedupkit.verify._whole_ok)
    "fallback_probe": [0.7, 0.8, 0.9, 0.95],
    "fallback_min_similarity": [0.9, 0.95, 0.97, 0.98],
    "fallback_max_local_error": [0.05, 0.1, 0.15, 0.2, 0.3],
    "fallback_max_gain": [0.1, 0.2, 0.3],
}
TARGET_PRECISION = 0.999


# --- candidates -------------------------------------------------------------------------------


def candidate_pairs(truth: pd.DataFrame) -> pd.DataFrame:
    """True pairs and hard negatives among the tune files (paths relative to bench-data)."""
    rows = []
    original = truth[truth.kind == "original"].set_index("group")["file"]
    for r in truth[truth.kind != "original"].itertuples():
        rows.append((original[r.group], r.file, True, r.family, r.edit, r.lookalike, "copy"))
    look = truth[truth.lookalike != ""]
    for name, members in look.groupby("lookalike"):
        if members.group.nunique() < 2:
            continue
        heads = members[members.kind == "original"]
        for x, y in itertools.combinations(heads.itertuples(), 2):
            rows.append((x.file, y.file, False, "negative", "lookalike", name, "lookalike"))
        for x in heads.itertuples():
            for y in members[(members.group != x.group) & (members.kind != "original")].itertuples():
                rows.append((x.file, y.file, False, "negative", "lookalike", name, "lookalike"))
    pairs = pd.DataFrame(rows, columns=["a", "b", "same", "family", "edit", "lookalike", "source"])
    close = closest_pairs(truth)
    close = close[~close.set_index(["a", "b"]).index.isin(pairs.set_index(["a", "b"]).index)]
    close = close[~close.set_index(["b", "a"]).index.isin(pairs.set_index(["a", "b"]).index)]
    return pd.concat([pairs, close], ignore_index=True)


def pipeline_pairs(truth: pd.DataFrame, csv: Path) -> pd.DataFrame:
    """The candidate pairs a verified system of ``benchmarks/accuracy.py --split tune`` verified (its
    ``candidates/*.csv``), labelled by the truth: the pairs the verifier really meets, in their proportions."""
    found = pd.read_csv(csv, keep_default_na=False)
    info = truth.set_index("file")
    found = found[found.path_a.isin(info.index) & found.path_b.isin(info.index)]
    a, b = found.path_a.to_numpy(), found.path_b.to_numpy()
    ga, gb = info.loc[a, "group"].to_numpy(), info.loc[b, "group"].to_numpy()
    kind_a = info.loc[a, "kind"].to_numpy()
    copy = np.where(kind_a == "original", b, a)
    same = ga == gb
    look_a, look_b = info.loc[a, "lookalike"].to_numpy(), info.loc[b, "lookalike"].to_numpy()
    return pd.DataFrame({
        "a": a, "b": b, "same": same,
        "family": np.where(same, info.loc[copy, "family"].to_numpy(), "negative"),
        "edit": np.where(same, info.loc[copy, "edit"].to_numpy(), "pipeline"),
        "lookalike": np.where(look_a == look_b, look_a, ""),
        "source": found["source"].to_numpy() if "source" in found else "pipeline",
        "distance": found["distance"].to_numpy() if "distance" in found else np.nan,
        # rejected before the pixels by the loosest geometry of the grid: no rule of the search can pass them
        "early": found["reason"].isin(EARLY_REASONS).to_numpy() if "reason" in found else False,
    })


EARLY_REASONS = ("too few matches", "no consistent geometry", "distorted geometry")


def closest_pairs(truth: pd.DataFrame, max_distance: int = 16, limit: int = 3000) -> pd.DataFrame:
    """Pairs of files of different groups closest by dHash (dedupkit's defaults)."""
    OUT.mkdir(parents=True, exist_ok=True)
    files = [str(DATA / f) for f in truth.file]
    hashes = dedupkit.hash_images(files, cache=OUT / "hashes.parquet", progress=True)
    pairs = dedupkit.find_pairs(hashes, max_distance=max_distance)
    group = dict(zip(files, truth.group))
    look = dict(zip(files, truth.lookalike))
    pairs = pairs[[group[a] != group[b] for a, b in zip(pairs.path_a, pairs.path_b)]].head(limit)
    rel = lambda p: str(Path(p).relative_to(DATA))  # noqa: E731
    return pd.DataFrame({
        "a": [rel(p) for p in pairs.path_a], "b": [rel(p) for p in pairs.path_b], "same": False,
        "family": "negative", "edit": "dhash_close",
        "lookalike": [look[a] if look[a] == look[b] else "" for a, b in zip(pairs.path_a, pairs.path_b)],
        "source": "dhash",
    })


# the rules' thresholds, which the measurements do not depend on
DECISION_CONSTANTS = ("MIN_INLIERS", "MIN_INLIER_RATIO", "MIN_CONTAINED", "MIN_SIMILARITY", "MAX_LOCAL_ERROR",
                      "MAX_SMALL_ERROR", "MAX_EDGE_ERROR", "MAX_GAIN", "FALLBACK_MIN_SIMILARITY",
                      "FALLBACK_MAX_LOCAL_ERROR", "FALLBACK_MAX_GAIN", "FALLBACK_PROBE")


def verify_source() -> str:
    """The measuring code (without the rules' thresholds): a change re-measures."""
    text = "".join((REPO / "dedupkit" / name).read_text() for name in ("verify.py", "_geometry.py", "_pixels.py",
                                                                         "features.py"))
    return "\n".join(line for line in text.splitlines() if not line.startswith(DECISION_CONSTANTS))


# --- measuring --------------------------------------------------------------------------------


def load_features(files: list[str], side: int, n_features: int, workers: int) -> dict:
    path = OUT / f"features_{side}_{n_features}.pkl"
    cached = pickle.loads(path.read_bytes()) if path.exists() else {}
    stamp = {f: (DATA / f).stat().st_mtime_ns for f in files}
    cached = {f: v for f, v in cached.items() if f in stamp and v[0] == stamp[f]}
    todo = [f for f in files if f not in cached]
    if todo:
        def one(f):
            try:
                return f, extract_features(DATA / f, side=side, n_features=n_features)
            except dedupkit.ImageLoadError as exc:
                return f, str(exc)

        t0 = time.process_time()
        with ThreadPoolExecutor(workers) as pool:
            for f, features in tqdm(pool.map(one, todo), total=len(todo), desc="features"):
                cached[f] = (stamp[f], features)
        print(f"features: {len(todo)} files, {(time.process_time() - t0) / len(todo) * 1000:.2f} ms CPU per file")
        path.write_bytes(pickle.dumps(cached))
    return {f: v[1] for f, v in cached.items()}


def measure(pairs: pd.DataFrame, side: int, n_features: int, workers: int) -> pd.DataFrame:
    """Both measurements of each pair (B as it is: ``d_``; B mirrored: ``m_``), cached."""
    path = OUT / f"stats_{side}_{n_features}.parquet"
    files = sorted(set(pairs.a) | set(pairs.b))
    stamps = "".join(f"{f}:{(DATA / f).stat().st_mtime_ns};" for f in files)
    digest = hashlib.sha1((stamps + verify_source()).encode()).hexdigest()
    key = pairs[["a", "b"]].assign(digest=digest)
    if path.exists():
        old = pd.read_parquet(path)
        if len(old) == len(pairs) and (old[["a", "b", "digest"]].to_numpy() == key.to_numpy()).all():
            return pd.concat([pairs, old.drop(columns=["a", "b", "digest"])], axis=1)
    late = ~pairs["early"].to_numpy(bool) if "early" in pairs else np.ones(len(pairs), bool)
    measured = sorted(set(pairs.a[late]) | set(pairs.b[late]))
    feats = load_features(measured, side, n_features, workers)
    mirrored, boxes = {}, {}

    def mirror_of(f):
        if f not in mirrored:
            mirrored[f] = verify._mirror_features(feats[f])
        return mirrored[f]

    def box_of(f):
        if f not in boxes:
            boxes[f] = verify._content_box(feats[f])
        return boxes[f]

    def one(pair):
        a, b, early = pair
        row = {}
        if early:
            return row
        fa, fb = feats[a], feats[b]
        if isinstance(fa, str) or isinstance(fb, str):
            return row
        boxes = lambda: (box_of(a), box_of(b))  # noqa: E731
        for prefix, flipped in (("d_", False), ("m_", True)):
            m = verify._evaluate(fa, fb, mirror_of(b) if flipped else fb, flipped, boxes, True)
            row.update({prefix + k: float(m[k]) for k in STATS if k in m})
        whole = verify._whole(fa, fb, boxes, True)
        if whole is not None:
            row.update({"w_" + k: float(whole[k]) for k in STATS + ("probe",) if k in whole})
        return row

    t0 = time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        early = ~late
        rows = list(tqdm(pool.map(one, zip(pairs.a, pairs.b, early)), total=len(pairs), desc="pairs"))
    per_pair = (time.process_time() - t0) / len(pairs) * 1000
    print(f"measured {len(pairs)} pairs (both ways), {per_pair:.2f} ms CPU per pair")
    stats = pd.DataFrame(rows, index=pairs.index)
    columns = [p + k for p in ("d_", "m_", "w_") for k in STATS] + ["w_probe"]
    for c in columns:
        if c not in stats:
            stats[c] = np.nan
    stats = stats[columns]
    pd.concat([key, stats], axis=1).to_parquet(path)
    return pd.concat([pairs, stats], axis=1)


# --- rules ------------------------------------------------------------------------------------


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    return table[name].to_numpy(dtype=float) if name in table else np.full(len(table), np.nan)


def rule_mask(table: pd.DataFrame, prefix: str, name: str, value: float) -> np.ndarray:
    """Where one rule passes, for one measurement (``d_``: B as it is, ``m_``: mirrored, ``w_``: whole)."""
    g = lambda k: _column(table, prefix + k)  # noqa: E731
    if prefix == "w_":
        stat = {"fallback_probe": "probe", "fallback_min_similarity": "similarity",
                "fallback_max_local_error": "worst_local", "fallback_max_gain": "gain"}[name]
        ok = np.abs(g(stat)) <= value if stat == "gain" else g(stat) >= value if name.startswith(
            ("fallback_probe", "fallback_min")) else g(stat) <= value
        return np.nan_to_num(ok).astype(bool)
    if name == "min_inliers":
        ok = (g("matches") >= value) & (g("inliers") >= value)
    elif name == "min_inlier_ratio":
        ok = g("inliers") >= value * g("matches")
    elif name == "min_contained":
        ok = np.fmax(g("contained_a"), g("contained_b")) >= value
    elif name == "max_gain":
        ok = np.abs(g("gain")) <= value
    else:
        stat = {"min_similarity": "similarity", "max_local_error": "worst_local", "max_small_error": "worst_small",
                "max_edge_error": "edge_local"}[name]
        ok = g(stat) >= value if name.startswith("min") else g(stat) <= value
    ok &= (g("anisotropy") <= verify.MAX_ANISOTROPY) & (g("scale") > 0.04) & (g("scale") < 25)
    ok &= g("reflected") == (1.0 if prefix == "m_" else 0.0)
    return np.nan_to_num(ok).astype(bool)


def decide(table: pd.DataFrame, rules: dict, cache: dict | None = None) -> np.ndarray:
    """Vectorised :func:`dedupkit.verify._decide`: B as it is, or mirrored, or compared whole."""
    cache = cache if cache is not None else {}

    def mask(prefix, name):
        key = (prefix, name, rules[name])
        if key not in cache:
            cache[key] = rule_mask(table, prefix, name, rules[name])
        return cache[key]

    same = np.zeros(len(table), bool)
    for prefix in ("d_", "m_"):
        ok = np.ones(len(table), bool)
        for name in GRID:
            ok &= mask(prefix, name)
        same |= ok
    whole = np.ones(len(table), bool)
    for name in FALLBACK_GRID:
        whole &= mask("w_", name)
    return same | whole


def score(table: pd.DataFrame, same: np.ndarray) -> dict:
    """Precision, false pairs, recall and recall per family (of the true pairs) of a decision."""
    truth = table["same"].to_numpy()
    codes, families = pd.factorize(table["family"])
    tp, fp = int((same & truth).sum()), int((same & ~truth).sum())
    found = np.bincount(codes[truth & same], minlength=len(families))
    total = np.bincount(codes[truth], minlength=len(families))
    keep = total > 0
    recall = pd.Series(found[keep] / total[keep], index=families[keep]).sort_index()
    return {"precision": tp / max(1, tp + fp), "false": fp, "recall": tp / max(1, truth.sum()),
            "macro_recall": float(recall.mean()), "by_family": recall}


def search(table: pd.DataFrame, target: float = TARGET_PRECISION) -> tuple[dict | None, dict | None]:
    """The rules with the most mean family recall (then overall recall) at precision >= ``target``.

    Feature rules first (with the whole-picture comparison off), then the
    whole-picture rules given those.
    """
    truth = table["same"].to_numpy()
    codes, families = pd.factorize(table["family"])
    total = np.bincount(codes[truth], minlength=len(families))
    keep = total > 0

    def fast(same):  # precision, (mean family recall, recall)
        tp, fp = int((same & truth).sum()), int((same & ~truth).sum())
        found = np.bincount(codes[truth & same], minlength=len(families))
        return tp / max(1, tp + fp), (round(float((found[keep] / total[keep]).mean()), 4), round(tp / truth.sum(), 4))

    cache: dict = {}
    off = {"fallback_probe": 2.0, "fallback_min_similarity": 2.0, "fallback_max_local_error": -1.0,
           "fallback_max_gain": -1.0}
    best, best_key = None, None
    # strictest values first: of rules that do equally well, the strictest (and cheapest) is kept
    strict = lambda grid: [sorted(v, reverse=k.startswith(("min", "fallback_probe", "fallback_min")))  # noqa: E731
                           for k, v in grid.items()]
    for values in tqdm(list(itertools.product(*strict(GRID))), desc=f"rules at precision {target}", leave=False):
        rules = {**dict(zip(GRID, values)), **off}
        precision, key = fast(decide(table, rules, cache))
        if precision >= target and (best_key is None or key > best_key):
            best, best_key = rules, key
    if best is None:
        return None, None
    for values in itertools.product(*strict(FALLBACK_GRID)):
        rules = {**best, **dict(zip(FALLBACK_GRID, values))}
        precision, key = fast(decide(table, rules, cache))
        if precision >= target and key > best_key:
            best, best_key = rules, key
    return best, score(table, decide(table, best, cache))


def current_rules() -> dict:
    return {"min_inliers": verify.MIN_INLIERS, "min_inlier_ratio": verify.MIN_INLIER_RATIO,
            "min_contained": verify.MIN_CONTAINED, "min_similarity": verify.MIN_SIMILARITY,
            "max_local_error": verify.MAX_LOCAL_ERROR, "max_small_error": verify.MAX_SMALL_ERROR,
            "max_edge_error": verify.MAX_EDGE_ERROR, "max_gain": verify.MAX_GAIN,
            "fallback_probe": verify.FALLBACK_PROBE, "fallback_min_similarity": verify.FALLBACK_MIN_SIMILARITY,
            "fallback_max_local_error": verify.FALLBACK_MAX_LOCAL_ERROR, "fallback_max_gain": verify.FALLBACK_MAX_GAIN}


# --- reporting --------------------------------------------------------------------------------


def tables(table: pd.DataFrame, same: np.ndarray) -> str:
    table = table.assign(verified=same)
    pos, neg = table[table.same], table[~table.same]
    lines = ["| family | pairs | found | recall | false pairs into it |", "|---|---:|---:|---:|---:|"]
    for family, g in pos.groupby("family"):
        lines.append(f"| {family} | {len(g)} | {int(g.verified.sum())} | {g.verified.mean():.3f} | |")
    tp, fp = int(pos.verified.sum()), int(neg.verified.sum())
    lines.append(f"| **all** | {len(pos)} | {tp} | {tp / len(pos):.3f} | precision {tp / max(1, tp + fp):.4f} "
                 f"({fp} false of {len(neg)} negatives) |")
    lines += ["", "| edit | pairs | recall |", "|---|---:|---:|"]
    for edit, g in pos.groupby("edit"):
        lines.append(f"| {edit} | {len(g)} | {g.verified.mean():.3f} |")
    lines += ["", "| negatives | pairs | passed |", "|---|---:|---:|"]
    for source, g in neg.groupby("source"):
        lines.append(f"| {source} | {len(g)} | {int(g.verified.sum())} |")
    lines += ["", "| lookalike set | negative pairs | passed |", "|---|---:|---:|"]
    for name, g in neg[neg.lookalike != ""].groupby("lookalike"):
        if g.verified.any() or len(g) >= 100:
            lines.append(f"| {name} | {len(g)} | {int(g.verified.sum())} |")
    return "\n".join(lines)


def sheet(rows: pd.DataFrame, out: Path, title: str, side: int = 220) -> None:
    """Side by side: A, B, and the measured numbers, one row per pair."""
    from PIL import Image, ImageDraw, ImageOps  # noqa: PLC0415

    rows = rows.head(40)
    if rows.empty:
        return
    height = side + 8
    canvas = Image.new("RGB", (2 * side + 420, height * len(rows) + 24), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), title, fill="black")
    for i, r in enumerate(rows.itertuples()):
        y = 24 + i * height
        for j, f in enumerate((r.a, r.b)):
            with Image.open(DATA / f) as im:
                tile = ImageOps.exif_transpose(im).convert("RGB")
                tile.thumbnail((side, side))
            canvas.paste(tile, (j * side, y))
        best = "m_" if (r.m_inliers or 0) > (r.d_inliers or 0) else "d_"
        text = [Path(r.a).name[:60], Path(r.b).name[:60], f"{r.family} / {r.edit} {r.lookalike}"]
        text += [f"{k}={getattr(r, best + k):.3f}" for k in ("inliers", "matches", "scale", "rotation",
                                                              "contained_a", "contained_b", "similarity",
                                                              "worst_local") if not pd.isna(getattr(r, best + k))]
        draw.text((2 * side + 6, y + 2), "\n".join(text), fill="black")
    canvas.save(out)


def main(argv=None) -> int:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=verify.DEFAULT_SIDE)
    parser.add_argument("--n-features", type=int, default=verify.DEFAULT_N_FEATURES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sheets", action="store_true", help="PNG sheets of false and missed pairs")
    parser.add_argument("--no-search", action="store_true", help="only report the rules in dedupkit.verify")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.999, 0.995, 0.99],
                        help="precision targets to search rules for")
    parser.add_argument("--pairs", type=Path, nargs="+", default=None,
                        help="candidate CSVs of accuracy.py --split tune (candidates/*.csv): tune on the pairs the "
                             "pipeline really verifies instead of the built-in candidate pairs")
    parser.add_argument("--choose", type=float, default=TARGET_PRECISION,
                        help="the target whose rules the tables below show")
    args = parser.parse_args(argv)

    truth = pd.read_csv(DATA / "truth.csv", keep_default_na=False)
    truth = truth[truth.split == "tune"].reset_index(drop=True)  # the report half is never read here
    OUT.mkdir(parents=True, exist_ok=True)
    if args.pairs:
        pairs = pd.concat([pipeline_pairs(truth, p) for p in args.pairs], ignore_index=True)
        key = np.minimum(pairs.a, pairs.b) + "|" + np.maximum(pairs.a, pairs.b)
        pairs = pairs[~key.duplicated()].reset_index(drop=True)
        OUT = OUT / "pipeline"
        OUT.mkdir(parents=True, exist_ok=True)
    else:
        pairs = candidate_pairs(truth)
    print(f"tune half: {len(truth)} files; {int(pairs.same.sum())} true pairs, {int((~pairs.same).sum())} negatives "
          f"({pairs[~pairs.same].source.value_counts().to_dict()})")
    table = measure(pairs, args.side, args.n_features, args.workers)

    now = current_rules()
    s = score(table, decide(table, now))
    print(f"\nrules in dedupkit.verify {now}: precision {s['precision']:.4f} ({s['false']} false), "
          f"recall {s['recall']:.3f}, mean family recall {s['macro_recall']:.3f}")
    rules = now
    if not args.no_search:
        print(f"\nsearching {int(np.prod([len(v) for v in GRID.values()])):,} feature rules and "
              f"{int(np.prod([len(v) for v in FALLBACK_GRID.values()]))} whole-picture rules")
        for target in args.targets:
            found, s = search(table, target)
            if found is None:
                print(f"precision >= {target}: no rule reaches it")
                continue
            (OUT / f"rules_{target}.json").write_text(json.dumps(found, indent=1))
            print(f"precision >= {target}: {json.dumps(found)}", flush=True)
            print(f"    precision {s['precision']:.4f} ({s['false']} false), "
                  f"recall {s['recall']:.3f}, mean family recall {s['macro_recall']:.3f}; "
                  + ", ".join(f"{k} {v:.3f}" for k, v in s["by_family"].items()))
            if target == args.choose:
                rules = found
    same = decide(table, rules)
    print("\n## Tune half, side", args.side, "n_features", args.n_features, "\n")
    print(tables(table, same))
    if args.sheets:
        folder = OUT / "sheets"
        folder.mkdir(exist_ok=True)
        t = table.assign(verified=same)
        sheet(t[~t.same & t.verified], folder / "false.png", "false pairs (negatives verified)")
        missed = t[t.same & ~t.verified]
        for family, g in missed.groupby("family"):
            sheet(g.sample(min(len(g), 30), random_state=0), folder / f"missed_{family}.png", f"missed: {family}")
        print(f"\nsheets in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
