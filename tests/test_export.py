"""dedupkit.export: the files the notebooks hand on, and the CSV files users act on."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from dedupkit import export, find_groups, find_pairs, hash_images


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
                                        "keep_reason"]
    assert exported["keep"].sum() == 1 and all((folder / p).is_file() for p in exported["path"])
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before  # nothing deleted or moved


def test_export_needs_the_columns(tmp_path):
    with pytest.raises(ValueError, match="duplicates table needs"):
        export.export_duplicates(pd.DataFrame({"path_a": []}), pd.DataFrame(), tmp_path)


def test_hashes_for_reuses_the_saved_table_only_while_it_matches_the_folder(folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    hashes = hash_images(folder)
    export.save_hashes(hashes, out, image_dir=folder)
    calls = []
    monkeypatch.setattr(export, "hash_images", lambda *a, **k: calls.append(k) or hash_images(*a, **k))

    again = export.hashes_for(folder, out)
    assert not calls and again["hash"].tolist() == hashes["hash"].tolist()
    assert again.attrs["image_dir"] == str(folder.resolve())

    export.hashes_for(folder, out, hash_size=16)  # another size: hashed again
    assert calls[-1]["hash_size"] == 16
    shutil.copy(folder / "sub" / "copy.jpg", folder / "new.jpg")  # a new file: hashed again
    assert len(export.hashes_for(folder, out)) == 5 and len(calls) == 2
    assert len(export.hashes_for(tmp_path / "elsewhere" / ".." / "images", out)) == 5 and len(calls) == 2


def test_threshold_round_trip(tmp_path):
    path = export.save_threshold(tmp_path / "out", 9, method="dhash", recall=0.5, precision=float("nan"))
    assert json.loads(path.read_text()) == {"threshold": 9, "method": "dhash", "recall": 0.5, "precision": None}
    assert export.load_threshold(tmp_path / "out")["threshold"] == 9
    with pytest.raises(FileNotFoundError, match="02_tune_threshold"):
        export.load_threshold(tmp_path)
    with pytest.raises(ValueError, match="threshold"):
        export.save_threshold(tmp_path, -1)
