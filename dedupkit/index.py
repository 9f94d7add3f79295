"""A searchable set of hashes: a reference archive to check new images against."""

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
from .search import _hash_column, check_max_distance, faiss_radius

__all__ = ["HashIndex"]


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
        queries = np.asarray(list(queries), dtype=object)
        q_idx, match, dist = self.search_arrays(codes, max_distance=max_distance, k=k)
        result = pd.DataFrame(
            {"query": pd.array(queries[q_idx], dtype="string"),
             "match": pd.array(match, dtype="string"),
             "distance": dist}
        )
        return result.sort_values(["query", "distance", "match"], ignore_index=True)

    def search_arrays(
        self, codes: np.ndarray, *, max_distance: int | None = 10, k: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`search_codes`, as plain arrays: no table is built (for one query, fast).

        Returns
        -------
        query, match, distance
            The row of ``codes`` each result answers (``int64``), the stored
            key (object array) and the distance (``int64``); in faiss's order.
        """
        codes = self._check_codes(codes)
        if max_distance is None and k is None:
            raise ValueError("give max_distance, k, or both")
        if max_distance is not None:
            max_distance = check_max_distance(max_distance, self.n_bits)
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        empty = np.zeros(0, np.int64)
        if not (len(self) and len(codes)):
            return empty, self._keys[empty], empty
        if k is not None:
            distances, labels = self._index.search(codes, int(min(k, len(self))))
            rows = np.repeat(np.arange(len(codes)), labels.shape[1])
            keep = labels.ravel() >= 0
            if max_distance is not None:
                keep &= distances.ravel() <= max_distance
            q_idx, match, dist = rows[keep], labels.ravel()[keep], distances.ravel()[keep]
        else:
            lims, dist, match = self._index.range_search(codes, faiss_radius(max_distance))
            q_idx = np.repeat(np.arange(len(codes)), np.diff(lims).astype(np.int64))
        return q_idx.astype(np.int64), self._keys[match.astype(np.int64)], dist.astype(np.int64)

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
