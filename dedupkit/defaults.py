"""The defaults and choices a user sees on the command line and in the API: one owner, imported by both."""

#: The hash methods dedupkit computes, by name (:mod:`dedupkit.hashing` computes them).
METHODS: tuple[str, ...] = ("dhash", "dhash_vertical", "phash", "ahash", "whash")

#: dHash distance up to which pairs become candidates for verification
#: (64-bit hashes; chosen on the tuning half of the benchmark, see benchmarks/README.md).
CANDIDATE_DISTANCE = 16
#: The hash-only threshold (``verify=False``): the historical default.
HASH_ONLY_DISTANCE = 10
