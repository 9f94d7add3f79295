"""Exact Hamming self-join by multi-index hashing, compiled with numba.

Split the bits of each code into ``m`` disjoint blocks and give block ``k`` a
flip budget ``t_k`` with ``sum(t_k + 1) >= r + 1``. If two codes differ in at
most ``r`` bits, some block differs in at most its budget: otherwise every
block would differ in ``t_k + 1`` bits or more, ``r + 1`` in all. (With budgets
of equal blocks this is the usual ``sum(t_k) >= r - m + 1``; blocks need not
cover every bit.) So, for each block, the codes are bucketed by the block's
value, each bucket is joined with itself and with the buckets whose value
differs in at most ``t_k`` bits, every candidate's full distance is checked
with popcount, and a pair is kept only in the first block where it qualifies,
so each pair is reported once. The result is exact: the same pairs as
comparing every code with every other.

A block of width 0 is a single bucket holding every code: the plan then is
plain brute force (all ``n (n - 1) / 2`` pairs, each distance computed once).

The work of a block is split into units (ranges of codes in bucket order, so
an oversized bucket is split too) run in parallel. Each unit writes into a
fixed-size slice of one output buffer and counts every pair it finds; the few
units that overflow their slice are run again into space sized by their count.

The plan (blocks, budgets, the cost model) is :mod:`dedupkit._mih_plan`.
Codes are ``(n, words)`` ``uint64`` arrays; :func:`pack_words` makes them from
the ``(n, n_bytes)`` ``uint8`` codes used elsewhere. Numba compiles the
kernels once per machine and caches them (``cache=True``).
"""

from __future__ import annotations

from itertools import combinations

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from ._mih_plan import Plan, ball_size, plan_blocks, plan_cost

__all__ = ["Plan", "pack_words", "plan_blocks", "plan_cost", "self_join"]
_UNIT_CODES = 4096  # codes per work unit; units are handed to the threads one at a time


# ----------------------------------------------------------------------------- kernels


