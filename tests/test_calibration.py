"""dedupkit.calibration: the calibration of notebook 4 and `dedupkit calibrate`, as library functions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import dedupkit
from dedupkit.calibration import (
    Calibration,
    calibrate,
    calibration_photos,
    curve_summary,
    recommend,
    threshold_at_precision,
)
from dedupkit.cli import main


def _curve(precision, recall):
    n = len(precision)
    return pd.DataFrame({"threshold": np.arange(n), "precision": precision, "recall": recall,
                         "f1": [2 * p * r / (p + r) if p and r else np.nan for p, r in zip(precision, recall)]})


@pytest.fixture(scope="module")
def photos(tmp_path_factory, originals):
    """Four small photos, and an exact copy of the first under another name."""
    root = tmp_path_factory.mktemp("photos")
    for path in originals[:4]:
        Image.open(path).convert("RGB").resize((160, 120)).save(root / path.name, quality=95)
    Image.open(root / originals[0].name).save(root / "zz_copy_of_the_first.png")
    return root


@pytest.fixture(scope="module")
def calibrated(photos, tmp_path_factory) -> tuple[Calibration, object]:
    out = tmp_path_factory.mktemp("out")
    files = calibration_photos(dedupkit.hash_images(photos, workers=1))
    return calibrate(files, out, methods=["dhash"], max_photos=3, seed=1, workers=1, image_dir=photos), out


def test_threshold_at_precision_and_its_fallback():
    curve = _curve([np.nan, 1.0, 0.99, 0.8], [0.0, 0.4, 0.7, 0.9])
    assert threshold_at_precision(curve, 0.99) == 2
    assert threshold_at_precision(curve, 1.0) == 1
    high = _curve([np.nan, 0.9, 0.95, 0.8], [0.0, 0.4, 0.7, 0.9])
    assert threshold_at_precision(high, 0.99) is None
    assert threshold_at_precision(high, 0.99, fallback=True) == 2  # the best precision reached, 0.95
    with pytest.raises(ValueError, match="min_precision must be a number above 0 and at most 1"):
        threshold_at_precision(curve, 0)


def test_curve_summary_reads_the_curve_at_its_thresholds():
    summary = curve_summary(_curve([np.nan, 1.0, 0.99, 0.8], [0.0, 0.4, 0.7, 0.9]), min_precision=0.99)
    assert summary["threshold"] == 2 and summary["precision"] == 0.99 and summary["recall"] == 0.7
    assert summary["best_f1_threshold"] == 3 and summary["best_f1"] == pytest.approx(2 * 0.8 * 0.9 / 1.7)


def test_recommend_picks_the_most_recall_first_listed_on_a_tie_or_verification():
    results = {"a": {"method": "dhash", "trim": False}, "b": {"method": "phash", "trim": True},
               "c": {"method": "ahash", "trim": True}}
    table = pd.DataFrame({"threshold": pd.array([10, 12, None], "Int64"), "precision": [1.0, 0.996, None],
                          "recall": [0.6, 0.6, None]}, index=list("abc"))
    best = recommend(table, results, min_precision=0.995)
    assert best == {"mode": "hash", "method": "dhash", "trim": False, "threshold": 10, "precision": 1.0,
                    "recall": 0.6, "min_precision": 0.995}
    none = recommend(table.iloc[2:], results)
    assert none["mode"] == "verify" and none["threshold"] is None


def test_calibration_photos_leaves_out_copies_and_unreadable_files(photos, tmp_path):
    hashes = dedupkit.hash_images(photos, workers=1)
    files = calibration_photos(hashes)
    names = sorted(p.rsplit("/", 1)[-1] for p in files)
    assert len(files) == 4 and "zz_copy_of_the_first.png" not in names  # one of the two copies
    broken = pd.concat([hashes, pd.DataFrame({"path": ["bad.jpg"], "hash": [None], "error": ["empty file"]})])
    assert calibration_photos(broken) == files


def test_calibrate_measures_and_saves_what_it_recommends(calibrated, photos):
    result, out = calibrated
    truth = result.truth
    assert result.bench_dir == out / "calibration" and (out / "calibration" / "truth.csv").is_file()
    assert truth["group"].nunique() == 3 and set(truth["edit"]) >= {"original", "grey", "mirror"}
    assert list(result.results) == ["dhash", "dhash +trim"]
    assert list(result.table.columns) == ["threshold", "precision", "recall", "best_f1_threshold", "best_f1"]
    for label, row in result.table.iterrows():
        curve = result.results[label]["curve"].set_index("threshold")
        assert row["threshold"] == result.results[label]["threshold"]
        if pd.notna(row["threshold"]):
            assert row["precision"] >= 0.995 and row["recall"] == curve.loc[row["threshold"], "recall"]
    # the copies found by category, at each label's own threshold
    assert set(result.by_category.columns) == set(result.table.index[result.table["threshold"].notna()])
    assert result.by_category.loc["mild"].min() > result.by_category.loc["dihedral"].max()
    saved = json.loads((out / "calibration.json").read_text())
    assert saved["recommended"] == result.recommendation
    assert saved["image_dir"] == str(photos.resolve()) and saved["files"] == len(truth)
    assert [m["label"] for m in saved["methods"]] == ["dhash", "dhash +trim"]


def test_calibrate_refuses_bad_options_before_writing(tmp_path, photos):
    with pytest.raises(ValueError, match="not supported"):
        calibrate(photos, tmp_path, methods=["nohash"])
    with pytest.raises(ValueError, match="min_precision must be a number above 0"):
        calibrate(photos, tmp_path, min_precision=1.5)
    assert not any(tmp_path.iterdir())


def test_the_calibrate_command_prints_what_it_saved(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["calibrate", str(photos), "-o", str(out), "--max-photos", "2", "--methods", "dhash",
                 "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "calibration.json").read_text())
    best = saved["recommended"]
    assert "5 files in" in printed and "4 distinct readable photos" in printed
    if best["mode"] == "hash":
        assert f"at threshold {best['threshold']} (precision {best['precision']:.3f}" in printed
    else:
        assert "recommended: verify the pairs" in printed
    assert f"calibration: {out / 'calibration.json'}" in printed and saved["photos"] == 2
    assert main(["calibrate", str(photos), "-o", str(tmp_path / "no" / "such")]) == 2
    assert "must be a folder in a folder that exists" in capsys.readouterr().err
