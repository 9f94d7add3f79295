"""Accuracy of dedupkit and its peers on the benchmark photos, one half at a time.

Run from the repository root (after ``make bench-data``)::

    .venv/bin/python benchmarks/accuracy.py --split tune              # the half rules are tuned on
    .venv/bin/python benchmarks/accuracy.py                           # the report half (numbers to quote)
    .venv/bin/python benchmarks/accuracy.py --gallery                 # + PNG sheets of false and missed pairs
    .venv/bin/python benchmarks/accuracy.py --systems "dedupkit*"     # some systems only
    .venv/bin/python benchmarks/accuracy.py --install-peers           # pip-installs imagededup (no deps) first

``bench-data/truth.csv`` says which files show the same picture (``group``),
how each copy was made (``kind``, ``family``, ``edit``), which pictures are
different but alike (``lookalike``) and which half each file is in
(``split``). All pairs are counted among the files of one half only.

Systems (``benchmarks/_accuracy_systems.py``; one whose module is missing is
skipped with a note): imagehash pHash and dHash and PDQ on the full decode (no
trimming: what a user would write; PDQ shrunk to fit 512x512 first, as its
paper recommends), imagededup's PHash and DHash, dedupkit's
dHash (its defaults) and pHash, and dedupkit's verified pairs: hash candidates
within ``--candidate-distance`` checked by ``dedupkit.verify.verify_pairs``,
with crop candidates (``dedupkit.candidates.crop_candidates``) and with the
dihedral search. Hash-only systems are reported at their own default threshold
and at the threshold with the most pairwise recall at precision >= 0.995
**chosen on the tune half** (and applied as it is to the report half).

Metrics (``benchmarks/_accuracy_metrics.py``): pairwise precision and false
pairs; recall per family and per edit (a copy is found when its pair with its
original is reported); the natural copies' precision/recall/F1 and false
pairs; false pairs per lookalike set; groups of ``dedupkit.find_groups`` that
mix pictures, the largest and the widest; seconds per stage (hashing: one
core, summed per file, measured when first computed).

Output: Markdown tables on stdout; CSVs (summary, per edit, per lookalike set,
every reported pair with its truth, every missed copy, every verified
candidate) under ``out/accuracy/``; with ``--gallery``, sheets under
``out/accuracy/gallery/``. Hashes (and verifier verdicts, crop candidates) are
cached under ``out/accuracy/cache/`` by file size and modification time and
the code's version, so a second run takes seconds.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _accuracy_gallery import false_sheet, missed_sheet  # noqa: E402
from _accuracy_hashes import hash_table, import_imagededup, time_hashers  # noqa: E402
from _accuracy_metrics import FAMILIES, evaluate, missed_pairs, read_truth  # noqa: E402
from _accuracy_systems import (  # noqa: E402
    MIN_PRECISION,
    SYSTEMS,
    SharedFeatures,
    codes_of,
    hash_pairs,
    max_curve_threshold,
    missing_module,
    tuned_threshold,
    verified_candidates,
)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def markdown(table: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    def cell(v):
        if isinstance(v, (float, np.floating)):
            if np.isnan(v):
                return ""
            whole = floatfmt != "{:.0f}" and float(v).is_integer() and abs(v) >= 100
            return f"{v:.0f}" if whole else floatfmt.format(v)
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join("--:" if pd.api.types.is_numeric_dtype(table[c])
                            and not pd.api.types.is_bool_dtype(table[c]) else "---" for c in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def choose_systems(pattern: str, skip_peers: bool) -> tuple[list, list[str]]:
    chosen, notes = [], []
    patterns = [p.strip() for p in pattern.split(",") if p.strip()]
    for system in SYSTEMS:
        if not any(fnmatch.fnmatch(system.name.lower(), p.lower()) for p in patterns):
            continue
        if skip_peers and system.peer:
            continue
        reason = missing_module(system)
        if reason:
            notes.append(f"skipped {system.name}: needs {reason}")
            continue
        chosen.append(system)
    return chosen, notes


def run(args) -> int:
    data = args.data.resolve()
    truth_path = data / "truth.csv"
    if not truth_path.exists():
        raise SystemExit(f"{truth_path}: no such file; make the benchmark with `make bench-data` "
                         "(or pass --data DIR holding a truth.csv)")
    truth = read_truth(truth_path)
    absent = [f for f in truth["file"] if not (data / f).is_file()]
    if absent:
        raise SystemExit(f"{truth_path}: {len(absent)} of its {len(truth)} files are missing, e.g. {absent[0]} "
                         "(is `make bench-data` still running? run it again to finish the data set)")
    if args.split not in set(truth["split"]):
        raise SystemExit(f"{truth_path}: no file has split == {args.split!r} (splits: {sorted(set(truth['split']))})")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"
    if args.install_peers:
        import_imagededup(install=True)
    systems, notes = choose_systems(args.systems, args.no_peers)
    half = truth[truth["split"] == args.split].reset_index(drop=True)
    tune = truth[truth["split"] == "tune"].reset_index(drop=True)
    needed = sorted(set(half["file"]) | (set(tune["file"]) if any(s.kind == "hash" for s in systems) else set()))
    n_orig = int((half["kind"] == "original").sum())
    print(f"# Accuracy on the {args.split} half of {data.name}/: {half['group'].nunique()} pictures "
          f"({n_orig} originals), {len(half)} files, {len(half) * (len(half) - 1) // 2:,} pairs\n")
    for note in notes:
        print(f"note: {note}")
    hashers = sorted({s.hasher for s in systems})
    start = time.perf_counter()
    hashes = hash_table(hashers, data, needed, cache, workers=args.workers, use_cache=not args.no_cache)
    print(f"hashes of {len(needed)} files by {len(hashers)} hashers in {time.perf_counter() - start:.1f} s "
          f"({sum(int((~t['cached']).sum()) for t in hashes.values())} computed, the rest cached)")
    for name, table in hashes.items():
        bad = table["error"].notna().sum()
        if bad:
            print(f"note: {name} could not hash {bad} files, e.g. {table.loc[table['error'].notna(), 'path'].iloc[0]}: "
                  f"{table.loc[table['error'].notna(), 'error'].iloc[0]}")
    verify_options = json.loads(args.verify_options)
    crop_options = json.loads(args.crop_options)
    results: list[dict] = []  # one per reported row
    settings: list[dict] = []  # how each row's threshold was chosen
    features = None  # ORB features of the half, extracted once for all verified systems
    for system in systems:
        print(f"[{time.perf_counter() - start:6.0f} s] {system.name}", file=sys.stderr)
        table = hashes[system.hasher]
        half_hashes = table[table["path"].isin(set(half["file"]))].reset_index(drop=True)
        if system.kind == "hash":
            tune_hashes = table[table["path"].isin(set(tune["file"]))].reset_index(drop=True)
            run_hash_system(system, half_hashes, tune, tune_hashes, args, results, settings, notes)
        else:
            if features is None:
                features = SharedFeatures(data, sorted(half["file"]), verify_options)
            run_verified_system(system, data, half, half_hashes, args, cache, features, verify_options,
                                crop_options, results, settings)
    if args.time_hashers:
        sample = sorted(half["file"].sample(min(args.time_hashers, len(half)), random_state=0))
        print(f"[{time.perf_counter() - start:6.0f} s] timing the hashers on {len(sample)} files", file=sys.stderr)
        timed = time_hashers(hashers, [str(data / f) for f in sample])
        per_file = dict(zip(timed["hasher"], timed["ms per file"]))
        for r in results:
            r["times"]["hash_s"] = per_file[r["system"].hasher] / 1000 * len(half)
        notes.append(f"hash seconds: each hasher timed now on the same {len(sample)} files of the half "
                     f"(1 core, interleaved, median of 3), times {len(half)} files")
    print(f"[{time.perf_counter() - start:6.0f} s] metrics, CSVs" + (", sheets" if args.gallery else ""),
          file=sys.stderr)
    report(results, half, args, data, out, notes, pd.DataFrame(settings))
    print(f"[{time.perf_counter() - start:6.0f} s] done", file=sys.stderr)
    return 0


def run_hash_system(system, half_hashes: pd.DataFrame, tune: pd.DataFrame, tune_hashes: pd.DataFrame, args,
                    results: list[dict], settings: list[dict], notes: list[str]) -> None:
    """A hash-only system: its rows at the default threshold and at the one chosen on the tune half."""
    hash_s = float(half_hashes["seconds"].sum())
    tune_pairs, _ = hash_pairs(tune_hashes, max_curve_threshold(system.bits))
    tuned, tuned_precision, reached = tuned_threshold(tune_pairs, tune, tune_hashes, system.bits)
    if not reached:
        notes.append(f"{system.name}: no threshold reaches precision {MIN_PRECISION} on the tune half "
                     f"(identical hashes of different pictures); its 'tuned*' row is the threshold with "
                     f"the most recall at its best precision there, {tuned_precision:.3f} at <= {tuned}")
    search = []
    for _ in range(args.repeat):
        pairs, seconds = hash_pairs(half_hashes, max(system.default_threshold, tuned))
        search.append(seconds)
    for label, threshold in (("default", system.default_threshold), ("tuned" if reached else "tuned*", tuned)):
        settings.append({"system": system.name, "row": label, "threshold": threshold,
                         "why": system.default_note if label == "default" else
                         f"tune half: most pair recall at precision {tuned_precision:.3f}"
                         + ("" if reached else f" (none reaches {MIN_PRECISION})")})
        results.append({"system": system, "which": label, "threshold": threshold,
                        "reported": pairs[pairs["distance"] <= threshold], "hashes": half_hashes,
                        "candidates": None, "times": {"hash_s": hash_s, "search_s": float(np.median(search))}})


def run_verified_system(system, data: Path, half: pd.DataFrame, half_hashes: pd.DataFrame, args, cache: Path,
                        features: SharedFeatures, verify_options: dict, crop_options: dict,
                        results: list[dict], settings: list[dict]) -> None:
    """A verified system: every candidate with its verdict; the verified ones are its reported pairs."""
    files = sorted(half["file"])
    timing = []
    for _ in range(args.repeat):
        if args.repeat > 1:  # each repeat extracts the features again
            features = SharedFeatures(data, files, verify_options)
        checked, times = verified_candidates(
            system, data, files, half_hashes, candidate_distance=args.candidate_distance,
            verify_options=verify_options, crop_options=crop_options,
            cache=None if (args.no_cache or args.repeat > 1) else cache, features=features)
        timing.append(times)
    times = {k: float(np.median([t.get(k, 0) for t in timing])) for k in timing[0]}
    settings.append({"system": system.name, "row": "verified", "threshold": args.candidate_distance,
                     "why": f"candidates within {args.candidate_distance} bits of {system.hasher}"
                            + (" (8 orientations)" if system.dihedral else "")
                            + (" + crop_candidates" + (f" {crop_options}" if crop_options else "")
                               if system.crop else "")
                            + f"; verify_pairs({verify_options or ''})"})
    results.append({"system": system, "which": "verified", "threshold": args.candidate_distance,
                    "reported": checked[checked["verified"]], "hashes": half_hashes, "candidates": checked,
                    "times": {"hash_s": float(half_hashes["seconds"].sum()), **times}})


def _label(r) -> str:
    s = r["system"]
    if r["which"] == "verified":
        return f"{s.name} (cand. <= {r['threshold']})"
    return f"{s.name} <= {r['threshold']}" + (f" ({r['which']})" if r["which"].startswith("tuned") else "")


def report(results: list[dict], half: pd.DataFrame, args, data: Path, out: Path, notes: list[str],
           settings: pd.DataFrame) -> None:
    split = args.split
    rows, subedits, lookalikes, times = [], [], [], []
    if args.gallery:  # sheets of an earlier run of this half (a system with no false pair now gets none)
        for old in (out / "gallery").glob(f"{split}_*.png"):
            old.unlink()
    for r in results:
        label = _label(r)
        metrics = evaluate(r["reported"], half, r["hashes"], r["candidates"])
        codes = codes_of(r["hashes"])
        missed = missed_pairs(metrics["copies"], codes, r["candidates"])
        t = r["times"]
        total = sum(t.get(k, 0) for k in ("hash_s", "search_s", "features_s", "crop_s", "verify_s"))
        rows.append({"system": label, "threshold": r["threshold"], "chosen": r["which"], **metrics["summary"],
                     "seconds": total})
        if r["which"] != "tuned" and r["which"] != "tuned*":  # one row per system
            hash_column = "hash s (1 core, now)" if args.time_hashers else "hash s (1 core, when cached)"
            times.append({"system": r["system"].name,
                          hash_column: t.get("hash_s"),
                          "search s": t.get("search_s"), "features s": t.get("features_s"),
                          "crop cand. s": t.get("crop_s"),
                          "verify s": t.get("verify_s"), "candidates": t.get("candidates"), "total s": total})
        subedits.append(metrics["subedits"].assign(system=label))
        lookalikes.append(metrics["lookalikes"].assign(system=label))
        name = slug(label)
        (out / "pairs").mkdir(exist_ok=True)
        (out / "missed").mkdir(exist_ok=True)
        metrics["labelled"].to_csv(out / "pairs" / f"{split}_{name}.csv", index=False)
        missed.to_csv(out / "missed" / f"{split}_{name}.csv", index=False)
        if r["candidates"] is not None:
            (out / "candidates").mkdir(exist_ok=True)
            r["candidates"].to_csv(out / "candidates" / f"{split}_{name}.csv", index=False)
        if args.gallery:
            gallery = out / "gallery"
            false_sheet(metrics["labelled"], data, gallery / f"{split}_{name}_false.png", label, args.gallery_max)
            if r["candidates"] is None:
                missed_sheet(missed, data, gallery / f"{split}_{name}_missed.png", label, args.gallery_max)
            else:  # the verifier's misses apart from the candidates' misses
                rejected = missed[missed["candidate"].astype(bool)] if len(missed) else missed
                absent = missed[~missed["candidate"].astype(bool)] if len(missed) else missed
                missed_sheet(rejected, data, gallery / f"{split}_{name}_missed_rejected.png",
                             f"{label}, candidates the verifier rejected", args.gallery_max)
                missed_sheet(absent, data, gallery / f"{split}_{name}_missed_not_candidates.png",
                             f"{label}, not candidates", args.gallery_max)
    summary = pd.DataFrame(rows)
    summary.to_csv(out / f"summary_{split}.csv", index=False)
    long = pd.concat(subedits, ignore_index=True)
    long.to_csv(out / f"subedits_{split}.csv", index=False)
    sets = pd.concat(lookalikes, ignore_index=True)
    sets.to_csv(out / f"lookalikes_{split}.csv", index=False)
    pd.DataFrame(times).to_csv(out / f"times_{split}.csv", index=False)

    print("\n## Systems and thresholds\n")
    print(markdown(settings))
    settings.to_csv(out / f"thresholds_{split}.csv", index=False)
    print(f"\n## Pairs and recall ({split} half; tuned thresholds chosen on the tune half, "
          f"precision >= {MIN_PRECISION})\n")
    families = [f for f in FAMILIES if summary[f].notna().any()]
    print(markdown(summary[["system", "pairs", "false_pairs", "precision", "pair_recall", "copy_recall", *families]]
                   .rename(columns={"false_pairs": "false", "pair_recall": "pair recall",
                                    "copy_recall": "copies found"})))
    print(f"\n## Natural copies, lookalikes and groups ({split} half)\n")
    extra = summary[["system", "natural_precision", "natural_recall", "natural_f1", "natural_false",
                     "false_with_natural", "lookalike_false", "groups", "mixed_groups", "largest_group",
                     "widest_size", "widest_diameter"]].copy()
    print(markdown(extra.rename(columns={
        "natural_precision": "natural P", "natural_recall": "natural R", "natural_f1": "natural F1",
        "natural_false": "natural false", "false_with_natural": "false w/ a natural file",
        "lookalike_false": "false in lookalike sets", "mixed_groups": "mixed groups",
        "largest_group": "largest group", "widest_size": "widest: size", "widest_diameter": "widest: diameter"})))
    print(f"\n## Recall per edit ({split} half): copies found with their original\n")
    order = {f: i for i, f in enumerate(FAMILIES)}
    long = long.sort_values(["family", "edit"], key=lambda s: s.map(order).fillna(99) if s.name == "family" else s,
                            kind="stable")
    wide = long.pivot_table(index=["family", "edit"], columns="system", values="recall", sort=False)
    counts = long.drop_duplicates(["family", "edit"]).set_index(["family", "edit"])["copies"]
    wide = wide[[c for c in summary["system"] if c in wide.columns]]
    wide.insert(0, "copies", counts.reindex(wide.index))
    print(markdown(wide.reset_index(), "{:.2f}"))
    if len(sets):
        print(f"\n## False pairs within each lookalike set ({split} half)\n")
        table = sets.pivot_table(index=["lookalike", "files", "pictures"], columns="system",
                                 values="false_within", sort=False)
        table = table[[c for c in summary["system"] if c in table.columns]]
        table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
        quiet = table.sum(axis=1) == 0
        print(markdown(table[~quiet].reset_index(), "{:.0f}"))
        print(f"\n{int(quiet.sum())} more lookalike sets have no false pair in any system "
              f"({int(len(table))} sets in this half).")
    print(f"\n## Seconds ({split} half: {len(half)} files; repeats: {args.repeat}, median)\n")
    print(markdown(pd.DataFrame(times), "{:.2f}"))
    for note in notes:
        print(f"\nnote: {note}")
    print(f"\nCSVs: {out}/summary_{split}.csv, subedits_{split}.csv, lookalikes_{split}.csv, times_{split}.csv, "
          f"pairs/, missed/, candidates/" + (", gallery/" if args.gallery else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench-data", help="folder with truth.csv")
    parser.add_argument("--split", choices=("tune", "report"), default="report")
    parser.add_argument("--systems", default="*", help="comma-separated name patterns, e.g. 'dedupkit*,PDQ'")
    parser.add_argument("--no-peers", action="store_true", help="dedupkit's systems only")
    parser.add_argument("--install-peers", action="store_true", help="pip-install imagededup (no deps) first")
    try:
        from dedupkit.duplicates import CANDIDATE_DISTANCE as default_candidates
    except ImportError:
        default_candidates = 16
    parser.add_argument("--candidate-distance", type=int, default=default_candidates,
                        help="hash distance of the candidates verified systems check (default "
                             "%(default)s: dedupkit.duplicates.CANDIDATE_DISTANCE)")
    parser.add_argument("--verify-options", default="{}", help="JSON keyword arguments of verify_pairs")
    parser.add_argument("--crop-options", default="{}", help="JSON keyword arguments of crop_candidates")
    parser.add_argument("--workers", type=int, default=2, help="processes hashing files not in the cache")
    parser.add_argument("--repeat", type=int, default=1, help="time search/verify this many times (median; "
                        "verify and crop caches are not used then)")
    parser.add_argument("--no-cache", action="store_true", help="recompute every hash and verdict")
    parser.add_argument("--time-hashers", type=int, default=0, metavar="N",
                        help="time every hasher now on the same N files of the half (the hash seconds are "
                             "otherwise as measured when each file was cached, under whatever load there was)")
    parser.add_argument("--gallery", action="store_true", help="write PNG sheets of false and missed pairs")
    parser.add_argument("--gallery-max", type=int, default=36, help="pairs per sheet (default %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "accuracy")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return run(args)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
