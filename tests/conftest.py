"""Shared fixtures: the bundled sample, and small folders built per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample: 27 photos, 14 edited copies, 3 bad files, truth.csv."""
    return SAMPLE


@pytest.fixture(scope="session")
def originals(sample_dir) -> list[Path]:
    """The 27 original photographs of the sample."""
    return sorted(p for p in sample_dir.glob("*.jpg") if "__" not in p.stem)


@pytest.fixture(scope="session")
def photo(originals) -> Image.Image:
    """One real photograph, decoded (RGB)."""
    return Image.open(originals[0]).convert("RGB")


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory, originals) -> Path:
    """A small folder: 4 photos, a half-size copy, a sub-folder, and one bad file of each kind."""
    root = tmp_path_factory.mktemp("small")
    for path in originals[:4]:
        shutil.copy(path, root / path.name)
    first = Image.open(originals[0]).convert("RGB")
    (root / "sub").mkdir()
    first.resize((first.width // 2, first.height // 2)).save(root / "sub" / "half.png")
    (root / "bad_empty.jpg").write_bytes(b"")
    (root / "bad_text.jpg").write_text("not an image\n")
    data = originals[1].read_bytes()
    (root / "bad_truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "readme.txt").write_text("skipped by extension\n")
    (root / ".hidden.jpg").write_bytes(data)
    return root


@pytest.fixture(scope="session")
def s3():
    """moto's S3 server on a free port of 127.0.0.1, credentials checked (tests/s3server.py)."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    from s3server import S3Server

    with S3Server() as server:
        yield server
