"""Groups are stars around the kept file, never chains; one file kept by the documented rule; diameters are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dedupkit import TooManyPairsWarning, codes_to_hex, find_groups, find_pairs, hamming, hash_images
from dedupkit.groups import GROUP_COLUMNS, _compiled_stars, _stars

COLUMNS = ["group", "path", "keep", "size", "diameter", "link_distance", "keep_reason"]


def pairs_of(*rows):
    return pd.DataFrame(rows, columns=["path_a", "path_b", "distance"])


def hashes_of(bits: dict[str, int], pixels: dict[str, int] | None = None) -> pd.DataFrame:
    """A hash table of 64-bit hashes given as integers; ``pixels`` sets width (height 1) for the keep rule."""
    table = pd.DataFrame({"path": list(bits), "hash": [f"{value:016x}" for value in bits.values()]})
    if pixels is not None:
        table["width"] = [pixels.get(p, 1) for p in bits]
        table["height"] = 1
    return table


def low_bits(n: int) -> int:
    return (1 << n) - 1


def check_stars(groups: pd.DataFrame, pairs: pd.DataFrame) -> None:
    """Every file not kept is directly linked to its group's kept file, by a row with its link_distance."""
    linking = pairs if "verified" not in pairs else pairs[pairs["verified"].eq(True).fillna(False)]
    distance = {}
    for a, b, d in zip(linking["path_a"], linking["path_b"], linking["distance"]):
        distance[a, b] = distance[b, a] = min(d, distance.get((a, b), d))
    assert (groups.groupby("group")["keep"].sum() == 1).all()
    assert (groups.groupby("group")["size"].agg(["first", "size"]).pipe(lambda t: t["first"] == t["size"])).all()
    assert (groups.groupby("group")["size"].first() >= 2).all()
    kept = groups[groups["keep"]].set_index("group")["path"]
    assert (groups.loc[groups["keep"], "link_distance"] == 0).all()
    for path, group, link in zip(groups["path"], groups["group"], groups["link_distance"]):
        if path != kept[group]:
            assert distance[path, kept[group]] == link, (path, kept[group])
    assert not groups["path"].duplicated().any()


def test_a_chain_is_split_where_its_ends_differ():
    # a - b - c - d - e: each step 4 bits, the ends 16 bits apart; a is the largest file
    bits = {p: low_bits(4 * i) for i, p in enumerate("abcde")}
    hashes = hashes_of(bits, {"a": 50, "b": 40, "c": 30, "d": 20, "e": 10})
    pairs = find_pairs(hashes, max_distance=4)
    assert len(pairs) == 4  # only neighbours along the chain
    groups = find_groups(pairs, hashes)
    check_stars(groups, pairs)
    assert list(groups.columns) == COLUMNS == list(GROUP_COLUMNS)
    assert groups.groupby("group")["path"].apply(sorted).tolist() == [["a", "b"], ["c", "d"]]
    assert groups["diameter"].tolist() == [4, 4, 4, 4]  # connected components gave one group of diameter 16
    assert "e" not in set(groups["path"])  # its only match, d, is kept with c, and e is no copy of c


def test_a_chain_of_three_splits_when_an_end_is_kept():
    hashes = hashes_of({"a": 0, "b": low_bits(8), "c": low_bits(16)}, {"a": 300, "b": 200, "c": 100})
    pairs = find_pairs(hashes, max_distance=10)  # a-b 8, b-c 8; a and c 16 apart: no pair
    groups = find_groups(pairs, hashes)
    assert groups["path"].tolist() == ["a", "b"] and groups["keep"].tolist() == [True, False]
    assert groups["link_distance"].tolist() == [0, 8]


def test_a_star_stays_one_group():
    # the kept original, and five edits each 5 bits from it in different bits: 10 bits from each other
    leaves = {f"edit{i}": low_bits(5) << (5 * i) for i in range(5)}
    hashes = hashes_of({"original": 0, **leaves}, {"original": 1000})
    pairs = find_pairs(hashes, max_distance=5)
    assert len(pairs) == 5
    groups = find_groups(pairs, hashes)
    check_stars(groups, pairs)
    assert groups["group"].unique().tolist() == [0] and groups["size"].iloc[0] == 6
    assert groups.loc[groups["keep"], "path"].tolist() == ["original"]
    assert groups["diameter"].iloc[0] == 10  # wider than the threshold: `dedupkit find` warns about it
    assert sorted(groups["link_distance"]) == [0, 5, 5, 5, 5, 5]
    # the kept file is the centre: if a leaf is kept (here the shortest path, without hashes), the other
    # leaves are no copies of it and stay out of its group
    assert find_groups(pairs)["path"].tolist() == ["edit0", "original"]


