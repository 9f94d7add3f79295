"""End to end on the bundled sample: the README's commands run, and the pairs match the truth."""

from __future__ import annotations

import filecmp
import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from dedupkit import find_pairs, hash_images

REPO = Path(__file__).resolve().parent.parent


def true_pairs(truth: pd.DataFrame) -> set[tuple[str, str]]:
    pairs = set()
    for _, members in truth.groupby("group")["file"]:
        pairs |= {tuple(sorted(p)) for p in itertools.combinations(members, 2)}
    return pairs


def test_precision_and_recall_on_the_sample_at_the_default_threshold(sample_dir):
    truth = pd.read_csv(sample_dir / "truth.csv")
    assert len(truth) == 41 and truth["group"].nunique() == 27
    hashes = hash_images(sample_dir)
    hashes["path"] = [str(Path(p).relative_to(sample_dir)) for p in hashes["path"]]
    found = {tuple(sorted(p)) for p in zip(*find_pairs(hashes).loc[:, ["path_a", "path_b"]].T.values)}
    expected = true_pairs(truth)
    precision = len(found & expected) / len(found)
    recall = len(found & expected) / len(expected)
    # the values stated in the README
    assert len(expected) == 14
    assert precision == 1.0
    assert recall == 11 / 14
    missed = {a.split("__")[-1] if "__" in a else b.split("__")[-1] for a, b in expected - found}
    assert missed == {"mirrored.jpg", "rotated_90.jpg", "crop_30pct.jpg"}


FLOW = "## Clean a folder: scan, review, apply, restore"


def readme_sections() -> tuple[str, str]:
    """The README's whole-flow section, and the rest of the README."""
    text = (REPO / "README.md").read_text()
    start = text.index(FLOW)
    end = text.index("\n## ", start + len(FLOW))
    return text[start:end], text[:start] + text[end:]


def blocks(text: str, *languages: str) -> list[str]:
    """The fenced blocks of ``text`` in one of ``languages`` ("" for a block with none), in order."""
    fenced = re.finditer(r"^```(\w*)\n(.*?)^```$", text, flags=re.S | re.M)
    return [match.group(2) for match in fenced if match.group(1) in languages]


def readme_commands() -> list[str]:
    """Every line of the README's shell blocks (``bash``, ``sh``, ``shell``), in order, but the whole flow's."""
    return [line.strip() for block in blocks(readme_sections()[1], "bash", "sh", "shell")
            for line in block.splitlines() if line.strip()]


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the output:\n{text}"
    return int(found.group(1).replace(",", ""))


