"""Review decisions, kept as data: which file of a group to keep, and which pictures are not duplicates.

A :class:`DecisionLog` is one CSV file (``decisions.csv`` in the review's
output folder), appended to as decisions are made: one line per decision,
flushed and synced to disk before :meth:`DecisionLog.record` returns, so a
killed kernel loses at most the decision being written. A line torn by a
crash mid-write (no final newline) is ignored when the file is read and cut
off when it is next opened for writing. The latest line about a file (or a
pair of files) wins, so changing one's mind is another line.

Decisions are about files, not paths: each line records the file's size,
modification time and SHA-256 of its bytes. A later scan matches a file to
its decisions by path when size and mtime are unchanged, else by content
(a renamed or moved file keeps its decisions; a file edited since loses
them). :func:`apply_decisions` puts the decisions on a group table, and
``find_groups(..., decisions=)`` keeps files marked "not a duplicate" out
of each other's groups in every later scan.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .plan import file_sha256

__all__ = ["DECISIONS", "DECISION_COLUMNS", "DecisionLog", "apply_decisions", "decided_groups", "distinct_pairs",
           "drop_apart",
           "identities", "kept_apart", "left_in_group", "read_decisions"]

#: What a decision says: ``keep`` or ``remove`` a file of its group; ``distinct``: the file is not a duplicate
#: of ``other``; ``same``: it is after all (undoes ``distinct``).
DECISIONS = ("keep", "remove", "distinct", "same")

#: The columns of a decisions file, in order.
DECISION_COLUMNS = ("time", "group", "decision", "path", "bytes", "mtime_ns", "sha256",
                    "other", "other_bytes", "other_mtime_ns", "other_sha256")

_DTYPES = {"group": "Int64", "decision": "string", "path": "string", "bytes": "Int64", "mtime_ns": "Int64",
           "sha256": "string", "other": "string", "other_bytes": "Int64", "other_mtime_ns": "Int64",
           "other_sha256": "string", "time": "string"}


class DecisionLog:
    """An append-only decisions file: every :meth:`record` is on disk when it returns.

    Parameters
    ----------
    path
        The CSV file (created with its header if missing; its folder too).
    root
        The folder relative paths are in (the folder that was scanned);
        default: the current directory. Paths are written absolute.

    Examples
    --------
    >>> log = DecisionLog("out/decisions.csv", root="photos")  # doctest: +SKIP
    >>> log.record(3, "beach.jpg", "keep")  # doctest: +SKIP
    >>> log.record(3, "beach-copy.jpg", "distinct", other="beach.jpg")  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, *, root: str | os.PathLike | None = None):
        self.path = os.fspath(path)
        self.root = os.path.abspath(root) if root is not None else None
        self._facts: dict[str, tuple] = {}
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            with open(self.path, "w", newline="", encoding="utf-8") as file:
                csv.writer(file).writerow(DECISION_COLUMNS)
                _sync(file)
        else:
            _check_header(self.path)
            _cut_torn_line(self.path)

    def absolute(self, path: str | os.PathLike) -> str:
        """``path`` resolved against the log's root."""
        path = os.fspath(path)
        return os.path.abspath(path if self.root is None else os.path.join(self.root, path))

    def record(self, group: int | None, path: str | os.PathLike, decision: str,
               other: str | os.PathLike | None = None) -> None:
        """Write one decision (see :data:`DECISIONS`); ``other`` is needed by ``distinct`` and ``same``."""
        self.record_many([{"group": group, "path": path, "decision": decision, "other": other}])

    def record_many(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Write several decisions (dicts with ``group``, ``path``, ``decision``, ``other``) with one sync."""
        lines = io.StringIO()
        writer = csv.writer(lines)
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        for row in rows:
            decision = row.get("decision")
            if decision not in DECISIONS:
                raise ValueError(f"decision must be one of {list(DECISIONS)}, got {decision!r}")
            other = row.get("other")
            if (other is None) != (decision in ("keep", "remove")):
                raise ValueError(f"decision {decision!r} " + ("needs" if other is None else "takes no")
                                 + " other file")
            path = self.absolute(row["path"])
            size, mtime, sha = self._identity(path)
            other_path = self.absolute(other) if other is not None else ""
            other_facts = self._identity(other_path) if other is not None else ("", "", "")
            group = row.get("group")
            writer.writerow([now, "" if group is None or pd.isna(group) else int(group), decision, path, size,
                             mtime, sha, other_path, *other_facts])
        with open(self.path, "a", newline="", encoding="utf-8") as file:
            file.write(lines.getvalue())
            _sync(file)

    def read(self) -> pd.DataFrame:
        """Every decision written so far (:func:`read_decisions`)."""
        return read_decisions(self.path)

    def _identity(self, path: str) -> tuple:
        try:
            st = os.stat(path)
        except OSError:
            return "", "", ""
        key = (st.st_size, st.st_mtime_ns)
        known = self._facts.get(path)
        if known is None or known[:2] != key:
            try:
                known = (*key, file_sha256(path))
            except OSError:
                known = (*key, "")
            self._facts[path] = known
        return known


def read_decisions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a decisions file (:data:`DECISION_COLUMNS`), in the order written; a torn last line is left out.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a decisions file (another header).
    """
    with open(path, encoding="utf-8", newline="") as file:
        text = file.read()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    if not text:
        return pd.DataFrame({c: pd.Series(dtype=_DTYPES[c]) for c in DECISION_COLUMNS})
    table = pd.read_csv(io.StringIO(text), dtype="string", keep_default_na=False)
    if tuple(table.columns) != DECISION_COLUMNS:
        raise ValueError(f"{path} is not a decisions file: its columns are {list(table.columns)}, "
                         f"expected {list(DECISION_COLUMNS)}")
    table = table.replace("", pd.NA)
    for column, dtype in _DTYPES.items():
        table[column] = table[column].astype(dtype)
    return table


def distinct_pairs(decisions: pd.DataFrame) -> set[frozenset[str]]:
    """The pairs of files (their paths when decided) marked "not a duplicate" and not taken back (``same``)."""
    pairs: dict[frozenset[str], bool] = {}
    rows = decisions[decisions["decision"].isin(["distinct", "same"])]
    for row in rows.itertuples(index=False):
        key = frozenset((row.path, row.other))
        pairs[key] = row.decision == "distinct"
    return {key for key, distinct in pairs.items() if distinct and len(key) == 2}


def left_in_group(members: Sequence[str], apart: set[frozenset[str]]) -> np.ndarray:
    """Which members of a group stay in it, given the pairs marked "not a duplicate".

    Parameters
    ----------
    members
        The group's files (as :func:`identities` names them) in the group's
        order: the kept file first, then the keep rules' order.
    apart
        The pairs marked "not a duplicate" (:func:`distinct_pairs`).

    Returns
    -------
    numpy.ndarray
        A bool per member. A member marked "not a duplicate" of every other
        member still in the group is split off (copies before the kept file:
        splitting a copy off a group of two leaves the kept file); of the
        files left, the first is the group's centre (re-centred when the
        kept file was split off: its copies are still copies of each other),
        and a file marked "not a duplicate" of that centre leaves too.
    """
    left = list(range(len(members)))
    for k in reversed(range(len(members))):  # a copy leaves its group before the file kept
        others = [o for o in left if o != k]
        if others and all(frozenset((members[k], members[o])) in apart for o in others):
            left.remove(k)
    if left:
        centre = members[left[0]]
        left = [left[0]] + [o for o in left[1:] if frozenset((centre, members[o])) not in apart]
    mask = np.zeros(len(members), dtype=bool)
    mask[left] = True
    return mask


def apply_decisions(groups: pd.DataFrame, decisions: pd.DataFrame | str | os.PathLike, *,
                    root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Put review decisions on a group table.

    Parameters
    ----------
    groups
        A group table (:func:`dedupkit.find_groups`).
    decisions
        A decisions table (:func:`read_decisions`) or the path of a decisions file.
    root
        The folder the group table's relative paths are in.

    Returns
    -------
    pandas.DataFrame
        The group table with the files split off their group left out
        (:func:`left_in_group`; a group left with one file goes too); a
        group whose kept file was split off centred on the next file in its
        order (the keep rules' order, as :func:`dedupkit.find_groups` gives
        it: ``keep=True``, ``link_distance`` 0, and ``keep_reason`` saying
        so); ``keep`` then set by each file's latest ``keep`` or ``remove``;
        ``size`` recounted; and two more columns: ``decision`` (the file's
        latest keep/remove, or missing) and ``decided`` (every file of the
        group has one). A file is matched to its decisions by path while
        its size and mtime are unchanged, else by its bytes. The distances
        are those of the scan.
    """
    if not isinstance(decisions, pd.DataFrame):
        decisions = read_decisions(decisions)
    table = groups.copy()
    if table.empty:
        table["decision"] = pd.Series(dtype="string")
        table["decided"] = pd.Series(dtype=bool)
        return table
    base = os.path.abspath(root) if root is not None else None
    absolute = [os.path.abspath(p if base is None else os.path.join(base, p)) for p in table["path"].astype(str)]
    identity = dict(zip(absolute, identities(absolute, decisions)))
    ids = pd.Series([identity[p] for p in absolute], index=table.index)

    files = decisions[decisions["decision"].isin(["keep", "remove"])]
    latest = dict(zip(files["path"], files["decision"]))
    table["decision"] = pd.array([latest.get(i) for i in ids], dtype="string")

    apart = distinct_pairs(decisions)
    if apart:
        left = np.zeros(len(table), dtype=bool)
        first = np.zeros(len(table), dtype=bool)  # the file each group now centres on
        for rows in table.groupby("group", sort=False).indices.values():
            stay = rows[left_in_group([ids.iloc[r] for r in rows], apart)]
            if len(stay) > 1:
                left[stay] = True
                first[stay[0]] = stay[0] != rows[0]
        recentred = pd.Series(first, index=table.index) & ~table["keep"].astype(bool)
        moved = table["group"].isin(table.loc[recentred, "group"])
        table["keep"] = table["keep"].astype(bool) | recentred
        if "link_distance" in table.columns:
            table.loc[recentred, "link_distance"] = 0
        if "keep_reason" in table.columns:
            reason = table["keep_reason"].astype("string")
            reason = reason.mask(moved & ~table["keep"], "ranked after the file now kept (the file kept was "
                                                         "split off)")
            table["keep_reason"] = reason.mask(recentred, "the file kept was split off: the next by the keep rules")
        table, ids = table[left], ids[left]
        table["size"] = table.groupby("group")["path"].transform("size").astype(np.int64)

    was = table["keep"].astype(bool)
    decided = table["decision"].notna()
    table["keep"] = np.where(decided, table["decision"] == "keep", was).astype(bool)
    if "keep_reason" in table.columns:
        reason = table["keep_reason"].astype("string")
        reason = reason.mask(decided & table["keep"] & ~was, "kept by your decision")
        reason = reason.mask(decided & ~table["keep"] & was, "removed by your decision")
        table["keep_reason"] = reason
    table["decided"] = decided.groupby(table["group"]).transform("all").astype(bool)
    return table.reset_index(drop=True)


def decided_groups(decisions: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    """The decided files as a group table (``group``, ``path``, ``keep``, and the facts when decided).

    Each file's latest keep/remove, in the group it was decided in; what
    :func:`dedupkit.plan_actions` (and ``dedupkit apply decisions.csv``)
    acts on. A file never decided is not in it, so it is never touched;
    a group with no file decided "keep" has nothing removed.
    """
    if not isinstance(decisions, pd.DataFrame):
        decisions = read_decisions(decisions)
    rows = decisions[decisions["decision"].isin(["keep", "remove"])].drop_duplicates("path", keep="last")
    table = pd.DataFrame({"group": rows["group"], "path": rows["path"], "keep": rows["decision"] == "keep",
                          "bytes": rows["bytes"], "mtime_ns": rows["mtime_ns"], "sha256": rows["sha256"]})
    return table.dropna(subset=["group"]).sort_values(["group", "keep"], ascending=[True, False],
                                                     ignore_index=True)


def drop_apart(pairs: pd.DataFrame, decisions: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    """A pair table without the pairs marked "not a duplicate" (by file identity, as :func:`identities`)."""
    if not isinstance(decisions, pd.DataFrame):
        decisions = read_decisions(decisions)
    if pairs.empty or not distinct_pairs(decisions):
        return pairs
    ends = pd.concat([pairs["path_a"], pairs["path_b"]], ignore_index=True).astype(str)
    paths = ends.unique()
    apart_a, apart_b = kept_apart(list(paths), decisions)
    apart = {frozenset((paths[i], paths[j])) for i, j in zip(apart_a, apart_b)}
    drop = [frozenset((a, b)) in apart for a, b in zip(pairs["path_a"].astype(str), pairs["path_b"].astype(str))]
    return pairs[~np.array(drop, dtype=bool)].reset_index(drop=True)


def kept_apart(paths: Sequence[str], decisions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of ``paths`` (as index arrays into it) marked "not a duplicate" of each other."""
    apart = distinct_pairs(decisions)
    if not apart:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    names = identities([os.path.abspath(p) for p in paths], decisions)
    where: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        where.setdefault(name, []).append(i)
    ends = [(i, j) for pair in apart if len(pair) == 2
            for i in where.get(min(pair), ()) for j in where.get(max(pair), ())]
    if not ends:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = np.array(ends, dtype=np.int64).T
    return a, b


def identities(paths: Sequence[str], decisions: pd.DataFrame) -> list[str]:
    """Each file as the decisions know it: the path it had when decided.

    A file whose path, size and mtime are those recorded is that file. A
    file not found so whose size is that of a decided file no longer at its
    recorded path (renamed, moved) is read: with the same SHA-256 it is that
    file. A file changed since its decision, or never decided, is known by
    no decided path (its own path, marked), so no decision applies to it.
    Absolute paths in, absolute paths out.
    """
    recorded: dict[str, tuple[int, int, str]] = {}
    for path, size, mtime, sha in _facts(decisions):
        recorded[path] = (size, mtime, sha)
    present = {}
    for path in paths:
        try:
            st = os.stat(path)
            present[path] = (st.st_size, st.st_mtime_ns)
        except OSError:
            present[path] = None
    # decided files no longer where they were, by size then content: where renamed files may have gone
    moved: dict[tuple[int, str], list[str]] = {}
    for path, (size, mtime, sha) in recorded.items():
        if present.get(path, _state(path)) != (size, mtime):
            moved.setdefault((size, sha), []).append(path)
    sizes = {size for size, _ in moved}
    out = []
    for path in paths:
        state = present[path]
        if state is not None and recorded.get(path, (None, None))[:2] == state:
            out.append(path)
            continue
        name = f"{path} (undecided)"
        if state is not None and state[0] in sizes:
            try:
                sha = file_sha256(path)
            except OSError:
                sha = ""
            candidates = moved.get((state[0], sha))
            if candidates:
                name = candidates.pop(0)
        out.append(name)
    return out


def _state(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _facts(decisions: pd.DataFrame) -> Iterable[tuple[str, int, int, str]]:
    """(path, bytes, mtime_ns, sha256) of every file the decisions name, itself or as ``other``."""
    for prefix in ("", "other_"):
        rows = decisions.dropna(subset=[f"{prefix}sha256", f"{prefix}bytes", f"{prefix}mtime_ns"])
        yield from zip(rows["other" if prefix else "path"], rows[f"{prefix}bytes"].astype(int),
                       rows[f"{prefix}mtime_ns"].astype(int), rows[f"{prefix}sha256"])


def _sync(file) -> None:
    file.flush()
    os.fsync(file.fileno())


def _check_header(path: str) -> None:
    with open(path, encoding="utf-8", newline="") as file:
        header = next(csv.reader(file), [])
    if tuple(header) != DECISION_COLUMNS:
        raise ValueError(f"{path} is not a decisions file (its first line is {','.join(header)!r}): "
                         "choose another output folder, or move that file away")


def _cut_torn_line(path: str) -> None:
    """Cut a last line that a crash left without its newline."""
    with open(path, "rb+") as file:
        file.seek(0, os.SEEK_END)
        end = file.tell()
        if end == 0:
            return
        file.seek(end - 1)
        if file.read(1) == b"\n":
            return
        block = min(end, 1 << 16)
        file.seek(end - block)
        tail = file.read(block)
        cut = tail.rfind(b"\n")
        file.truncate(end - block + cut + 1 if cut >= 0 else 0)
        _sync(file)
