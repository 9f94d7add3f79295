"""Choose the keep rules' detail threshold on bench-data's tune half: does an upscaled copy lose its "more pixels"?

The ``pixels`` keep rule counts the pixels that carry detail
(``detail_pixels`` in :func:`dedupkit.file_facts`): an upscaled copy has more
pixels than its original but no more detail, so it must not win by pixels,
while an original must still win over its downscaled copy. Three constants
decide: the share of gradient energy above the frequency that bounds a
picture's detail (``keep._DETAIL_SHARE``), the noise taken off before
(``keep._DETAIL_NOISE``), and the ratio of detail pixels
within which two copies are equal (``keep._DETAIL_EQUAL``); copies less than
``keep._DETAIL_MIN_SCALE`` apart in size are not checked.

This script takes bench-data's originals on the tune split (never the report
split, nor ``bench_keep_unseen.py``'s folder), makes upscaled copies with
``bench_edits``' ``upscale`` edit (1.2-2.5x, bilinear, bicubic or Lanczos,
JPEG or PNG) and downscaled copies with its ``resize`` edit (0.3-0.9x), and
prints, for a grid of the constants, the share of upscales that no longer
win by pixels and the share of downscales that now tie with their original
(the cost). Then, with the constants in ``dedupkit/keep.py``, it ranks each
original and copy with :func:`dedupkit.keep_order` and counts how often the
original is kept, and the median time of :func:`dedupkit.file_facts` per
file with and without the detail measure.

    .venv/bin/python benchmarks/bench_keep_upscale.py --bench-data bench-data --out out/keep-upscale   # ~5 min
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_edits  # noqa: E402

import dedupkit  # noqa: E402
from dedupkit import keep  # noqa: E402
from dedupkit.loading import open_image  # noqa: E402

NOISES = (0.0, 1.0, 4.0)
SHARES = (0.1, 0.2, 0.3, 0.4)
EQUALS = (1.0, 1.1, 1.2, 1.35)


def make_copies(bench: Path, out: Path, *, photos: int, seed: int) -> pd.DataFrame:
    """Each chosen tune original and its copies, written under ``out``: one row per file."""
    truth = pd.read_csv(bench / "truth.csv")
    tune = truth[(truth["split"] == "tune") & (truth["kind"] == "original")].sort_values("file")
    step = max(1, len(tune) // photos)
    chosen = tune.iloc[::step].head(photos)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for file, group in zip(chosen["file"], chosen["group"]):
        source = bench / file
        rows.append({"group": group, "edit": "original", "path": str(source), "scale": 1.0, "filter": "",
                     "format": "JPEG"})
        image = dedupkit.load_image(source).convert("RGB")
        for i, name in enumerate(("upscale", "upscale", "resize")):
            edited = bench_edits.edit_mild(image, bench_edits.rng_for(seed, group, "keep", i), edit=name)
            path = out / f"{group}__{i}-{name}{edited.suffix}"
            if not path.exists():
                edited.save(path)
            rows.append({"group": group, "edit": name, "path": str(path), "scale": edited.params["scale"],
                         "filter": edited.params.get("filter", "lanczos"), "format": edited.format})
    return pd.DataFrame(rows)


def detail_shares(path: str) -> dict[float, np.ndarray | None]:
    """The file's detail profile (``keep._detail_shares``) for each noise level swept."""
    grey = np.asarray(dedupkit.load_image(path).convert("L"), np.float32)
    return {noise: keep._detail_shares(grey, noise=noise) for noise in NOISES}


