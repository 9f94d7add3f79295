"""The manifest of an apply run: a JSON-lines file, appended to and fsynced line by line.

Its first line describes the run (``dedupkit_manifest``, the format number,
``created``, ``action``, ``root``, and ``holder``: the folder moved or
trashed files go to). Then one line per file of the plan, with the file's
``path``, ``action``, ``kept`` file, ``dest``, ``bytes``, ``mtime_ns`` and
``sha256`` and its ``state``: ``planned`` (or ``skipped`` with a
``reason``). Later lines change one file's state: ``started`` (with the
``dest`` actually used), ``done``, ``skipped``, ``failed``, ``purged`` (a
deleted file) or ``restored``, some with a ``reason``. The last line about a
file is its state. A line cut off by a kill was never acted on, and is
dropped.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
from pathlib import Path

import pandas as pd

__all__ = ["fsync_dir", "open_log", "read_manifest", "record", "write_manifest"]

_FORMAT = 1
_ENTRY_KEYS = ("path", "action", "kept", "dest", "bytes", "mtime_ns", "sha256")


def write_manifest(plan: pd.DataFrame, manifest: str | os.PathLike) -> Path:
    """Write a new manifest for a plan: the header and one ``planned`` or ``skipped`` line per row, fsynced.

    Raises
    ------
    FileExistsError
        ``manifest`` exists already.
    """
    manifest = Path(manifest)
    lines = [{"dedupkit_manifest": _FORMAT, "created": datetime.datetime.now(datetime.UTC).isoformat(),
              "action": plan.attrs.get("action") or ",".join(sorted(set(plan["action"]))),
              "root": plan.attrs.get("root"), "holder": plan.attrs.get("holder")}]
    for i, row in enumerate(plan.to_dict("records")):
        entry = {"id": i, **{key: _plain(row[key]) for key in _ENTRY_KEYS}}
        if row["status"] == "planned":
            lines.append({**entry, "state": "planned"})
        else:
            lines.append({**entry, "state": "skipped", "reason": _plain(row["reason"])})
    with open(manifest, "x", encoding="utf-8") as file:
        file.write("".join(json.dumps(line) + "\n" for line in lines))
        file.flush()
        os.fsync(file.fileno())
    fsync_dir(manifest.parent)
    return manifest


def read_manifest(manifest: str | os.PathLike) -> pd.DataFrame:
    """The entries of a manifest, one row per file, with its last ``state`` and ``reason``.

    Raises
    ------
    ValueError
        The file is not a dedupkit manifest.
    """
    path = Path(manifest)
    with open(path, encoding="utf-8") as file:
        text = file.read()
    lines = text.splitlines()
    if not text.endswith("\n") and lines:
        lines = lines[:-1]  # a line cut off by a kill: it was never complete, so never acted on
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if header.get("dedupkit_manifest") != _FORMAT:
        raise ValueError(f"{path} is not a dedupkit manifest (its first line should be the run's header)")
    entries: dict[int, dict] = {}
    for line in lines[1:]:
        record = json.loads(line)
        if "path" in record:  # a file of the plan, written before the run
            entries[record["id"]] = {**record, "reason": record.get("reason")}
        else:
            entries[record["id"]].update({k: v for k, v in record.items() if k != "id"})
            entries[record["id"]].setdefault("reason", None)
            if record["state"] in ("done", "restored", "started"):
                entries[record["id"]]["reason"] = record.get("reason")
    records = list(entries.values())
    table = pd.DataFrame(records, columns=["id", *_ENTRY_KEYS, "state", "reason"])
    for column in ("bytes", "mtime_ns"):  # not through float64: an mtime in ns has 19 digits
        table[column] = pd.array([record.get(column) for record in records], dtype="Int64")
    table.attrs = header
    return table


def open_log(manifest: str | os.PathLike):
    """The manifest, open to append and locked against a second run on it.

    A last line cut off by a kill (never acted on) is cut away first.

    Raises
    ------
    ValueError
        Another process has the manifest open (a run or a restore in progress).
    """
    log = os.fdopen(os.open(manifest, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")  # never created here
    try:
        fcntl.flock(log.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.close()
        raise ValueError(f"{manifest} is in use by another dedupkit apply or restore; wait for it to end") from None
    with open(manifest, "rb+") as file:
        data = file.read()
        if data and not data.endswith(b"\n"):
            file.truncate(data.rfind(b"\n") + 1)
            os.fsync(file.fileno())
    return log


def record(log, entry_id: int, state: str, **details) -> None:
    log.write(json.dumps({"id": int(entry_id), "state": state, **details}) + "\n")
    log.flush()
    os.fsync(log.fileno())


def fsync_dir(folder: str | os.PathLike) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
