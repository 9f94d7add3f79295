"""Does the keep rule keep the original? Measured on bench-data's true groups, one half at a time.

For every original and each of its copies (the randomised edits and, where
the truth names one, the natural copies), the two files are ranked by
dedupkit's keep rules and by the old rule (most pixels, then the largest
file). Each pair is verified first (:func:`dedupkit.verify_pairs`), as
``find_duplicates`` does, so the rules see how the copy's picture relates to
the original's; ``--no-verify`` ranks on each file's facts only. Names and times carry the answer in bench-data
(edits are named for
their edit and written after their original), so the ``copy_name``,
``older`` and ``path`` rules are left out: a tie is a tie, counted apart.

    .venv/bin/python benchmarks/bench_keep.py --split report
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _accuracy_metrics import read_truth  # noqa: E402

from dedupkit import verify_pairs  # noqa: E402
from dedupkit.keep import KEEP_RULES, _Judge, file_facts  # noqa: E402

BLIND_RULES = tuple(r for r in KEEP_RULES if r not in ("copy_name", "older", "path", "prefer", "reference"))


def _old_rule(a: dict, b: dict) -> int:
    """The rule before: most pixels, then the largest file."""
    pa, pb = a["width"] * a["height"], b["width"] * b["height"]
    if pa != pb:
        return 1 if pa > pb else -1
    return (a["bytes"] > b["bytes"]) - (a["bytes"] < b["bytes"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="bench-data")
    parser.add_argument("--split", choices=["tune", "report"], default="report")
    parser.add_argument("--out", default="out/keep")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="rank on each file's facts only, as for hash pairs")
    args = parser.parse_args(argv)
    data = Path(args.data)
    truth = read_truth(data / "truth.csv")
    truth = truth[truth["split"] == args.split]
    originals = truth[truth["kind"] == "original"].set_index("group")["file"]
    copies = truth[(truth["kind"] != "original") & truth["group"].isin(originals.index)]
    files = sorted(set(originals) | set(copies["file"]))
    facts = file_facts([str(data / f) for f in files], progress=True).set_index(pd.Index(files))
    facts = facts.reset_index(names="file")
    position = {f: i for i, f in enumerate(facts["file"])}
    pairs = pd.DataFrame({"path_a": [str(data / originals[g]) for g in copies["group"]],
                          "path_b": [str(data / f) for f in copies["file"]]})
    checked = verify_pairs(pairs, progress=True) if args.verify else pairs.assign(verified=False)
    relations = {}
    for (_, copy), (_, row) in zip(copies.iterrows(), checked.iterrows()):
        if row["verified"]:
            relations[position[originals[copy["group"]]], position[copy["file"]]] = (
                row["coverage_a"], row["coverage_b"], row["scale"], row["frame_a"], row["frame_b"])
    judge = _Judge(facts, BLIND_RULES, relations=relations, total=False)
    rows = []
    for _, copy in copies.iterrows():
        i, j = position[originals[copy["group"]]], position[copy["file"]]
        result, why = judge.decide(i, j)
        old = _old_rule(judge.records[i], judge.records[j])
        rows.append({"family": copy["family"], "edit": copy["edit"], "new": result, "why": why, "old": old,
                     "verified": (i, j) in relations,
                     "original": originals[copy["group"]], "copy": copy["file"]})
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"pairs_{args.split}.csv", index=False)

    def shares(d: pd.DataFrame) -> pd.Series:
        return pd.Series({"pairs": len(d), "old rule keeps original": (d["old"] > 0).mean(),
                          "new: original": (d["new"] > 0).mean(), "new: tie": (d["new"] == 0).mean(),
                          "new: copy": (d["new"] < 0).mean()})

    summary = table.groupby("family").apply(shares, include_groups=False)
    summary.loc["all"] = shares(table)
    summary.to_csv(out / f"summary_{args.split}.csv")
    print(summary.round(3).to_string())
    print("\nwhy the copy was kept, by edit:")
    print(table[table["new"] < 0].groupby(["edit", "why"]).size().sort_values(ascending=False).head(25).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
