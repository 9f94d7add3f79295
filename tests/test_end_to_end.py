"""End to end on the bundled sample: the README's commands run, and the pairs match the truth."""

from __future__ import annotations

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


def readme_commands() -> list[str]:
    """Every line of the README's shell blocks (``bash``, ``sh``, ``shell``), in order."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


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