@intrinsic
def _popcount(typingctx, x):
    """Population count of a ``uint64`` (one ``popcnt`` instruction)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(cache=True)
def _first_block(X, p, q, k, bw, bs, bmask, bt):
    """True if no block before ``k`` already had this pair within its budget."""
    for j in range(k):
        x = (X[bw[j], p] ^ X[bw[j], q]) >> np.uint64(bs[j])
        if _popcount(x & bmask[j]) <= bt[j]:
            return False
    return True


@njit(cache=True)
def _emit(X, perm, p, q, d, k, bw, bs, bmask, bt, out_i, out_j, out_d, pos, end):
    """Record pair (p, q) at ``pos`` if this is its first block and there is room; return the next ``pos``."""
    if k > 0 and not _first_block(X, p, q, k, bw, bs, bmask, bt):
        return pos
    if pos < end:
        a = perm[p]
        b = perm[q]
        if a > b:
            a, b = b, a
        out_i[pos] = a
        out_j[pos] = b
        out_d[pos] = d
    return pos + 1


@njit(cache=True)
def _distances(x, Y, q0, length, acc):
    """``acc[t]`` = distance from code ``x`` to column ``q0 + t`` of ``Y``, for ``t < length`` (vectorised)."""
    W = Y.shape[0]
    if W == 1:
        x0 = x[0]
        for t in range(length):
            acc[t] = _popcount(x0 ^ Y[0, q0 + t])
    elif W == 2:
        x0, x1 = x[0], x[1]
        for t in range(length):
            q = q0 + t
            acc[t] = _popcount(x0 ^ Y[0, q]) + _popcount(x1 ^ Y[1, q])
    elif W == 3:
        x0, x1, x2 = x[0], x[1], x[2]
        for t in range(length):
            q = q0 + t
            acc[t] = _popcount(x0 ^ Y[0, q]) + _popcount(x1 ^ Y[1, q]) + _popcount(x2 ^ Y[2, q])
    elif W == 4:
        x0, x1, x2, x3 = x[0], x[1], x[2], x[3]
        for t in range(length):
            q = q0 + t
            acc[t] = (_popcount(x0 ^ Y[0, q]) + _popcount(x1 ^ Y[1, q])
                      + _popcount(x2 ^ Y[2, q]) + _popcount(x3 ^ Y[3, q]))
    else:
        x0 = x[0]
        for t in range(length):
            acc[t] = _popcount(x0 ^ Y[0, q0 + t])
        for w in range(1, W):
            xw = x[w]
            for t in range(length):
                acc[t] += _popcount(xw ^ Y[w, q0 + t])


@njit(cache=True)
def _row_min(x, Y, c0, c1, acc):
    """Smallest distance from code ``x`` (one value per word) to columns ``c0..c1`` of ``Y``.

    A branch-free scan that the compiler vectorises; ``acc`` is scratch space.
    """
    best = np.uint64(1 << 20)
    if Y.shape[0] == 1:  # the common case, without the round trip through acc
        x0 = x[0]
        for q in range(c0, c1):
            best = min(best, _popcount(x0 ^ Y[0, q]))
        return best
    chunk = len(acc)
    for q0 in range(c0, c1, chunk):
        length = min(chunk, c1 - q0)
        _distances(x, Y, q0, length, acc)
        for t in range(length):
            best = min(best, acc[t])
    return best


@njit(cache=True)
def _scan_row(X, perm, p, x, Y, c0, c1, where, limit, k, bw, bs, bmask, bt, out_i, out_j, out_d, pos, end, acc):
    """Emit the pairs of row ``p`` with columns ``c0..c1`` of ``Y`` (at positions ``where[q]``, or ``q``)."""
    chunk = len(acc)
    for q0 in range(c0, c1, chunk):
        length = min(chunk, c1 - q0)
        _distances(x, Y, q0, length, acc)
        for t in range(length):
            if acc[t] <= limit:
                q = q0 + t
                at = where[q] if len(where) else q
                pos = _emit(X, perm, p, at, acc[t], k, bw, bs, bmask, bt, out_i, out_j, out_d, pos, end)
    return pos


@njit(cache=True)
def _grow(gathered, where, used, size):
    """Copies of the scratch arrays with room for ``size`` codes."""
    grown = np.empty((gathered.shape[0], size), np.uint64)
    grown_where = np.empty(size, np.int64)
    for t in range(used):
        for v in range(gathered.shape[0]):
            grown[v, t] = gathered[v, t]
        grown_where[t] = where[t]
    return grown, grown_where


@njit(cache=True)
def _join_unit(X, perm, offsets, k, bw, bs, bmask, bt, masks, mask_start, r, lo, hi, pos, end, out_i, out_j, out_d):
    """Find the pairs of block ``k`` whose first code is at positions ``lo..hi`` (bucket order).

    For each bucket: pairs inside it, then pairs with the codes of its
    neighbour buckets, gathered into one contiguous scratch array so that
    each code of the bucket is compared with all of them in one vector scan.
    Returns the next free output position (which may be past ``end``: the
    count of pairs found).
    """
    W = X.shape[0]
    w = bw[k]
    shift = np.uint64(bs[k])
    mk = bmask[k]
    width = len(mask_start) - 1
    limit = np.uint64(r)
    none = np.zeros(0, np.int64)
    acc = np.empty(128, np.uint64)
    x = np.empty(W, np.uint64)
    gathered = np.empty((W, 256), np.uint64)
    where = np.empty(256, np.int64)
    p0 = lo
    while p0 < hi:
        B = (X[w, p0] >> shift) & mk
        bucket_end = offsets[B + 1]
        a1 = min(bucket_end, hi)
        # gather the neighbour buckets B ^ e with B ^ e > B (e's top bit h is clear in B)
        m = 0
        for h in range(width):
            if (B >> np.uint64(h)) & np.uint64(1):
                continue
            for mi in range(mask_start[h], mask_start[h + 1]):
                B2 = B ^ masks[mi]
                c0 = offsets[B2]
                c1 = offsets[B2 + 1]
                if c0 == c1:
                    continue
                if m + (c1 - c0) > len(where):
                    gathered, where = _grow(gathered, where, m, 2 * (m + (c1 - c0)))
                for v in range(W):
                    for q in range(c0, c1):
                        gathered[v, m + q - c0] = X[v, q]
                for q in range(c0, c1):
                    where[m + q - c0] = q
                m += c1 - c0
        for p in range(p0, a1):
            for v in range(W):
                x[v] = X[v, p]
            if p + 1 < bucket_end and _row_min(x, X, p + 1, bucket_end, acc) <= limit:
                pos = _scan_row(X, perm, p, x, X, p + 1, bucket_end, none, limit, k, bw, bs, bmask, bt,
                                out_i, out_j, out_d, pos, end, acc)
            if m and _row_min(x, gathered, 0, m, acc) <= limit:
                pos = _scan_row(X, perm, p, x, gathered, 0, m, where, limit, k, bw, bs, bmask, bt,
                                out_i, out_j, out_d, pos, end, acc)
        p0 = a1
    return pos


@njit(parallel=True, cache=True)
def _join_block(X, perm, offsets, k, bw, bs, bmask, bt, masks, mask_start, r,
                unit_lo, unit_hi, out_base, out_cap, out_i, out_j, out_d, counts):
    """Run :func:`_join_unit` for every work unit in parallel; ``counts`` gets each unit's pair count."""
    for u in prange(len(unit_lo)):
        base = out_base[u]
        pos = _join_unit(X, perm, offsets, k, bw, bs, bmask, bt, masks, mask_start, r,
                         unit_lo[u], unit_hi[u], base, base + out_cap[u], out_i, out_j, out_d)
        counts[u] = pos - base


