"""dedupkit apply / restore: dry run, each action, the checks before acting, collisions, kill -9, resume, restore."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dedupkit import apply, plan_actions, read_manifest, restore
from dedupkit.cli import main

REPO = Path(__file__).resolve().parent.parent


def make_tree(root: Path, n_groups: int, *, copies: int = 2, seed: int = 0) -> pd.DataFrame:
    """``n_groups`` groups of small files under ``root`` (a kept file and ``copies - 1`` others, in sub-folders).

    Returns the group table with paths relative to ``root``, as ``dedupkit find --groups`` writes it.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for group in range(n_groups):
        for member in range(copies):
            rel = f"d{group % 7}/g{group:04d}_{member}.jpg"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.integers(0, 256, size=int(rng.integers(10, 400)), dtype=np.uint8).tobytes())
            rows.append({"group": group, "path": rel, "keep": member == 0, "size": copies, "diameter": 2,
                         "link_distance": 0 if member == 0 else 2, "keep_reason": "larger"})
    return pd.DataFrame(rows)


def write_groups(groups: pd.DataFrame, path: Path) -> Path:
    """Write the groups CSV after every file, like ``find`` does at the end of a scan."""
    groups.to_csv(path, index=False)
    later = time.time() + 1
    os.utime(path, (later, later))
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (hidden ones too): its bytes and mtime, by relative path."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def contents(folder: Path) -> dict[str, bytes]:
    return {path: data for path, (data, _) in snapshot(folder).items()}


def library_plan(root: Path, groups: pd.DataFrame, action: str, **options) -> pd.DataFrame:
    return plan_actions(groups, root=root, action=action, move_to=root.parent / "moved",
                        trash=root.parent / "trash", **options)


# dry run ---------------------------------------------------------------------------------------------------------

