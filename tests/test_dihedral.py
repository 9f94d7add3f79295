"""dedupkit.dihedral: mirrored and turned copies are found, with the orientation that maps them."""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

from dedupkit import HashIndex, TooManyPairsWarning, hash_images
from dedupkit.dihedral import find_pairs_dihedral, search_dihedral
from dedupkit.hashing import codes_to_hex, dihedral_hex, hamming, hash_hex
from dedupkit.orientations import INVERSE, ORIENTATIONS


@pytest.fixture(scope="module")
def turned_dir(tmp_path_factory, originals):
    """Two photos; the first also mirrored and turned 90° counter-clockwise (PNG, so no JPEG loss)."""
    root = tmp_path_factory.mktemp("turned")
    first = Image.open(originals[0]).convert("RGB").resize((96, 64))
    second = Image.open(originals[1]).convert("RGB").resize((96, 64))
    first.save(root / "a.png")
    second.save(root / "b.png")
    first.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "a_mirror.png")
    first.transpose(Image.Transpose.ROTATE_90).save(root / "a_turned.png")
    return root


def test_dihedral_hex_holds_the_hash_of_each_orientation(photo):
    small = photo.resize((80, 60))
    combined = dihedral_hex(small, method="phash")
    assert len(ORIENTATIONS) == 8 and ORIENTATIONS[0] == "identity"
    assert combined[:16] == hash_hex(small, method="phash")
    mirror = ORIENTATIONS.index("mirror")
    assert combined[16 * mirror : 16 * mirror + 16] == hash_hex(small.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                                                method="phash")


def test_find_pairs_dihedral_finds_the_mirror_and_names_the_orientation(turned_dir):
    hashes = hash_images(turned_dir, dihedral=True, workers=1)
    assert hashes["hash_dihedral"].str.len().eq(128).all()
    pairs = find_pairs_dihedral(hashes, max_distance=6)
    found = {(p.rsplit("/", 1)[1], q.rsplit("/", 1)[1]): o
             for p, q, o in zip(pairs["path_a"], pairs["path_b"], pairs["orientation"])}
    assert found[("a.png", "a_mirror.png")] == "mirror"
    assert found[("a.png", "a_turned.png")] == "rotate_90"  # a turned 90° counter-clockwise gives a_turned
    assert found[("a_mirror.png", "a_turned.png")] in ("transpose", "transverse")
    assert not any("b.png" in pair for pair in found)
    assert list(pairs.columns) == ["path_a", "path_b", "distance", "orientation"]
    assert pairs.loc[pairs["orientation"] == "mirror", "distance"].max() <= 2


def test_row_order_does_not_change_the_pairs(turned_dir):
    hashes = hash_images(turned_dir, dihedral=True, workers=1)
    shuffled = hashes.sample(frac=1, random_state=3).reset_index(drop=True)
    assert find_pairs_dihedral(shuffled, max_distance=6).equals(find_pairs_dihedral(hashes, max_distance=6))


def test_a_plain_find_misses_what_the_dihedral_one_finds(turned_dir):
    from dedupkit import find_pairs

    hashes = hash_images(turned_dir, dihedral=True, workers=1)
    assert find_pairs(hashes, max_distance=6).empty
    assert len(find_pairs_dihedral(hashes, max_distance=6)) == 3


def test_search_dihedral_reports_how_to_turn_the_query(turned_dir):
    reference = hash_images([turned_dir / "a.png", turned_dir / "b.png"], workers=1)
    queries = hash_images([turned_dir / "a_turned.png", turned_dir / "a_mirror.png"], dihedral=True, workers=1)
    found = search_dihedral(HashIndex.from_hashes(reference), queries, max_distance=6)
    by_query = dict(zip(found["query"].str.rsplit("/", n=1).str[1], found["orientation"]))
    assert by_query == {"a_turned.png": "rotate_270", "a_mirror.png": "mirror"}
    assert set(found["match"].str.rsplit("/", n=1).str[1]) == {"a.png"}


def test_dihedral_needs_the_dihedral_column(turned_dir):
    hashes = hash_images(turned_dir, workers=1)
    with pytest.raises(ValueError, match="dihedral=True"):
        find_pairs_dihedral(hashes)
    empty = pd.DataFrame({"path": pd.array([], "string"), "hash": pd.array([], "string"),
                          "hash_dihedral": pd.array([], "string")})
    assert find_pairs_dihedral(empty).empty


