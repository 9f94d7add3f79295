"""What applying a group table would do: one row per file to move, link or delete, and why others are left.

:func:`plan_actions` turns a group table (:func:`dedupkit.find_groups`, or
the ``--groups`` CSV of ``dedupkit find``) into a plan; :func:`dedupkit.apply`
carries it out. Planning reads the files (size, mtime and SHA-256) but
changes nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import pandas as pd

__all__ = ["ACTIONS", "PLAN_COLUMNS", "file_sha256", "free_name", "plan_actions", "plan_summary", "read_plan",
           "with_file_facts"]

#: What can be done to a file that is not kept.
ACTIONS = ("move", "hardlink", "symlink", "delete")

#: The columns of a plan, in order.
PLAN_COLUMNS = ("group", "path", "action", "kept", "dest", "bytes", "mtime_ns", "sha256", "status", "reason")

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def with_file_facts(table: pd.DataFrame, *, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """The table with each file's ``bytes``, ``mtime_ns`` and ``sha256`` as they are now (missing if unreadable).

    A group table written with them (``dedupkit find --groups``) lets
    :func:`plan_actions` skip any file changed between the scan and the apply.
    """
    base = os.path.abspath(root) if root is not None else None
    facts = []
    for path in table["path"].astype(str):
        try:
            full = _absolute(path, base)
            st = os.stat(full)
            facts.append((st.st_size, st.st_mtime_ns, file_sha256(full)))
        except OSError:
            facts.append((None, None, None))
    out = table.copy()
    for i, column in enumerate(("bytes", "mtime_ns")):
        out[column] = pd.array([f[i] for f in facts], dtype="Int64")
    out["sha256"] = pd.array([f[2] for f in facts], dtype="string")
    return out


def plan_actions(
    groups: pd.DataFrame,
    *,
    root: str | os.PathLike | None = None,
    action: str = "move",
    move_to: str | os.PathLike | None = None,
    trash: str | os.PathLike | None = None,
    reference: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    hashes: pd.DataFrame | None = None,
    scanned_at: float | None = None,
) -> pd.DataFrame:
    """Plan what to do with every file of a group table that is not kept.

    Parameters
    ----------
    groups
        A group table (``group``, ``path``, ``keep``). If it carries
        ``bytes``, ``mtime_ns`` or ``sha256`` columns, those are the facts of
        the scan that each file is checked against; the facts it lacks are
        read from the files now.
    root
        The folder the paths are relative to (the folder ``dedupkit find``
        scanned); default: the paths are used as they are.
    action
        One of :data:`ACTIONS`: ``"move"`` (to ``move_to``, keeping the
        layout under ``root``), ``"hardlink"`` or ``"symlink"`` (replace the
        file by a link to its group's kept file) or ``"delete"``.
    move_to
        Where moved files go (needed for ``"move"``).
    trash
        Where linked and deleted files are held so that an interrupted run
        loses nothing (needed for the other actions): linked files stay
        there (so :func:`dedupkit.restore` can put them back), deleted ones
        are removed from it when the run ends.
    reference
        Folders whose files are never touched, whatever the table says
        (files kept as references already have ``keep=True``).
    hashes
        The scan's hash table (:func:`dedupkit.hash_images`, or the
        ``--hashes`` CSV of ``dedupkit find``, paths relative to ``root``):
        its ``bytes`` are the sizes the files had when they were scanned.
    scanned_at
        When the scan was made (a POSIX timestamp, e.g. the groups CSV's
        mtime): a file modified later is skipped as changed since the scan.

    Returns
    -------
    pandas.DataFrame
        One row per file not kept (:data:`PLAN_COLUMNS`): absolute ``path``,
        ``action``, the group's ``kept`` file (the link target, and the copy
        that must still exist), ``dest`` (where the file goes: under
        ``move_to`` or ``trash``, a free name when that one is taken), the
        file's ``bytes``, ``mtime_ns`` and ``sha256``, and ``status``
        (``"planned"`` or ``"skip"``) with the ``reason`` for a skip.

    Raises
    ------
    ValueError
        An unknown action, a missing column or folder, or a plan that would
        put files inside the scanned folder.

    Examples
    --------
    >>> groups = pd.read_csv("out/groups.csv")  # doctest: +SKIP
    >>> plan = plan_actions(groups, root="photos", action="move", move_to="photos-duplicates")  # doctest: +SKIP
    >>> print(plan_summary(plan))  # doctest: +SKIP
    move: 11 files, 1,068,875 bytes freed
    """
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not supported. Must be one of: {list(ACTIONS)}")
    if not isinstance(groups, pd.DataFrame):
        raise TypeError(f"groups must be a DataFrame (a group table), got {type(groups).__name__}")
    missing = {"group", "path", "keep"} - set(groups.columns)
    if missing:
        raise ValueError(f"the group table needs columns 'group', 'path' and 'keep'; missing {sorted(missing)}")
    holder = move_to if action == "move" else trash
    if holder is None:
        raise ValueError(f"action {action!r} needs {'move_to' if action == 'move' else 'trash'}: a folder to put "
                         "the files in")
    holder = os.path.abspath(holder)
    base = os.path.abspath(root) if root is not None else None
    references = [os.path.abspath(r) for r in _as_list(reference)]
    if base is not None and _under(holder, [base]):
        raise ValueError(f"{holder} is inside the scanned folder {base}: choose a folder outside it, "
                         "or the next scan finds the moved files again")

    table = groups.copy()
    table["path"] = [_absolute(p, base) for p in table["path"].astype(str)]
    table["keep"] = table["keep"].astype(str).str.lower().isin(["true", "1"])
    if hashes is not None:
        if not {"path", "bytes"} <= set(hashes.columns):
            raise ValueError("the hash table needs 'path' and 'bytes' columns (from hash_images or find --hashes)")
        scanned = dict(zip((_absolute(p, base) for p in hashes["path"].astype(str)), hashes["bytes"]))
        sizes = table["path"].map(scanned)
        table["bytes"] = sizes if "bytes" not in table.columns else table["bytes"].where(table["bytes"].notna(), sizes)
    rows, taken = [], set()
    kept_somewhere = set(table.loc[table["keep"], "path"])
    for group, members in table.groupby("group", sort=True):
        kept = members.loc[members["keep"], "path"].tolist()
        for row in members[~members["keep"]].itertuples(index=False):
            rows.append(_plan_row(row, group, action, kept, holder, base, references, scanned_at, taken,
                                  kept_somewhere))
    plan = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    for column in ("bytes", "mtime_ns"):  # not through float64: an mtime in ns has 19 digits
        plan[column] = pd.array([row[column] for row in rows], dtype="Int64")
    plan.attrs = {"action": action, "root": base, "holder": holder, "reference": references}
    return plan


def _plan_row(row, group, action: str, kept: list[str], holder: str, base: str | None,
              references: list[str], scanned_at: float | None, taken: set[str], kept_somewhere: set[str]) -> dict:
    path = row.path
    out = {"group": group, "path": path, "action": action, "kept": kept[0] if kept else None, "dest": None,
           "bytes": None, "mtime_ns": None, "sha256": None, "status": "skip", "reason": None}
    scan = {name: getattr(row, name, None) for name in ("bytes", "mtime_ns", "sha256")}
    if _under(path, references):
        out["reason"] = "under a reference folder"
        return out
    if path in kept_somewhere:
        out["reason"] = "kept in another group of the table"
        return out
    if not kept:
        out["reason"] = "its group has no kept file: it may be the last copy"
        return out
    try:
        if os.path.islink(path) or not os.path.isfile(path):
            out["reason"] = "not a regular file (missing, a folder or a link)"
            return out
        if any(os.path.samefile(path, k) for k in kept if os.path.exists(k)):
            out["reason"] = "the same file as its group's kept file (a link to it)"
            return out
        present = [k for k in kept if os.path.isfile(k)]
        if not present:
            out["reason"] = f"its group's kept file {kept[0]} is missing: it may be the last copy"
            return out
        out["kept"] = present[0]
        st = os.stat(path)
        now = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": file_sha256(path)}
    except OSError as exc:
        out["reason"] = f"cannot read it: {exc.strerror or exc}"
        return out
    facts = {name: now[name] if pd.isna(scan[name]) else scan[name] for name in now}
    out.update(facts)
    changed = [label for name, label in (("bytes", "size"), ("mtime_ns", "mtime"), ("sha256", "content hash"))
               if (str(facts[name]).lower() if name == "sha256" else int(facts[name])) != now[name]]
    if scanned_at is not None and now["mtime_ns"] > scanned_at * 1e9:
        changed.append("mtime later than the scan")
    if changed:
        out["reason"] = f"changed since the scan ({', '.join(changed)})"
        return out
    # the layout under root; a file outside it keeps its whole path under the holder (never a "../")
    rel = os.path.relpath(path, base) if base is not None and _under(path, [base]) else path.lstrip(os.sep)
    out["dest"] = free_name(os.path.join(holder, rel), taken)
    taken.add(out["dest"])
    out["status"] = "planned"
    return out


def free_name(path: str, taken: set[str] = frozenset()) -> str:
    """``path``, or ``name (1).ext``, ``name (2).ext``, ... : the first that neither exists nor is in ``taken``."""
    stem, ext = os.path.splitext(path)
    candidate, n = path, 0
    while candidate in taken or os.path.lexists(candidate):
        n += 1
        candidate = f"{stem} ({n}){ext}"
    return candidate


def plan_summary(plan: pd.DataFrame) -> str:
    """The plan in words: files and bytes per action, the skips by reason, what cannot be undone."""
    planned = plan[plan["status"] == "planned"]
    lines = []
    for action, rows in planned.groupby("action"):
        freed = int(rows["bytes"].sum())
        lines.append(f"{action}: {len(rows)} files, {freed:,} bytes freed"
                     + {"hardlink": " once the trash folder is emptied",
                        "symlink": " once the trash folder is emptied",
                        "delete": " (cannot be restored once the run ends)"}.get(action, ""))
    if planned.empty:
        lines.append("nothing to do")
    skipped = plan[plan["status"] == "skip"]
    for reason, rows in skipped.groupby("reason"):
        lines.append(f"skip: {len(rows)} files: {reason}")
    return "\n".join(lines)


def read_plan(path: str | os.PathLike) -> pd.DataFrame:
    """Read a plan written with ``DataFrame.to_csv`` (the ``--save-plan`` of ``dedupkit apply``)."""
    plan = pd.read_csv(path, dtype={"sha256": "string", "reason": "string", "dest": "string", "kept": "string"})
    missing = set(PLAN_COLUMNS) - set(plan.columns)
    if missing:
        raise ValueError(f"{path} is not a plan: missing columns {sorted(missing)}")
    for column in ("bytes", "mtime_ns"):
        plan[column] = plan[column].astype("Int64")
    return plan


def _absolute(path: str, base: str | None) -> str:
    return os.path.abspath(path if base is None else os.path.join(base, path))


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return list(value)


def _under(path: str, folders: list[str]) -> bool:
    return any(os.path.commonpath([path, folder]) == folder for folder in folders)