def test_dry_run_changes_nothing_and_prints_the_plan(tmp_path, capsys):
    root = tmp_path / "photos"
    groups = make_tree(root, 5, copies=3)
    groups_csv = write_groups(groups, tmp_path / "groups.csv")
    before = snapshot(tmp_path)
    assert main(["apply", str(groups_csv), "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert snapshot(tmp_path) == before  # every file's bytes and mtime; no manifest, no folder made
    removable = groups[~groups["keep"]]
    freed = sum((root / p).stat().st_size for p in removable["path"])
    assert f"plan from {groups_csv}: 10 files not kept in 5 groups" in out
    assert f"move: 10 files, {freed:,} bytes freed" in out
    assert "dry run: nothing changed; add --run to act" in out

    assert main(["apply", str(groups_csv), "--root", str(root), "--delete"]) == 0
    out = capsys.readouterr().out
    assert f"delete: 10 files, {freed:,} bytes freed (cannot be restored once the run ends)" in out
    assert "add --run --yes to act" in out
    assert snapshot(tmp_path) == before


def test_delete_without_yes_is_refused_and_with_it_deletes(tmp_path, capsys):
    root = tmp_path / "photos"
    groups_csv = write_groups(make_tree(root, 3), tmp_path / "groups.csv")
    before = snapshot(tmp_path)
    assert main(["apply", str(groups_csv), "--root", str(root), "--delete", "--run"]) == 2
    err = capsys.readouterr().err
    assert "dedupkit apply: error: --delete removes files for good once the run ends: add --yes" in err
    assert snapshot(tmp_path) == before

    manifest = tmp_path / "run.jsonl"
    assert main(["apply", str(groups_csv), "--root", str(root), "--delete", "--yes", "--run",
                 "--manifest", str(manifest)]) == 0
    assert "purged: 3 files" in capsys.readouterr().out
    assert sorted(contents(root)) == sorted(p.removeprefix("photos/") for p in before
                                            if p.startswith("photos/") and p.endswith("_0.jpg"))
    assert contents(tmp_path / "photos-trash") == {}
    assert main(["restore", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "restored 0 files" in out and "purged: 3 files could not be restored" in out


def test_relative_paths_need_root(tmp_path, capsys):
    groups_csv = write_groups(make_tree(tmp_path / "photos", 2), tmp_path / "groups.csv")
    assert main(["apply", str(groups_csv)]) == 2
    assert "give --root DIR" in capsys.readouterr().err


# each action, and restore ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["move", "hardlink", "symlink"])
def test_each_action_and_restore_puts_every_file_back(tmp_path, action):
    root = tmp_path / "photos"
    groups = make_tree(root, 6, copies=3)
    before = snapshot(root)
    plan = library_plan(root, groups, action)
    assert (plan["status"] == "planned").all() and len(plan) == 12
    entries = apply(plan, manifest=tmp_path / "run.jsonl")
    assert (entries["state"] == "done").all()
    kept = {row.path: row.kept for row in plan.itertuples()}
    for path, dest in zip(plan["path"], plan["dest"]):
        rel = os.path.relpath(path, root)
        assert Path(dest).read_bytes() == before[rel][0]  # the original, moved or in the trash
        if action == "move":
            assert not os.path.lexists(path)
            assert Path(dest) == tmp_path / "moved" / rel  # the layout under root is kept
        elif action == "hardlink":
            assert os.path.samefile(path, kept[path]) and not os.path.islink(path)
        else:
            assert os.path.islink(path) and os.path.realpath(path) == os.path.realpath(kept[path])
            assert not os.path.isabs(os.readlink(path))  # relative: survives moving the whole tree
    for rel in groups.loc[groups["keep"], "path"]:
        assert (root / rel).read_bytes() == before[rel][0]

    restored = restore(tmp_path / "run.jsonl")
    assert (restored["state"] == "restored").all()
    assert snapshot(root) == before  # byte for byte, same mtimes, no links or temporary files left
    assert not (tmp_path / ("moved" if action == "move" else "trash")).exists()  # the folders it made, emptied


def test_delete_goes_through_the_trash_and_cannot_be_restored(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 4)
    before = snapshot(root)
    plan = library_plan(root, groups, "delete")
    entries = apply(plan, manifest=tmp_path / "run.jsonl")
    assert (entries["state"] == "purged").all()
    assert contents(tmp_path / "trash") == {}
    kept = set(groups.loc[groups["keep"], "path"])
    assert contents(root) == {rel: data for rel, (data, _) in before.items() if rel in kept}
    restored = restore(tmp_path / "run.jsonl")
    assert (restored["state"] == "purged").all()
    assert (restored["reason"] == "deleted: cannot be restored").all()


def test_restore_command_reports_what_it_put_back(tmp_path, capsys):
    root = tmp_path / "photos"
    groups_csv = write_groups(make_tree(root, 4), tmp_path / "groups.csv")
    before = snapshot(root)
    manifest = tmp_path / "run.jsonl"
    assert main(["apply", str(groups_csv), "--root", str(root), "--run", "--manifest", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert f"manifest: {manifest}" in out and "done: 4 files" in out
    assert len(contents(tmp_path / "photos-duplicates")) == 4  # the default: ROOT-duplicates beside ROOT
    assert main(["restore", str(manifest)]) == 0
    assert f"restored 4 files from {manifest}" in capsys.readouterr().out
    assert snapshot(root) == before


def test_move_across_file_systems_copies_checks_and_unlinks(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the temporary folder")
    root = tmp_path / "photos"
    groups = make_tree(root, 5)
    before = snapshot(root)
    away = Path(tempfile.mkdtemp(dir=shm, prefix="dedupkit-test-"))
    try:
        plan = plan_actions(groups, root=root, action="move", move_to=away / "moved")
        entries = apply(plan, manifest=tmp_path / "run.jsonl")
        assert (entries["state"] == "done").all()
        moved = contents(away / "moved")
        kept = set(groups.loc[groups["keep"], "path"])
        assert moved == {rel: data for rel, (data, _) in before.items() if rel not in kept}
        assert all(not os.path.lexists(p) for p in plan["path"])
        restore(tmp_path / "run.jsonl")
        assert contents(root) == contents_of(before)
        assert contents(away / "moved") == {}
    finally:
        shutil.rmtree(away)


def contents_of(shot: dict[str, tuple[bytes, int]]) -> dict[str, bytes]:
    return {path: data for path, (data, _) in shot.items()}


# the checks before acting ----------------------------------------------------------------------------------------

def test_a_file_changed_after_the_scan_is_skipped_with_its_reason(tmp_path, capsys):
    root = tmp_path / "photos"
    groups = make_tree(root, 4)
    groups_csv = write_groups(groups, tmp_path / "groups.csv")
    touched = root / groups.loc[1, "path"]
    later = groups_csv.stat().st_mtime + 5
    os.utime(touched, (later, later))  # modified after the scan's groups.csv was written
    assert main(["apply", str(groups_csv), "--root", str(root)]) == 0
    assert "skip: 1 files: changed since the scan (mtime later than the scan)" in capsys.readouterr().out

    # changed between planning and acting: same size and mtime, other bytes; and a different size
    plan = library_plan(root, groups, "move")
    same_size = root / groups.loc[3, "path"]
    stat = same_size.stat()
    same_size.write_bytes(bytes(255 - b for b in same_size.read_bytes()))
    os.utime(same_size, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    grown = root / groups.loc[5, "path"]
    grown.write_bytes(grown.read_bytes() + b"x")
    edited = {str(same_size): same_size.read_bytes(), str(grown): grown.read_bytes()}
    entries = apply(plan, manifest=tmp_path / "run.jsonl").set_index("path")
    assert entries.loc[str(same_size), "reason"] == "changed since the scan (content hash)"
    assert entries.loc[str(grown), "state"] == "skipped"
    assert entries.loc[str(grown), "reason"].startswith("changed since the scan (size")
    for path, data in edited.items():
        assert Path(path).read_bytes() == data  # left where it was, as it is
    assert entries.loc[str(root / groups.loc[7, "path"]), "state"] == "done"


def test_the_scans_sizes_from_the_hash_table_catch_a_change_that_kept_its_mtime(tmp_path, capsys):
    root = tmp_path / "photos"
    groups = make_tree(root, 3)
    hashes_csv = tmp_path / "hashes.csv"
    pd.DataFrame({"path": groups["path"], "bytes": [(root / p).stat().st_size for p in groups["path"]],
                  "hash": "00"}).to_csv(hashes_csv, index=False)
    groups_csv = write_groups(groups, tmp_path / "groups.csv")
    edited = root / groups.loc[3, "path"]
    stat = edited.stat()
    edited.write_bytes(edited.read_bytes()[:-1])
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as old as the scan says
    assert main(["apply", str(groups_csv), "--root", str(root)]) == 0
    assert "skip" not in capsys.readouterr().out  # without the scan's facts, nothing tells
    assert main(["apply", str(groups_csv), "--root", str(root), "--hashes", str(hashes_csv)]) == 0
    assert "skip: 1 files: changed since the scan (size)" in capsys.readouterr().out


def test_a_saved_plan_is_carried_out_later_and_checked_against_what_it_recorded(tmp_path, capsys):
    root = tmp_path / "photos"
    groups = make_tree(root, 4)
    groups_csv = write_groups(groups, tmp_path / "groups.csv")
    plan_csv = tmp_path / "plan.csv"
    assert main(["apply", str(groups_csv), "--root", str(root), "-o", str(plan_csv)]) == 0
    assert f"plan: {plan_csv}" in capsys.readouterr().out
    grown = root / groups.loc[3, "path"]
    grown.write_bytes(grown.read_bytes() + b"more")
    manifest = tmp_path / "run.jsonl"
    assert main(["apply", str(plan_csv), "--run", "--manifest", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert f"plan from the plan {plan_csv}: 4 files not kept in 4 groups" in out
    assert "done: 3 files" in out and "skipped: 1 files" in out
    assert f"  skipped: {grown}: changed since the scan (size, mtime)" in out
    assert grown.is_file() and len(contents(tmp_path / "photos-duplicates")) == 3
    assert main(["apply", str(plan_csv), "--run", "--manifest", str(manifest)]) == 2  # one manifest per run
    assert "exists: resume it" in capsys.readouterr().err


def test_kept_files_the_last_copy_and_reference_files_are_never_touched(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 5)
    groups.loc[groups["group"] == 1, "keep"] = False  # no kept file: either could be the last copy
    (root / "ref").mkdir()
    shutil.move(root / groups.loc[5, "path"], root / "ref" / "r.jpg")
    groups.loc[5, "path"] = "ref/r.jpg"  # marked removable, but under a reference folder
    before = snapshot(root)
    plan = library_plan(root, groups, "move", reference=[root / "ref"])
    reasons = plan.set_index("path")["reason"]
    assert reasons[str(root / groups.loc[2, "path"])].startswith("its group has no kept file")
    assert reasons[str(root / "ref" / "r.jpg")] == "under a reference folder"
    assert set(plan["path"]) == {str(root / p) for p in groups.loc[~groups["keep"], "path"]}  # kept: not in the plan
    (root / groups.loc[6, "path"]).unlink()  # group 3's kept file disappears after planning
    del before[groups.loc[6, "path"]]
    entries = apply(plan, manifest=tmp_path / "run.jsonl").set_index("path")
    orphan = str(root / groups.loc[7, "path"])
    assert entries.loc[orphan, "state"] == "skipped"
    assert "kept file" in entries.loc[orphan, "reason"] and "last copy" in entries.loc[orphan, "reason"]
    done = entries[entries["state"] == "done"]
    assert set(done.index) == {str(root / groups.loc[i, "path"]) for i in (1, 9)}
    after = snapshot(root)
    assert {rel: shot for rel, shot in before.items() if str(root / rel) not in done.index} == after


def test_a_file_kept_in_one_group_is_not_removed_by_another(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 2)
    extra = groups.iloc[[0]].assign(group=1, keep=False)  # group 0's kept file, offered in group 1 (an edited CSV)
    plan = library_plan(root, pd.concat([groups, extra], ignore_index=True), "move")
    reasons = plan.set_index("path")["reason"]
    assert reasons[str(root / groups.loc[0, "path"])] == "kept in another group of the table"


def test_a_line_cut_off_by_a_kill_is_dropped_and_the_manifest_stays_readable(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 3)
    before = snapshot(root)
    manifest = tmp_path / "run.jsonl"
    apply(library_plan(root, groups, "move"), manifest=manifest)
    with open(manifest, "a") as file:
        file.write('{"id": 0, "state": "rest')  # what a kill in the middle of a write leaves
    assert (read_manifest(manifest)["state"] == "done").all()
    assert (restore(manifest)["state"] == "restored").all()
    assert snapshot(root) == before
    with open(manifest) as file:
        assert all(json.loads(line) for line in file)


def test_a_file_outside_root_is_moved_under_the_folder_never_beside_it(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 1)
    outside = tmp_path / "elsewhere" / "copy.jpg"
    outside.parent.mkdir()
    outside.write_bytes(b"a copy outside the scanned folder")
    groups.loc[1, "path"] = "../elsewhere/copy.jpg"
    plan = library_plan(root, groups, "move")
    assert plan.loc[0, "dest"] == str(tmp_path / "moved") + str(outside)
    apply(plan, manifest=tmp_path / "run.jsonl")
    assert Path(plan.loc[0, "dest"]).read_bytes() == b"a copy outside the scanned folder"


def test_one_run_at_a_time_on_a_manifest(tmp_path):
    root = tmp_path / "photos"
    manifest = tmp_path / "run.jsonl"
    apply(library_plan(root, make_tree(root, 2), "move"), manifest=manifest)
    with open(manifest) as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a running apply holds it
        with pytest.raises(ValueError, match="in use by another dedupkit apply or restore"):
            restore(manifest)
    assert (restore(manifest)["state"] == "restored").all()
    with pytest.raises(FileNotFoundError):
        restore(tmp_path / "no-such-manifest.jsonl")
    assert not (tmp_path / "no-such-manifest.jsonl").exists()


def test_name_collisions_get_a_free_name_and_nothing_is_overwritten(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 3)
    moved = tmp_path / "moved"
    first = groups.loc[1, "path"]
    (moved / first).parent.mkdir(parents=True)
    (moved / first).write_bytes(b"already there")
    plan = library_plan(root, groups, "move")
    stem = Path(first).stem
    assert Path(plan.loc[0, "dest"]).name == f"{stem} (1).jpg"
    second = groups.loc[3, "path"]
    (moved / second).parent.mkdir(parents=True, exist_ok=True)
    (moved / second).write_bytes(b"appeared after planning")
    original = (root / second).read_bytes()
    apply(plan, manifest=tmp_path / "run.jsonl")
    assert (moved / first).read_bytes() == b"already there"
    assert (moved / second).read_bytes() == b"appeared after planning"
    assert (moved / Path(second).with_name(f"{Path(second).stem} (1).jpg")).read_bytes() == original
    restore(tmp_path / "run.jsonl")
    assert (root / second).read_bytes() == original
    assert (moved / second).read_bytes() == b"appeared after planning"
    assert (moved / first).read_bytes() == b"already there"  # a folder holding files of its own stays


def test_a_decisions_file_keeps_the_layout_under_the_folder_of_its_files(tmp_path, capsys):
    """Its paths are absolute: the files move under ROOT-duplicates as they were under their common folder."""
    from dedupkit import DecisionLog

    root = tmp_path / "photos"
    groups = make_tree(root, 4)
    log = DecisionLog(tmp_path / "out" / "decisions.csv", root=root)
    log.record_many([{"group": g, "path": p, "decision": "keep" if k else "remove"}
                     for g, p, k in zip(groups["group"], groups["path"], groups["keep"])])
    manifest = tmp_path / "out" / "undo.jsonl"
    assert main(["apply", str(log.path), "--run", "--manifest", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert f"destination: {tmp_path / 'photos-duplicates'} (the layout under {root} kept)" in out
    removed = sorted(groups.loc[~groups["keep"], "path"])
    moved = tmp_path / "photos-duplicates"
    assert sorted(str(p.relative_to(moved)) for p in moved.rglob("*") if p.is_file()) == removed
    assert main(["restore", str(manifest)]) == 0
    assert not moved.exists() and all((root / p).is_file() for p in removed)


def test_restore_never_overwrites_a_new_file_at_the_old_name(tmp_path):
    root = tmp_path / "photos"
    groups = make_tree(root, 2)
    plan = library_plan(root, groups, "move")
    apply(plan, manifest=tmp_path / "run.jsonl")
    newcomer = Path(plan.loc[0, "path"])
    newcomer.write_bytes(b"a new file with the old name")
    entries = restore(tmp_path / "run.jsonl").set_index("path")
    assert entries.loc[str(newcomer), "state"] == "failed"
    assert "already exists" in entries.loc[str(newcomer), "reason"]
    assert newcomer.read_bytes() == b"a new file with the old name"
    assert Path(plan.loc[0, "dest"]).is_file()  # still where the run put it
    assert entries.loc[plan.loc[1, "path"], "state"] == "restored"


# kill -9 midway ---------------------------------------------------------------------------------------------------

@pytest.fixture(params=["move", "move-across-file-systems", "hardlink"])
def killed_run(request, tmp_path):
    """``dedupkit apply --run`` on 300 files (150 to act on) in a subprocess, killed with SIGKILL midway.

    ``DEDUPKIT_APPLY_TEST_DELAY`` makes it pause in the middle of each file's move (the file in both places),
    so the kill lands mid-action. Yields (root, groups, original bytes, manifest, folder the run moves files to).
    """
    action = request.param
    root = tmp_path / "photos"
    groups = make_tree(root, 150, copies=2)
    groups_csv = write_groups(groups, tmp_path / "groups.csv")
    originals = contents(root)
    manifest = tmp_path / "run.jsonl"
    away = None
    if action == "move-across-file-systems":
        shm = Path("/dev/shm")
        if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
            pytest.skip("needs /dev/shm on another file system than the temporary folder")
        away = Path(tempfile.mkdtemp(dir=shm, prefix="dedupkit-test-"))
        holder, option = away / "moved", ["--move-to", str(away / "moved")]
    elif action == "move":
        holder, option = tmp_path / "moved", ["--move-to", str(tmp_path / "moved")]
    else:
        holder, option = tmp_path / "trash", ["--hardlink", "--trash", str(tmp_path / "trash")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEDUPKIT_APPLY_TEST_DELAY": "0.02"}
    process = subprocess.Popen([sys.executable, "-m", "dedupkit", "apply", str(groups_csv), "--root", str(root),
                                *option, "--manifest", str(manifest), "--run"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            text = manifest.read_text() if manifest.exists() else ""
            if text.count('"state": "done"') >= 40 and '"state": "started"' in text.splitlines()[-1]:
                break  # in the middle of a file's move
            time.sleep(0.005)
        assert process.poll() is None, f"apply ended before it could be killed: {process.stderr.read()!r}"
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        entries = read_manifest(manifest)
        assert 40 <= (entries["state"] == "done").sum() < 150
        yield root, groups, originals, manifest, holder
    finally:
        if process.poll() is None:
            process.kill()
        if away is not None:
            shutil.rmtree(away)


def _leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if ".dedupkit-" in p.name]


def test_killed_midway_then_resumed_loses_nothing(killed_run, capsys):
    root, groups, originals, manifest, holder = killed_run
    left = int(read_manifest(manifest)["state"].isin(["planned", "started"]).sum())
    before = snapshot(root)
    assert main(["apply", str(manifest)]) == 0  # a dry run says what is left, and changes nothing
    assert f"manifest {manifest}: {left} of 150 files not done yet" in capsys.readouterr().out
    assert snapshot(root) == before
    assert main(["apply", str(manifest), "--run"]) == 0  # resume
    assert "done: 150 files" in capsys.readouterr().out
    entries = read_manifest(manifest)
    assert (entries["state"] == "done").all() and len(entries) == 150
    kept = set(groups.loc[groups["keep"], "path"])
    hardlink = holder.name == "trash"
    for rel, data in originals.items():
        if rel in kept:
            assert (root / rel).read_bytes() == data
        else:
            assert (holder / rel).read_bytes() == data  # every original byte is where it should be
            assert (holder / rel).stat().st_nlink == 1  # in one place only
            if hardlink:
                partner = rel.replace("_1.jpg", "_0.jpg")
                assert os.path.samefile(root / rel, root / partner)
            else:
                assert not os.path.lexists(root / rel)
    assert set(contents(root)) == (set(originals) if hardlink else kept)
    assert _leftovers(root, holder) == []
    with open(manifest) as file:  # one complete JSON object per line, even where the kill struck
        assert all(json.loads(line) for line in file)


def test_killed_midway_then_restored_loses_nothing(killed_run, capsys):
    root, _, originals, manifest, holder = killed_run
    assert main(["restore", str(manifest)]) == 0
    assert "could not be restored" not in capsys.readouterr().out
    entries = read_manifest(manifest)
    assert set(entries["state"]) <= {"restored", "planned"}
    assert contents(root) == originals  # every file back, byte for byte, and no link left
    assert all(not (root / rel).is_symlink() and (root / rel).stat().st_nlink == 1 for rel in originals)
    assert contents(holder) == {}
    assert _leftovers(root, holder) == []


# with find ---------------------------------------------------------------------------------------------------------

def test_apply_the_groups_that_find_wrote(sample_dir, tmp_path, capsys):
    root = tmp_path / "sample"
    shutil.copytree(sample_dir, root)
    groups_csv = tmp_path / "groups.csv"
    assert main(["find", str(root), "-o", str(tmp_path / "pairs.csv"), "--groups", str(groups_csv),
                 "--no-verify", "--no-progress", "--workers", "1"]) == 0
    groups = pd.read_csv(groups_csv)
    before = snapshot(root)
    manifest = tmp_path / "run.jsonl"
    assert main(["apply", str(groups_csv), "--root", str(root), "--symlink", "--run", "--manifest",
                 str(manifest)]) == 0
    removable = groups.loc[~groups["keep"], "path"]
    assert f"done: {len(removable)} files" in capsys.readouterr().out
    assert all((root / rel).is_symlink() for rel in removable)
    assert main(["restore", str(manifest)]) == 0
    assert snapshot(root) == before
