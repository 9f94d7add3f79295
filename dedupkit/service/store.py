"""Where the service keeps images: SQLite on disk, a faiss index in memory, in step.

SQLite is the source of truth. It runs in WAL mode with ``synchronous=FULL``:
each commit waits until the write-ahead log is on disk, so an image whose
request was answered survives a ``kill -9`` of the server and also a power
cut. (``NORMAL`` would already survive ``kill -9``, since a committed WAL write
sits in the operating system's cache, which outlives the process; it may lose
the last commits on a power cut. One fsync per upload is small next to
decoding the image.) The faiss index is rebuilt from the table when the store
opens and changed only together with it, under one lock.

An image's local features (for verified search) are written in the same
transaction as its row, and deleted with it (:mod:`.database`,
:mod:`.stored_features`).

The store takes and returns its own records (:mod:`.records`: ``ImageFacts``,
``ImageRecord``, ``MatchRecord``, ``Found``); the API's schemas are the
routers' business (:mod:`.schemas`).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from .._checks import check_int
from ..features import Features
from ..hashing import check_method, hex_to_codes
from ..index import HashIndex
from .database import MAX_INTEGER, StoreError, connect, lock_file, open_schema, transaction, unlock_file
from .records import Found, ImageFacts, ImageRecord, MatchRecord
from .stored_features import COLUMNS as FEATURE_COLUMNS
from .stored_features import decode_features, encode_features

__all__ = ["MAX_INTEGER", "ImageStore", "StoreError"]

logger = logging.getLogger(__name__)

_COLUMNS = "id, name, sha256, hash, method, hash_size, width, height, bytes, created"


class ImageStore:
    """The images a service holds, searchable by Hamming distance, safe to share between threads.

    Parameters
    ----------
    path
        SQLite database file; created (with its folder) if missing.
    method, hash_size
        How hashes are made. A database remembers the ones it was created
        with and refuses to open with others.

    Raises
    ------
    StoreError
        The file is not a dedupkit database, was made with another method or
        hash size, or is already open in another server.
    """

    def __init__(self, path: str | os.PathLike, *, method: str = "dhash", hash_size: int = 8):
        check_method(method, hash_size)
        self.path = Path(path)
        self.method = method
        self.hash_size = int(hash_size)
        self._lock = threading.Lock()
        self._index = HashIndex(method=method, hash_size=hash_size)
        self._db: sqlite3.Connection | None = None
        self._guard = lock_file(self.path)
        try:
            self._db = connect(self.path)
            open_schema(self._db, self.path, method=method, hash_size=self.hash_size)
            rows = self._db.execute("SELECT id, hash FROM images ORDER BY id").fetchall()
            if rows:
                self._index.add_codes([str(row[0]) for row in rows], hex_to_codes([row[1] for row in rows]))
        except BaseException:
            self.close()
            raise
        logger.info("opened %s: %d images, %s hash_size=%d", self.path, len(self._index), method, hash_size)

    # -- opening and closing -------------------------------------------------

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            unlock_file(self._guard)
            self._guard = None

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"ImageStore({str(self.path)!r}, method={self.method!r}, hash_size={self.hash_size}, size={len(self)})"

    @property
    def with_features(self) -> int:
        """How many stored images have local features (those added since the database had the table)."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM features").fetchone()[0]

    @property
    def index_kind(self) -> str:
        """The kind of the in-memory index: ``"dedupkit.HashIndex"`` (exact search)."""
        return f"dedupkit.{type(self._index).__name__}"

    # -- writing ---------------------------------------------------------------

    def add(
        self,
        images: Sequence[ImageFacts],
        *,
        features: Sequence[Features | None] | None = None,
        max_distance: int | None = None,
        limit: int = 100,
    ) -> list[tuple[ImageRecord, Found]]:
        """Store images, all or none, each after looking for what is stored near it.

        Parameters
        ----------
        images
            Hashed images, stored in this order in one transaction; each is
            compared with everything stored before it, including the images
            before it in ``images``.
        features
            Each image's local features (:func:`dedupkit.features.extract_features`,
            default parameters), or ``None`` for an image without; stored
            with the image's row, in the same transaction.
        max_distance
            As in :meth:`search`; ``None`` skips the search (a bulk import).
        limit
            Most matches listed per image.

        Returns
        -------
        list of (ImageRecord, Found)
            For each image: its row and what was found before storing it
            (nothing when not searching).

        Raises
        ------
        ValueError
            A hash of the wrong length, a bad ``max_distance``, or
            ``features`` not one per image.
        """
        if features is None:
            features = [None] * len(images)
        if len(features) != len(images):
            raise ValueError(f"features must be one per image (or None): got {len(features)} for {len(images)} images")
        packed = [None if f is None else encode_features(f) for f in features]
        searching = max_distance is not None
        codes = [self._code(image.hash) for image in images]
        created = _now()
        results = []
        with self._lock:
            added: list[str] = []
            pending_keys: list[str] = []
            pending_codes: list[np.ndarray] = []
            try:
                with transaction(self._db):
                    for image, code, row in zip(images, codes, packed):
                        if searching:
                            self._add_to_index(pending_keys, pending_codes, added)
                            found = self._search(code, image.sha256, max_distance, None, limit)
                        else:
                            found = Found([], False, False)
                        cursor = self._db.execute(
                            "INSERT INTO images (name, sha256, hash, method, hash_size, width, height, bytes, created) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (image.name, image.sha256, image.hash, self.method, self.hash_size,
                             image.width, image.height, image.bytes, _timestamp(created)),
                        )
                        if row is not None:
                            self._db.execute(
                                f"INSERT INTO features (image_id, {', '.join(FEATURE_COLUMNS)}) "
                                f"VALUES (?{', ?' * len(FEATURE_COLUMNS)})", (cursor.lastrowid, *row))
                        stored = ImageRecord(image.name, image.sha256, image.hash, image.width, image.height,
                                             image.bytes, cursor.lastrowid, self.method, self.hash_size, created)
                        pending_keys.append(str(stored.id))
                        pending_codes.append(code)
                        results.append((stored, found))
                    self._add_to_index(pending_keys, pending_codes, added)
            except BaseException:
                self._index.remove(added)  # the rollback undid the rows; undo the index too
                raise
        return results

    def _add_to_index(self, keys: list[str], codes: list[np.ndarray], added: list[str]) -> None:
        if keys:
            self._index.add_codes(keys, np.concatenate(codes))
            added.extend(keys)
            keys.clear()
            codes.clear()

    def delete(self, image_id: int) -> bool:
        """Delete an image and its features; it stops matching at once. Return whether it existed."""
        if not _could_be_an_id(image_id):
            return False
        with self._lock, transaction(self._db):
            # the features row goes with it (ON DELETE CASCADE)
            deleted = self._db.execute("DELETE FROM images WHERE id = ?", (image_id,)).rowcount
            if deleted:
                self._index.remove([str(image_id)])
        return bool(deleted)

    # -- reading -----------------------------------------------------------------

    def search(
        self,
        hash_hex: str,
        *,
        sha256: str | None = None,
        max_distance: int | None = 10,
        k: int | None = None,
        limit: int = 100,
        features: bool = False,
    ) -> Found:
        """Find stored images near a hash, without storing anything.

        Parameters
        ----------
        hash_hex
            The query hash, hex, made with this store's method and hash size.
        sha256
            The query file's SHA-256, to recognise byte-for-byte copies.
        max_distance
            Keep matches within this many bits (inclusive).
        k
            Keep only the ``k`` nearest (within ``max_distance`` if given too).
        limit
            Most matches returned.
        features
            Also read the stored local features of the matches (in the same
            snapshot as the search: an image deleted meanwhile is in neither).

        Returns
        -------
        Found
            The matches, nearest first (then by id); whether more than
            ``limit`` were found; whether a stored image has exactly the bytes
            with ``sha256``; with ``features``, the features of the matches
            that have them, by id (images stored before the database had
            features have none).

        Raises
        ------
        ValueError
            A hash of the wrong length, bad hex, or a bad ``max_distance`` or ``k``.
        """
        code = self._code(hash_hex)
        with self._lock:
            found = self._search(code, sha256, max_distance, k, limit)
            if not features:
                return found
            ids = [m.id for m in found.matches]
            rows = self._db.execute(
                f"SELECT image_id, {', '.join(FEATURE_COLUMNS)} FROM features "
                f"WHERE image_id IN ({', '.join('?' * len(ids))})", ids).fetchall() if ids else []
        return found._replace(features={row[0]: decode_features(row[1:]) for row in rows})  # decoded unlocked

    def _search(
        self, code: np.ndarray, sha256: str | None, max_distance: int | None, k: int | None, limit: int
    ) -> Found:
        with _one_search_thread():
            _, keys, distances = self._index.search_arrays(code, max_distance=max_distance, k=k)
        ids = keys.astype(np.int64)
        order = np.lexsort((ids, distances))[:limit]
        ids, distances = ids[order].tolist(), distances[order].tolist()
        rows = {}
        if ids:
            placeholders = ", ".join("?" * len(ids))
            rows = {row[0]: row[1:] for row in self._db.execute(
                f"SELECT id, name, sha256 FROM images WHERE id IN ({placeholders})", ids)}
        matches = [MatchRecord(i, rows[i][0], d, sha256 is not None and rows[i][1] == sha256)
                   for i, d in zip(ids, distances)]
        exact = sha256 is not None and self._db.execute(
            "SELECT 1 FROM images WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone() is not None
        return Found(matches, len(keys) > limit, exact)

    def get(self, image_id: int) -> ImageRecord | None:
        """The stored image with this id, or ``None`` (also for an integer no SQLite row id can be)."""
        if not _could_be_an_id(image_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
        return None if row is None else _row_to_image(row)

    def list(self, *, offset: int = 0, limit: int = 100) -> tuple[list[ImageRecord], int]:
        """A page of stored images in id order, and how many there are in all.

        Raises
        ------
        TypeError
            ``offset`` or ``limit`` is not a whole number.
        ValueError
            A negative ``offset``, or a ``limit`` below 1.
        """
        offset, limit = check_int(offset, "offset", low=0), check_int(limit, "limit", low=1)
        with self._lock:
            # no table has more rows than SQLite's largest integer, so a page beyond it is empty
            rows = [] if offset > MAX_INTEGER else self._db.execute(
                f"SELECT {_COLUMNS} FROM images ORDER BY id LIMIT ? OFFSET ?",
                (min(limit, MAX_INTEGER), offset)).fetchall()
            total = len(self._index)
        return [_row_to_image(row) for row in rows], total

    # -- helpers -----------------------------------------------------------------

    def _code(self, hash_hex: str) -> np.ndarray:
        n_digits = self._index.n_bits // 4
        if not isinstance(hash_hex, str) or not re.fullmatch(f"[0-9a-fA-F]{{{n_digits}}}", hash_hex):
            raise ValueError(
                f"hash must be {n_digits} hex digits (a {self._index.n_bits}-bit {self.method}), got {hash_hex!r}"
            )
        return hex_to_codes([hash_hex])


@contextmanager
def _one_search_thread() -> Iterator[None]:
    """Search one query on the calling thread, without an OpenMP team.

    faiss parallelises even a single query; on a busy machine the team waits
    for free cores and a 1 ms search takes 10 ms or more (measured with two
    cores under load). OpenMP's thread count belongs to the calling thread, so
    this leaves other threads (a notebook's ``find_pairs``) as they were.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _could_be_an_id(image_id: int) -> bool:
    """Whether ``image_id`` is an integer that SQLite could hold as a row id (larger ones overflow its INTEGER)."""
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise TypeError(f"an image id must be an integer, got {image_id!r}")
    return 0 < image_id <= MAX_INTEGER


def _now() -> datetime:
    """Now, in UTC, to the millisecond (as the database keeps it)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _row_to_image(row: tuple) -> ImageRecord:
    image_id, name, sha256, hash_hex, method, hash_size, width, height, size, created = row
    return ImageRecord(name, sha256, hash_hex, width, height, size, image_id, method, hash_size,
                       datetime.fromisoformat(created))
