"""The code stays lint-clean: ``ruff check`` with the configuration in pyproject.toml finds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing():
    result = _ruff("check", "--no-cache", "dedupkit", "tests", "benchmarks", "tools")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_reads_the_projects_rules(tmp_path):
    # the same command fails on a file that breaks them, so a pass above is not an empty check
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    import json\n    return json\n")
    result = _ruff("check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad))
    assert result.returncode == 1
    assert "F401" in result.stdout and "PLC0415" in result.stdout