def test_files_a_verifier_called_different_are_never_in_one_group():
    pairs = pd.DataFrame({
        "path_a": ["a", "b", "a", "a", "c"],
        "path_b": ["b", "c", "c", "d", "e"],
        "distance": [3, 2, 4, 1, 0],
        "verified": pd.array([True, True, False, None, True], dtype="boolean"),
    })
    groups = find_groups(pairs)
    check_stars(groups, pairs)
    together = groups.groupby("group")["path"].apply(set).tolist()
    assert not any({"a", "c"} <= members for members in together)
    assert "d" not in set(groups["path"])  # not verified: no link
    assert together == [{"a", "b"}, {"c", "e"}]
    # the same table without the verifier: a keeps all (e has c's hash: it is 4 bits from a too)
    assert find_groups(pairs.drop(columns="verified"))["size"].tolist() == [5] * 5


def test_verified_as_plain_booleans_or_objects():
    rows = {"path_a": ["a", "b", "a"], "path_b": ["b", "c", "c"], "distance": [1, 1, 1]}
    for verified in ([True, True, False], np.array([True, True, False], dtype=object), [True, True, np.nan]):
        groups = find_groups(pd.DataFrame({**rows, "verified": verified}))
        assert groups["path"].tolist() == ["a", "b"], verified


@pytest.mark.parametrize("n_links", [3000, 30000], ids=["sparse", "dense"])
def test_random_graph_every_member_is_linked_to_its_centre(n_links):
    rng = np.random.default_rng(n_links)
    n = 1000
    a, b = rng.integers(0, n, n_links), rng.integers(0, n, n_links)
    names = np.array([f"f{i:04d}" for i in range(n)], dtype=object)
    pairs = pd.DataFrame({"path_a": names[a], "path_b": names[b], "distance": rng.integers(1, 11, n_links),
                          "verified": pd.array(rng.choice([True, False, None], n_links, p=[.5, .4, .1]),
                                               dtype="boolean")})
    pairs = pairs[pairs["path_a"] != pairs["path_b"]]
    hashes = pd.DataFrame({"path": names, "hash": codes_to_hex(rng.integers(0, 256, (n, 8), dtype=np.uint8)),
                           "width": rng.integers(1, 5, n), "height": 1})
    groups = find_groups(pairs, hashes)
    check_stars(groups, pairs)
    negative = pairs[pairs["verified"].eq(False).fillna(False)]
    group_of = dict(zip(groups["path"], groups["group"]))
    for x, y in zip(negative["path_a"], negative["path_b"]):
        assert x not in group_of or group_of[x] != group_of.get(y), (x, y)
    # the kept file is the best by the keep rule within its group (most pixels first)
    best = groups[groups["keep"]].set_index("group")["path"]
    width = hashes.set_index("path")["width"]
    assert all(width[best[g]] == width[members].max() for g, members in groups.groupby("group")["path"])
    assert len(groups) > 300


def test_compiled_and_python_star_loops_agree():
    rng = np.random.default_rng(1)
    n, m = 500, 4000
    ends, others = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = ends != others
    ends, others = ends[keep], others[keep]
    order = np.lexsort((others, ends))
    ends, others = ends[order], others[order]
    indptr = np.r_[0, np.cumsum(np.bincount(ends, minlength=n))]
    negative_ends, negatives = np.sort(rng.integers(0, n, 600)), rng.integers(0, n, 600)
    neg_indptr = np.r_[0, np.cumsum(np.bincount(negative_ends, minlength=n))]
    args = (rng.permutation(n), indptr, others, rng.integers(0, 11, len(others)), neg_indptr, negatives)
    python, compiled = _stars(*args), _compiled_stars()(*args)
    assert all(np.array_equal(x, y) for x, y in zip(python, compiled))


def test_hash_clusters_stay_within_twice_the_threshold():
    rng = np.random.default_rng(3)
    centres = rng.integers(0, 256, (30, 8), dtype=np.uint8)
    bits = np.unpackbits(np.repeat(centres, 30, axis=0), axis=1)
    codes = np.packbits(bits ^ (rng.random(bits.shape) < 0.06), axis=1)
    codes[::7] = codes[1::7][: len(codes[::7])]  # some identical hashes
    hashes = pd.DataFrame({"path": [f"p{i:04d}" for i in range(len(codes))], "hash": codes_to_hex(codes)})
    pairs = find_pairs(hashes, max_distance=8)
    groups = find_groups(pairs, hashes)
    check_stars(groups, pairs)
    assert groups["diameter"].max() <= 16
    code = dict(zip(hashes["path"], codes))
    for _, members in groups.groupby("group"):
        kept = code[members["path"].iloc[0]]
        assert (hamming(np.stack([code[p] for p in members["path"]]), kept) <= 8).all()


