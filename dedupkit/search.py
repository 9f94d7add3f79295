"""Exact Hamming-distance search over hash tables with faiss binary indexes.

``max_distance`` is inclusive everywhere in dedupkit: a pair at exactly
``max_distance`` bits is found. faiss's binary range search keeps only
``distance < radius``; :func:`faiss_radius` is the one place that converts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .hashing import check_method, hex_to_codes

__all__ = ["HashIndex", "check_max_distance", "faiss_radius", "find_pairs", "pairs_from_codes"]

PAIR_COLUMNS = ("path_a", "path_b", "distance")
_QUERY_BATCH = 4096  # queries per faiss call, so results of a batch stay small


def check_max_distance(max_distance: int, n_bits: int) -> int:
    """Validate an inclusive Hamming threshold and return it as an ``int``.

    Raises
    ------
    TypeError
        ``max_distance`` is not an integer.
    ValueError
        ``max_distance`` is negative or above the number of bits.
    """
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)):
        raise TypeError(f"max_distance must be an integer number of bits, got {max_distance!r}")
    if not 0 <= max_distance <= n_bits:
        raise ValueError(f"max_distance must be between 0 and {n_bits} (the hash length), got {max_distance}")
    return int(max_distance)


def faiss_radius(max_distance: int) -> int:
    """The faiss ``range_search`` radius that finds distances ``<= max_distance``.

    faiss keeps results with ``distance < radius``; dedupkit's threshold is
    inclusive, so the radius is one more.
    """
    return int(max_distance) + 1


def _hash_column(hashes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the paths and packed codes of the rows that have a hash."""
    if not isinstance(hashes, pd.DataFrame):
        raise TypeError(f"expected a DataFrame with 'path' and 'hash' columns, got {type(hashes).__name__}")
    missing = {"path", "hash"} - set(hashes.columns)
    if missing:
        raise ValueError(
            f"the hash table needs 'path' and 'hash' columns; missing {sorted(missing)} "
            f"(columns are {list(hashes.columns)})"
        )
    valid = hashes["hash"].notna().to_numpy().copy()
    if "error" in hashes.columns:
        valid &= hashes["error"].isna().to_numpy()
    paths = hashes["path"].astype(str).to_numpy()[valid]
    codes = hex_to_codes(hashes["hash"].astype(str).to_numpy()[valid]) if valid.any() else np.zeros((0, 8), np.uint8)
    return paths, codes


