"""A persistent hash cache, so that a re-scan hashes only new or changed files.

:func:`dedupkit.hash_images` takes ``cache=`` (a file path, or ``True`` for
``.dedupkit-cache.parquet`` in the scanned folder). The cache is one Parquet
file plus, while a scan runs, an append-only journal beside it::

    photos/.dedupkit-cache.parquet                       # merged rows
    photos/.dedupkit-cache.parquet.journal-<id>.arrows   # this scan's new rows

A row is reused only if its file has the same path, size and modification time
(nanoseconds) (an object behind a URL: the same URL, size and ETag or version
id, kept in the ``version`` column) and was hashed with the same settings: method, hash size, exact
or fast decoding, and every other option that changes the row (``trim``,
``dihedral``, ``max_pixels``), plus a version of dedupkit's hashing code. Rows
made with other settings stay in the file for the scans that use them.

Every finished chunk of a scan is appended to the journal at once (an Arrow IPC
stream, readable up to its last complete chunk even if the process was killed
mid-write). At the end of a scan the journal is merged into the Parquet file,
written to a temporary file and moved into place with :func:`os.replace`, so the
cache file is never half-written. An interrupted scan (Ctrl-C, a killed kernel)
leaves its journal behind; the next scan reads it, so at most the chunks that
were being hashed at that moment are lost.

A member of a tar shard (``shards/00001.tar/cat/1.jpg``) is known by its
shard: the shard's size and modification time (behind a URL, its size and
ETag) and the member's name. A scan of shards asks each shard's state only
(:meth:`HashCache.lookup_shards`), and a shard whose rows are all cached
under that state is not read at all. The rows of one shard are recorded
together, and none of them if reading it failed for a passing reason, so a
cached shard is always a whole one.

A broken symbolic link is known by the link itself (its own modification
time), so its error row is reused until the link changes or its target appears.

Paths inside the cache's folder are stored relative to it, so a folder moved or
copied together with its cache (keeping modification times, as ``cp -p`` and
``rsync -a`` do) is not hashed again. Rows of files that no longer exist are
dropped when the journal is merged.

One scan per cache file at a time is the intended use. Two scans sharing a
cache never see each other's half-written data (journals are locked while
written); at worst a few rows are not cached and get hashed again.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import stat
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ._journal import INT_COLUMNS, PANDAS_TYPES, Journal, read_journal, to_arrow, try_lock_and_remove
from ._keys import is_url, split_member
from .loading import TRANSIENT_KINDS

__all__ = ["DEFAULT_CACHE_NAME", "HashCache", "resolve_cache_path", "settings_key"]

logger = logging.getLogger(__name__)

#: File name of the cache that ``hash_images(folder, cache=True)`` keeps in ``folder``.
DEFAULT_CACHE_NAME = ".dedupkit-cache.parquet"

#: Columns that identify a cached row; every other column is the row itself.
KEY_COLUMNS = ("path", "size", "mtime_ns", "version", "settings")
_FORMAT = "dedupkit-hash-cache/1"  # stored in the Parquet metadata
_BROKEN_LINK = -1  # the size recorded for a broken symbolic link
_UNKNOWN = -2  # size and mtime of a file that cannot be read: never matches a cached row


def settings_key(settings: Mapping[str, object]) -> str:
    """A stable string for a set of hashing options (the ``settings`` column)."""
    return json.dumps(dict(settings), sort_keys=True, separators=(",", ":"), default=str)


def resolve_cache_path(cache: str | os.PathLike | bool | None, source: object) -> Path | None:
    """Where ``hash_images(source, cache=cache)`` keeps its cache, or ``None`` for no cache.

    ``None`` or ``False``: no cache. ``True``: ``.dedupkit-cache.parquet`` in
    ``source``, which must then be a folder. A path: that file.
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        if isinstance(source, str) and "://" in source:
            raise ValueError(
                f"cache=True keeps the cache in the scanned folder, and {source} is a URL: "
                "pass a local file, cache='path/to/cache.parquet'"
            )
        if not isinstance(source, (str, os.PathLike)) or not Path(source).is_dir():
            raise ValueError(
                "cache=True keeps the cache in the scanned folder, so the source must be a folder; "
                "pass cache='path/to/cache.parquet' for a list of files"
            )
        return Path(source) / DEFAULT_CACHE_NAME
    if isinstance(cache, (str, os.PathLike)):
        path = Path(cache)
        if path.is_dir():
            return path / DEFAULT_CACHE_NAME
        return path
    raise TypeError(f"cache must be None, True/False or a file path, got {cache!r}")


