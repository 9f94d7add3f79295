"""find_pairs and HashIndex are exact: compared with brute-force popcount, boundary included."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dedupkit import HashIndex, codes_to_hex, find_pairs, hamming, hash_images, with_hash_settings
from dedupkit.codejoin import faiss_radius, pairs_from_codes


def brute_force_pairs(codes: np.ndarray, max_distance: int) -> set[tuple[int, int, int]]:
    """The slow, obvious reference: every pair, Python popcount."""
    ints = [int.from_bytes(row.tobytes(), "big") for row in codes]
    return {(i, j, bin(ints[i] ^ ints[j]).count("1"))
            for i, j in itertools.combinations(range(len(ints)), 2)
            if bin(ints[i] ^ ints[j]).count("1") <= max_distance}


def planted_codes(n: int, n_bytes: int, seed: int) -> np.ndarray:
    """Random codes plus near copies at chosen distances (0 to 12 bits) and exact duplicates."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    copies = []
    for k, row in enumerate(codes[: n // 4]):
        bits = np.unpackbits(row)
        flip = rng.choice(len(bits), size=k % 13, replace=False)
        bits[flip] ^= 1
        copies.append(np.packbits(bits))
    return np.vstack([codes, np.array(copies), codes[:5]])


def table(codes: np.ndarray) -> pd.DataFrame:
    """A hash table of planted codes, labelled as dHash of their length (so an index can be built from it)."""
    hashes = pd.DataFrame({"path": [f"img{i:05d}.jpg" for i in range(len(codes))], "hash": codes_to_hex(codes)})
    return with_hash_settings(hashes, method="dhash", hash_size=int(np.sqrt(codes.shape[1] * 8)), trim=True,
                              exact=False)


@pytest.mark.parametrize("n_bytes", [8, 32], ids=["64bit", "256bit"])
@pytest.mark.parametrize("max_distance", [0, 5, 10, 12])
def test_pairs_equal_brute_force(n_bytes, max_distance):
    codes = planted_codes(300, n_bytes, seed=max_distance)
    i, j, d = pairs_from_codes(codes, max_distance=max_distance)
    found = set(zip(i.tolist(), j.tolist(), d.tolist()))
    assert len(found) == len(i)  # no pair twice
    assert found == brute_force_pairs(codes, max_distance)


def test_find_pairs_equals_brute_force_with_paths_and_order():
    codes = planted_codes(200, 8, seed=1)
    pairs = find_pairs(table(codes), max_distance=10)
    expected = sorted((d, f"img{i:05d}.jpg", f"img{j:05d}.jpg") for i, j, d in brute_force_pairs(codes, 10))
    assert list(zip(pairs["distance"], pairs["path_a"], pairs["path_b"])) == expected
    assert (pairs["path_a"] < pairs["path_b"]).all()


def test_max_distance_is_inclusive_at_the_boundary():
    base = np.zeros(8, np.uint8)
    at_ten = np.packbits(np.r_[np.ones(10, np.uint8), np.zeros(54, np.uint8)])
    at_eleven = np.packbits(np.r_[np.ones(11, np.uint8), np.zeros(53, np.uint8)])
    codes = np.vstack([base, at_ten])
    assert find_pairs(table(codes), max_distance=10)["distance"].tolist() == [10]
    assert find_pairs(table(codes), max_distance=9).empty
    assert find_pairs(table(np.vstack([base, at_eleven])), max_distance=10).empty
    assert faiss_radius(10) == 11
    index = HashIndex.from_hashes(table(codes[:1]))
    assert index.search(codes_to_hex(codes[1:]), max_distance=10)["distance"].tolist() == [10]
    assert index.search(codes_to_hex(codes[1:]), max_distance=9).empty


def test_pairs_on_the_sample_equal_brute_force(sample_dir):
    hashes = hash_images(sample_dir)
    good = hashes[hashes["error"].isna()].reset_index(drop=True)
    from dedupkit import hex_to_codes
    codes = hex_to_codes(good["hash"])
    pairs = find_pairs(hashes, max_distance=20)
    expected = {tuple(sorted((good["path"][i], good["path"][j]))) + (d,) for i, j, d in brute_force_pairs(codes, 20)}
    assert set(zip(pairs["path_a"], pairs["path_b"], pairs["distance"])) == expected
    assert len(expected) > 20


def test_a_table_read_back_from_csv_works(tmp_path, sample_dir):
    hashes = hash_images(sample_dir)
    hashes.to_csv(tmp_path / "hashes.csv", index=False)
    again = pd.read_csv(tmp_path / "hashes.csv")
    pd.testing.assert_frame_equal(find_pairs(again), find_pairs(hashes))
    by_hand = pd.DataFrame({"path": ["a", "b", "c"], "hash": ["ff00ff00ff00ff00", "ff00ff00ff00ff01", None]})
    assert find_pairs(by_hand)[["path_a", "path_b"]].values.tolist() == [["a", "b"]]


@pytest.mark.parametrize(
    "frame, kwargs, error, words",
    [(pd.DataFrame({"file": ["a"], "hash": ["00"]}), {}, ValueError, "path"),
     (pd.DataFrame({"path": ["a", "b"], "hash": ["00ff", "00ff00ff"]}), {}, ValueError, "same length"),
     (pd.DataFrame({"path": ["a"], "hash": ["xyz0"]}), {}, ValueError, "hex"),
     (pd.DataFrame({"path": ["a"], "hash": ["00" * 8]}), {"max_distance": 65}, ValueError, "between 0 and 64"),
     (pd.DataFrame({"path": ["a"], "hash": ["00" * 8]}), {"max_distance": -1}, ValueError, "between 0 and 64"),
     (pd.DataFrame({"path": ["a"], "hash": ["00" * 8]}), {"max_distance": 2.5}, TypeError, "whole number")],
    ids=["no-path-column", "mixed-lengths", "bad-hex", "distance-too-big", "distance-negative", "distance-float"],
)
def test_bad_tables_are_clear_errors(frame, kwargs, error, words):
    with pytest.raises(error, match=words):
        find_pairs(frame, **kwargs)


def test_empty_and_single_tables():
    empty = pd.DataFrame({"path": pd.Series([], dtype=str), "hash": pd.Series([], dtype=str)})
    assert list(find_pairs(empty).columns) == ["path_a", "path_b", "distance"]
    assert find_pairs(empty).empty
    assert find_pairs(pd.DataFrame({"path": ["a"], "hash": ["00" * 8]})).empty


def test_hash_index_range_and_knn_equal_brute_force():
    codes = planted_codes(400, 8, seed=3)
    reference, queries = codes[:300], codes[300:]
    index = HashIndex.from_hashes(table(reference))
    assert len(index) == 300
    found = index.search(codes_to_hex(queries), max_distance=8)
    expected = set()
    for q, code in zip(codes_to_hex(queries), queries):
        distances = hamming(reference, code)
        expected |= {(q, f"img{m:05d}.jpg", int(distances[m])) for m in np.flatnonzero(distances <= 8)}
    assert set(zip(found["query"], found["match"], found["distance"])) == expected
    nearest = index.search(codes_to_hex(queries[:20]), k=3, max_distance=None)
    assert nearest.groupby("query").size().eq(3).all()
    for q, code in zip(codes_to_hex(queries[:20]), queries[:20]):
        best = np.sort(hamming(reference, code))[:3]
        assert nearest[nearest["query"] == q]["distance"].tolist() == best.tolist()


def test_hash_index_save_load_remove(tmp_path, sample_dir):
    hashes = hash_images(sample_dir)
    index = HashIndex.from_hashes(hashes)
    assert len(index) == 41 and index.method == "dhash"
    index.save(tmp_path / "index.parquet")
    loaded = HashIndex.load(tmp_path / "index.parquet")
    assert len(loaded) == 41 and loaded.hash_size == 8 and (loaded.keys == index.keys).all()
    assert np.array_equal(loaded.codes(), index.codes())
    coffee = str(sample_dir / "coffee.jpg")
    assert loaded.remove([coffee]) == 1 and len(loaded) == 40
    half = str(sample_dir / "coffee__half_size.jpg")
    hits = loaded.search_images([half], max_distance=10)
    assert hits["match"].tolist() == [half]  # only itself: its original was removed
    hits = index.search_images([half], max_distance=10)
    assert sorted(hits["match"]) == [coffee, half]
    with pytest.raises(FileNotFoundError):
        HashIndex.load(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_text("junk")
    with pytest.raises(ValueError, match="not a dedupkit index"):
        HashIndex.load(tmp_path / "junk.parquet")


def test_hash_index_refuses_codes_of_another_length():
    index = HashIndex(hash_size=8)
    with pytest.raises(ValueError, match="64-bit"):
        index.add_codes(["a"], np.zeros((1, 32), np.uint8))


def test_search_arrays_agree_with_the_table():
    codes = planted_codes(200, 8, seed=5)
    index = HashIndex.from_hashes(table(codes[:150]))
    names = [f"q{i}" for i in range(len(codes) - 150)]
    for options in ({"max_distance": 9}, {"k": 4, "max_distance": None}, {"k": 2, "max_distance": 12}):
        q, keys, d = index.search_arrays(codes[150:], **options)
        found = index.search_codes(names, codes[150:], **options)
        assert len(found) > 0
        assert sorted(zip([f"q{i}" for i in q], keys, d.tolist())) == sorted(
            zip(found["query"], found["match"], found["distance"]))