def test_the_readme_commands_run(tmp_path):
    commands = readme_commands()
    assert sum(c.startswith("dedupkit ") for c in commands) >= 3, commands
    (tmp_path / "data").symlink_to(REPO / "data")
    printed = {}
    for command in commands:  # as a user types them, in a fresh folder: nothing made for them beforehand
        args = shlex.split(command)
        assert args[0] in ("dedupkit", "mkdir"), f"the README's shell blocks run only dedupkit and mkdir: {command}"
        program = [sys.executable, "-m", "dedupkit"] if args[0] == "dedupkit" else ["mkdir"]
        result = subprocess.run([*program, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stderr)
        if args[0] == "dedupkit":
            output = args[args.index("-o") + 1]
            assert (tmp_path / output).exists(), command
            name = " ".join(args[1:3] + (["--against"] if "--against" in args else []))
            printed[name] = result.stdout + result.stderr
    assert set(printed) == {"hash data/sample", "find data/sample", "find data/sample --against",
                            "report data/sample", "apply out/groups.csv"}, "the checks below follow the README"
    out, sample = tmp_path / "out", REPO / "data" / "sample"
    truth = pd.read_csv(sample / "truth.csv")
    on_disk = sorted(str(p.relative_to(sample)) for p in sample.rglob("*") if p.is_file())

    # hash: every file on disk but the one of another kind, the unreadable ones named
    hashes = pd.read_csv(out / "hashes.csv")
    text = printed["hash data/sample"]
    scanned, other = _number(r"scanned (\d+) files", text), _number(r"\((\d+) other files? left out", text)
    assert scanned == len(hashes) and scanned + other == len(on_disk) and set(hashes["path"]) < set(on_disk)
    unreadable = hashes.loc[hashes["error"].notna(), "path"]
    assert _number(r"(\d+) could not be read", text) == len(unreadable) > 0
    assert all(f"error: {path}:" in text for path in unreadable)
    readable = set(hashes.loc[hashes["error"].isna(), "path"])
    assert readable == set(truth["file"])

    # find: the pairs it counts, each a true pair within the threshold; groups of one picture, the original kept
    pairs = pd.read_csv(out / "duplicates.csv")
    groups = pd.read_csv(out / "groups.csv")
    text = printed["find data/sample"]
    assert _number(r"(\d+) verified pairs within distance 10", text) == len(pairs) > 0
    assert pairs["verified"].all() and (pairs["distance"] <= 10).all()
    assert {tuple(sorted(p)) for p in zip(pairs["path_a"], pairs["path_b"])} <= true_pairs(truth)
    removable = groups.loc[~groups["keep"], "path"]
    summary = (groups["group"].nunique(), len(removable))
    assert (_number(r"(\d+) groups,", text), _number(r"(\d+) files could be removed", text)) == summary
    picture, edit = truth.set_index("file")["group"], truth.set_index("file")["edit"]
    assert (groups.groupby("group")["path"].agg(lambda p: picture[p].nunique()) == 1).all()
    assert (edit[groups.loc[groups["keep"], "path"]] == "original").all()

    # find --against itself: every readable file matches a reference image, itself at distance 0
    leaks = pd.read_csv(out / "leaks.csv")
    text = printed["find data/sample --against"]
    assert _number(r"indexed (\d+) reference images", text) == len(readable)
    assert _number(r"(\d+) files in data/sample match", text) == leaks["path"].nunique() == len(readable)
    assert _number(r"\((\d+) verified pairs within distance 16\)", text) == len(leaks)
    itself = leaks[leaks["path"] == leaks["match"]]
    assert set(itself["path"]) == readable and (itself["distance"] == 0).all()

    # report: the same groups, every file offered for removal shown
    text = printed["report data/sample"]
    assert (_number(r"(\d+) groups,", text), _number(r"(\d+) files could be removed", text)) == summary
    html = (out / "report.html").read_text()
    assert all(path in html for path in removable)

    # apply (a dry run): a move of exactly the files not kept, their bytes as on disk, nothing moved
    plan = pd.read_csv(out / "plan.csv")
    text = printed["apply out/groups.csv"]
    assert (_number(r"(\d+) files not kept", text), _number(r"not kept in (\d+) groups", text)) == summary[::-1]
    assert sorted(Path(p).relative_to(tmp_path / "data" / "sample").as_posix() for p in plan["path"]) == sorted(
        removable)
    assert (plan["action"] == "move").all() and _number(r"move: (\d+) files", text) == len(plan)
    freed = sum((sample / path).stat().st_size for path in removable)
    assert _number(r"([\d,]+) bytes freed", text) == plan["bytes"].sum() == freed
    assert "nothing changed" in text and all((sample / path).is_file() for path in removable)
    assert not (tmp_path / "data" / "sample-duplicates").exists()


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same files with the same bytes (as ``diff -r`` is silent)."""
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    if filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1:] != ([], []):
        return False
    return all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


def test_the_readme_flow_scan_review_apply_restore(tmp_path):
    """The README's whole flow, line by line, in a fresh folder: scan, review (every group accepted as proposed,
    as a user pressing a), apply (a dry run, then --run), restore; the folder is back byte for byte."""
    section, _ = readme_sections()
    shell = [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks(section, "bash")]
    python, shown = blocks(section, "python"), blocks(section, "")
    assert len(shell) == 2 and len(python) == 1 and "docs/review.png" in section
    assert (REPO / "docs" / "review.png").is_file()
    (tmp_path / "data").symlink_to(REPO / "data")
    sample = REPO / "data" / "sample"

    def run(line: str) -> str:
        args = shlex.split(line, comments=True)
        assert args[0] in ("dedupkit", "mkdir", "cp"), f"the flow runs only dedupkit, mkdir and cp: {line}"
        program = [sys.executable, "-m", "dedupkit"] if args[0] == "dedupkit" else [args[0]]
        result = subprocess.run([*program, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (line, result.stderr)
        return result.stdout + result.stderr

    for line in shell[0]:
        printed = run(line)
    photos, out = tmp_path / "out" / "photos", tmp_path / "out"
    groups = pd.read_csv(out / "groups.csv")
    removable = groups.loc[~groups["keep"], "path"]
    assert f"{groups['group'].nunique()} groups, {len(removable)} files could be removed" in printed

    # the review, as a user who presses "a" on every group; the cell as the README has it
    script = python[0] + "\nfor _ in review.order:\n    review.accept()\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    decided = pd.read_csv(out / "decisions.csv")
    assert sorted(Path(p).name for p in decided.loc[decided["decision"] == "remove", "path"]) == sorted(
        Path(p).name for p in removable)

    dry_run, act, back = shell[1]
    printed = run(dry_run)
    expected = [line for line in shown[0].splitlines() if line.strip()]
    lines = printed.splitlines()
    assert len(lines) == len(expected) and lines[0] == expected[0] and lines[1] == expected[1], printed
    assert lines[2] == f"destination: {photos}-duplicates (the layout under {photos} kept)" and lines[3] == expected[3]
    freed = sum((sample / p).stat().st_size for p in removable)
    assert f"move: {len(removable)} files, {freed:,} bytes freed" in printed
    assert _same_tree(photos, sample) and not (out / "photos-duplicates").exists()

    printed = run(act)
    assert f"done: {len(removable)} files, {freed:,} bytes" in printed
    moved = out / "photos-duplicates"
    assert sorted(str(p.relative_to(moved)) for p in moved.rglob("*") if p.is_file()) == sorted(removable)
    assert not any((photos / p).exists() for p in removable)
    assert all((photos / p).is_file() for p in groups.loc[groups["keep"], "path"])

    printed = run(back)
    assert f"restored {len(removable)} files from out/undo.jsonl" in printed
    assert _same_tree(photos, sample)  # diff -r is silent
    assert not moved.exists()  # the folder the run made, emptied, is gone
