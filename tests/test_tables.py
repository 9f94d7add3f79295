"""Saved tables say how they were hashed: CSV and Parquet, read back by dedupkit or plain pandas, never guessed."""

from __future__ import annotations

import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageOps

from dedupkit import (
    HashIndex,
    find_duplicates,
    find_pairs,
    hash_images,
    hash_settings,
    read_hashes,
    relative_paths,
    search_dihedral,
    with_hash_settings,
    write_table,
)
from dedupkit.tables import HASH_COLUMNS, SETTINGS_COLUMNS

PHASH = {"method": "phash", "hash_size": 8, "trim": True, "exact": False}


@pytest.fixture(scope="module")
def phash_table(sample_dir) -> pd.DataFrame:
    return hash_images(sample_dir, method="phash", workers=1)


def test_a_phash_table_read_back_from_csv_is_searched_as_phash(phash_table, sample_dir, tmp_path):
    # the example: the table went through CSV, and the index hashed new images with dHash
    phash_table.to_csv(tmp_path / "hashes.csv", index=False)
    index = HashIndex.from_hashes(pd.read_csv(tmp_path / "hashes.csv"))  # plain pandas: the columns say it
    assert index.settings == PHASH
    coffee = str(sample_dir / "coffee.jpg")
    found = index.search_images([coffee], max_distance=10)
    assert (coffee, 0) in set(zip(found["match"], found["distance"]))  # at least the file itself


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_round_trip_keep_the_settings_and_the_types(phash_table, tmp_path, suffix):
    path = write_table(phash_table, tmp_path / f"hashes{suffix}")
    again = read_hashes(path)
    assert hash_settings(again) == PHASH
    pd.testing.assert_frame_equal(again, phash_table, check_categorical=False)
    plain = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert hash_settings(plain) == PHASH
    assert list(plain.columns) == [*HASH_COLUMNS, *SETTINGS_COLUMNS]


def test_a_256_bit_table_read_back_keeps_its_default_threshold(sample_dir, tmp_path):
    hashes = hash_images(sample_dir, hash_size=16, workers=1)
    hashes.to_csv(tmp_path / "hashes.csv", index=False)
    again = pd.read_csv(tmp_path / "hashes.csv")
    expected = find_duplicates(hashes, verify=False)
    assert len(expected) > len(find_pairs(hashes, max_distance=10))  # the default is scaled to 40 of 256 bits
    pd.testing.assert_frame_equal(find_duplicates(again, verify=False), expected, check_dtype=False)


def test_hex_hashes_that_look_like_numbers_stay_text(tmp_path):
    table = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "hash": ["0123456789012345", "0123456789012344"]})
    hashes = with_hash_settings(table, method="dhash", hash_size=8, trim=True, exact=False)
    hashes.to_csv(tmp_path / "digits.csv", index=False)
    again = read_hashes(tmp_path / "digits.csv")
    assert again["hash"].tolist() == ["0123456789012345", "0123456789012344"]
    assert find_pairs(again, max_distance=1)["distance"].tolist() == [1]


def test_tables_made_differently_are_not_compared(phash_table, sample_dir):
    dhash = hash_images(sample_dir, workers=1)
    untrimmed = hash_images(sample_dir, method="phash", trim=False, workers=1)
    for mixed in (pd.concat([dhash, phash_table]), pd.concat([phash_table, untrimmed])):
        with pytest.raises(ValueError, match="mixes hashes made differently"):
            find_pairs(mixed)
    index = HashIndex.from_hashes(phash_table)
    for other, words in ((dhash, "dhash"), (untrimmed, "trim off")):
        with pytest.raises(ValueError, match=words):
            index.search(other)
        with pytest.raises(ValueError, match=words):
            index.add(other)
    with pytest.raises(ValueError, match="dhash"):
        search_dihedral(index, hash_images([sample_dir / "coffee.jpg"], dihedral=True, workers=1))
    with pytest.raises(ValueError, match="not with method='dhash'"):
        HashIndex.from_hashes(phash_table, method="dhash")
    own = phash_table["hash"].dropna().tolist()[:3]
    assert set(index.search(own, max_distance=0)["query"]) == set(own)  # bare hex strings are taken as given


