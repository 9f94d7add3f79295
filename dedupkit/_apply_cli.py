"""The ``apply`` and ``restore`` commands of the command line (their options are in :mod:`dedupkit.cli`).

Every mistake in how they are called is raised as ``ValueError`` with a
one-line message; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

import pandas as pd

from .actions import apply, restore, resume
from .decisions import DECISION_COLUMNS, apply_decisions, decided_groups, read_decisions
from .manifest import read_manifest
from .plan import plan_actions, plan_summary, read_plan

__all__ = ["cmd_apply", "cmd_restore"]


def cmd_apply(args: argparse.Namespace, out) -> None:
    """Run ``dedupkit apply``."""
    if not args.input.is_file():
        raise ValueError(f"{args.input}: no such file")
    action = "hardlink" if args.hardlink else "symlink" if args.symlink else "delete" if args.delete else "move"
    if action == "delete" and args.run and not args.yes:
        raise ValueError("--delete removes files for good once the run ends: add --yes to confirm "
                         "(or use --move-to DIR, which restore can undo)")
    if _is_manifest(args.input):
        _resume(args, out)
        return
    table = pd.read_csv(args.input)
    if tuple(table.columns) == DECISION_COLUMNS:
        if args.decisions is not None:
            raise ValueError(f"{args.input} is a decisions file already: drop --decisions")
        plan = _plan(decided_groups(args.input), args, action)
        source = f"the decisions in {args.input}"
    elif {"status", "dest", "sha256"} <= set(table.columns):
        plan = read_plan(args.input)
        source = f"the plan {args.input}"
    else:
        if args.decisions is not None:
            root = os.path.abspath(args.root) if args.root is not None else None
            table = apply_decisions(table, read_decisions(args.decisions), root=root)
        plan = _plan(table, args, action)
        source = f"{args.input}"
    n_groups = plan["group"].nunique()
    print(f"plan from {source}: {len(plan)} files not kept in {n_groups} groups", file=out)
    print(plan_summary(plan), file=out)
    if "holder" in plan.attrs and (plan["status"] == "planned").any():
        where = "destination" if action == "move" else "trash folder"
        print(f"{where}: {plan.attrs['holder']} (the layout under {plan.attrs['root']} kept)", file=out)
    if args.save_plan:
        args.save_plan.parent.mkdir(parents=True, exist_ok=True)
        plan.to_csv(args.save_plan, index=False)
        print(f"plan: {args.save_plan}", file=out)
    if not args.run:
        yes = " --yes" if action == "delete" else ""
        print(f"dry run: nothing changed; add --run{yes} to act", file=out)
        return
    manifest = args.manifest or _default_manifest(args.input)
    print(f"manifest: {manifest} (undo with: dedupkit restore {manifest})", file=out, flush=True)
    try:
        entries = apply(plan, manifest=manifest)
    except FileExistsError as exc:
        raise ValueError(str(exc)) from None
    _report(entries, out)


def cmd_restore(args: argparse.Namespace, out) -> None:
    """Run ``dedupkit restore``."""
    if not args.manifest.is_file():
        raise ValueError(f"{args.manifest}: no such file")
    entries = restore(args.manifest)
    restored = int((entries["state"] == "restored").sum())
    print(f"restored {restored} files from {args.manifest}", file=out)
    for state in ("purged", "failed"):
        rows = entries[entries["state"] == state]
        if len(rows):
            print(f"{state}: {len(rows)} files could not be restored", file=out)
            for row in rows.itertuples():
                print(f"  {row.path}: {row.reason}", file=out)


def _plan(table: pd.DataFrame, args: argparse.Namespace, action: str) -> pd.DataFrame:
    paths = table["path"].astype(str) if "path" in table.columns else pd.Series([], dtype=str)
    if args.root is None and not all(os.path.isabs(p) for p in paths):
        raise ValueError(f"give --root DIR: the paths in {args.input} are relative to the folder dedupkit find "
                         "scanned")
    if args.root is not None and not args.root.is_dir():
        raise ValueError(f"--root {args.root}: no such folder")
    root = Path(os.path.abspath(args.root)) if args.root is not None else None
    if root is None and len(paths):  # absolute paths (a decisions file): the layout under their common folder
        common = os.path.commonpath(list(paths))
        root = Path(common if os.path.isdir(common) else os.path.dirname(common))
    sibling = root if root is not None else Path(os.path.abspath("."))
    move_to = args.move_to or sibling.with_name(sibling.name + "-duplicates")
    trash = args.trash or sibling.with_name(sibling.name + "-trash")
    hashes = None
    if args.hashes is not None:
        if not args.hashes.is_file():
            raise ValueError(f"--hashes {args.hashes}: no such file")
        hashes = pd.read_csv(args.hashes, usecols=lambda column: column in ("path", "bytes"))
    return plan_actions(table, root=root, action=action, move_to=move_to, trash=trash, reference=args.reference,
                        hashes=hashes, scanned_at=os.stat(args.input).st_mtime)


def _resume(args: argparse.Namespace, out) -> None:
    entries = read_manifest(args.input)
    left = entries[entries["state"].isin(["planned", "started"])]
    print(f"manifest {args.input}: {len(left)} of {len(entries)} files not done yet", file=out)
    if not args.run:
        print("dry run: nothing changed; add --run to resume", file=out)
        return
    _report(resume(args.input), out)


def _report(entries: pd.DataFrame, out) -> None:
    for state, rows in entries.groupby("state", sort=True):
        size = int(pd.to_numeric(rows["bytes"]).fillna(0).sum())
        print(f"{state}: {len(rows)} files, {size:,} bytes", file=out)
    trouble = entries[entries["state"].isin(["skipped", "failed"])]
    for row in trouble.itertuples():
        print(f"  {row.state}: {row.path}: {row.reason}", file=out)


def _is_manifest(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(1) == b"{"


def _default_manifest(input_path: Path) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
    return input_path.with_name(f"{input_path.stem}.apply-{stamp}.jsonl")
