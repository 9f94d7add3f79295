"""Review decisions: written at once, read back after a crash, matched to files by identity, honoured by grouping."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dedupkit import DecisionLog, apply_decisions, find_groups, read_decisions
from dedupkit.decisions import DECISION_COLUMNS, identities


@pytest.fixture()
def folder(tmp_path, originals):
    """Four files: a and b are copies, c and d are copies of another photo; same sizes, other bytes."""
    for name, source in zip("abcd", [originals[0], originals[0], originals[1], originals[1]]):
        data = source.read_bytes() + (b"" if name in "ac" else b"\0" * (1 + "abcd".index(name)))
        (tmp_path / f"{name}.jpg").write_bytes(data)
    return tmp_path


def _pairs(folder):
    p = lambda n: str(folder / f"{n}.jpg")  # noqa: E731
    return pd.DataFrame({"path_a": [p("a"), p("c")], "path_b": [p("b"), p("d")], "distance": [1, 2]})


def test_a_decision_is_on_disk_with_the_files_identity(folder):
    log = DecisionLog(folder / "out" / "decisions.csv", root=folder)
    log.record(0, "b.jpg", "keep")
    table = read_decisions(folder / "out" / "decisions.csv")
    assert tuple(table.columns) == DECISION_COLUMNS
    row = table.iloc[0]
    assert row["path"] == str(folder / "b.jpg") and row["decision"] == "keep" and row["group"] == 0
    assert row["bytes"] == (folder / "b.jpg").stat().st_size and len(row["sha256"]) == 64


def test_a_killed_writer_loses_at_most_the_line_it_was_writing(folder):
    """A process killed right after a record: the record is there; a torn line is dropped, then cut off."""
    path = folder / "decisions.csv"
    code = ("import os, sys; from dedupkit import DecisionLog; "
            f"log = DecisionLog({str(path)!r}, root={str(folder)!r}); log.record(1, 'a.jpg', 'remove'); "
            "os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code], check=False)
    assert read_decisions(path)["decision"].tolist() == ["remove"]
    with open(path, "a") as file:  # what a crash mid-write leaves
        file.write("2026-01-01T00:00:00,1,keep,/x/a.j")
    assert read_decisions(path)["decision"].tolist() == ["remove"]
    DecisionLog(path).record(1, folder / "c.jpg", "keep")
    assert read_decisions(path)["decision"].tolist() == ["remove", "keep"]


def test_a_file_that_is_not_a_decisions_file_is_refused(tmp_path):
    (tmp_path / "decisions.csv").write_text("path,keep\nx,True\n")
    with pytest.raises(ValueError, match="not a decisions file"):
        DecisionLog(tmp_path / "decisions.csv")


def test_bad_decisions_are_refused(folder):
    log = DecisionLog(folder / "d.csv", root=folder)
    with pytest.raises(ValueError, match="one of"):
        log.record(0, "a.jpg", "maybe")
    with pytest.raises(ValueError, match="needs other"):
        log.record(0, "a.jpg", "distinct")


def test_keep_decisions_override_the_proposal_and_mark_groups_decided(folder):
    groups = find_groups(_pairs(folder), read_files=False)
    log = DecisionLog(folder / "d.csv", root=folder)
    kept = groups.loc[groups["keep"] & (groups["group"] == 0), "path"].item()
    other = groups.loc[~groups["keep"] & (groups["group"] == 0), "path"].item()
    log.record_many([{"group": 0, "path": kept, "decision": "remove"},
                     {"group": 0, "path": other, "decision": "keep"}])
    decided = apply_decisions(groups, log.read())
    g0 = decided[decided["group"] == 0].set_index("path")
    assert not g0.loc[kept, "keep"] and g0.loc[other, "keep"]
    assert g0["decided"].all() and g0.loc[other, "keep_reason"] == "kept by your decision"
    assert not decided.loc[decided["group"] == 1, "decided"].any()
    assert decided.loc[decided["group"] == 1, "decision"].isna().all()


def test_a_renamed_file_keeps_its_decision_an_edited_one_loses_it(folder):
    log = DecisionLog(folder / "d.csv", root=folder)
    log.record_many([{"group": 0, "path": "b.jpg", "decision": "keep"},
                     {"group": 1, "path": "d.jpg", "decision": "keep"}])
    os.rename(folder / "b.jpg", folder / "b-renamed.jpg")
    with open(folder / "d.jpg", "ab") as file:
        file.write(b"edited")
    p = lambda n: str(folder / f"{n}.jpg")  # noqa: E731
    names = identities([p("b-renamed"), p("d"), p("a")], log.read())
    assert names[0] == p("b")  # found by its bytes
    assert names[1] != p("d") and names[2] != p("a")  # changed since; never decided


def test_not_a_duplicate_is_never_grouped_again(folder):
    pairs = _pairs(folder)
    before = find_groups(pairs, read_files=False)
    group_of = dict(zip(before["path"], before["group"]))
    b, a = str(folder / "b.jpg"), str(folder / "a.jpg")
    assert group_of[a] == group_of[b]
    log = DecisionLog(folder / "d.csv")
    log.record(0, b, "distinct", other=a)
    after = find_groups(pairs, read_files=False, decisions=folder / "d.csv")
    assert b not in set(after["path"])  # b's only match was a
    assert {"decision", "decided"} <= set(after.columns)
    # and after a rename of both files, by their bytes
    shutil.move(a, folder / "a2.jpg")
    shutil.move(b, folder / "b2.jpg")
    renamed = pairs.replace({a: str(folder / "a2.jpg"), b: str(folder / "b2.jpg")})
    again = find_groups(renamed, read_files=False, decisions=log.read())
    both = {str(folder / "a2.jpg"), str(folder / "b2.jpg")}
    assert not any(both <= s for s in again.groupby("group")["path"].apply(set))
    # taken back
    log.record(0, b, "same", other=a)
    back = find_groups(renamed, read_files=False, decisions=log.read())
    assert any(both <= s for s in back.groupby("group")["path"].apply(set))


def test_splitting_a_picture_off_drops_it_from_the_proposed_groups(folder):
    groups = find_groups(_pairs(folder), read_files=False)
    g0 = groups[groups["group"] == 0]
    centre, member = g0["path"].iloc[0], g0["path"].iloc[1]
    log = DecisionLog(folder / "d.csv")
    log.record(0, member, "distinct", other=centre)
    decided = apply_decisions(groups, log.read())
    assert member not in set(decided["path"])
    assert centre not in set(decided["path"])  # a group of one is no group
    assert set(decided["group"]) == set(groups["group"]) - {0}


def test_a_kept_file_split_off_leaves_its_copies_together_around_the_next_best(folder, originals):
    """Splitting off the kept file of a group of three re-centres the group on the next file by the keep rules;
    its copies stay (they are still copies of each other), and find_groups with the decisions agrees."""
    (folder / "e.jpg").write_bytes(originals[0].read_bytes() + b"\0" * 9)
    p = lambda n: str(folder / f"{n}.jpg")  # noqa: E731
    pairs = pd.DataFrame({"path_a": [p("a"), p("a"), p("b")], "path_b": [p("b"), p("e"), p("e")],
                          "distance": [1, 2, 1]})
    groups = find_groups(pairs, read_files=False)
    assert groups["path"].tolist() == [p("a"), p("b"), p("e")] and groups["keep"].tolist() == [True, False, False]
    log = DecisionLog(folder / "d.csv")
    log.record_many([{"group": 0, "path": p("a"), "decision": "distinct", "other": o} for o in (p("b"), p("e"))])
    decided = apply_decisions(groups, log.read())
    assert decided["path"].tolist() == [p("b"), p("e")]  # b: the next by the keep rules (here: path order)
    assert decided["keep"].tolist() == [True, False] and decided["size"].tolist() == [2, 2]
    assert "split off" in decided["keep_reason"].iloc[0] and decided["link_distance"].iloc[0] == 0
    again = find_groups(pairs, read_files=False, decisions=log.read())
    assert again[["group", "path", "keep", "size"]].equals(decided[["group", "path", "keep", "size"]])
    # a copy split off as well (distinct from the file now kept): no group is left
    log.record(0, p("e"), "distinct", other=p("b"))
    assert apply_decisions(groups, log.read()).empty
    assert find_groups(pairs, read_files=False, decisions=log.read()).empty


def test_a_copy_split_off_leaves_the_kept_file_and_the_other_copies(folder, originals):
    (folder / "e.jpg").write_bytes(originals[0].read_bytes() + b"\0" * 9)
    p = lambda n: str(folder / f"{n}.jpg")  # noqa: E731
    pairs = pd.DataFrame({"path_a": [p("a"), p("a"), p("b")], "path_b": [p("b"), p("e"), p("e")],
                          "distance": [1, 2, 1]})
    groups = find_groups(pairs, read_files=False)
    log = DecisionLog(folder / "d.csv")
    log.record_many([{"group": 0, "path": p("b"), "decision": "distinct", "other": o} for o in (p("a"), p("e"))])
    decided = apply_decisions(groups, log.read())
    assert decided["path"].tolist() == [p("a"), p("e")] and decided["keep"].tolist() == [True, False]
    again = find_groups(pairs, read_files=False, decisions=log.read())
    assert again[["group", "path", "keep", "size"]].equals(decided[["group", "path", "keep", "size"]])


def test_cli_find_honours_decisions_and_apply_acts_on_them(tmp_path, sample_dir, capsys):
    """find --decisions: a pair marked apart is neither a pair nor a group; apply decisions.csv moves what
    was decided 'remove', checked unchanged since the decision, and nothing else."""
    from dedupkit.cli import main

    photos = tmp_path / "photos"
    shutil.copytree(sample_dir, photos, ignore=shutil.ignore_patterns("bad"))
    assert main(["find", str(photos), "-o", str(tmp_path / "pairs.csv"), "--groups", str(tmp_path / "g.csv"),
                 "--no-progress"]) == 0
    groups = pd.read_csv(tmp_path / "g.csv")
    assert {"bytes", "mtime_ns", "sha256"} <= set(groups.columns)  # what apply checks the files against
    g0, g1 = groups[groups["group"] == 0], groups[groups["group"] == 1]
    log = DecisionLog(tmp_path / "decisions.csv", root=photos)
    log.record(0, g0["path"].iloc[1], "distinct", other=g0["path"].iloc[0])
    log.record_many([{"group": 1, "path": p, "decision": "keep" if k else "remove"}
                     for p, k in zip(g1["path"], g1["keep"])])

    assert main(["find", str(photos), "-o", str(tmp_path / "pairs2.csv"), "--groups", str(tmp_path / "g2.csv"),
                 "--decisions", str(tmp_path / "decisions.csv"), "--no-progress"]) == 0
    pairs2, groups2 = pd.read_csv(tmp_path / "pairs2.csv"), pd.read_csv(tmp_path / "g2.csv")
    apart = {g0["path"].iloc[0], g0["path"].iloc[1]}
    assert not any({a, b} == apart for a, b in zip(pairs2["path_a"], pairs2["path_b"]))
    assert not any(apart <= set(s) for _, s in groups2.groupby("group")["path"])
    assert groups2["decided"].sum() == len(g1)

    capsys.readouterr()
    assert main(["apply", str(tmp_path / "decisions.csv"), "--move-to", str(tmp_path / "moved"), "--run"]) == 0
    moved = [p.name for p in (tmp_path / "moved").rglob("*") if p.is_file()]
    assert sorted(moved) == sorted(Path(p).name for p in g1.loc[~g1["keep"], "path"])
    assert (photos / g1.loc[g1["keep"], "path"].item()).exists()
