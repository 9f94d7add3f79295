"""The notebooks: committed clean, parameterised, and run headless on a folder other than the sample.

The sample run is ``pytest --nbval-lax notebooks/`` (``make test``); here papermill
runs the four notebooks one after the other on a folder built under
``tmp_path``, passing it as a parameter, as a user would with their own photos.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from PIL import Image, ImageOps

from dedupkit import hashes_for

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NAMES = ["01_hash_dataset", "02_tune_threshold", "03_export_duplicates", "04_calibrate_and_compare"]
MAKEFILE = (REPO / "Makefile").read_text()
# seconds a cell may run before it fails the test instead of hanging it, and the kernel `make install` registers,
# by its display name (one owner for both: the Makefile)
CELL_TIMEOUT = int(re.search(r"^CELL_TIMEOUT := (\d+)$", MAKEFILE, re.M).group(1))
KERNEL_NAME = re.search(r'--display-name "([^"]+)"', MAKEFILE).group(1)


def test_the_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_shows_an_output_widget(path):
    """A headless run (papermill, nbclient: `make demo`, tests/test_notebooks.py) answers an Output widget
    (``interact``, ``interactive``, ``widgets.Output``) by sending on the kernel's shell socket while it waits there
    for the cell's reply, and under load misses the reply: notebook 2's ``interact`` slider hung `make demo` in about
    one run of two with both cores busy (2026-12-07). Sliders redraw an Image or HTML widget instead."""
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    code = re.sub(r"#.*", "", code)  # what the code runs, not what its comments say
    assert not re.search(r"\binteract(ive)?\b|\bOutput\(", code), "an Output widget: see this test's docstring"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_a_parameters_cell_first(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "strip outputs with nbstripout"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["kernelspec"]["display_name"] == KERNEL_NAME == "Python 3 (dedupkit)"
    assert any(re.search(r"^assert ", cell.source, re.M) for cell in code), "key numbers are checked by asserts"
    assert "image_dir" in code[0].source and "output_dir" in code[0].source


def _stdout(notebook) -> str:
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.name == "stdout")


@pytest.fixture()
def kernel(tmp_path, monkeypatch):
    """A 'python3' kernel that is this interpreter, whatever kernels the machine has."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (dedupkit tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "python3"