@njit(cache=True)
def _bucket_sort(X, w, shift, mk, width):
    """Counting sort of the rows of ``X`` by block value.

    Returns the bucket offsets (bucket ``b`` is ``offsets[b]:offsets[b + 1]``),
    the permutation (sorted position -> row) and the sorted codes as
    ``(words, n)``.
    """
    n = X.shape[0]
    size = 1 << width
    offsets = np.zeros(size + 1, np.int32)
    sh = np.uint64(shift)
    for i in range(n):
        offsets[((X[i, w] >> sh) & mk) + 1] += 1
    for b in range(size):
        offsets[b + 1] += offsets[b]
    perm = np.empty(n, np.int32)
    for i in range(n):  # offsets[b] walks from the start of bucket b to the start of b + 1
        b = (X[i, w] >> sh) & mk
        perm[offsets[b]] = i
        offsets[b] += 1
    for b in range(size, 0, -1):
        offsets[b] = offsets[b - 1]
    offsets[0] = 0
    Xs = np.empty((X.shape[1], n), X.dtype)
    for i in range(n):
        for v in range(X.shape[1]):
            Xs[v, i] = X[perm[i], v]
    return offsets, perm, Xs


@njit(cache=True)
def _compact(out_i, out_j, out_d, out_base, counts, keep, total):
    """Gather the filled prefix of each kept unit's slice into fresh arrays."""
    ri = np.empty(total, np.int64)
    rj = np.empty(total, np.int64)
    rd = np.empty(total, np.int64)
    pos = 0
    for u in range(len(counts)):
        if not keep[u]:
            continue
        base = out_base[u]
        for t in range(counts[u]):
            ri[pos] = out_i[base + t]
            rj[pos] = out_j[base + t]
            rd[pos] = out_d[base + t]
            pos += 1
    return ri, rj, rd


# ----------------------------------------------------------------------------- Python side


def pack_words(codes: np.ndarray) -> np.ndarray:
    """``(n, n_bytes)`` ``uint8`` codes as ``(n, words)`` ``uint64``, zero-padded to whole words.

    Padding adds the same zero bits to every code, so distances do not change.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D uint8 array, got shape {codes.shape}")
    n, n_bytes = codes.shape
    n_words = max(1, -(-n_bytes // 8))
    if n_bytes != n_words * 8:
        padded = np.zeros((n, n_words * 8), np.uint8)
        padded[:, :n_bytes] = codes
        codes = padded
    return codes.view(np.uint64).reshape(n, n_words)


def _masks(width: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero ``width``-bit masks of at most ``budget`` bits, ascending, and where each top bit starts.

    Ascending order groups the masks by their highest set bit ``h``; they
    start at ``start[h]``.
    """
    budget = min(budget, width)
    if budget <= 0:
        return np.zeros(0, np.uint64), np.zeros(width + 1, np.int64)
    if ball_size(width, budget) * 8 < 2**width:  # few: build them from bit combinations
        powers = np.uint64(1) << np.arange(width, dtype=np.uint64)
        masks = np.concatenate([
            np.bitwise_or.reduce(powers[np.array(list(combinations(range(width), k)))], axis=1)
            for k in range(1, budget + 1)
        ])
        masks.sort()
    else:
        values = np.arange(1, 2**width, dtype=np.uint64)
        masks = values[np.bitwise_count(values) <= budget]
    start = np.searchsorted(masks, np.uint64(1) << np.arange(width + 1, dtype=np.uint64)).astype(np.int64)
    return masks, start


