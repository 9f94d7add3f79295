"""dedupkit.dihedral: mirrored and turned copies are found, with the orientation that maps them."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image, ImageOps

from dedupkit import HashIndex, hash_images
from dedupkit.dihedral import ORIENTATIONS, dihedral_hex, find_pairs_dihedral, search_dihedral
from dedupkit.hashing import hash_hex


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
