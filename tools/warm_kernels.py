"""Compile dedupkit's numba kernels into their cache now (``make install`` runs this), not on a user's first search.

The first large ``find_pairs`` in a fresh install would otherwise spend about 8 s (40 s on a busy 2-core machine)
compiling the multi-index kernels; afterwards each process loads them from the cache in well under a second. (The
trim's walk is C, built at install by ``setup.py``: nothing to warm.)
"""

import time

import numpy as np
import pandas as pd

import dedupkit

start = time.perf_counter()
rng = np.random.default_rng(0)
for bits in (64, 256):
    codes = rng.integers(0, 256, size=(2000, bits // 8), dtype=np.uint8)
    hashes = pd.DataFrame({"path": [f"{i}.jpg" for i in range(len(codes))], "hash": [c.tobytes().hex() for c in codes]})
    dedupkit.find_pairs(hashes, max_distance=bits // 6, method="mih")
print(f"numba kernels compiled and cached in {time.perf_counter() - start:.1f} s")