@pytest.fixture()
def photos(tmp_path, originals):
    """Four photos, a half-size copy in a sub-folder, a greyscale copy, a broken file and a text file."""
    root = tmp_path / "my photos"  # a space, as users' folders have
    (root / "sub").mkdir(parents=True)
    for path in originals[:4]:
        shutil.copy(path, root / path.name)
    first = Image.open(originals[0])
    first.resize((first.width // 2, first.height // 2)).save(root / "sub" / "half.jpg", quality=90)
    ImageOps.grayscale(Image.open(originals[1])).save(root / "grey.png")
    (root / "broken.jpg").write_bytes(originals[2].read_bytes()[:500])
    (root / "notes.txt").write_text("not an image")
    return root


def test_the_notebooks_run_on_another_folder(photos, tmp_path, kernel, originals):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "results"
    out.mkdir()
    runs = {"01_hash_dataset": {}, "02_tune_threshold": {"threshold": 8}, "03_export_duplicates": {},
            "04_calibrate_and_compare": {"max_photos": 4, "methods": ["dhash"]}}
    for name, extra in runs.items():
        papermill.execute_notebook(
            str(REPO / "notebooks" / f"{name}.ipynb"), str(out / f"{name}.ipynb"),
            parameters={"image_dir": str(photos), "output_dir": str(out), **extra},
            kernel_name=kernel, cwd=str(tmp_path), progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
        )
        executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors

    hashes = pd.read_parquet(out / "hashes.parquet")
    assert len(hashes) == 7 and hashes["error"].notna().sum() == 1
    saved = json.loads((out / "threshold.json").read_text())
    assert saved["threshold"] == 8 and saved["counts"]["pairs"] == 2 and saved["recommended"] is None

    duplicates = pd.read_csv(out / "duplicates.csv")
    found = {frozenset(pair) for pair in zip(duplicates["path_a"], duplicates["path_b"])}
    assert found == {frozenset({originals[0].name, "sub/half.jpg"}), frozenset({originals[1].name, "grey.png"})}
    groups = pd.read_csv(out / "groups.csv")
    assert len(groups) == 4 and groups["keep"].sum() == 2
    # kept: the originals, the full-size photo over its half-size copy and colour over its greyscale PNG copy
    assert set(groups.loc[groups["keep"], "path"]) == {originals[0].name, originals[1].name}
    assert set(groups.loc[groups["keep"], "keep_reason"]) == {"more pixels of the picture", "colour, not greyscale"}

    # calibration: the 4 originals (half.jpg and grey.png are copies of two, broken.jpg is unreadable),
    # one left unedited as a distractor, 39 edits of each of the others
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["photos"] == 4 and calibration["files"] == 4 + 3 * 39
    assert [m["label"] for m in calibration["methods"]] == ["dhash", "dhash +trim"]
    recommended = calibration["recommended"]
    assert recommended["mode"] == "hash" and recommended["method"] == "dhash" and recommended["precision"] >= 0.995
    truth = pd.read_csv(out / "calibration" / "truth.csv")
    assert len(truth) == calibration["files"] and (out / "calibration" / truth["file"]).map(Path.is_file).all()

    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == ["calibration_precision_recall.png", "distance_distribution.png", "formats_and_sizes.png",
                       "largest_groups.png", "threshold_edge.png", "verified_edge.png", "weakest_links.png",
                       "widest_groups.png"]  # no ground truth for 02
    # the verified pairs of notebook 2 and the weakest links of notebook 3: one row per pair shown
    verified = nbformat.read(out / "02_tune_threshold.ipynb", as_version=4)
    assert re.search(r"pairs within 20 bits verified: 2 confirmed, \d+ rejected", _stdout(verified))
    assert "verified pairs: hash candidates within 16 bits" in _stdout(nbformat.read(out / "03_export_duplicates.ipynb",
                                                                                     as_version=4))
    assert sorted(p.name for p in photos.rglob("*")) == sorted(
        ["sub", "half.jpg", "grey.png", "broken.jpg", "notes.txt", *(p.name for p in originals[:4])])

    # notebook 3 told not to verify: hash distance alone, at the threshold notebook 2 saved
    papermill.execute_notebook(
        str(REPO / "notebooks" / "03_export_duplicates.ipynb"), str(out / "03_hash_only.ipynb"),
        parameters={"image_dir": str(photos), "output_dir": str(out), "verify": False},
        kernel_name=kernel, cwd=str(tmp_path), progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
    )
    assert "hash distance alone: pairs within 8 bits (the threshold saved by notebook 2)" in _stdout(
        nbformat.read(out / "03_hash_only.ipynb", as_version=4))
    hash_only = pd.read_csv(out / "duplicates.csv")
    assert {frozenset(pair) for pair in zip(hash_only["path_a"], hash_only["path_b"])} == found
    assert (hash_only["distance"] <= 8).all()


def test_notebook_1_hashes_a_parquet_table(tmp_path, kernel, originals):
    papermill = pytest.importorskip("papermill")
    table = tmp_path / "train.parquet"  # as Hugging Face keeps images: {"bytes", "path"} structs in a column "image"
    images = [{"bytes": p.read_bytes(), "path": p.name} for p in originals[:4]] + [{"bytes": b"broken", "path": None}]
    pd.DataFrame({"image": images}).to_parquet(table, row_group_size=2)
    out = tmp_path / "results"
    out.mkdir()
    for run in ("first", "again"):
        papermill.execute_notebook(
            str(REPO / "notebooks" / "01_hash_dataset.ipynb"), str(out / f"01_{run}.ipynb"),
            parameters={"image_dir": str(table), "output_dir": str(out)},
            kernel_name=kernel, cwd=str(tmp_path), progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
        )
        printed = _stdout(nbformat.read(out / f"01_{run}.ipynb", as_version=4))
        assert f"5 files in {table}: 4 with a hash, 1 could not be read" in printed
    assert "(5 files hashed now, 0 taken from the cache)" in _stdout(nbformat.read(out / "01_first.ipynb", 4))
    assert "(0 files hashed now, 5 taken from the cache)" in printed  # the table unchanged: not hashed again
    hashes = pd.read_parquet(out / "hashes.parquet")
    assert hashes["path"].tolist() == ["0", "1", "2", "3", "4"]
    assert hashes["error"].notna().tolist() == [False, False, False, False, True]
    os.utime(table, ns=(table.stat().st_atime_ns, table.stat().st_mtime_ns + 10**9))  # changed: hashed again
    assert hashes_for(table, out).attrs["hashed"] == 5
