"""What a system's reported pairs are worth against ``truth.csv``, on one half of the benchmark.

Counting (all among the files of the half):

* a reported pair is **true** iff both files are in the same ``group``;
  pairwise precision is true / reported, pairwise recall true / same-group pairs;
* an edited copy is **found** when its pair with its group's original
  (``kind == "original"``) is reported; a copy in a group without an original
  is found when it is paired with any other member of its group;
* the **natural** part is the files as the packages ship them, nothing edited
  by the benchmark: every original and every natural copy (``kind`` original
  or natural). Precision, recall and F1 of the pairs among those files, their
  false pairs, and the false pairs that involve a natural copy anywhere;
* a **lookalike** set (``lookalike`` column) is a set of different pictures
  that look alike: its false pairs are reported pairs of two of its files
  from different groups;
* **groups** are ``dedupkit.find_groups`` of the reported pairs: how many mix
  truth groups, the largest, and the widest (largest hash diameter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import dedupkit

FAMILIES = ("mild", "frame", "crop", "turn", "dihedral", "combo", "natural")


def read_truth(path) -> pd.DataFrame:
    """``truth.csv`` with every column as text (empty ``lookalike`` stays "")."""
    truth = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"file", "group", "kind", "family", "edit", "split"} - set(truth.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)} (has {list(truth.columns)})")
    if "lookalike" not in truth.columns:
        truth["lookalike"] = ""
    return truth


def copies_of(truth: pd.DataFrame) -> pd.DataFrame:
    """Each non-original file with the file it must be found with (its group's original, or "")."""
    originals = truth[truth["kind"] == "original"].drop_duplicates("group").set_index("group")["file"]
    copies = truth[truth["kind"] != "original"].copy()
    copies["original"] = copies["group"].map(originals).fillna("")
    return copies.reset_index(drop=True)


def _pair_keys(a, b) -> list[tuple[str, str]]:
    return [(x, y) if x < y else (y, x) for x, y in zip(map(str, a), map(str, b))]


def label_pairs(pairs: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The pairs with the truth of both files: ``duplicate`` and ``group/kind/family/edit/lookalike`` _a/_b."""
    info = truth.set_index("file")
    out = pairs.copy()
    for side in ("a", "b"):
        files = out[f"path_{side}"].astype(str)
        for column in ("group", "kind", "family", "edit", "lookalike"):
            out[f"{column}_{side}"] = info[column].reindex(files).to_numpy()
    out["duplicate"] = out["group_a"] == out["group_b"]
    return out


def found_copies(copies: pd.DataFrame, labelled: pd.DataFrame) -> np.ndarray:
    """Which copies are found by the reported pairs (see the module docstring)."""
    reported = set(_pair_keys(labelled["path_a"], labelled["path_b"]))
    with_group = set(labelled.loc[labelled["duplicate"], "path_a"].astype(str)) | \
        set(labelled.loc[labelled["duplicate"], "path_b"].astype(str))
    return np.array([(min(f, o), max(f, o)) in reported if o else f in with_group
                     for f, o in zip(copies["file"], copies["original"])], bool)


def _prf(tp: int, fp: int, positives: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else np.nan
    recall = tp / positives if positives else np.nan
    f1 = 2 * tp / (2 * tp + fp + (positives - tp)) if positives + fp else np.nan
    return precision, recall, f1


def _positives(truth: pd.DataFrame) -> int:
    sizes = truth["group"].value_counts().to_numpy(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def group_stats(pairs: pd.DataFrame, truth: pd.DataFrame, hashes: pd.DataFrame | None) -> dict:
    """``dedupkit.find_groups`` of a system's pairs: mixed groups, the largest, the widest.

    ``pairs`` are the reported pairs, or for a verified system every
    candidate with its ``verified`` verdict (pairs called different are then
    never put in one group).
    """
    empty = {"groups": 0, "mixed_groups": 0, "files_in_mixed": 0, "largest_group": 0,
             "widest_size": 0, "widest_diameter": 0}
    if len(pairs) == 0:
        return empty
    columns = ["path_a", "path_b", "distance"] + (["verified"] if "verified" in pairs.columns else [])
    table = pairs[columns].astype({"path_a": str, "path_b": str})
    table = table.assign(distance=table["distance"].clip(lower=0))
    groups = dedupkit.find_groups(table, hashes)
    if groups.empty:
        return empty
    groups["truth"] = truth.set_index("file")["group"].reindex(groups["path"].astype(str)).to_numpy()
    per = groups.groupby("group").agg(size=("path", "size"), kinds=("truth", "nunique"),
                                      diameter=("diameter", "max"))
    widest = per.sort_values(["diameter", "size"], ascending=False).iloc[0]
    return {"groups": len(per), "mixed_groups": int((per["kinds"] > 1).sum()),
            "files_in_mixed": int(per.loc[per["kinds"] > 1, "size"].sum()),
            "largest_group": int(per["size"].max()),
            "widest_size": int(widest["size"]), "widest_diameter": int(widest["diameter"])}


def evaluate(pairs: pd.DataFrame, truth: pd.DataFrame, hashes: pd.DataFrame | None = None,
             grouping: pd.DataFrame | None = None) -> dict:
    """Every metric of one system on one half; see the module docstring.

    ``pairs`` are the reported pairs (relative paths), ``truth`` the rows of
    the half, ``hashes`` the system's hash table (for group diameters),
    ``grouping`` the pairs groups are made of (default: the reported pairs).
    Returns ``{"summary": dict, "labelled": DataFrame, "copies": DataFrame,
    "subedits": DataFrame, "lookalikes": DataFrame}``.
    """
    labelled = label_pairs(pairs, truth)
    labelled = labelled[labelled["group_a"].notna() & labelled["group_b"].notna()].reset_index(drop=True)
    false = ~labelled["duplicate"]
    copies = copies_of(truth)
    copies["found"] = found_copies(copies, labelled)
    tp, fp = int(labelled["duplicate"].sum()), int(false.sum())
    precision, pair_recall, _ = _prf(tp, fp, _positives(truth))
    row = {"pairs": len(labelled), "false_pairs": fp, "precision": precision, "pair_recall": pair_recall,
           "copy_recall": float(copies.loc[copies["kind"] != "natural", "found"].mean()) if len(copies) else np.nan}
    for family in FAMILIES:
        chosen = copies["family"] == family
        row[family] = float(copies.loc[chosen, "found"].mean()) if chosen.any() else np.nan
    # natural part
    natural_files = set(truth.loc[truth["kind"].isin(["original", "natural"]), "file"])
    among = labelled["path_a"].isin(natural_files) & labelled["path_b"].isin(natural_files)
    ntp, nfp = int((among & labelled["duplicate"]).sum()), int((among & false).sum())
    npos = _positives(truth[truth["file"].isin(natural_files)])
    row["natural_precision"], row["natural_recall"], row["natural_f1"] = _prf(ntp, nfp, npos)
    row["natural_false"] = nfp
    row["false_with_natural"] = int((false & ((labelled["kind_a"] == "natural")
                                              | (labelled["kind_b"] == "natural"))).sum())
    row.update(group_stats(labelled if grouping is None else grouping, truth, hashes))
    subedits = (copies.groupby(["family", "edit"], sort=False)["found"]
                .agg(copies="size", found="sum").reset_index())
    subedits["recall"] = subedits["found"] / subedits["copies"]
    sets = []
    for name in sorted(set(truth["lookalike"]) - {""}):
        members = truth[truth["lookalike"] == name]
        in_a, in_b = labelled["lookalike_a"] == name, labelled["lookalike_b"] == name
        sets.append({"lookalike": name, "files": len(members), "pictures": members["group"].nunique(),
                     "false_within": int((false & in_a & in_b).sum()),
                     "false_touching": int((false & (in_a | in_b)).sum())})
    row["lookalike_false"] = int(sum(s["false_within"] for s in sets))
    return {"summary": row, "labelled": labelled, "copies": copies, "subedits": subedits,
            "lookalikes": pd.DataFrame(sets, columns=["lookalike", "files", "pictures", "false_within",
                                                      "false_touching"])}


def missed_pairs(
    copies: pd.DataFrame, codes: dict[str, np.ndarray], candidates: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The copies not found, with their original, the hash distance between them and (verified systems)
    the verifier's verdict on the pair when it was a candidate."""
    missed = copies[~copies["found"] & (copies["original"] != "")].copy()
    if missed.empty:
        return missed.assign(distance=pd.Series(dtype=np.int64))
    n_bytes = len(next(iter(codes.values()))) if codes else 8
    blank = np.zeros(n_bytes, np.uint8)
    a = np.array([codes.get(f, blank) for f in missed["file"]], np.uint8).reshape(len(missed), n_bytes)
    b = np.array([codes.get(f, blank) for f in missed["original"]], np.uint8).reshape(len(missed), n_bytes)
    known = np.array([f in codes and o in codes for f, o in zip(missed["file"], missed["original"])])
    missed["distance"] = np.where(known, np.bitwise_count(a ^ b).sum(axis=1), -1)
    if candidates is not None and len(candidates):
        extra = [c for c in ("source", "reason", "inliers", "similarity", "coverage_a", "coverage_b")
                 if c in candidates.columns]
        cand = candidates.assign(key=_pair_keys(candidates["path_a"], candidates["path_b"]))
        cand = cand.drop_duplicates("key").set_index("key")[extra]
        keys = _pair_keys(missed["file"], missed["original"])
        for column in extra:
            missed[column] = cand[column].reindex(keys).to_numpy()
        missed["candidate"] = [k in cand.index for k in keys]
    return missed.reset_index(drop=True)
