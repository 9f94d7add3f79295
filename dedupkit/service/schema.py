"""The service's SQLite tables, their version, and the migrations from older versions.

Version 1 held ``images`` (one row per stored image) and ``dedupkit_meta``
(schema version, hash method, hash size). Version 2 adds ``features``: the
local features of each image added since, for ``POST /search?verify=true``
(:mod:`.stored_features` says how they are packed). A version 1 database is
migrated in place when a server opens it (one transaction: the new table is
created and the version raised); its images keep working, without features.
"""

from __future__ import annotations

import sqlite3

__all__ = ["META_TABLE", "SCHEMA_VERSION", "create", "migrate"]

SCHEMA_VERSION = 2
META_TABLE = "dedupkit_meta"

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


def create(db: sqlite3.Connection, *, method: str, hash_size: int) -> None:
    """Create every table at :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
    for statement in _TABLES:
        db.execute(statement)
    db.executemany(
        f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("method", method), ("hash_size", str(hash_size))],
    )


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a database from ``version`` to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            db.execute(statement)
    db.execute(f"UPDATE {META_TABLE} SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