def test_a_table_that_does_not_say_how_it_was_made_is_never_guessed(phash_table, tmp_path):
    old = tmp_path / "old.csv"
    phash_table.drop(columns=list(SETTINGS_COLUMNS)).to_csv(old, index=False)  # as dedupkit 0.1 wrote it
    with pytest.raises(ValueError, match="does not say how it was hashed.*method, hash_size, trim, exact"):
        read_hashes(old)
    with pytest.raises(ValueError, match="pass method, hash_size, trim, exact"):
        HashIndex.from_hashes(pd.read_csv(old))
    stated = read_hashes(old, **PHASH)  # the documented, explicit way
    assert hash_settings(stated) == PHASH and HashIndex.from_hashes(stated).settings == PHASH
    assert HashIndex.from_hashes(pd.read_csv(old), **PHASH).settings == PHASH
    written = write_table(phash_table, tmp_path / "new.csv")
    with pytest.raises(ValueError, match="not with method='dhash'"):
        read_hashes(written, method="dhash")
    with pytest.raises(ValueError, match="says it was made with phash"):
        with_hash_settings(phash_table, method="dhash", hash_size=8, trim=True, exact=False)
    with pytest.raises(ValueError, match="has settings columns"):
        hash_settings(phash_table.drop(columns=["exact"]))


def test_the_index_file_keeps_trim_and_exact(sample_dir, tmp_path):
    exact = hash_images(sample_dir, exact=True, workers=1)
    index = HashIndex.from_hashes(exact)
    assert (index.trim, index.exact) == (False, True)
    index.save(tmp_path / "index.parquet")
    assert HashIndex.load(tmp_path / "index.parquet").settings == index.settings
    with pytest.raises(ValueError, match="not with exact=False"):
        HashIndex.load(tmp_path / "index.parquet", exact=False)
    # a file of dedupkit 0.1: method and hash size only
    table = pq.read_table(tmp_path / "index.parquet")
    meta = {"format": "dedupkit.HashIndex", "version": 1, "method": "dhash", "hash_size": 8}
    pq.write_table(table.replace_schema_metadata({"dedupkit": json.dumps(meta)}), tmp_path / "old.parquet")
    with pytest.raises(ValueError, match="did not record.*pass trim, exact"):
        HashIndex.load(tmp_path / "old.parquet")
    assert HashIndex.load(tmp_path / "old.parquet", trim=False, exact=True).settings == index.settings


def test_search_images_hashes_the_way_the_index_was_made(tmp_path, sample_dir):
    photo = Image.open(sample_dir / "coffee.jpg").convert("RGB").resize((150, 100))
    boxed = tmp_path / "boxed.png"
    ImageOps.expand(photo, border=(0, 40), fill=(0, 0, 0)).save(boxed)
    untrimmed = hash_images([boxed], trim=False, workers=1)
    assert untrimmed["hash"].iloc[0] != hash_images([boxed], workers=1)["hash"].iloc[0]  # trimming matters here
    found = HashIndex.from_hashes(untrimmed).search_images([boxed], max_distance=0)
    assert found["match"].tolist() == [str(boxed)]
    with pytest.raises(TypeError, match="do not pass trim"):
        HashIndex.from_hashes(untrimmed).search_images([boxed], trim=True)


def test_write_table_refuses_what_it_cannot_write_and_is_all_or_nothing(tmp_path):
    table = pd.DataFrame({"path": ["a"], "hash": ["00" * 8]})
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        write_table(table, tmp_path / "pairs.txt")
    with pytest.raises(ValueError, match="does not exist; create it first"):
        write_table(table, tmp_path / "missing" / "pairs.csv")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        write_table(table, tmp_path / "folder.csv")
    target = write_table(table, tmp_path / "pairs.parquet")
    before = target.read_bytes()
    unwritable = pd.DataFrame({"path": [{"a": 1}, 2]})  # Arrow cannot store this column
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        write_table(unwritable, target)
    assert target.read_bytes() == before  # the old file is whole
    assert sorted(os.listdir(tmp_path)) == ["folder.csv", "pairs.parquet"]  # and no temporary file is left


def test_relative_paths_of_a_table_and_of_a_list(tmp_path):
    root = tmp_path / "photos"
    pairs = pd.DataFrame({"path_a": [str(root / "a.jpg")], "path_b": [str(root / "sub" / "b.jpg")], "distance": [3]})
    relative = relative_paths(pairs, root, columns=["path_a", "path_b"])
    assert relative.iloc[0].tolist() == ["a.jpg", "sub/b.jpg", 3]
    assert pairs["path_a"].iloc[0] == str(root / "a.jpg")  # a copy
    assert relative_paths([root / "x.png"], root) == ["x.png"]
    with pytest.raises(ValueError, match="no column"):
        relative_paths(pairs, root)