def self_join(
    words: np.ndarray,
    max_distance: int,
    *,
    n_bits: int | None = None,
    n_blocks: int | None = None,
    unit_capacity: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of rows within ``max_distance`` bits (inclusive), by multi-index hashing.

    Parameters
    ----------
    words
        ``(n, words)`` ``uint64`` codes (see :func:`pack_words`). Identical rows
        are allowed (they pair at distance 0), but collapsing them first is
        much cheaper.
    max_distance
        Largest distance kept.
    n_bits
        Bits that may differ (the rest is padding); all of them by default.
    n_blocks
        Force the number of blocks (``0``: brute force); ``None`` chooses by size.
    unit_capacity
        Pairs each work unit may write before it is re-run into exactly sized
        space (a tuning knob; any value gives the same result).

    Returns
    -------
    i, j, distance
        ``int64`` arrays with ``i < j``, in no particular order, each pair once.
    """
    words = np.ascontiguousarray(words, dtype=np.uint64)
    if words.ndim != 2:
        raise ValueError(f"words must be a 2-D uint64 array, got shape {words.shape}")
    n, n_words = words.shape
    r = int(max_distance)
    if n < 2 or r < 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    if n >= 2**31:
        raise ValueError(f"at most 2**31 - 1 codes per join, got {n}")
    if n_bits is not None and not 0 < n_bits <= n_words * 64:
        raise ValueError(f"n_bits must be between 1 and {n_words * 64} for {n_words}-word codes, got {n_bits}")
    if unit_capacity < 1:
        raise ValueError(f"unit_capacity must be at least 1, got {unit_capacity}")
    plan = plan_blocks(n, n_words * 64 if n_bits is None else n_bits, r, n_blocks=n_blocks)
    bw = np.array(plan.word, np.int64)
    bs = np.array(plan.shift, np.int64)
    bmask = np.array([(1 << width) - 1 for width in plan.width], np.uint64)
    bt = np.array(plan.budget, np.int64)

    n_units = max(2 * numba.get_num_threads(), -(-n // _UNIT_CODES))
    edges = np.linspace(0, n, n_units + 1).astype(np.int64)
    unit_lo, unit_hi = edges[:-1].copy(), edges[1:].copy()
    cap = int(unit_capacity)
    out_i = np.empty(n_units * cap, np.int32)
    out_j = np.empty(n_units * cap, np.int32)
    out_d = np.empty(n_units * cap, np.int16)
    counts = np.zeros(n_units, np.int64)
    base = np.arange(n_units, dtype=np.int64) * cap
    caps = np.full(n_units, cap, np.int64)

    parts = []
    old_chunksize = numba.set_parallel_chunksize(1)  # hand out units one at a time: buckets are uneven
    try:
        for k in range(len(plan.width)):
            offsets, perm, Xs = _bucket_sort(words, int(bw[k]), int(bs[k]), bmask[k], int(plan.width[k]))
            masks, mask_start = _masks(plan.width[k], plan.budget[k])
            _join_block(Xs, perm, offsets, k, bw, bs, bmask, bt, masks, mask_start, r,
                        unit_lo, unit_hi, base, caps, out_i, out_j, out_d, counts)
            fits = counts <= cap
            parts.append(_compact(out_i, out_j, out_d, base, counts, fits, int(counts[fits].sum())))
            over = np.flatnonzero(~fits)
            if len(over):  # re-run the units that found more pairs than they had room for
                need = counts[over]
                total = int(need.sum())
                more = (np.empty(total, np.int32), np.empty(total, np.int32), np.empty(total, np.int16))
                found = np.zeros(len(over), np.int64)
                _join_block(Xs, perm, offsets, k, bw, bs, bmask, bt, masks, mask_start, r,
                            unit_lo[over], unit_hi[over], np.cumsum(need) - need, need, *more, found)
                if not np.array_equal(found, need):
                    raise RuntimeError("multi-index join: a re-run found a different number of pairs")
                parts.append(tuple(part.astype(np.int64) for part in more))
            del offsets, perm, Xs
    finally:
        numba.set_parallel_chunksize(old_chunksize)
    i = np.concatenate([p[0] for p in parts])
    j = np.concatenate([p[1] for p in parts])
    d = np.concatenate([p[2] for p in parts])
    return i, j, d
