"""Importing dedupkit has no side effects and loads nothing heavy; each name loads its module on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import dedupkit

HEAVY = ["pandas", "faiss", "scipy", "numba", "cv2", "matplotlib", "pillow_heif", "fastapi"]


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_loads_nothing_heavy_and_registers_no_opener():
    seen = _probe(
        "import json, sys; from PIL import Image; Image.init(); before = set(Image.OPEN);"
        "import dedupkit;"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules],"
        "'new_openers': sorted(set(Image.OPEN) - before)}))"
    )
    assert seen == {"loaded": [], "new_openers": []}


def test_the_heif_opener_is_registered_when_the_first_image_is_opened(sample_dir):
    seen = _probe(
        "import json; from PIL import Image; import dedupkit;"
        f"dedupkit.load_image({str(sample_dir / 'coffee.jpg')!r});"
        "print(json.dumps({'heif': 'HEIF' in Image.OPEN}))"
    )
    assert seen == {"heif": True}


@pytest.mark.parametrize("name", sorted(dedupkit.__all__))
def test_every_public_name_resolves(name):
    assert getattr(dedupkit, name) is not None
    assert name in dir(dedupkit)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'find_everything'"):
        dedupkit.find_everything  # noqa: B018


def test_the_version_comes_from_the_installed_metadata():
    from importlib.metadata import version

    assert dedupkit.__version__ == version("dedupkit")


def test_the_command_line_parses_without_the_library():
    seen = _probe(
        "import json, sys; from dedupkit.cli import build_parser;"
        "build_parser().parse_args(['find', '.', '-o', 'x.csv']);"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} + ['numpy', 'PIL'] if m in sys.modules]}}))"
    )
    assert seen == {"loaded": []}