def test_the_condensed_table_gives_the_same_groups():
    # 40 copies of one picture, 30 of a close one (3 bits away), 5 of a far one
    values = ["0000000000000000"] * 40 + ["0000000000000007"] * 30 + ["00000000000000ff"] * 5
    hashes = pd.DataFrame({"path": [f"img{i:03d}.jpg" for i in range(len(values))], "hash": values})
    full = find_pairs(hashes, max_distance=4, max_pairs=None)
    with pytest.warns(TooManyPairsWarning):
        condensed = find_pairs(hashes, max_distance=4, max_pairs=100)
    assert len(condensed) < len(full)
    expected = find_groups(full, hashes)
    assert expected["size"].iloc[0] == 70  # the 40 and the 30, around a kept file of the 40
    pd.testing.assert_frame_equal(find_groups(condensed, hashes), expected)


@pytest.mark.parametrize(
    "sizes, kept",
    [({"p1": (100, 100, 10), "p2": (200, 100, 5)}, "p2"),            # most pixels
     ({"long_name": (100, 100, 10), "p2": (100, 100, 10)}, "p2"),    # then the shortest path
     ({"pb": (100, 100, 10), "pa": (100, 100, 10)}, "pa")],          # then alphabetical
    ids=["pixels", "shortest-path", "alphabetical"],
)
def test_keep_rule_without_the_files(sizes, kept):
    """Files that cannot be read are ranked by the hash table's sizes, then by path (tests/test_keep.py: real files)."""
    (first, second) = sizes
    hashes = pd.DataFrame(
        [(path, "00" * 8, w, h, size) for path, (w, h, size) in sizes.items()],
        columns=["path", "hash", "width", "height", "bytes"],
    )
    groups = find_groups(pairs_of((min(first, second), max(first, second), 0)), hashes)
    assert groups.loc[groups["keep"], "path"].tolist() == [kept]


def test_diameter_from_hashes_sees_beyond_the_found_pairs():
    hashes = pd.DataFrame({"path": ["a", "b", "c"], "width": [1, 2, 1], "height": 1,
                           "hash": ["0000000000000000", "000000000000001f", "00000000000003ff"]})
    pairs = find_pairs(hashes, max_distance=5)  # a-b 5, b-c 5, a-c 10 not a pair
    assert len(pairs) == 2
    groups = find_groups(pairs, hashes)  # b is kept: a and c are both its copies
    assert groups["path"].tolist() == ["b", "a", "c"]
    assert groups["diameter"].unique().tolist() == [10]
    assert find_groups(pairs)["diameter"].tolist() == [5, 5]  # without hashes a keeps b: their pair's distance


def test_distances_from_hashes_when_the_table_has_none():
    hashes = hashes_of({"a": 0, "b": low_bits(3)})
    groups = find_groups(pd.DataFrame({"path_a": ["a"], "path_b": ["b"]}), hashes)
    assert groups["link_distance"].tolist() == [0, 3] and groups["diameter"].tolist() == [3, 3]


def test_groups_on_the_sample(sample_dir):
    hashes = hash_images(sample_dir)
    groups = find_groups(find_pairs(hashes), hashes)
    assert groups["group"].nunique() == 11 and len(groups) == 22
    kept = groups.loc[groups["keep"], "path"].str.rsplit("/", n=1).str[-1]
    assert "coffee.jpg" in kept.tolist()  # the full-size original beats the half-size copy


def test_empty_pairs_give_an_empty_table():
    groups = find_groups(pairs_of())
    assert groups.empty and list(groups.columns) == COLUMNS
    only_unverified = pairs_of(("a", "b", 1)).assign(verified=pd.array([None], dtype="boolean"))
    assert find_groups(only_unverified).empty
    with pytest.raises(ValueError, match="path_a"):
        find_groups(pd.DataFrame({"x": [1]}))


