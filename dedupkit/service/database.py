"""The service's SQLite database: how it is opened and locked, its tables, their version and migrations.

SQLite runs in WAL mode with ``synchronous=FULL`` (durability: :mod:`.store`)
and enforces foreign keys, so that an image's features go with it. One
server at a time uses a database: it holds a lock on ``<db>.lock``.

Version 1 held ``images`` (one row per stored image) and ``dedupkit_meta``
(schema version, hash method, hash size). Version 2 adds ``features``: the
local features of each image added since, for ``POST /search?verify=true``
(:mod:`.stored_features` says how they are packed). A version 1 database is
migrated in place when a server opens it (one transaction: the new table is
created and the version raised); its images keep working, without features.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no guard against a second server
    fcntl = None

__all__ = ["MAX_INTEGER", "SCHEMA_VERSION", "StoreError", "connect", "lock_file", "open_schema", "transaction",
           "unlock_file"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
META_TABLE = "dedupkit_meta"
#: SQLite's largest INTEGER: no row id (image id) is larger, nor any OFFSET; a larger Python int overflows.
MAX_INTEGER = 2**63 - 1

_FEATURES = """
CREATE TABLE features (
    image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,             -- keypoints
    xy BLOB NOT NULL,               -- n x 2 float32, little-endian: positions in the working copy's pixels
    descriptors BLOB NOT NULL,      -- n x 32 uint8: ORB descriptors
    grey BLOB NOT NULL,             -- the grey working copy (long side <= side), JPEG
    width INTEGER NOT NULL,         -- the full image, upright
    height INTEGER NOT NULL,
    scale REAL NOT NULL,            -- full-image pixels per working-copy pixel
    side INTEGER NOT NULL,          -- how they were extracted (dedupkit.features)
    n_features INTEGER NOT NULL
)
"""

_TABLES = [
    f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a delete
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    hash TEXT NOT NULL,
    method TEXT NOT NULL,
    hash_size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    created TEXT NOT NULL
)
""",
    "CREATE INDEX images_sha256 ON images (sha256)",
    _FEATURES,
]

#: The statements that take a database from version ``k`` to ``k + 1``.
_MIGRATIONS: dict[int, list[str]] = {1: [_FEATURES]}


class StoreError(Exception):
    """The database cannot be used by this server; ``str(error)`` says why and what to do."""


def open_schema(db: sqlite3.Connection, path: Path, *, method: str, hash_size: int) -> None:
    """Create the tables of an empty database, or check an existing one and migrate it to :data:`SCHEMA_VERSION`.

    Raises
    ------
    StoreError
        Not a dedupkit database, a newer (or damaged) schema version, or
        another hash method or size than ``method`` and ``hash_size``.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        with transaction(db):
            _create(db, method=method, hash_size=hash_size)
        return
    if META_TABLE not in tables:
        raise StoreError(
            f"{path}: an SQLite database, but not one made by dedupkit (tables: {', '.join(sorted(tables))}); "
            "give another database file"
        )
    meta = dict(db.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
    version = meta.get("schema_version")
    if not (version or "").isdigit() or not 1 <= int(version) <= SCHEMA_VERSION:
        raise StoreError(
            f"{path}: database schema version {version!r}, this dedupkit reads versions 1 to "
            f"{SCHEMA_VERSION}; a newer dedupkit made it, or it is damaged"
        )
    if (meta.get("method"), meta.get("hash_size")) != (method, str(hash_size)):
        raise StoreError(
            f"{path} was created with method={meta.get('method')}, hash_size={meta.get('hash_size')}; "
            f"this server is set to method={method}, hash_size={hash_size}. Hashes made in different "
            "ways cannot be compared: start with the database's settings, or give another database file."
        )
    if int(version) < SCHEMA_VERSION:
        with transaction(db):
            _migrate(db, int(version))
        logger.info("%s: migrated the database from schema version %s to %d (images stored before have no "
                    "local features)", path, version, SCHEMA_VERSION)


def _create(db: sqlite3.Connection, *, method: str, hash_size: int) -> None:
    """Create every table at :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
    for statement in _TABLES:
        db.execute(statement)
    db.executemany(
        f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("method", method), ("hash_size", str(hash_size))],
    )


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a database from ``version`` to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            db.execute(statement)
    db.execute(f"UPDATE {META_TABLE} SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (durable when it returns), or ``ROLLBACK`` on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def connect(path: Path) -> sqlite3.Connection:
    """Open the database for the service: WAL, ``synchronous=FULL``, foreign keys, usable from any thread."""
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database ({exc}); give another database file") from None
    if mode != "wal":  # pragma: no cover - e.g. a file system without shared memory
        logger.warning("%s: SQLite refused WAL mode (%s); answered writes are still durable", path, mode)
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")  # a deleted image takes its features with it
    return db


def lock_file(path: Path):
    """Hold an exclusive lock on ``<db>.lock`` so that one server at a time uses a database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        return None
    guard = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 - held until close()
    try:
        fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        guard.close()
        raise StoreError(
            f"{path} is in use by another dedupkit server (its lock file {guard.name} is held); "
            "one server per database keeps the in-memory index in step"
        ) from None
    return guard


def unlock_file(guard) -> None:
    if guard is not None:
        guard.close()  # closing releases the lock
