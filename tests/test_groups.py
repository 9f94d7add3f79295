"""Groups are connected components; one file kept by the documented rule; diameters are right."""

from __future__ import annotations

import pandas as pd
import pytest

from dedupkit import find_groups, find_pairs, hash_images


def pairs_of(*rows):
    return pd.DataFrame(rows, columns=["path_a", "path_b", "distance"])


def test_chains_join_into_one_group_and_groups_are_numbered_by_size():
    pairs = pairs_of(("a", "b", 2), ("b", "c", 3), ("x", "y", 1))
    groups = find_groups(pairs)
    assert list(groups.columns) == ["group", "path", "keep", "size", "diameter"]
    assert groups.groupby("group")["path"].apply(sorted).tolist() == [["a", "b", "c"], ["x", "y"]]
    assert groups.groupby("group")["keep"].sum().tolist() == [1, 1]
    assert groups.groupby("group")["size"].first().tolist() == [3, 2]
    # without hashes: the largest found pair distance, and the shortest path is kept
    assert groups.groupby("group")["diameter"].first().tolist() == [3, 1]
    assert groups["keep"].iloc[0] and groups["path"].iloc[0] == "a"


@pytest.mark.parametrize(
    "sizes, kept",
    [({"p1": (100, 100, 10), "p2": (200, 100, 5)}, "p2"),            # most pixels
     ({"p1": (100, 100, 10), "p2": (100, 100, 50)}, "p2"),           # then the largest file
     ({"long_name": (100, 100, 10), "p2": (100, 100, 10)}, "p2"),    # then the shortest path
     ({"pb": (100, 100, 10), "pa": (100, 100, 10)}, "pa")],          # then alphabetical
    ids=["pixels", "bytes", "shortest-path", "alphabetical"],
)
def test_keep_rule(sizes, kept):
    (first, second) = sizes
    hashes = pd.DataFrame(
        [(path, "00" * 8, w, h, size) for path, (w, h, size) in sizes.items()],
        columns=["path", "hash", "width", "height", "bytes"],
    )
    groups = find_groups(pairs_of((min(first, second), max(first, second), 0)), hashes)
    assert groups.loc[groups["keep"], "path"].tolist() == [kept]


def test_diameter_from_hashes_sees_beyond_the_found_pairs():
    hashes = pd.DataFrame({"path": ["a", "b", "c"],
                           "hash": ["0000000000000000", "000000000000001f", "00000000000003ff"]})
    pairs = find_pairs(hashes, max_distance=5)  # a-b 5, b-c 5, a-c 10 not a pair
    assert len(pairs) == 2
    groups = find_groups(pairs, hashes)
    assert groups["diameter"].unique().tolist() == [10]
    assert find_groups(pairs)["diameter"].unique().tolist() == [5]


def test_groups_on_the_sample(sample_dir):
    hashes = hash_images(sample_dir)
    groups = find_groups(find_pairs(hashes), hashes)
    assert groups["group"].nunique() == 11 and len(groups) == 22
    kept = groups.loc[groups["keep"], "path"].str.rsplit("/", n=1).str[-1]
    assert "coffee.jpg" in kept.tolist()  # the full-size original beats the half-size copy


def test_empty_pairs_give_an_empty_table():
    groups = find_groups(pairs_of())
    assert groups.empty and list(groups.columns) == ["group", "path", "keep", "size", "diameter"]
    with pytest.raises(ValueError, match="path_a"):
        find_groups(pd.DataFrame({"x": [1]}))
