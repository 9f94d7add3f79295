"""dedupkit.evaluate: pairwise precision/recall against a slow reference, and the threshold choice."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dedupkit import evaluate, thresholds
from dedupkit.hashing import codes_to_hex
from dedupkit.search import find_pairs


def _pairs(rows):
    return pd.DataFrame(rows, columns=["path_a", "path_b", "distance"])


def _truth(mapping):
    return pd.DataFrame({"file": list(mapping), "group": list(mapping.values())})


def _reference_curve(paths, codes, groups, max_threshold):
    """Every unordered pair of labelled files, counted by hand."""
    rows = []
    labelled = [i for i, p in enumerate(paths) if p in groups]
    positives = sum(groups[paths[i]] == groups[paths[j]] for i, j in itertools.combinations(labelled, 2))
    for t in range(max_threshold + 1):
        tp = fp = 0
        for i, j in itertools.combinations(labelled, 2):
            distance = sum(bin(x ^ y).count("1") for x, y in zip(codes[i], codes[j]))
            if distance <= t:
                if groups[paths[i]] == groups[paths[j]]:
                    tp += 1
                else:
                    fp += 1
        rows.append((t, tp, fp, positives - tp))
    return pd.DataFrame(rows, columns=["threshold", "tp", "fp", "fn"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curve_matches_brute_force_counting(seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (12, 8), dtype=np.uint8)
    codes, paths, groups = [], [], {}
    for g, code in enumerate(base):  # each picture with 0-3 copies a few bits away
        for copy in range(rng.integers(1, 5)):
            flipped = np.unpackbits(code).copy()
            flipped[rng.choice(64, rng.integers(0, 12), replace=False)] ^= copy > 0
            codes.append(np.packbits(flipped))
            paths.append(f"img{len(paths):03d}.png")
            groups[paths[-1]] = f"g{g}"
    del groups[paths[-1]]  # one file outside the truth: its pairs count neither way
    hashes = pd.DataFrame({"path": paths, "hash": codes_to_hex(np.array(codes))})
    pairs = find_pairs(hashes, max_distance=30)

    curve = evaluate.precision_recall(pairs, _truth(groups), max_threshold=30)
    expected = _reference_curve(paths, codes, groups, 30)

    pd.testing.assert_frame_equal(curve[["threshold", "tp", "fp", "fn"]], expected, check_dtype=False)
    tp, fp, fn = (curve[c].to_numpy(float) for c in ("tp", "fp", "fn"))
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(curve["precision"], tp / (tp + fp))
    np.testing.assert_allclose(curve["recall"], tp / (tp + fn))
    np.testing.assert_allclose(curve["f1"], 2 * tp / (2 * tp + fp + fn))
    assert curve.attrs["positives"] == expected["tp"].iloc[0] + expected["fn"].iloc[0]


def test_a_group_of_three_is_three_positive_pairs():
    truth = _truth({"a": "x", "b": "x", "c": "x", "d": "y"})
    pairs = _pairs([("a", "b", 0), ("b", "c", 2), ("a", "c", 2), ("c", "d", 3)])
    curve = evaluate.precision_recall(pairs, truth)
    assert curve.attrs["positives"] == 3
    assert curve[["tp", "fp", "fn"]].values.tolist() == [[1, 0, 2], [1, 0, 2], [3, 0, 0], [3, 1, 0]]
    assert curve["precision"].tolist() == [1.0, 1.0, 1.0, 0.75]


def test_a_pair_at_exactly_the_threshold_is_predicted():
    curve = evaluate.precision_recall(_pairs([("a", "b", 5)]), _truth({"a": "x", "b": "x"}))
    assert curve.loc[curve.threshold == 4, "tp"].item() == 0
    assert curve.loc[curve.threshold == 5, "tp"].item() == 1
    assert np.isnan(curve.loc[0, "precision"])  # nothing predicted: precision undefined
    assert curve.loc[0, "f1"] == 0.0


def test_positives_count_only_files_that_were_hashed():
    truth = _truth({"a.jpg": "x", "b.jpg": "x", "broken.jpg": "x"})
    hashes = pd.DataFrame({"path": ["a.jpg", "b.jpg", "broken.jpg"], "hash": ["00" * 8, "00" * 8, None],
                           "error": [None, None, "truncated"]})
    pairs = find_pairs(hashes, max_distance=4)
    assert evaluate.precision_recall(pairs, truth).attrs["positives"] == 3
    curve = evaluate.precision_recall(pairs, truth, hashes=hashes, max_threshold=4)
    assert curve.attrs["positives"] == 1 and curve.attrs["files"] == 2
    assert curve["recall"].tolist() == [1.0] * 5


def test_paths_are_matched_relative_to_the_image_folder(tmp_path):
    folder = tmp_path / "photos"
    pairs = _pairs([(str(folder / "a.jpg"), str(folder / "sub" / "b.jpg"), 1)])
    truth = _truth({"a.jpg": "x", "sub/b.jpg": "x"})
    labelled = evaluate.pair_truth(pairs, truth, root=folder)
    assert labelled["duplicate"].tolist() == [True]
    with pytest.raises(ValueError, match="root="):
        evaluate.pair_truth(pairs, truth)  # absolute paths, no root: nothing matches


def test_pair_truth_marks_unknown_files_as_missing():
    pairs = _pairs([("a", "b", 1), ("a", "c", 2), ("a", "z", 3)])
    labelled = evaluate.pair_truth(pairs, _truth({"a": "x", "b": "x", "c": "y"}))
    assert labelled["duplicate"].tolist() == [True, False, pd.NA]
    assert list(labelled.columns) == ["path_a", "path_b", "distance", "duplicate"]


def test_read_truth_from_csv_keeps_extra_columns(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("file,group,edit\na.jpg,1,original\n./b.jpg,1,crop\n")
    truth = evaluate.read_truth(path)
    assert truth["file"].tolist() == ["a.jpg", "b.jpg"]
    assert truth["group"].tolist() == ["1", "1"]
    assert truth["edit"].tolist() == ["original", "crop"]


@pytest.mark.parametrize(
    "text, message",
    [("file,label\na.jpg,1\n", "missing \\['group'\\]"),
     ("file,group\na.jpg,1\na.jpg,2\n", "more than once"),
     ("file,group\na.jpg,\n", "empty")],
    ids=["no-group-column", "file-twice", "empty-group"],
)
def test_read_truth_rejects_bad_tables(tmp_path, text, message):
    path = tmp_path / "truth.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        evaluate.read_truth(path)


def test_read_truth_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        evaluate.read_truth(tmp_path / "nope.csv")


def _curve(precision, recall, f1):
    return pd.DataFrame({"threshold": range(len(f1)), "precision": precision, "recall": recall, "f1": f1})


@pytest.mark.parametrize(
    "precision, recall, f1, min_precision, expected",
    [
        ([1, 1, 1, 1, 1, .9, .5], [.5, .8, .8, .8, .8, .8, .9], [.6, .9, .9, .9, .9, .85, .6], None, 2),
        ([1, 1, 1, 1, 1, .9, .5], [.5, .8, .8, .8, .8, .8, .9], [.6, .9, .9, .9, .9, .85, .6], 1.0, 2),
        ([1, 1, 1, 1, 1, .9, .5], [.5, .8, .8, .8, .8, .8, .9], [.6, .9, .9, .9, .9, .85, .6], 0.5, 6),
        ([np.nan, 1, 1, .5], [0, .5, 1, 1], [0, .67, 1, .67], None, 2),
        ([1, .5, 1, 1], [.2, .4, .6, .6], [.3, .4, .75, .75], 0.9, 2),
    ],
    ids=["best-f1-middle-of-plateau", "precision-1-most-recall", "low-precision-goes-further",
         "single-best", "precision-dip-then-recovery"],
)
def test_recommend_threshold(precision, recall, f1, min_precision, expected):
    assert evaluate.recommend_threshold(_curve(precision, recall, f1), min_precision=min_precision) == expected


def test_recommend_threshold_on_the_sample_plateau():
    """Duplicates at 0-6 bits, the first unlike pair at 16: the middle of 6..15 is 10."""
    pairs = _pairs([(f"a{d}", f"b{d}", d) for d in (0, 0, 1, 2, 6)] + [("x", "y", 16)])
    truth = _truth({**{f"a{d}": f"g{d}" for d in range(7)}, **{f"b{d}": f"g{d}" for d in range(7)},
                    "x": "x", "y": "y"})
    curve = evaluate.precision_recall(pairs, truth, max_threshold=20)
    assert evaluate.recommend_threshold(curve) == 10
    assert evaluate.recommend_threshold(curve, min_precision=1.0) == 10


@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (1.5, ValueError), (-0.1, ValueError), (True, TypeError)],
                         ids=["zero", "above-one", "negative", "bool"])
def test_recommend_threshold_rejects_bad_precision(bad, error):
    with pytest.raises(error, match="min_precision"):
        evaluate.recommend_threshold(_curve([1, 1], [.5, 1], [.6, 1]), min_precision=bad)


def test_recommend_threshold_unreachable_precision():
    with pytest.raises(ValueError, match="no threshold reaches precision 0.99"):
        evaluate.recommend_threshold(_curve([.5, .6], [.5, 1], [.5, .75]), min_precision=0.99)


def test_threshold_summary_counts_groups_and_files_to_remove():
    pairs = _pairs([("a", "b", 1), ("b", "c", 3), ("d", "e", 3), ("f", "g", 8)])
    summary = thresholds.threshold_summary
    assert summary(pairs, 0) == {"threshold": 0, "pairs": 0, "groups": 0, "files": 0, "to_remove": 0}
    # a keeps b; c is b's copy, not a's, so it is in no group (groups never chain)
    assert summary(pairs, 3) == {"threshold": 3, "pairs": 3, "groups": 2, "files": 4, "to_remove": 2}
    assert summary(pairs, 8)["to_remove"] == 3


def test_pairs_near_threshold_takes_both_sides():
    pairs = _pairs([(f"a{d}", f"b{d}", d) for d in (0, 2, 5, 6, 7, 9, 20)])
    near = thresholds.pairs_near_threshold(pairs, 6, n=2)
    assert near["distance"].tolist() == [5, 6, 7, 9]
    assert near["inside"].tolist() == [True, True, False, False]


def test_random_distances_are_all_pairs_when_few_and_seeded_when_many():
    codes = np.array([np.packbits(np.arange(64) < k) for k in range(0, 64, 2)])  # 32 distinct hashes
    hashes = pd.DataFrame({"path": [f"{i}" for i in range(32)], "hash": codes_to_hex(codes)})
    every = thresholds.random_distances(hashes, n=10_000)
    assert len(every) == 32 * 31 // 2
    assert sorted(every) == sorted(abs(2 * i - 2 * j) for i, j in itertools.combinations(range(32), 2))
    drawn = thresholds.random_distances(hashes, n=100, seed=3)
    assert len(drawn) == 100 and (drawn > 0).all()  # never a file with itself
    np.testing.assert_array_equal(drawn, thresholds.random_distances(hashes, n=100, seed=3))


def test_recall_by_edit_counts_each_copy_against_its_own_original():
    truth = pd.DataFrame({
        "file": ["a.jpg", "a__grey.jpg", "a__crop.jpg", "b.jpg", "b__grey.jpg", "b__crop.jpg", "c__grey.jpg"],
        "group": ["a", "a", "a", "b", "b", "b", "c"],
        "edit": ["original", "grey", "crop", "original", "grey", "crop", "grey"]})  # c has no original
    pairs = _pairs([("a__grey.jpg", "a.jpg", 3),  # either order
                    ("a.jpg", "a__crop.jpg", 4),  # exactly at the threshold: found
                    ("b.jpg", "b__grey.jpg", 5),  # just outside
                    ("b__grey.jpg", "b__crop.jpg", 0),  # two copies: not a copy with its original
                    ("a__crop.jpg", "b__crop.jpg", 1)])
    table = evaluate.recall_by_edit(pairs, truth, 4)
    assert table.index.tolist() == ["grey", "crop"]
    assert table["copies"].tolist() == [2, 2] and table["found"].tolist() == [1, 1]
    assert table["recall"].tolist() == [0.5, 0.5]
    assert evaluate.recall_by_edit(pairs, truth, 5)["found"].tolist() == [2, 1]


def test_recall_by_edit_needs_an_edit_column_and_a_threshold():
    with pytest.raises(ValueError, match="'edit' column"):
        evaluate.recall_by_edit(_pairs([]), _truth({"a.jpg": "a"}), 3)
    with pytest.raises(ValueError, match="whole number"):
        evaluate.recall_by_edit(_pairs([]), _truth({"a.jpg": "a"}), -1)
