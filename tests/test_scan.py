"""hash_images: one row per file, sorted, errors recorded, same result however it runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from dedupkit import hash_images, hash_settings, list_images
from dedupkit.scan import HASH_COLUMNS
from dedupkit.tables import SETTINGS_COLUMNS


def test_folder_scan_has_one_row_per_image_and_records_errors(small_dir):
    table = hash_images(small_dir)
    assert list(table.columns) == [*HASH_COLUMNS, *SETTINGS_COLUMNS]
    names = [p.replace(str(small_dir) + "/", "") for p in table["path"]]
    assert names == sorted(names)
    assert len(table) == 8  # 4 photos + sub/half.png + 3 bad; .hidden and readme.txt left out
    assert "sub/half.png" in names
    errors = table.set_index(pd.Index(names))["error"]
    assert errors["bad_empty.jpg"] == "empty file (0 bytes)"
    assert "not an image" in errors["bad_text.jpg"]
    assert "truncated" in errors["bad_truncated.jpg"]
    good = table[table["error"].isna()]
    assert len(good) == 5 and good["hash"].str.len().eq(16).all()
    assert good["format"].isin(["JPEG", "PNG"]).all() and (good["width"] > 0).all()
    assert table["bytes"].notna().all()
    assert hash_settings(table) == {"method": "dhash", "hash_size": 8, "trim": True, "exact": False}
    assert [p.endswith("readme.txt") for p in table.attrs["skipped"]] == [True]


def test_list_of_paths_keeps_every_file_whatever_its_extension(small_dir):
    paths = [small_dir / "readme.txt", small_dir / "sub" / "half.png", small_dir / "missing.jpg"]
    table = hash_images(paths)
    assert len(table) == 3
    errors = dict(zip(table["path"], table["error"]))
    assert errors[str(small_dir / "missing.jpg")] == "file not found"
    assert "not an image" in errors[str(small_dir / "readme.txt")]
    assert pd.isna(errors[str(small_dir / "sub" / "half.png")])


def test_parallel_and_serial_give_the_same_table(small_dir, sample_dir):
    serial = hash_images(sample_dir, workers=1)
    with ThreadPoolExecutor(2) as pool:
        threaded = hash_images(sample_dir, executor=pool, chunk_size=5)
    pd.testing.assert_frame_equal(serial, threaded)
    many = [str(p) for p in sample_dir.glob("*.jpg")] * 3  # enough files for the process pool
    processes = hash_images(many, workers=2, chunk_size=16)
    assert len(processes) == len(many)
    first = serial.set_index("path")["hash"]
    assert (processes.set_index("path")["hash"].groupby(level=0).first() == first.reindex(
        processes["path"].unique())).all()


def test_extensions_option(small_dir):
    only_png = hash_images(small_dir, extensions=[".png"])
    assert [p.rsplit("/", 1)[-1] for p in only_png["path"]] == ["half.png"]
    everything, _ = list_images(small_dir, extensions=["*"])
    assert any(p.endswith("readme.txt") for p in everything)


def test_other_methods_and_sizes(small_dir):
    table = hash_images(small_dir, method="phash", hash_size=16)
    assert table["hash"].dropna().str.len().eq(64).all()
    assert hash_settings(table)["method"] == "phash" and hash_settings(table)["hash_size"] == 16


def test_bad_arguments_are_clear_errors(small_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        hash_images(tmp_path / "nope")
    with pytest.raises(ValueError, match="not supported"):
        hash_images(small_dir, method="md5")
    with pytest.raises(ValueError, match="workers"):
        hash_images(small_dir, workers=0)


def test_empty_folder_gives_an_empty_table(tmp_path):
    table = hash_images(tmp_path)
    assert len(table) == 0 and list(table.columns) == [*HASH_COLUMNS, *SETTINGS_COLUMNS]
