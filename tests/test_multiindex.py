"""The multi-index join and every search path are exact: compared with brute-force popcount.

Small seeded data with planted neighbours, pairs at exactly ``max_distance``
(found) and at ``max_distance + 1`` (not found), identical hashes, tiny
inputs, 16- to 256-bit codes, and every way of splitting the bits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dedupkit import codejoin, codes_to_hex, find_groups, find_pairs
from dedupkit._mih_plan import ball_size, plan_blocks
from dedupkit.codejoin import pairs_from_codes, value_pairs_from_codes
from dedupkit.multiindex import pack_words, self_join
from dedupkit.search import TooManyPairsWarning, find_value_pairs


def brute_force(codes: np.ndarray, max_distance: int) -> set[tuple[int, int, int]]:
    """Every pair ``i < j`` within ``max_distance``, by numpy popcount over all pairs."""
    words = pack_words(codes)
    found = set()
    for i in range(len(words) - 1):
        d = np.bitwise_count(words[i] ^ words[i + 1:]).sum(axis=1)
        for j in np.flatnonzero(d <= max_distance):
            found.add((i, i + 1 + int(j), int(d[j])))
    return found


def flip(row: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``row`` with ``k`` distinct random bits flipped."""
    bits = np.unpackbits(row)
    bits[rng.choice(len(bits), size=k, replace=False)] ^= 1
    return np.packbits(bits)