def union_find_components(pairs: pd.DataFrame) -> dict[str, str]:
    """Each path's component root, by a plain union-find over every row of the pair table."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(pairs["path_a"], pairs["path_b"]):
        parent[root(a)] = root(b)
    return {x: root(x) for x in parent}


def brute_force_stars(pairs: pd.DataFrame) -> pd.DataFrame:
    """The star rule of find_groups' Notes, slowly: files by the keep rule (here, files of one size with names of
    one length: by name);
    a file in no group becomes a centre and takes each file it is linked to and in no group, nearest first
    (ties: the better-kept file first), skipping a file called different from one it has taken."""
    verified = pairs["verified"] if "verified" in pairs else pd.Series(True, index=pairs.index)
    links: dict[str, list[tuple[int, int, str]]] = {}
    different: set[frozenset[str]] = set()
    for a, b, d, v in zip(pairs["path_a"], pairs["path_b"], pairs["distance"], verified):
        if a == b or pd.isna(v):  # not verified: no link, and no bar
            continue
        if v:
            links.setdefault(a, []).append((int(d), b))
            links.setdefault(b, []).append((int(d), a))
        else:
            different.add(frozenset((a, b)))
    centre: dict[str, str] = {}
    link: dict[str, int] = {}
    for c in sorted(set(pairs["path_a"]) | set(pairs["path_b"])):
        if c in centre or c not in links:
            continue
        centre[c], link[c], taken = c, 0, [c]
        for d, v in sorted(links[c]):
            if v in centre or any(frozenset((v, t)) in different for t in taken):
                continue
            centre[v], link[v] = c, d
            taken.append(v)
    members: dict[str, list[str]] = {}
    for path, c in centre.items():
        members.setdefault(c, []).append(path)
    stars = sorted((sorted(m) for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    rows = [(g, p, p == m[0], len(m), link[p]) for g, m in enumerate(stars) for p in m]
    return pd.DataFrame(rows, columns=["group", "path", "keep", "size", "link_distance"])


@pytest.mark.parametrize("verified", [False, True], ids=["hash-pairs", "verified"])
@pytest.mark.parametrize("exact_up_to", [None, 100], ids=["exact-diameters", "cut-off-at-100"])
def test_groups_match_a_brute_force_star_rule_on_random_pairs(verified, exact_up_to, monkeypatch):
    import dedupkit.groups as groups_module

    if exact_up_to is not None:  # groups above it take the diameter of their found pairs, as groups past 5,000 do
        monkeypatch.setattr(groups_module, "_EXACT_DIAMETER_UP_TO", exact_up_to)
    rng = np.random.default_rng(11 + verified)
    n = 1200
    names = np.array([f"f{i:04d}" for i in range(n)], dtype=object)
    # three hubs kept first (the first names), each linked to its own 450, 200 or 120 files (stars past 256, 100
    # and 64 members), and random pairs among all files
    hubs = [(0, 450), (1, 200), (2, 120)]
    spokes = np.split(rng.permutation(np.arange(3, n))[:770], [450, 650])
    a = np.concatenate([np.full(k, h) for h, k in hubs] + [rng.integers(0, n, 2500)])
    b = np.concatenate([*spokes, rng.integers(0, n, 2500)])
    # the hubs' links nearer than the random pairs, so a group's largest pair distance is one between two spokes
    low = 0 if verified else 1  # verified pairs at distance 0 stay separate files; hash pairs at 0 would merge
    distance = np.r_[rng.integers(low, 11, 770), rng.integers(11, 65, 2500)]
    pairs = pd.DataFrame({"path_a": names[a], "path_b": names[b], "distance": distance})
    if verified:
        pairs["verified"] = pd.array(rng.choice([True, False, None], len(a), p=[.7, .2, .1]), dtype="boolean")
    codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    codes[10:200:3] = codes[4]  # identical hashes among members
    hashes = pd.DataFrame({"path": names, "hash": codes_to_hex(codes), "width": 100, "height": 100})

    groups = find_groups(pairs, hashes, read_files=False)
    expected = brute_force_stars(pairs)
    assert expected["size"].max() > 256 and (expected.groupby("group")["size"].first() > 64).sum() >= 3
    got = groups[["group", "path", "keep", "size", "link_distance"]]
    pd.testing.assert_frame_equal(got, expected.astype({"path": "string"}))
    check_stars(groups, pairs)

    # each group within one connected component of the pair graph
    component = union_find_components(pairs)
    assert (groups.groupby("group")["path"].agg(lambda p: len({component[x] for x in p})) == 1).all()
    # diameters: the largest distance between any two members' hashes, by brute force over all member pairs;
    # past the cut-off, the largest distance of a pair-table row inside the group
    code = dict(zip(names, codes))
    limit = groups_module._EXACT_DIAMETER_UP_TO
    inside = dict(zip(groups["path"], groups["group"]))
    for g, members in groups.groupby("group")["path"]:
        size = len(members)
        if size <= limit:
            stack = np.stack([code[p] for p in members])
            want = max(int(hamming(stack[i], stack[j])) for i in range(size) for j in range(i + 1, size))
        else:
            want = max(int(d) for x, y, d in zip(pairs["path_a"], pairs["path_b"], pairs["distance"])
                       if inside.get(x) == g and inside.get(y) == g)
        assert (groups.loc[members.index, "diameter"] == want).all(), (g, size)
    assert (groups["size"] > limit).any() == (exact_up_to is not None)
