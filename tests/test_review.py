"""The review widget in Python: its buttons and keys write decisions.csv at once, and it reopens where it was left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dedupkit
from dedupkit import read_decisions, relative_paths, review

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample_groups(sample_dir) -> pd.DataFrame:
    hashes = dedupkit.hash_images(sample_dir, progress=False)
    pairs = dedupkit.find_duplicates(hashes, progress=False)
    return relative_paths(dedupkit.find_groups(pairs, hashes), sample_dir)


def _log(out) -> pd.DataFrame:
    return read_decisions(out / "decisions.csv")


def _shown(widget) -> list[tuple[int, str]]:
    return [(card.group, card.path) for card in widget.cards]


def test_it_shows_the_widest_group_first_with_its_files_and_facts(sample_groups, sample_dir, tmp_path):
    widget = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    widest = sample_groups.sort_values(["diameter", "group"], ascending=[False, True])["group"].iloc[0]
    assert widget.order[0] == widest and sorted(widget.order) == sorted(sample_groups["group"].unique())
    assert widget.page == 0 and "Group 1 of 11" in widget._header.value
    assert "0 of 11 groups decided" in widget._header.value
    members = sample_groups[sample_groups["group"] == widest]
    assert _shown(widget) == [(widest, p) for p in members["path"]]
    kept = members.loc[members["keep"], "path"].item()
    for card in widget.cards:
        info = card.children[1].value
        assert card.path.split("/")[-1] in info and "×" in info and " KB" in info and "JPEG" in info
        assert ("dk-kept" in card._dom_classes) == (card.path == kept)
        image = card.children[0].children[0]
        assert image.format == "jpeg" and image.value[:2] == b"\xff\xd8"
    kept_card = next(c for c in widget.cards if c.path == kept)
    assert "kept: " + members["keep_reason"].iloc[0] in kept_card.children[1].value
    assert "weakest link" in widget._body.children[0].children[0].value
    assert "undecided" in widget._body.children[0].children[0].value
    assert (tmp_path / "decisions.csv").is_file() and _log(tmp_path).empty  # nothing decided yet


def test_a_click_on_keep_or_remove_is_written_at_once(sample_groups, sample_dir, tmp_path):
    widget = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    removed = next(c for c in widget.cards if "dk-removed" in c._dom_classes)
    removed.toggle.click()
    log = _log(tmp_path)
    assert log[["group", "decision", "path"]].values.tolist() == [
        [removed.group, "keep", str(sample_dir / removed.path)]]
    assert all("dk-kept" in c._dom_classes for c in widget.cards)  # both kept now
    widget.cards[0].toggle.click()  # and the first removed after all
    assert _log(tmp_path)["decision"].tolist() == ["keep", "remove"]
    assert "dk-removed" in widget.cards[0]._dom_classes
    assert widget.decided(widget.order[0]) and "✓ decided" in widget._body.children[0].children[0].value
    applied = widget.decisions.set_index("path")
    assert not applied.loc[widget.cards[0].path, "keep"] and applied.loc[widget.cards[1].path, "keep"]
    assert applied.loc[widget.cards[0].path, "decided"]


def test_the_keys_move_select_toggle_split_and_accept(sample_groups, sample_dir, tmp_path):
    widget = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    first, second = widget.order[:2]
    widget.handle_key({"key": "ArrowRight"})
    assert widget.page == 1 and widget.cards[0].group == second
    widget.handle_key({"key": "k"})
    assert widget.page == 0
    widget.handle_key({"key": "j"})
    widget.handle_key({"key": "ArrowLeft"})
    widget.handle_key({"key": "ArrowLeft"})  # stays on the first
    assert widget.page == 0
    widget.handle_key({"key": "c", "ctrlKey": True})  # not ours
    assert _log(tmp_path).empty

    widget.handle_key({"key": "2"})
    assert widget.selected == 1 and "dk-selected-mark" in widget.cards[1]._dom_classes
    widget.handle_key({"key": " "})
    assert _log(tmp_path)[["decision", "path"]].values.tolist() == [["keep", str(sample_dir / widget.cards[1].path)]]
    widget.handle_key({"key": "a"})  # accept: the first file as shown (kept), then the next undecided group
    log = _log(tmp_path)
    assert log[["group", "decision", "path"]].values.tolist()[1:] == [[first, "keep", str(sample_dir / _path(
        sample_groups, first, 0))]]
    assert widget.page == 1 and widget.cards[0].group == second

    widget.handle_key({"key": "2"})
    widget.handle_key({"key": "n"})  # the copy is not a duplicate of the file kept
    split = widget.cards[1]
    log = _log(tmp_path)
    assert log.iloc[-1][["group", "decision", "path", "other"]].tolist() == [
        second, "distinct", str(sample_dir / split.path), str(sample_dir / widget.cards[0].path)]
    assert "dk-split" in split._dom_classes and split.toggle.disabled and split.split.description == "back in group"
    assert widget.decided(second)  # one file left: nothing to decide
    assert second not in set(widget.decisions["group"])  # apply_decisions leaves the group out
    widget.handle_key({"key": "Enter"})  # nothing to record: on to the next undecided group
    assert len(_log(tmp_path)) == len(log) and widget.page == 2


def test_split_off_can_be_taken_back(sample_groups, sample_dir, tmp_path):
    widget = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    widget.cards[1].split.click()
    widget.cards[1].split.click()
    assert _log(tmp_path)["decision"].tolist() == ["distinct", "same"]
    assert not widget.decided(widget.order[0]) and widget.order[0] in set(widget.decisions["group"])


def test_reopened_it_shows_the_decided_groups_and_starts_at_the_first_undecided(sample_groups, sample_dir, tmp_path):
    widget = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    widget.accept_button.click()
    widget.accept_button.click()
    widget.cards[1].split.click()  # the third group: a copy split off, so it is decided too
    third = widget.order[2]
    widget.go(4)
    widget.accept_button.click()  # the fifth: decided; the fourth is not
    assert widget.page == 5
    again = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    assert [again.decided(g) for g in again.order] == [True, True, True, False, True] + [False] * 6
    assert again.page == 3 and "4 of 11 groups decided" in again._header.value
    again.go(2)
    assert again.cards[0].group == third and "dk-split" in again.cards[1]._dom_classes
    assert "✓ decided" in again._body.children[0].children[0].value
    assert again.decisions.equals(widget.decisions)
    again.go(0)
    assert [("dk-kept" in c._dom_classes) for c in again.cards] == [True, False]


def test_a_page_of_groups_and_a_kept_file_split_off(sample_groups, sample_dir, tmp_path):
    numbers = sample_groups["group"].unique()
    four = sample_groups[sample_groups["group"].isin(numbers[:2])].assign(group=100, size=4)
    four["keep"] = [True, False, False, False]
    table = pd.concat([four, sample_groups[sample_groups["group"] == numbers[2]]], ignore_index=True)
    widget = review(table, root=sample_dir, output_dir=tmp_path, page_size=2, order="largest")
    assert len(widget.cards) == 6 and "Groups 1–2 of 2" in widget._header.value and len(widget._body.children) == 2
    widget.handle_key({"key": "1"})
    widget.handle_key({"key": "n"})  # the kept file is not a duplicate: the next file is proposed instead
    log = _log(tmp_path)
    assert (log["decision"] == "distinct").sum() == 3 and set(log["path"]) == {str(sample_dir / four["path"].iloc[0])}
    assert [("dk-kept" in c._dom_classes) for c in widget.cards] == [False, True, False, False, True, False]
    shown = widget.decisions  # and apply_decisions agrees: the other three stay, centred on the next file
    g100 = shown[shown["group"] == 100]
    assert g100["path"].tolist() == four["path"].iloc[1:].tolist() and g100["keep"].tolist() == [True, False, False]
    widget.handle_key({"key": "4"})
    widget.handle_key({"key": " "})
    widget.handle_key({"key": "a"})  # both groups of the page
    decided = _log(tmp_path).query("decision in ['keep', 'remove']")
    paths = [str(sample_dir / p) for p in table["path"]]
    assert decided[["path", "decision"]].values.tolist() == [
        [paths[3], "keep"], [paths[1], "keep"], [paths[2], "remove"], [paths[4], "keep"], [paths[5], "remove"]]
    assert widget.decided(100) and widget.decided(numbers[2])


def test_wrong_options_are_refused(sample_groups, tmp_path):
    with pytest.raises(ValueError, match="order must be one of"):
        review(sample_groups, output_dir=tmp_path, order="random")
    with pytest.raises(ValueError, match="page_size"):
        review(sample_groups, output_dir=tmp_path, page_size=0)
    with pytest.raises(ValueError, match="lacks the column"):
        review(sample_groups.drop(columns="diameter"), output_dir=tmp_path)


def test_the_orders(sample_groups, sample_dir, tmp_path):
    per = sample_groups.groupby("group").agg(size=("path", "size"), diameter=("diameter", "max"),
                                            link=("link_distance", "max"))
    for order, column in (("widest", "diameter"), ("largest", "size"), ("uncertain", "link")):
        shown = review(sample_groups, root=sample_dir, output_dir=tmp_path, order=order).order
        assert per.loc[shown, column].is_monotonic_decreasing, order
    assert review(sample_groups, root=sample_dir, output_dir=tmp_path, order="group").order == sorted(per.index)


def test_no_groups_no_cards(sample_groups, tmp_path):
    widget = review(sample_groups.iloc[:0], output_dir=tmp_path)
    assert widget.cards == [] and "No groups to review" in widget._header.value
    widget.handle_key({"key": "a"})
    widget.handle_key({"key": " "})
    assert _log(tmp_path).empty and widget.decisions.empty


def test_a_killed_kernel_keeps_every_click_but_the_one_being_written(sample_groups, sample_dir, tmp_path):
    groups = tmp_path / "groups.pkl"
    sample_groups.to_pickle(groups)
    code = (f"import os, signal, pandas as pd, dedupkit as dk; g = pd.read_pickle({str(groups)!r}); "
            f"w = dk.review(g, root={str(sample_dir)!r}, output_dir={str(tmp_path)!r}); "
            "w.cards[1].toggle.click(); w.accept_button.click(); w.cards[1].split.click(); "
            "os.kill(os.getpid(), signal.SIGKILL)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert _log(tmp_path)["decision"].tolist() == ["keep", "keep", "distinct"]
    again = review(sample_groups, root=sample_dir, output_dir=tmp_path)
    assert again.page == 2 and "2 of 11 groups decided" in again._header.value


def _path(groups: pd.DataFrame, group: int, i: int) -> str:
    return groups.loc[groups["group"] == group, "path"].iloc[i]