def planted(n: int, n_bytes: int, max_distance: int, seed: int) -> np.ndarray:
    """Random codes, copies at 0 .. max_distance + 2 bits (both sides of the boundary), and exact duplicates."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    top = min(max_distance + 2, n_bytes * 8)
    copies = [flip(codes[k], k % (top + 1), rng) for k in range(n // 3)]
    # a pair at exactly the boundary and one just past it, next to each other
    copies += [flip(codes[-1], min(max_distance, n_bytes * 8), rng), flip(codes[-2], top, rng)]
    # a small cluster of near-identical codes and a set of identical ones
    copies += [flip(codes[-3], 1 + k % 3, rng) for k in range(12)]
    return np.vstack([codes, np.array(copies), codes[:4], codes[:1], codes[:1]])


def as_set(i, j, d) -> set[tuple[int, int, int]]:
    found = set(zip(np.asarray(i).tolist(), np.asarray(j).tolist(), np.asarray(d).tolist()))
    assert len(found) == len(i), "a pair was reported twice"
    return found


@pytest.mark.parametrize("n_bytes", [8, 32, 2, 18], ids=["64bit", "256bit", "16bit", "144bit"])
@pytest.mark.parametrize("max_distance", [0, 1, 5, 10, 12])
def test_every_block_count_equals_brute_force(n_bytes, max_distance):
    codes = planted(150, n_bytes, max_distance, seed=max_distance * 100 + n_bytes)
    expected = brute_force(codes, max_distance)
    assert any(d == max_distance for _, _, d in expected) or max_distance > n_bytes * 8
    words = pack_words(codes)
    for n_blocks in [None, 0, 1, 2, 3, 4, 5, 8]:
        try:
            plan = plan_blocks(len(codes), n_bytes * 8, max_distance, n_blocks=n_blocks)
        except ValueError:  # more blocks than bits, or blocks too wide for a bucket table
            continue
        if max(ball_size(w, t) for w, t in zip(plan.width, plan.budget)) > 20_000:
            continue  # correct too, but millions of neighbour buckets to probe: slow for a test
        # a tiny capacity also exercises the re-run of overflowing work units
        for capacity in (4096, 2) if n_blocks in (None, 4) else (4096,):
            found = as_set(*self_join(words, max_distance, n_bits=n_bytes * 8, n_blocks=n_blocks,
                                      unit_capacity=capacity))
            assert found == expected, (plan.describe(), capacity)


def test_the_boundary_is_inclusive_in_every_plan():
    base = np.zeros((1, 8), np.uint8)
    at_ten = np.packbits(np.r_[np.ones(10, np.uint8), np.zeros(54, np.uint8)])[None]
    at_eleven = np.packbits(np.r_[np.zeros(53, np.uint8), np.ones(11, np.uint8)])[None]
    words = pack_words(np.vstack([base, at_ten, at_eleven]))  # 0-1: 10 bits, 0-2: 11, 1-2: 21
    for n_blocks in [None, 0, 2, 3, 4, 5, 6, 8, 11]:
        assert as_set(*self_join(words, 10, n_blocks=n_blocks)) == {(0, 1, 10)}, n_blocks
        assert as_set(*self_join(words, 11, n_blocks=n_blocks)) == {(0, 1, 10), (0, 2, 11)}, n_blocks
        assert as_set(*self_join(words, 9, n_blocks=n_blocks)) == set(), n_blocks


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_inputs(n):
    codes = np.zeros((n, 8), np.uint8)
    i, j, d = self_join(pack_words(codes), 10)
    assert as_set(i, j, d) == {(0, 1, 0)} if n == 2 else len(i) == 0
    for method in codejoin.SEARCH_METHODS:
        assert as_set(*pairs_from_codes(codes, max_distance=10, method=method)) == brute_force(codes, 10)


def test_identical_rows_inside_the_join_pair_once():
    codes = np.vstack([np.full((5, 8), 7, np.uint8), np.zeros((3, 8), np.uint8)])
    expected = brute_force(codes, 3)
    assert len(expected) == 10 + 3
    for n_blocks in [None, 0, 4]:
        assert as_set(*self_join(pack_words(codes), 3, n_blocks=n_blocks)) == expected


PLAN_CASES = [(n_bits, r, n) for n_bits in (16, 64, 144, 256) for r in (0, 3, 10, 40) for n in (100, 50_000, 10_000_000)
              if r <= n_bits]  # a distance beyond the code's bits has no plan to check


@pytest.mark.parametrize(("n_bits", "max_distance", "n"), PLAN_CASES, ids=lambda v: str(v))
def test_plans_obey_the_pigeonhole_rule(n_bits, max_distance, n):
    chosen = plan_blocks(n, n_bits, max_distance)
    if chosen.n_blocks == 0:  # brute force, the one block-less plan
        assert (chosen.word, chosen.shift, chosen.width, chosen.budget) == ((0,), (0,), (0,), (0,))
    # the plan chosen, and plans forced to a few block counts (so each case checks a plan with blocks)
    plans = [chosen] * (chosen.n_blocks > 0) + [plan_blocks(n, n_bits, max_distance, n_blocks=k) for k in (1, 2, 4)]
    rng = np.random.default_rng(n_bits * 1000 + max_distance)
    for plan in plans:
        assert plan.n_blocks == len(plan.width) > 0
        # enough budget: sum(t + 1) > r, so some block is within its budget
        assert sum(t + 1 for t in plan.budget) >= max_distance + 1
        assert min(plan.budget) >= 0 and max(plan.width) <= 22
        bits, blocks = set(), []
        for word, shift, width in zip(plan.word, plan.shift, plan.width):
            block = {word * 64 + shift + b for b in range(width)}
            assert not block & bits and max(block) < n_bits  # disjoint, inside the code
            bits |= block
            blocks.append(block)
        # so a pair at exactly max_distance differs in at most its budget in some block, wherever the bits fall
        for _ in range(200):
            differ = set(rng.choice(n_bits, size=max_distance, replace=False).tolist())
            assert any(len(differ & block) <= t for block, t in zip(blocks, plan.budget)), (plan, sorted(differ))


def test_block_count_follows_size():
    # about 64 / log2(n) for random 64-bit codes at distance 10, fewer for large n
    assert plan_blocks(1_000_000, 64, 10).n_blocks == 4
    assert plan_blocks(10_000_000, 64, 10).n_blocks == 4
    assert plan_blocks(100_000, 64, 10).n_blocks in (5, 6)
    assert plan_blocks(200, 64, 10).n_blocks == 0  # brute force for a handful


@pytest.mark.parametrize("n_bytes", [8, 32], ids=["64bit", "256bit"])
def test_each_search_path_gives_the_same_pairs(n_bytes, monkeypatch):
    codes = planted(400, n_bytes, 10, seed=7)
    expected = brute_force(codes, 10)
    results = {method: as_set(*pairs_from_codes(codes, max_distance=10, method=method))
               for method in codejoin.SEARCH_METHODS}
    assert all(found == expected for found in results.values())
    # the automatic choice, on both sides of its threshold
    assert codejoin.choose_method(400, n_bytes * 8, 10) == "faiss"
    monkeypatch.setattr(codejoin, "_MIH_FROM", 100)
    assert codejoin.choose_method(400, n_bytes * 8, 10) == "mih"
    assert as_set(*pairs_from_codes(codes, max_distance=10)) == expected
    assert codejoin.choose_method(1_000_000, 64, 10) == "mih"
    assert codejoin.choose_method(1_000_000, 256, 40) == "mih"


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="method must be one of"):
        pairs_from_codes(np.zeros((3, 8), np.uint8), method="bk-tree")


def clustered_table(seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Random hashes, 40 identical ones, and a burst of 30 near-identical ones."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(200, 8), dtype=np.uint8)
    near = [flip(codes[0], 1 + k % 3, rng) for k in range(30)]
    codes = np.vstack([codes, np.repeat(codes[1:2], 40, axis=0), np.array(near)])
    order = rng.permutation(len(codes))  # paths not in the order of the codes
    frame = pd.DataFrame({"path": [f"img{k:04d}.jpg" for k in order], "hash": codes_to_hex(codes)})
    return frame, codes


def test_huge_clusters_give_the_condensed_table_with_a_warning_and_the_same_groups():
    frame, codes = clustered_table()
    full = find_pairs(frame, max_distance=10, max_pairs=None)
    assert len(full) == len(brute_force(codes, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_pairs(frame, max_distance=10, max_pairs=len(full)).equals(full)  # at the cap: all
    with pytest.warns(TooManyPairsWarning, match="condensed"):
        condensed = find_pairs(frame, max_distance=10, max_pairs=len(full) - 1)
    assert len(condensed) < len(full) and set(map(tuple, condensed.values.tolist())) <= set(
        map(tuple, full.values.tolist()))
    # each pair of distinct values once, and the copies of a value linked to its first path
    values = find_value_pairs(frame, max_distance=10)
    distinct = values[values.hash_a != values.hash_b]
    copies = (values.loc[values.hash_a == values.hash_b, "count_a"] - 1).sum()
    assert len(condensed) == len(distinct) + copies
    pd.testing.assert_frame_equal(find_groups(condensed, frame), find_groups(full, frame))
    # the counts stand for exactly the full table's pairs
    same = values.hash_a == values.hash_b
    represented = np.where(same, values.count_a * (values.count_a - 1) // 2, values.count_a * values.count_b)
    assert represented.sum() == len(full)


@pytest.mark.parametrize("max_pairs", [None, 50, 1000])  # 1000: the wide search condensed, the narrowest not
def test_threshold_tuning_by_filtering_one_search(max_pairs):
    frame, _ = clustered_table(seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TooManyPairsWarning)
        wide = find_pairs(frame, max_distance=14, max_pairs=max_pairs)
        checked = 0
        for t in (0, 3, 10, 14):
            narrow = find_pairs(frame, max_distance=t, max_pairs=max_pairs)
            filtered = wide[wide.distance <= t].reset_index(drop=True)
            if max_pairs is None or len(narrow) == len(filtered):
                pd.testing.assert_frame_equal(filtered, narrow)
            checked += 1
            # condensed tables may differ row by row (one search condensed, the other not), never in what they
            # stand for: the same pairs of distinct hashes, and the same groups
            assert _hash_pairs(filtered, frame) == _hash_pairs(narrow, frame)
            pd.testing.assert_frame_equal(find_groups(filtered, frame), find_groups(narrow, frame))
    assert checked == 4


def _hash_pairs(pairs: pd.DataFrame, frame: pd.DataFrame) -> set[tuple[str, str, int]]:
    """The pairs of distinct hash values a pair table links, with their distance."""
    hash_of = frame.set_index("path")["hash"]
    a, b = hash_of[pairs.path_a].to_numpy(), hash_of[pairs.path_b].to_numpy()
    return {(*sorted((x, y)), int(d)) for x, y, d in zip(a, b, pairs.distance) if x != y}


def test_value_pairs_collapse_identical_codes():
    codes = np.vstack([np.zeros((1000, 8), np.uint8), np.full((3, 8), 255, np.uint8)])
    found = value_pairs_from_codes(codes, max_distance=64)
    assert len(found.values) == 2 and sorted(found.counts.tolist()) == [3, 1000]
    assert found.distance.tolist() == [64] and found.n_row_pairs == 1000 * 999 // 2 + 3 + 3000
