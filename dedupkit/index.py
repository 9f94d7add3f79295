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

from ._checks import check_int
from .codejoin import check_max_distance, range_search
from .hashing import hex_to_codes
from .tables import (
    SETTINGS_COLUMNS,
    check_same_settings,
    checked_settings,
    describe,
    hash_codes,
    hash_settings,
    resolve_trim,
)

__all__ = ["HashIndex"]

_FILE_VERSION = 2  # 2: the settings include trim and exact


class HashIndex:
    """A searchable set of hashes: a reference archive to check new images against.

    Each hash has a key (a path, or any id string). Backed by a faiss
    ``IndexBinaryFlat``: exact search, one popcount per stored hash.

    Parameters
    ----------
    method, hash_size, trim, exact
        How the stored hashes were made, as given to
        :func:`dedupkit.hash_images` (``trim=None``: on, except with
        ``exact``); images given to :meth:`search_images` are hashed the same
        way, and a hash table that says it was made otherwise is refused by
        :meth:`add` and :meth:`search`.

    Examples
    --------
    >>> index = HashIndex.from_hashes(hash_images("train/"))  # doctest: +SKIP
    >>> leaks = index.search(hash_images("test/"), max_distance=10)  # doctest: +SKIP
    >>> index.save("train.index.parquet")  # doctest: +SKIP
    """

    def __init__(self, *, method: str = "dhash", hash_size: int = 8, trim: bool | None = None, exact: bool = False):
        settings = checked_settings(method, hash_size, resolve_trim(trim, exact), exact, source="HashIndex")
        self.method: str = settings["method"]
        self.hash_size: int = settings["hash_size"]
        self.trim: bool = settings["trim"]
        self.exact: bool = settings["exact"]
        self._index = faiss.IndexBinaryFlat(self.n_bits)
        self._keys = np.zeros(0, dtype=object)

    @property
    def settings(self) -> dict:
        """How the stored hashes were made: ``method``, ``hash_size``, ``trim``, ``exact``."""
        return {"method": self.method, "hash_size": self.hash_size, "trim": self.trim, "exact": self.exact}

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
        return (f"HashIndex(method={self.method!r}, hash_size={self.hash_size}, trim={self.trim}, "
                f"exact={self.exact}, size={len(self)})")

    @classmethod
    def from_hashes(
        cls,
        hashes: pd.DataFrame,
        *,
        method: str | None = None,
        hash_size: int | None = None,
        trim: bool | None = None,
        exact: bool | None = None,
    ) -> HashIndex:
        """Build an index from a hash table (``path`` and ``hash`` columns), made the table's way.

        Parameters
        ----------
        hashes
            A hash table. One from :func:`dedupkit.hash_images` or
            :func:`dedupkit.read_hashes` (or ``pd.read_csv`` of one dedupkit
            wrote) says how it was made, in its settings columns.
        method, hash_size, trim, exact
            For a table that does not say (hand-made, or empty): all four.
            For one that says, any given must agree with it.

        Raises
        ------
        ValueError
            The table does not say how it was made and the settings are not
            all given; given settings disagree with the table's; the table
            mixes settings.
        """
        stated = hash_settings(hashes, required=False)
        given = {"method": method, "hash_size": hash_size, "trim": trim, "exact": exact}
        if stated is None:
            missing = [name for name, value in given.items() if value is None]
            if missing:
                raise ValueError(
                    f"the hash table does not say how it was hashed (no {'/'.join(SETTINGS_COLUMNS)} columns, "
                    f"or no rows), so the index cannot hash new images its way: pass {', '.join(missing)} "
                    "to HashIndex.from_hashes, or make the table with dedupkit.hash_images")
            stated = given
        wrong = {name: value for name, value in given.items() if value is not None and value != stated[name]}
        if wrong:
            raise ValueError(f"the hash table was made with {describe(stated)}, not with "
                             + ", ".join(f"{name}={value!r}" for name, value in wrong.items()))
        index = cls(**stated)
        index.add(hashes)
        return index

    def add(self, hashes: pd.DataFrame) -> None:
        """Add the rows of a hash table that have a hash, keyed by ``path``.

        Raises
        ------
        ValueError
            The table says it was made otherwise than this index's hashes.
        """
        check_same_settings(self.settings, hashes, what="this index")
        paths, codes = hash_codes(hashes)
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
            A hash table (``path``, ``hash``) or a sequence of hex strings. A
            table that says how it was made must have been made like the
            index (else ``ValueError``); hex strings are taken as they are.
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
            check_same_settings(self.settings, hashes, what="this index")
            queries, codes = hash_codes(hashes)
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
        k = check_int(k, "k", low=1, none=True)
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
            q_idx, match, dist = range_search(self._index, codes, max_distance)
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

        The images are hashed with the index's :attr:`settings` (method, hash
        size, trim, exact); ``hash_options`` are the other options of
        :func:`dedupkit.hash_images` (``workers``, ``cache``, ...). Files
        that cannot be hashed are left out of the result; hash them with
        :func:`dedupkit.hash_images` first to see why.
        """
        from .scan import hash_images  # noqa: PLC0415 - the decoders only for an index that hashes images

        fixed = sorted(set(hash_options) & set(SETTINGS_COLUMNS))
        if fixed:
            raise TypeError(f"search_images hashes the index's way ({describe(self.settings)}); "
                            f"do not pass {', '.join(fixed)}")
        hashes = hash_images(source, **self.settings, **hash_options)
        return self.search(hashes, max_distance=max_distance, k=k)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to a Parquet file (keys, hex hashes and its :attr:`settings`), atomically."""
        path = Path(path)
        codes = self.codes()
        table = pa.table({"key": pa.array(self._keys.tolist(), pa.string()),
                          "hash": pa.array([row.tobytes().hex() for row in codes], pa.string())})
        meta = {"format": "dedupkit.HashIndex", "version": _FILE_VERSION, **self.settings}
        table = table.replace_schema_metadata({"dedupkit": json.dumps(meta)})
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, trim: bool | None = None, exact: bool | None = None) -> HashIndex:
        """Read an index written by :meth:`save`.

        Parameters
        ----------
        path
            The Parquet file.
        trim, exact
            Only for a file saved by dedupkit 0.1, which did not record them:
            how its hashes were made. A newer file says, and any given must
            agree.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            The file is not a dedupkit index; a dedupkit 0.1 file without
            ``trim`` and ``exact``; given settings that disagree with the file.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such index file")
        try:
            table = pq.read_table(path)
            meta = json.loads(table.schema.metadata[b"dedupkit"])
        except Exception as exc:  # noqa: BLE001 - any failure means "not our file"
            raise ValueError(f"{path}: not a dedupkit index file ({exc})") from None
        given = {"trim": trim, "exact": exact}
        if meta.get("version", 1) < 2:
            missing = [name for name, value in given.items() if value is None]
            if missing:
                raise ValueError(
                    f"{path} was saved by dedupkit 0.1, which did not record whether the hashes were trimmed or "
                    f"exact; if you know, pass {', '.join(missing)} to HashIndex.load (dedupkit's defaults: "
                    "trim=True, exact=False), or build the index again from its images")
            meta = {**meta, **given}
        wrong = {name: value for name, value in given.items() if value is not None and value != meta[name]}
        if wrong:
            raise ValueError(f"{path} holds hashes made with {describe(meta)}, not with "
                             + ", ".join(f"{name}={value!r}" for name, value in wrong.items()))
        index = cls(method=meta["method"], hash_size=meta["hash_size"], trim=meta["trim"], exact=meta["exact"])
        keys = table.column("key").to_pylist()
        hexes = table.column("hash").to_pylist()
        index.add_codes(keys, hex_to_codes(hexes) if hexes else np.zeros((0, index.n_bits // 8), np.uint8))
        return index