def sweep(files: pd.DataFrame, shares: list[dict]) -> pd.DataFrame:
    """For each set of constants: upscales that no longer win by pixels, downscales that tie (the cost)."""
    pixels = files["width"].to_numpy(float) * files["height"].to_numpy(float)
    original = files.groupby("group")["edit"].transform(lambda e: e.index[e == "original"][0]).to_numpy()
    up, down = (files["edit"] == "upscale").to_numpy(), (files["edit"] == "resize").to_numpy()
    rows = []
    for noise in NOISES:
        for share in SHARES:
            scale = np.array([keep._detail_scale(s[noise], share) for s in shares])
            mine = pixels / scale**2
            theirs = mine[original]
            apart = np.sqrt(np.maximum(pixels, pixels[original]) / np.minimum(pixels, pixels[original]))
            checked = apart >= keep._DETAIL_MIN_SCALE  # closer in size, the rule does not look at detail
            for equal in EQUALS:
                rows.append({"noise": noise, "share": share, "equal": equal,
                             "upscales_not_more": float((checked & (mine <= theirs * equal))[up].mean()),
                             "downscales_tie": float((checked & (theirs <= mine * equal))[down].mean())})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-data", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("out/keep-upscale"))
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    files = make_copies(args.bench_data, args.out / "copies", photos=args.photos, seed=args.seed)
    sizes = [dedupkit.load_image(p).size for p in files["path"]]
    files["width"], files["height"] = [w for w, _ in sizes], [h for _, h in sizes]
    print(f"{files['group'].nunique()} tune originals, {len(files)} files", file=sys.stderr)

    table = sweep(files, [detail_shares(p) for p in files["path"]])
    print("share of upscales that no longer win by pixels / of downscales that tie with their original:")
    print(table.pivot(index=["noise", "share"], columns="equal", values=["upscales_not_more", "downscales_tie"])
          .round(3).to_string())

    times, facts = [], []
    for path in files["path"]:  # the real code path, with the constants in keep.py
        t0 = time.perf_counter()
        facts.append(dedupkit.file_facts([path]))
        times.append(time.perf_counter() - t0)
    facts = pd.concat(facts, ignore_index=True)
    files["detail_pixels"] = facts["detail_pixels"].to_numpy()
    kept_rows = []
    for group, members in files.groupby("group"):
        source = members.index[members["edit"] == "original"][0]
        for k in members.index[members["edit"] != "original"]:
            pair = facts.loc[[source, k]].reset_index(drop=True)
            rank = dedupkit.keep_order(pair)
            judge = keep._Judge(pair, keep.KEEP_RULES)
            kept_rows.append({"group": group, "edit": files.loc[k, "edit"], "scale": files.loc[k, "scale"],
                              "filter": files.loc[k, "filter"], "format": files.loc[k, "format"],
                              "original_kept": bool(rank[0] == 0), "why": judge.decide(0, 1)[1]})
    kept = pd.DataFrame(kept_rows)
    print(f"\nwith keep.py's constants (noise {keep._DETAIL_NOISE}, share {keep._DETAIL_SHARE}, "
          f"equal {keep._DETAIL_EQUAL}): "
          "share of pairs where the original is kept")
    print(kept.groupby(["edit", "filter", "format"])["original_kept"].agg(["size", "mean"]).round(3).to_string())
    print("\nwhy, where the copy is kept:")
    print(kept[~kept["original_kept"]].groupby(["edit", "why"]).size().to_string())
    sample = files["path"].iloc[:: max(1, len(files) // 60)].tolist()
    detail_times = []
    for path in sample:
        grey = np.asarray(dedupkit.load_image(path).convert("L"), np.float32)
        t0 = time.perf_counter()
        keep._detail_shares(grey)
        detail_times.append(time.perf_counter() - t0)
    decode = {"full": [], "draft": []}  # file_facts decodes a JPEG at full resolution for the detail measure
    large = files[files["path"].str.endswith(".jpg") & (files[["width", "height"]].max(axis=1) > 1024)]["path"]
    for path in large.iloc[:: max(1, len(large) // 60)]:  # JPEGs that a 512-pixel decode would shrink
        for how in decode:
            t0 = time.perf_counter()
            with open_image(path) as image:
                if how == "draft":
                    image.draft("RGB", (512, 512))
                image.convert("RGB")
            decode[how].append(time.perf_counter() - t0)
    print(f"\nfile_facts: median {np.median(times) * 1000:.1f} ms a file; the detail measure alone: median "
          f"{np.median(detail_times) * 1000:.1f} ms ({np.median(detail_times) / np.median(times):.0%}); "
          f"a JPEG over 1024 pixels: full decode {np.median(decode['full']) * 1000:.1f} ms, decode at 1/2-1/8 "
          f"scale for 512 pixels (as before) {np.median(decode['draft']) * 1000:.1f} ms")
    files.to_csv(args.out / "files.csv", index=False)
    kept.to_csv(args.out / "pairs_kept.csv", index=False)
    table.to_csv(args.out / "sweep.csv", index=False)
    print(f"{time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
