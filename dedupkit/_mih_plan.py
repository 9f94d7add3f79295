"""The plan of a multi-index join: which blocks of bits, with which flip budgets, estimated how fast.

Plain Python and numpy (no numba), so that :func:`dedupkit.find_pairs` can
choose between faiss and the compiled join (:mod:`dedupkit.multiindex`)
without loading the compiler. The cost model is fitted to timings of the
join's kernels; see :func:`plan_cost`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["MAX_WIDTH", "Plan", "ball_size", "plan_blocks", "plan_cost"]

MAX_WIDTH = 22  # widest block: a bucket table of 2**22 + 1 offsets (32 MB)


@dataclass(frozen=True)
class Plan:
    """The blocks of a multi-index join.

    Attributes
    ----------
    word, shift, width, budget
        One entry per block: the block is bits ``shift .. shift + width - 1``
        of 64-bit word ``word``, and two codes are candidates in this block if
        they differ there in at most ``budget`` bits. A single block of width 0
        is one bucket holding everything: brute force.
    cost
        Estimated time in nanoseconds on one core (see :func:`plan_cost`).
    """

    word: tuple[int, ...]
    shift: tuple[int, ...]
    width: tuple[int, ...]
    budget: tuple[int, ...]
    cost: float

    @property
    def n_blocks(self) -> int:
        """Number of blocks (0 for brute force)."""
        return 0 if self.width == (0,) else len(self.width)

    def describe(self) -> str:
        """A one-line summary, e.g. ``4 blocks of 16 bits, budgets 2+2+2+1``."""
        if self.n_blocks == 0:
            return "brute force"
        widths = sorted(set(self.width), reverse=True)
        return (f"{self.n_blocks} blocks of {'/'.join(map(str, widths))} bits, "
                f"budgets {'+'.join(map(str, self.budget))}")


@cache
def ball_size(width: int, radius: int) -> int:
    """Number of ``width``-bit values within ``radius`` bits of a given one."""
    return sum(math.comb(width, i) for i in range(min(radius, width) + 1))


# Nanoseconds per unit of work on one core, fitted to timings of forced block
# counts (10,000 to 3,000,000 random 64-bit codes at distance 10; 3 to 16
# blocks; within about 30%) on the development machine, a 2-core AVX-512 Xeon:
# build (per code and block: key, counting sort, copy), table (per bucket),
# probe (per neighbour bucket looked up: mostly a cache miss), gather (per code
# copied from a neighbour bucket), and compare (per candidate pair, vectorised:
# against the gathered neighbours, and inside one bucket). Codes of several
# 64-bit words cost more to build and compare (measured with 256-bit codes).
_COSTS = np.array([20.0, 5.0, 30.0, 2.0, 0.2, 0.38])
_EXTRA_WORD = np.array([0.6, 0.0, 0.0, 0.6, 0.8, 0.8])  # relative cost of each further word


def _features(n: int, n_words: int, widths: list[int], budgets: list[int]) -> np.ndarray:
    """Expected amounts of each kind of work (see ``_COSTS``) for random codes, scaled for the words."""
    pairs = n * (n - 1) / 2
    total = np.zeros(len(_COSTS))
    for width, budget in zip(widths, budgets):
        size = 2**width
        ball = ball_size(width, budget)
        nonempty = size * -math.expm1(-n / size)
        probes = nonempty * (ball - 1) / 2
        total += [n, size, probes, probes * n / size, pairs * (ball - 1) / size, pairs / size]
    return total * (1 + _EXTRA_WORD * (n_words - 1))


def plan_cost(n: int, n_words: int, widths: list[int], budgets: list[int]) -> float:
    """Estimated nanoseconds (one core) to join ``n`` random codes with these blocks."""
    return float(_features(n, n_words, widths, budgets) @ _COSTS)


def _layouts(n_bits: int, per_word: int) -> list[tuple[int, int, int]]:
    """(word, shift, width) of ``per_word`` near-equal blocks over each word's bits."""
    blocks = []
    for word in range(-(-n_bits // 64)):
        bits = min(64, n_bits - 64 * word)
        if per_word > bits:
            return []
        shift = 0
        for i in range(per_word):
            width = bits // per_word + (1 if i < bits % per_word else 0)
            blocks.append((word, shift, width))
            shift += width
    return blocks


def _budgeted(blocks: list[tuple[int, int, int]], r: int) -> list[tuple[int, int, int, int]]:
    """Give the blocks budgets with ``sum(budget + 1) == r + 1``, evenly, extras to the widest.

    Blocks left with budget -1 (more blocks than ``r + 1``) are dropped.
    """
    m = len(blocks)
    base, extra = divmod(r + 1, m)
    widest = sorted(range(m), key=lambda k: (-blocks[k][2], k))[:extra]
    budgets = [base - 1 + (k in widest) for k in range(m)]
    return [(*block, t) for block, t in zip(blocks, budgets) if t >= 0]


def plan_blocks(n: int, n_bits: int, max_distance: int, *, n_blocks: int | None = None) -> Plan:
    """Choose the blocks and flip budgets that make the join cheapest.

    Parameters
    ----------
    n
        Number of (distinct) codes to join.
    n_bits
        Bits per code.
    max_distance
        Largest distance kept (inclusive).
    n_blocks
        Force this many blocks (``0`` for brute force), spread evenly over the
        words; ``None`` takes the plan with the smallest estimated cost. For
        random 64-bit codes at ``max_distance=10`` that is 6 blocks at
        100,000 codes, 5 at 300,000 and 4 (of 16 bits) from a million to ten
        million: near ``64 / log2(n)``, but rounded up, because probing a
        neighbour bucket of a wide block is a cache miss (3 blocks of 21-22
        bits are 20 times slower at a million; benchmarks/bench_search.py).

    Returns
    -------
    Plan
    """
    r = int(max_distance)
    n_words = -(-int(n_bits) // 64)
    brute = Plan((0,), (0,), (0,), (0,), plan_cost(n, n_words, [0], [0]))
    if n_blocks == 0:
        return brute
    candidates = []
    if n_blocks is None:
        for per_word in range(1, 65):
            blocks = _layouts(n_bits, per_word)
            if not blocks or max(width for _, _, width in blocks) > MAX_WIDTH:
                continue
            candidates += [blocks[:m] for m in range(1, min(len(blocks), r + 1) + 1)
                           if (r + 1) // m <= min(width for _, _, width in blocks[:m])]  # else all buckets meet
    else:
        per_word = max(-(-int(n_blocks) // n_words), -(-min(64, int(n_bits)) // MAX_WIDTH))
        blocks = _layouts(n_bits, per_word)
        if len(blocks) < n_blocks or max(width for _, _, width in blocks) > MAX_WIDTH:
            raise ValueError(
                f"cannot split {n_bits}-bit codes into {n_blocks} blocks of 1 to {MAX_WIDTH} bits"
            )
        candidates.append(blocks[:n_blocks])
    best = brute if n_blocks is None else None
    for blocks in candidates:
        chosen = _budgeted(blocks, r)
        widths = [width for _, _, width, _ in chosen]
        budgets = [t for _, _, _, t in chosen]
        plan = Plan(tuple(b[0] for b in chosen), tuple(b[1] for b in chosen), tuple(widths), tuple(budgets),
                    plan_cost(n, n_words, widths, budgets))
        if best is None or plan.cost < best.cost:
            best = plan
    return best
