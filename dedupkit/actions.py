"""Carry out a plan with a way back: a manifest written before each step, resume and restore.

The manifest (:mod:`dedupkit.manifest`) gets one ``planned`` (or
``skipped``) line per file of the plan, all written and fsynced before any
file is touched; then, per file, ``started`` (fsynced before the file is
touched, with the destination actually used) and ``done`` (after). Every
step on a file can be repeated, and each function here looks at what is on
disk before it acts, so a run killed at any point (``kill -9`` included) can be finished by
:func:`resume` or undone by :func:`restore` with nothing lost.

How each action keeps a way back:

``move``
    The file goes to its ``dest`` (``os.link`` then unlink, so that nothing is
    ever overwritten; across file systems: copy, fsync, check the SHA-256,
    rename into place, then unlink the original).
``hardlink``, ``symlink``
    The file is moved into the trash folder first; then a link to the kept
    file is made under a temporary name in the same folder and renamed over
    the file's path (atomic). The trash keeps the original until you delete it.
``delete``
    The file is moved into the trash folder; when every action is done, the
    trash copies are removed. Until then restore puts them back; afterwards
    the manifest says they cannot be restored.

Test-only: ``DEDUPKIT_APPLY_TEST_DELAY`` (seconds, a float) makes :func:`apply`
and :func:`resume` sleep in the middle of each file's move (when the file is
at its destination and not yet unlinked from its old place), so that tests
can kill the run at the worst moment. Never set it otherwise.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from .manifest import fsync_dir, open_log, read_manifest, record, write_manifest
from .plan import PLAN_COLUMNS, file_sha256, free_name

__all__ = ["apply", "restore", "resume"]

logger = logging.getLogger(__name__)


class _StepError(Exception):
    """A step that cannot be taken safely; the message says why."""


def apply(plan: pd.DataFrame, *, manifest: str | os.PathLike) -> pd.DataFrame:
    """Carry out a plan from :func:`dedupkit.plan_actions`, recording every step in a manifest.

    Before each file is touched, its size, mtime and SHA-256 are compared
    with the plan's (the scan's) and its group's kept file must still be
    there and be another file; a file that fails is skipped, with the reason
    in the manifest.

    Parameters
    ----------
    plan
        The plan. Rows with ``status`` ``"skip"`` are recorded, not acted on.
    manifest
        The manifest file to write (JSON lines); it must not exist yet.

    Returns
    -------
    pandas.DataFrame
        The manifest's entries (:func:`read_manifest`), each with its final
        ``state``: ``done``, ``purged`` (deleted), ``skipped`` or ``failed``,
        and a ``reason``.

    Raises
    ------
    FileExistsError
        The manifest already exists (resume it with :func:`resume`, or undo
        it with :func:`restore`).
    ValueError
        The plan lacks columns.

    Examples
    --------
    >>> entries = apply(plan, manifest="run.jsonl")  # doctest: +SKIP
    >>> entries["state"].value_counts()  # doctest: +SKIP
    >>> restore("run.jsonl")  # puts every file back  # doctest: +SKIP
    """
    if not isinstance(plan, pd.DataFrame):
        raise TypeError(f"plan must be a DataFrame from plan_actions, got {type(plan).__name__}")
    missing = set(PLAN_COLUMNS) - set(plan.columns)
    if missing:
        raise ValueError(f"the plan needs columns {list(PLAN_COLUMNS)}; missing {sorted(missing)}")
    manifest = Path(manifest)
    if manifest.exists():
        raise FileExistsError(f"{manifest} exists: resume it (dedupkit apply {manifest} --run) or restore it "
                              f"(dedupkit restore {manifest}), or choose another manifest")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(plan, manifest)
    return resume(manifest)


def resume(manifest: str | os.PathLike) -> pd.DataFrame:
    """Finish the run a manifest records: take every ``planned`` or ``started`` step that is not done.

    Parameters
    ----------
    manifest
        A manifest written by :func:`apply` (perhaps of a run that was killed).

    Returns
    -------
    pandas.DataFrame
        The entries with their final states, as :func:`apply` returns them.
    """
    delay = float(os.environ.get("DEDUPKIT_APPLY_TEST_DELAY", "0") or 0)  # test-only, see the module docstring
    with open_log(manifest) as log:
        entries = read_manifest(manifest)
        for entry in entries.to_dict("records"):
            if entry["state"] == "planned":
                reason = _check(entry)
                if reason:
                    record(log, entry["id"], "skipped", reason=reason)
                    continue
                if entry["action"] == "move" and os.path.lexists(entry["dest"]):
                    entry["dest"] = free_name(entry["dest"])  # taken since planning
                record(log, entry["id"], "started", dest=entry["dest"])
            elif entry["state"] != "started":
                continue
            try:
                _do(entry, pause=delay)
            except (_StepError, OSError) as exc:
                reason = str(exc) if isinstance(exc, _StepError) else f"{exc.strerror or exc}: {exc.filename}"
                try:
                    _undo(entry)
                except (_StepError, OSError) as undo_exc:
                    reason += f"; and undoing it failed too: {undo_exc} (see dedupkit restore)"
                logger.warning("%s: %s", entry["path"], reason)
                record(log, entry["id"], "failed", reason=reason)
                continue
            record(log, entry["id"], "done")
        for entry in read_manifest(manifest).to_dict("records"):
            if entry["action"] == "delete" and entry["state"] == "done":
                record(log, entry["id"], "purged", reason="deleted: cannot be restored")
                if os.path.lexists(entry["dest"]):
                    os.unlink(entry["dest"])
    return read_manifest(manifest)


def restore(manifest: str | os.PathLike) -> pd.DataFrame:
    """Put back every file a run moved, linked or (not yet) deleted.

    Parameters
    ----------
    manifest
        A manifest written by :func:`apply`, of a finished or an interrupted run.

    Returns
    -------
    pandas.DataFrame
        The entries with their final states: ``restored`` for each file put
        back; a file already deleted stays ``purged``; one that cannot be
        put back (e.g. a new file now has its name) is ``failed`` with the
        reason, and can be restored by hand from its ``dest``. The folders
        the run made in its ``move_to`` or trash folder are removed when the
        restore leaves them empty.
    """
    with open_log(manifest) as log:
        entries = read_manifest(manifest)
        for entry in entries.to_dict("records"):
            if entry["state"] not in ("started", "done", "failed", "purged"):
                continue
            if entry["state"] == "purged" and not os.path.lexists(entry["dest"]):
                continue
            try:
                _undo(entry)
            except (_StepError, OSError) as exc:
                reason = str(exc) if isinstance(exc, _StepError) else f"{exc.strerror or exc}: {exc.filename}"
                record(log, entry["id"], "failed", reason=f"cannot restore: {reason}")
                continue
            record(log, entry["id"], "restored")
    entries = read_manifest(manifest)
    holder = entries.attrs.get("holder")
    if holder:
        _remove_empty_folders(entries.loc[entries["state"] == "restored", "dest"], holder)
    return entries


def _remove_empty_folders(dests, holder: str) -> None:
    """Remove the folders under ``holder`` (and it) that restored files left empty: the run made them."""
    holder = os.path.abspath(holder)
    for dest in dests.dropna():
        folder = os.path.dirname(os.path.abspath(dest))
        while os.path.commonpath([folder, holder]) == holder:
            try:
                os.rmdir(folder)  # only ever an empty folder
            except OSError:
                break
            if folder == holder:
                break
            folder = os.path.dirname(folder)


def _check(entry: dict) -> str | None:
    """Why a planned file must not be touched now, or ``None``."""
    path, kept = entry["path"], entry["kept"]
    if os.path.islink(path) or not os.path.isfile(path):
        return "not a regular file any more (missing, a folder or a link)"
    if not kept or not os.path.isfile(kept):
        return f"its group's kept file {kept} is missing: it may be the last copy"
    if os.path.samefile(path, kept):
        return "the same file as its group's kept file"
    st = os.stat(path)
    changed = [name for name, now, then in (("size", st.st_size, entry["bytes"]),
                                            ("mtime", st.st_mtime_ns, entry["mtime_ns"]))
               if not pd.isna(then) and int(now) != int(then)]
    if not changed and entry["sha256"] and file_sha256(path) != entry["sha256"]:
        changed.append("content hash")
    if changed:
        return f"changed since the scan ({', '.join(changed)})"
    if entry["action"] == "hardlink" and os.stat(kept).st_dev != os.stat(os.path.dirname(path)).st_dev:
        return "its kept file is on another file system: a hard link cannot reach it (use --symlink)"
    return None


def _do(entry: dict, *, pause: float = 0.0) -> None:
    """Take the entry's action; every step checks first whether it was already taken."""
    path, dest, sha, action = entry["path"], entry["dest"], entry["sha256"], entry["action"]
    if action in ("move", "delete"):
        _move(path, dest, sha, pause=pause)
        return
    if _is_link_to(path, entry["kept"], action):
        return
    _move(path, dest, sha, pause=pause)
    tmp = _temp(path, "link")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    if action == "hardlink":
        os.link(entry["kept"], tmp)
    else:
        os.symlink(os.path.relpath(entry["kept"], os.path.dirname(path)), tmp)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def _undo(entry: dict) -> None:
    """Put the entry's file back where it was; every step checks first whether it was already taken."""
    path, dest, sha = entry["path"], entry["dest"], entry["sha256"]
    for leftover in (_temp(path, "link"), _temp(dest, "copy"), _temp(path, "copy")):
        if os.path.lexists(leftover):
            os.unlink(leftover)
    if not os.path.lexists(dest) and not os.path.lexists(path):
        raise _StepError(f"{path} is missing, and {dest} is not there either")
    if entry["action"] in ("hardlink", "symlink") and _is_link_to(path, entry["kept"], entry["action"]):
        if not os.path.isfile(dest):
            raise _StepError(f"{path} is a link and its original {dest} is missing")
        os.unlink(path)
        fsync_dir(os.path.dirname(path))
    elif _holds(path, sha) and not _holds(dest, sha):
        return  # never moved: the original is in place
    _move(dest, path, sha)