class HashCache:
    """Rows of earlier scans, looked up by path, size, modification time and settings.

    Use :meth:`lookup` once with the files of a scan, :meth:`record` for each
    finished chunk, and :meth:`close` at the end (``compact=True`` after a
    complete scan). :func:`dedupkit.hash_images` does all of this for you.

    Parameters
    ----------
    path
        The Parquet file (created on the first :meth:`close`).
    settings
        The options the rows are hashed with; rows with other settings are kept
        but never returned.

    Raises
    ------
    ValueError
        ``path`` exists but is not a dedupkit hash cache (it is never
        overwritten then).
    """

    def __init__(self, path: str | os.PathLike, settings: Mapping[str, object]):
        self.path = Path(path)
        self.root = os.path.abspath(self.path.parent)
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self.settings = settings_key(settings)
        self._table, self._merged_journals, self._signature = self._load()  # every cached row, all settings
        self._stats: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, version) of the files to hash
        self._shard_stats: dict[str, tuple[int, int, str]] = {}  # the same for the shards to read
        self._journal: Journal | None = None
        self._journals_written: list[str] = []
        self._new: list[pa.Table] = []  # rows recorded by this scan
        self._seen: set[str] | None = None  # key paths of the files of this scan
        self._broken = False

    # -- reading -------------------------------------------------------------
    def _journal_paths(self) -> list[str]:
        pattern = glob.escape(str(self.path)) + ".journal-*.arrows"
        return sorted(glob.glob(pattern), key=lambda p: (_mtime(p), p))

    def _load(self) -> tuple[pd.DataFrame, list[str], tuple | None]:
        """Every row of the Parquet file and the journals, the journals read, the file's signature."""
        parts = []
        signature = _signature(self.path)
        if signature is not None:
            try:
                meta = pq.read_schema(self.path).metadata or {}
            except (OSError, pa.ArrowException) as exc:
                raise ValueError(
                    f"{self.path}: not a dedupkit hash cache ({exc}); delete it or pass another cache path"
                ) from None
            if meta.get(b"dedupkit") != _FORMAT.encode():
                raise ValueError(
                    f"{self.path}: not a dedupkit hash cache (made by another program or another "
                    "dedupkit version); delete it or pass another cache path"
                )
            parts.append(_with_version(pq.read_table(self.path).to_pandas(types_mapper=PANDAS_TYPES.get)))
        journals = []
        for journal in self._journal_paths():
            frame = read_journal(journal)
            if frame is not None:
                parts.append(_with_version(frame))
            journals.append(journal)
        return _merge(parts), journals, signature

    def key_path(self, path: str) -> str:
        """The path as stored: relative to the cache's folder when inside it, else absolute; a URL as it is."""
        if "://" in path:
            return path
        full = os.path.abspath(path)
        if full.startswith(self._prefix):
            return full[len(self._prefix):]
        return full

    def lookup(
        self, files: Sequence[str], *, states: Mapping[str, tuple[int, str]] | None = None
    ) -> tuple[list[dict], list[str]]:
        """Split a scan's files into cached rows and files to hash.

        Parameters
        ----------
        files
            The keys of the scan.
        states
            ``(size, version)`` by key, for objects behind URLs (from their
            listing) and shard members (their shard's); a URL or member
            missing from it is hashed and not cached, a local file missing
            from it is looked up on disk. ``None``: local files only.

        Returns
        -------
        rows, to_hash
            Rows (with the scan's own paths) for the files that are cached and
            unchanged, and the paths that must be hashed, in the given order.
        """
        keys, sizes, mtimes, versions, known = [], [], [], [], []
        for path in files:
            keys.append(self.key_path(path))
            if states is None:
                state = _file_state(path)
                version = ""
            elif path in states:
                state, version = (states[path][0], 0), states[path][1]
            elif is_url(path) or split_member(path)[0] is not None:
                state, version = None, ""
            else:
                state, version = _file_state(path), ""
            known.append(state is not None)
            size, mtime = state if state is not None else (_UNKNOWN, _UNKNOWN)
            sizes.append(size)
            mtimes.append(mtime)
            versions.append(version)
        self._seen = set(keys)
        wanted = pd.DataFrame({"path": pd.Series(keys, dtype=object), "size": np.asarray(sizes, dtype=np.int64),
                               "mtime_ns": np.asarray(mtimes, dtype=np.int64),
                               "version": pd.Series(versions, dtype=object), "_at": np.arange(len(keys))})
        mine = self._table[self._table["settings"] == self.settings]
        if not len(mine) or not len(wanted):
            mine = mine.iloc[:0].astype({"path": object, "version": object})
        hits = wanted.merge(mine, on=["path", "size", "mtime_ns", "version"], how="inner")
        hit_at = np.zeros(len(keys), dtype=bool)
        hit_at[hits["_at"].to_numpy()] = True
        payload = [c for c in hits.columns if c not in (*KEY_COLUMNS, "_at")]
        rows = []
        if len(hits):
            values = hits[payload].astype(object).where(hits[payload].notna(), None)
            for at, record in zip(hits["_at"].to_numpy(), values.to_dict("records")):
                record["path"] = files[at]
                rows.append(record)
        to_hash = []
        for at in np.flatnonzero(~hit_at):
            to_hash.append(files[at])
            if known[at]:
                self._stats[files[at]] = (sizes[at], mtimes[at], versions[at])
        return rows, to_hash

    def lookup_shards(
        self, shards: Sequence[str], *, states: Mapping[str, tuple[int, str] | None]
    ) -> tuple[list[dict], list[str]]:
        """Split a scan's tar shards into the cached rows of their members and the shards to read.

        Parameters
        ----------
        shards
            The shards of the scan (paths or URLs).
        states
            ``(size, version)`` of each shard
            (:func:`dedupkit.shards.shard_state`); a shard without one is
            read and not cached.

        Returns
        -------
        rows, to_read
            Rows (keys ``<shard>/<member>`` as the scan names them) of the
            shards cached under their current state, and the shards to read.
        """
        mine = self._table[(self._table["settings"] == self.settings) & (self._table["mtime_ns"] == 0)]
        by_shard = dict(tuple(mine.groupby(mine["path"].map(_shard_part), sort=False))) if len(mine) else {}
        rows: list[dict] = []
        to_read: list[str] = []
        seen: set[str] = set()
        for shard in shards:
            key = self.key_path(shard)
            seen.add(key)
            state = states.get(shard)
            if state is None:
                to_read.append(shard)
                continue
            size, version = state
            found = by_shard.get(key)
            if found is not None:
                found = found[(found["size"] == size) & (found["version"] == version)]
            if found is None or not len(found):
                to_read.append(shard)
                self._shard_stats[shard] = (size, 0, version)
                continue
            payload = [c for c in found.columns if c not in KEY_COLUMNS]
            values = found[payload].astype(object).where(found[payload].notna(), None)
            for path, record in zip(found["path"], values.to_dict("records")):
                record["path"] = shard + path[len(key):]
                seen.add(path)
                rows.append(record)
        self._seen = seen
        return rows, to_read

    # -- writing -------------------------------------------------------------
    def record(self, rows: Iterable[dict]) -> None:
        """Append freshly hashed rows to this scan's journal (one chunk at a time).

        If the journal cannot be written (read-only folder, full disk) the
        cache warns once and stops writing; the scan goes on.
        """
        if self._broken:
            return
        try:
            self._record(rows)
        except OSError as exc:
            self._give_up(exc)

    def _give_up(self, exc: OSError) -> None:
        self._broken = True
        warnings.warn(f"hash cache {self.path} cannot be written ({exc}); going on without it",
                      RuntimeWarning, stacklevel=3)
        if self._journal is not None:
            with contextlib.suppress(OSError):
                self._journal.close()
            self._journal = None

    def _shard_of(self, path: str) -> str | None:
        """The shard being read that a row's key belongs to (a member, or the shard's own error row)."""
        if not self._shard_stats:
            return None
        if path in self._shard_stats:
            return path
        shard = split_member(path)[0]
        return shard if shard in self._shard_stats else None

    def _record(self, rows: Iterable[dict]) -> None:
        rows = list(rows)
        failed = {self._shard_of(row["path"]) for row in rows if row.get("error_kind") in TRANSIENT_KINDS}
        records = []
        for row in rows:
            shard = self._shard_of(row["path"])
            if shard is not None and shard in failed:
                continue  # a shard that broke off for a passing reason: none of it, or it would look whole
            stat = self._stats.get(row["path"]) if shard is None else self._shard_stats[shard]
            if stat is None or row.get("error_kind") in TRANSIENT_KINDS:  # the machine's state, not the file's
                continue
            record = {key: value for key, value in row.items() if key != "error_kind"}
            record["path"] = self.key_path(row["path"])
            record["size"], record["mtime_ns"], record["version"] = stat
            record["settings"] = self.settings
            records.append(record)
        if not records:
            return
        if self._journal is not None and not self._journal.fits(records):
            self._journal.close()  # another set of columns: start another journal
            self._journal = None
        if self._journal is None:
            self._journal = Journal(f"{self.path}.journal-{uuid.uuid4().hex}.arrows")
            self._journals_written.append(self._journal.path)
        self._new.append(self._journal.append(records))  # columnar: small next to the rows

    def close(self, *, compact: bool = True) -> None:
        """Finish this scan's journal and, if ``compact``, merge everything into the Parquet file.

        Merging drops rows of files that no longer exist. Without ``compact``
        (an interrupted scan) the journal stays beside the cache for the next
        scan to read.
        """
        if self._broken:
            return
        try:
            self._close(compact)
        except OSError as exc:
            self._give_up(exc)

    def _close(self, compact: bool) -> None:
        journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()
        if not compact:
            return
        if _signature(self.path) == self._signature:
            # the usual case: nobody rewrote the file since this scan read it
            new = (pa.concat_tables(self._new, promote_options="permissive").to_pandas(types_mapper=PANDAS_TYPES.get)
                   if self._new else None)
            table = _merge([self._table, new])
            journals = self._merged_journals + self._journals_written
        else:  # another scan merged meanwhile: start again from what is on disk now
            table, journals, _ = self._load()
        before = len(table)
        table = self._drop_removed(table)
        if not journals and len(table) == before and self.path.exists():
            return  # nothing new, nothing removed: leave the file alone
        self._write(table)
        for done in journals:
            if not try_lock_and_remove(done):
                logger.debug("journal %s is still being written; left for a later scan", done)
        self._table, self._merged_journals, self._signature = table, [], _signature(self.path)
        self._new, self._journals_written = [], []

    def _drop_removed(self, table: pd.DataFrame) -> pd.DataFrame:
        if not len(table):
            return table
        seen = self._seen or set()
        unknown = ~table["path"].isin(seen)
        if not unknown.any():
            return table
        candidates = table.loc[unknown, "path"].unique()
        # an object behind a URL is not looked for (a request each): its row stays
        gone = {p for p in candidates if "://" not in p and not os.path.lexists(os.path.join(self.root, p))
                and not os.path.isfile(os.path.join(self.root, _shard_part(p)))}
        if gone:
            logger.info("cache: dropping %d rows of files that no longer exist", len(gone))
            table = table[~table["path"].isin(gone)].reset_index(drop=True)
        return table

    def _write(self, table: pd.DataFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        arrow = to_arrow(table)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"dedupkit": _FORMAT.encode()})
        tmp = f"{self.path}.tmp-{uuid.uuid4().hex}"
        try:
            pq.write_table(arrow, tmp)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)

    def __len__(self) -> int:
        return int((self._table["settings"] == self.settings).sum())


def _merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of several sources, the last one winning for each (path, settings)."""
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return _empty()
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return table.drop_duplicates(["path", "settings"], keep="last", ignore_index=True)


def _shard_part(path: str) -> str:
    """The shard of a stored member key (``a/00001.tar/cat/1.jpg`` -> ``a/00001.tar``), else ``path``."""
    for suffix in (".tar/", ".tar.gz/", ".tgz/"):
        at = path.find(suffix)
        if at >= 0:
            return path[: at + len(suffix) - 1]
    return path


def _with_version(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows cached before objects behind URLs were: local files, version ``""``."""
    if "version" not in frame.columns:
        frame = frame.assign(version="")
    return frame


def _file_state(path: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, by which a cached row is known current; ``None`` if it cannot be read.

    A broken symbolic link is known by the link itself: size :data:`_BROKEN_LINK`
    (no file has it) and the link's own modification time, so its error is
    cached until the link is changed or its target appears.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        try:
            link = os.lstat(path)
        except OSError:
            return None
        return (_BROKEN_LINK, link.st_mtime_ns) if stat.S_ISLNK(link.st_mode) else None
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in INT_COLUMNS else object) for c in KEY_COLUMNS})
