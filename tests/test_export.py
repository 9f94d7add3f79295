"""dedupkit.export: the files the notebooks hand on, and the CSV files users act on."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from dedupkit import export, find_groups, find_pairs, hash_images, hash_settings, read_hashes


@pytest.fixture()
def folder(tmp_path, originals):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for path in originals[:3]:
        shutil.copy(path, images / path.name)
    shutil.copy(originals[0], images / "sub" / "copy.jpg")
    return images


def test_export_writes_pairs_and_groups_relative_to_the_folder_and_touches_no_image(folder, tmp_path):
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    hashes = hash_images(folder)
    pairs = find_pairs(hashes, max_distance=10)
    groups = find_groups(pairs, hashes)
    written = export.export_duplicates(pairs, groups, tmp_path / "out", root=folder)

    assert sorted(written) == ["duplicates", "groups"]
    duplicates = pd.read_csv(written["duplicates"])
    assert list(duplicates.columns) == ["path_a", "path_b", "distance"]
    assert len(duplicates) == 1 and "sub/copy.jpg" in set(duplicates.iloc[0, :2])
    exported = pd.read_csv(written["groups"])
    assert list(exported.columns) == ["group", "path", "keep", "size", "diameter", "link_distance",
                                        "keep_reason", "bytes", "mtime_ns", "sha256"]
    assert exported["keep"].sum() == 1 and all((folder / p).is_file() for p in exported["path"])
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before  # nothing deleted or moved


def test_export_needs_the_columns(tmp_path):
    with pytest.raises(ValueError, match="duplicates table needs"):
        export.export_duplicates(pd.DataFrame({"path_a": []}), pd.DataFrame(), tmp_path)


def test_hashes_for_hashes_only_what_is_new_or_changed_and_remembers_how(folder, tmp_path):
    out = tmp_path / "out"
    first = export.hashes_for(folder, out, method="phash")
    assert first.attrs["hashed"] == 4 and hash_settings(first)["method"] == "phash"
    again = export.hashes_for(folder, out)  # no settings given: as the saved table of this folder says
    assert again.attrs["hashed"] == 0 and again.attrs["cached"] == 4
    assert hash_settings(again)["method"] == "phash" and again["hash"].tolist() == first["hash"].tolist()
    assert read_hashes(out / "hashes.parquet").attrs["image_dir"] == str(folder.resolve())

    assert export.hashes_for(folder, out, hash_size=16).attrs["hashed"] == 4  # another size: hashed again
    shutil.copy(folder / "sub" / "copy.jpg", folder / "new.jpg")  # a new file: only it is hashed
    table = export.hashes_for(folder, out, method="phash")
    assert len(table) == 5 and table.attrs["hashed"] == 1
    assert export.hashes_for(tmp_path / "elsewhere" / ".." / "images", out, method="phash").attrs["hashed"] == 0


def test_hashes_for_sees_a_photo_edited_in_place(folder, tmp_path, originals):
    out = tmp_path / "out"
    edited = folder / "sub" / "copy.jpg"
    before = export.hashes_for(folder, out).set_index("path")["hash"]
    shutil.copy(originals[3], edited)  # the same name, another picture
    after = export.hashes_for(folder, out)
    assert after.attrs["hashed"] == 1
    new = after.set_index("path")["hash"]
    assert new[str(edited)] == hash_images([edited])["hash"].iloc[0] != before[str(edited)]
    assert read_hashes(out / "hashes.parquet").set_index("path")["hash"][str(edited)] == new[str(edited)]


def test_threshold_round_trip(tmp_path):
    path = export.save_threshold(tmp_path / "out", 9, method="dhash", recall=0.5, precision=float("nan"))
    assert json.loads(path.read_text()) == {"threshold": 9, "method": "dhash", "recall": 0.5, "precision": None}
    assert export.load_threshold(tmp_path / "out")["threshold"] == 9
    with pytest.raises(FileNotFoundError, match="02_tune_threshold"):
        export.load_threshold(tmp_path)
    with pytest.raises(ValueError, match="threshold"):
        export.save_threshold(tmp_path, -1)