def test_cli_find_dihedral_and_trim(tmp_path, turned_dir):
    from dedupkit.cli import main

    ImageOps.expand(Image.open(turned_dir / "b.png"), border=(0, 20), fill=(0, 0, 0)).save(tmp_path / "b_boxed.png")
    assert main(["find", str(turned_dir), "-o", str(tmp_path / "pairs.csv"), "--dihedral", "--max-distance", "6",
                 "--no-progress", "--no-verify"]) == 0
    pairs = pd.read_csv(tmp_path / "pairs.csv")
    assert list(pairs.columns) == ["path_a", "path_b", "distance", "orientation", "source"]
    assert ("a.png", "a_mirror.png", "mirror") in set(zip(pairs["path_a"], pairs["path_b"], pairs["orientation"]))
    for trim, found in (("--no-trim", 0), ("--trim", 1)):
        out = tmp_path / f"against{trim}.csv"
        assert main(["find", str(tmp_path), "--against", str(turned_dir), "-o", str(out), "--dihedral", trim,
                     "--max-distance", "6", "--no-progress", "--no-verify"]) == 0
        matches = pd.read_csv(out)
        assert (matches["path"] == "b_boxed.png").sum() == found, matches


def _planted_dihedral(n: int, n_bytes: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A table of random 8-orientation codes: some rows are a turned near-copy of another, some identical."""
    rng = np.random.default_rng(seed)
    turned = rng.integers(0, 256, size=(n, 8, n_bytes), dtype=np.uint8)
    for b in range(1, n, 3):  # b looks like a (earlier row) turned by k, give or take a few bits
        a, k = int(rng.integers(0, b)), int(rng.integers(0, 8))
        turned[b, 0] = turned[a, k]
        for bit in rng.choice(n_bytes * 8, size=int(rng.integers(0, 5)), replace=False):
            turned[b, 0, bit // 8] ^= np.uint8(1 << (bit % 8))
    turned[n - 4 :] = turned[n - 8 : n - 4]  # exact copies: one value held by two rows
    table = pd.DataFrame({
        "path": [f"img{i:04d}.jpg" for i in rng.permutation(n)],
        "hash": codes_to_hex(turned[:, 0]),
        "hash_dihedral": codes_to_hex(turned.reshape(n, -1)),
    })
    return table, turned


def _brute_force(table: pd.DataFrame, turned: np.ndarray, max_distance: int) -> dict:
    """{(path_a, path_b): distance} over every pair and every orientation, in both directions."""
    found = {}
    paths = table["path"].tolist()
    for i, j in combinations(range(len(paths)), 2):
        d = min(hamming(turned[i], turned[j, 0]).min(), hamming(turned[j], turned[i, 0]).min())
        if d <= max_distance:
            found[tuple(sorted((paths[i], paths[j])))] = int(d)
    return found


@pytest.mark.parametrize("n_bytes", [8, 32], ids=["64-bit", "256-bit"])
@pytest.mark.parametrize("method", ["faiss", "mih"])
def test_find_pairs_dihedral_matches_a_brute_force_search(method, n_bytes):
    table, turned = _planted_dihedral(120, n_bytes, seed=n_bytes)
    max_distance = 4 if n_bytes == 8 else 20
    pairs = find_pairs_dihedral(table, max_distance=max_distance, method=method)
    expected = _brute_force(table, turned, max_distance)
    assert len(expected) > 30
    assert dict(zip(zip(pairs["path_a"], pairs["path_b"]), pairs["distance"])) == expected
    assert len(pairs) == len(expected)  # each pair once
    at_zero = find_pairs_dihedral(table, max_distance=0, method=method)
    assert dict(zip(zip(at_zero["path_a"], at_zero["path_b"]), at_zero["distance"])) == {
        pair: d for pair, d in expected.items() if d == 0}
    # the reported orientation is one that gives the distance: path_a turned by it is near path_b
    row = {p: i for i, p in enumerate(table["path"])}
    for a, b, d, how in pairs.itertuples(index=False):
        k = ORIENTATIONS.index(how)
        i, j = row[a], row[b]
        assert hamming(turned[i, k], turned[j, 0]) == d or hamming(turned[j, INVERSE[k]], turned[i, 0]) == d


def test_find_pairs_dihedral_condenses_past_max_pairs_and_keeps_the_groups():
    table, turned = _planted_dihedral(60, 8, seed=3)
    blank = table.iloc[:1]
    table = pd.concat([table] + [blank.assign(path=f"blank{i:03d}.png") for i in range(40)], ignore_index=True)
    full = find_pairs_dihedral(table, max_distance=4, max_pairs=None)
    with pytest.warns(TooManyPairsWarning, match="condensed"):
        condensed = find_pairs_dihedral(table, max_distance=4, max_pairs=100)
    assert len(condensed) < len(full) and len(full) > 100

    def components(pairs):
        parent = {p: p for p in table["path"]}

        def root(p):
            while parent[p] != p:
                p = parent[p]
            return p

        for a, b in zip(pairs["path_a"], pairs["path_b"]):
            parent[root(a)] = root(b)
        groups = {}
        for p in parent:
            groups.setdefault(root(p), set()).add(p)
        return sorted(sorted(g) for g in groups.values())

    assert components(condensed) == components(full)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_pairs_dihedral(table, max_distance=4, max_pairs=len(full)).equals(full)
