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


def test_the_readme_commands_run(tmp_path):
    commands = readme_commands()
    assert sum(c.startswith("dedupkit ") for c in commands) >= 3, commands
    (tmp_path / "data").symlink_to(REPO / "data")
    for command in commands:  # as a user types them, in a fresh folder: nothing made for them beforehand
        args = shlex.split(command)
        assert args[0] in ("dedupkit", "mkdir"), f"the README's shell blocks run only dedupkit and mkdir: {command}"
        program = [sys.executable, "-m", "dedupkit"] if args[0] == "dedupkit" else ["mkdir"]
        result = subprocess.run([*program, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stderr)
        if args[0] == "dedupkit":
            output = args[args.index("-o") + 1]
            assert (tmp_path / output).exists(), command