def _move(src: str, dst: str, sha: str, *, pause: float = 0.0) -> None:
    """Move a file whose content hash is ``sha`` without ever overwriting; repeatable after a kill."""
    if os.path.lexists(dst):
        if _holds(dst, sha):
            if os.path.lexists(src):  # the copy (or link) is complete: only the unlink was left
                if not _holds(src, sha):
                    raise _StepError(f"{src} holds other bytes than the file moved to {dst}; left both")
                os.unlink(src)
                fsync_dir(os.path.dirname(src))
            return
        raise _StepError(f"{dst} already exists and holds another file; not overwritten")
    if not os.path.lexists(src):
        raise _StepError(f"{src} is missing, and {dst} is not there either")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)  # fails rather than overwrite
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                _copy_into_place(src, dst, sha)  # a file system without hard links
            else:
                raise
        else:
            _copy_into_place(src, dst, sha)
    fsync_dir(os.path.dirname(dst))
    if pause:
        time.sleep(pause)  # test-only (DEDUPKIT_APPLY_TEST_DELAY): the file is in both places
    os.unlink(src)
    fsync_dir(os.path.dirname(src))


def _copy_into_place(src: str, dst: str, sha: str) -> None:
    """Copy to a temporary name beside ``dst``, fsync, check the hash, rename into place."""
    tmp = _temp(dst, "copy")
    shutil.copy2(src, tmp)
    with open(tmp, "rb+") as file:
        os.fsync(file.fileno())
    if file_sha256(tmp) != sha:
        os.unlink(tmp)
        raise _StepError(f"the copy of {src} at {tmp} does not match its hash; {src} left in place")
    if os.path.lexists(dst):
        os.unlink(tmp)
        raise _StepError(f"{dst} appeared while copying; not overwritten")
    os.rename(tmp, dst)


def _holds(path: str, sha: str) -> bool:
    return os.path.isfile(path) and not os.path.islink(path) and file_sha256(path) == sha


def _is_link_to(path: str, kept: str, action: str) -> bool:
    if action == "symlink":
        return os.path.islink(path) and os.path.realpath(path) == os.path.realpath(kept)
    return (os.path.isfile(path) and not os.path.islink(path) and os.path.exists(kept)
            and os.path.samefile(path, kept))


def _temp(path: str, kind: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.dedupkit-{kind}")