def _self_range_search(codes: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of distinct rows within ``max_distance``, by faiss flat search."""
    n, n_bytes = codes.shape
    index = faiss.IndexBinaryFlat(n_bytes * 8)
    index.add(codes)
    radius = faiss_radius(max_distance)
    firsts, seconds, dists = [], [], []
    for start in range(0, n, _QUERY_BATCH):
        lims, distances, labels = index.range_search(codes[start : start + _QUERY_BATCH], radius)
        query = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims).astype(np.int64))
        keep = labels > query
        firsts.append(query[keep])
        seconds.append(labels[keep])
        dists.append(distances[keep])
    if not firsts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return (np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64),
            np.concatenate(dists).astype(np.int64))


def _expand_pairs(
    u: np.ndarray, v: np.ndarray, d: np.ndarray, inverse: np.ndarray, n_unique: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn pairs of distinct hash values into pairs of rows (all members of each)."""
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=n_unique)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # pairs between members of two different hash values
    cu, cv = counts[u], counts[v]
    sizes = cu * cv
    which = np.repeat(np.arange(len(u)), sizes)
    offset = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    a = [order[starts[u][which] + offset // cv[which]]]
    b = [order[starts[v][which] + offset % cv[which]]]
    dist = [d[which]]
    # pairs within one hash value (distance 0), grouped by how many share it
    for count in np.unique(counts[counts > 1]):
        values = np.flatnonzero(counts == count)
        i, j = np.triu_indices(count, k=1)
        members = order[starts[values][:, None] + np.arange(count)]  # (values, count)
        a.append(members[:, i].ravel())
        b.append(members[:, j].ravel())
        dist.append(np.zeros(len(values) * len(i), np.int64))
    return np.concatenate(a), np.concatenate(b), np.concatenate(dist)


def pairs_from_codes(codes: np.ndarray, *, max_distance: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of rows of ``codes`` within ``max_distance`` bits (inclusive).

    Parameters
    ----------
    codes
        ``(n, n_bytes)`` ``uint8`` packed hashes.
    max_distance
        Largest Hamming distance kept (inclusive).

    Returns
    -------
    i, j, distance
        ``int64`` arrays with ``i < j``, unordered.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D uint8 array, got shape {codes.shape}")
    max_distance = check_max_distance(max_distance, codes.shape[1] * 8)
    if len(codes) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    unique, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    u, v, d = _self_range_search(unique, max_distance)
    i, j, dist = _expand_pairs(u, v, d, inverse, len(unique))
    return np.minimum(i, j), np.maximum(i, j), dist


def find_pairs(hashes: pd.DataFrame, *, max_distance: int = 10) -> pd.DataFrame:
    """Find every pair of images whose hashes differ in at most ``max_distance`` bits.

    Exact: the same pairs as comparing every hash with every other.

    Parameters
    ----------
    hashes
        A hash table with at least ``path`` and ``hash`` (hex) columns, as made
        by :func:`dedupkit.hash_images` or read back from CSV/Parquet. Rows
        without a hash (or with an ``error``) are left out.
    max_distance
        Largest Hamming distance that counts as a duplicate, **inclusive**.
        About 10 of 64 bits is a good start for dHash.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b`` (``path_a < path_b``), ``distance``; each
        unordered pair once, sorted by distance, then paths.

    Raises
    ------
    ValueError
        Missing columns, hashes of different lengths, a bad hex string, or
        ``max_distance`` outside ``0..n_bits``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"],
    ...                       "hash": ["ffff0000ffff0000", "ffff0000ffff0001", "0000ffff0000ffff"]})
    >>> find_pairs(table, max_distance=1)
      path_a path_b  distance
    0  a.jpg  b.jpg         1
    """
    paths, codes = _hash_column(hashes)
    n_bits = codes.shape[1] * 8
    check_max_distance(max_distance, n_bits)
    i, j, dist = pairs_from_codes(codes, max_distance=max_distance)
    return _pair_frame(paths[i], paths[j], dist)


def _pair_frame(first: np.ndarray, second: np.ndarray, distance: np.ndarray) -> pd.DataFrame:
    """Build a pair table with ``path_a < path_b``, sorted by distance then paths."""
    first, second = np.asarray(first, dtype=object), np.asarray(second, dtype=object)
    swap = first > second
    path_a = np.where(swap, second, first)
    path_b = np.where(swap, first, second)
    pairs = pd.DataFrame(
        {"path_a": pd.array(path_a, dtype="string"), "path_b": pd.array(path_b, dtype="string"),
         "distance": np.asarray(distance, dtype=np.int64)}
    )
    return pairs.sort_values(["distance", "path_a", "path_b"], ignore_index=True)


class HashIndex:
    """A searchable set of hashes: a reference archive to check new images against.

    Each hash has a key (a path, or any id string). Backed by a faiss
    ``IndexBinaryFlat``: exact search, one popcount per stored hash.

    Parameters
    ----------
    method, hash_size
        How the stored hashes were made; images given to :meth:`search_images`
        are hashed the same way.

    Examples
    --------
    >>> index = HashIndex.from_hashes(hash_images("train/"))  # doctest: +SKIP
    >>> leaks = index.search(hash_images("test/"), max_distance=10)  # doctest: +SKIP
    >>> index.save("train.index.parquet")  # doctest: +SKIP
    """

    def __init__(self, *, method: str = "dhash", hash_size: int = 8):
        check_method(method, hash_size)
        self.method = method
        self.hash_size = int(hash_size)
        self._index = faiss.IndexBinaryFlat(self.n_bits)
        self._keys = np.zeros(0, dtype=object)

    @property
    def n_bits(self) -> int:
        """Bits per hash."""
        return self.hash_size * self.hash_size

    @property
    def keys(self) -> np.ndarray:
        """The keys (paths or ids) of the stored hashes, in insertion order."""
        return self._keys.copy()

    def codes(self) -> np.ndarray:
        """The stored hashes as packed ``uint8`` codes, in the order of :attr:`keys`."""
        if not len(self):
            return np.zeros((0, self.n_bits // 8), np.uint8)
        return self._index.reconstruct_n(0, len(self))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __repr__(self) -> str:
        return f"HashIndex(method={self.method!r}, hash_size={self.hash_size}, size={len(self)})"

    @classmethod
    def from_hashes(cls, hashes: pd.DataFrame, *, method: str | None = None, hash_size: int | None = None) -> HashIndex:
        """Build an index from a hash table (``path`` and ``hash`` columns).

        ``method`` and ``hash_size`` default to the table's ``attrs`` (set by
        :func:`dedupkit.hash_images`), then to dHash with the table's hash length.
        """
        paths, codes = _hash_column(hashes)
        method = method or hashes.attrs.get("method", "dhash")
        if hash_size is None:
            hash_size = hashes.attrs.get("hash_size") or (int(np.sqrt(codes.shape[1] * 8)) if len(codes) else 8)
        index = cls(method=method, hash_size=hash_size)
        index.add_codes(paths, codes)
        return index

    def add(self, hashes: pd.DataFrame) -> None:
        """Add the rows of a hash table that have a hash, keyed by ``path``."""
        paths, codes = _hash_column(hashes)
        self.add_codes(paths, codes)

    def add_codes(self, keys: Sequence[str], codes: np.ndarray) -> None:
        """Add packed codes (``(n, n_bits/8)`` ``uint8``) under the given keys."""
        codes = self._check_codes(codes)
        keys = np.asarray(list(keys), dtype=object)
        if len(keys) != len(codes):
            raise ValueError(f"got {len(keys)} keys for {len(codes)} codes")
        if len(codes):
            self._index.add(codes)
            self._keys = np.concatenate([self._keys, keys])

    def remove(self, keys: Iterable[str]) -> int:
        """Remove every stored hash with one of these keys; return how many."""
        drop = np.flatnonzero(np.isin(self._keys, np.asarray(list(keys), dtype=object)))
        if len(drop):
            self._index.remove_ids(faiss.IDSelectorBatch(drop.astype(np.int64)))
            self._keys = np.delete(self._keys, drop)
        return len(drop)

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or (len(codes) and codes.shape[1] * 8 != self.n_bits):
            raise ValueError(
                f"this index holds {self.n_bits}-bit hashes ({self.method}, hash_size={self.hash_size}); "
                f"got codes of shape {codes.shape}"
            )
        return codes.reshape(len(codes), self.n_bits // 8)

    def search(
        self,
        hashes: pd.DataFrame | Sequence[str],
        *,
        max_distance: int | None = 10,
        k: int | None = None,
    ) -> pd.DataFrame:
        """Find stored hashes near each query hash.

        Parameters
        ----------
        hashes
            A hash table (``path``, ``hash``) or a sequence of hex strings.
        max_distance
            Keep matches within this many bits (inclusive). With ``k``,
            ``None`` keeps the ``k`` nearest whatever their distance.
        k
            Return at most the ``k`` nearest matches per query instead of all
            within the radius.

        Returns
        -------
        pandas.DataFrame
            ``query`` (the query's path, or its hex), ``match`` (stored key),
            ``distance``; sorted by query, distance, match.
        """
        if isinstance(hashes, pd.DataFrame):
            queries, codes = _hash_column(hashes)
        else:
            queries = np.asarray(list(hashes), dtype=object)
            codes = hex_to_codes(queries) if len(queries) else np.zeros((0, self.n_bits // 8), np.uint8)
        return self.search_codes(queries, codes, max_distance=max_distance, k=k)

    def search_codes(
        self, queries: Sequence[str], codes: np.ndarray, *, max_distance: int | None = 10, k: int | None = None
    ) -> pd.DataFrame:
        """Like :meth:`search`, for packed codes labelled by ``queries``."""
        codes = self._check_codes(codes)
        queries = np.asarray(list(queries), dtype=object)
        if max_distance is None and k is None:
            raise ValueError("give max_distance, k, or both")
        if max_distance is not None:
            max_distance = check_max_distance(max_distance, self.n_bits)
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q_idx, match, dist = [], [], []
        if len(self) and len(codes):
            if k is not None:
                distances, labels = self._index.search(codes, int(min(k, len(self))))
                rows = np.repeat(np.arange(len(codes)), labels.shape[1])
                keep = labels.ravel() >= 0
                if max_distance is not None:
                    keep &= distances.ravel() <= max_distance
                q_idx, match, dist = rows[keep], labels.ravel()[keep], distances.ravel()[keep]
            else:
                lims, distances, labels = self._index.range_search(codes, faiss_radius(max_distance))
                q_idx = np.repeat(np.arange(len(codes)), np.diff(lims).astype(np.int64))
                match, dist = labels, distances
        result = pd.DataFrame(
            {"query": pd.array(queries[np.asarray(q_idx, dtype=np.int64)], dtype="string"),
             "match": pd.array(self._keys[np.asarray(match, dtype=np.int64)], dtype="string"),
             "distance": np.asarray(dist, dtype=np.int64)}
        )
        return result.sort_values(["query", "distance", "match"], ignore_index=True)

    def search_images(
        self,
        source: str | os.PathLike | Iterable[str | os.PathLike],
        *,
        max_distance: int | None = 10,
        k: int | None = None,
        **hash_options,
    ) -> pd.DataFrame:
        """Hash images (a folder or files) the index's way and search for each.

        Files that cannot be hashed are left out of the result; hash them with
        :func:`dedupkit.hash_images` first to see why.
        """
        from .scan import hash_images

        hashes = hash_images(source, method=self.method, hash_size=self.hash_size, **hash_options)
        return self.search(hashes, max_distance=max_distance, k=k)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to a Parquet file (keys, hex hashes, method, size), atomically."""
        path = Path(path)
        codes = self.codes()
        table = pa.table({"key": pa.array(self._keys.tolist(), pa.string()),
                          "hash": pa.array([row.tobytes().hex() for row in codes], pa.string())})
        meta = {"format": "dedupkit.HashIndex", "version": 1, "method": self.method, "hash_size": self.hash_size}
        table = table.replace_schema_metadata({"dedupkit": json.dumps(meta)})
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> HashIndex:
        """Read an index written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            The file is not a dedupkit index.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such index file")
        try:
            table = pq.read_table(path)
            meta = json.loads(table.schema.metadata[b"dedupkit"])
        except Exception as exc:  # noqa: BLE001 - any failure means "not our file"
            raise ValueError(f"{path}: not a dedupkit index file ({exc})") from None
        index = cls(method=meta["method"], hash_size=meta["hash_size"])
        keys = table.column("key").to_pylist()
        hexes = table.column("hash").to_pylist()
        index.add_codes(keys, hex_to_codes(hexes) if hexes else np.zeros((0, index.n_bits // 8), np.uint8))
        return index
