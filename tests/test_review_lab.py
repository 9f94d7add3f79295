"""The review widget in a real JupyterLab 4, driven by headless Chromium: clicks and keys reach decisions.csv.

A JupyterLab server runs on a free loopback port with a notebook that builds
the sample's groups and shows ``dedupkit.review``; playwright drives Debian's
chromium (never a downloaded browser), runs every cell, clicks the widget's
buttons, presses keys with the mouse over it, and the test reads
``decisions.csv`` as the kernel wrote it. ``REVIEW_SCREENSHOT=docs/review.png``
also saves the screenshot of the widget there (``tools/review_screenshot.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dedupkit import read_decisions

REPO = Path(__file__).resolve().parent.parent
#: Debian's chromium (`make install` puts it there); playwright drives it and never downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")
#: Seconds for the server to start, the kernel to build the groups, and the widget to answer.
START, CELLS, ANSWER = 120, 240, 30

NOTEBOOK = """\
import dedupkit as dk

sample = {sample!r}
hashes = dk.hash_images(sample, progress=False)
groups = dk.relative_paths(dk.find_groups(dk.find_duplicates(hashes, progress=False), hashes), sample)
widget = dk.review(groups, root=sample, output_dir={out!r})
widget"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _lab_server(tmp_path: Path, cells: list[str], name: str):
    """A JupyterLab server on loopback whose python3 kernel is this interpreter and imports this dedupkit,
    serving one notebook of ``cells``; yields its URL, its ``out`` folder and the server's log."""
    pytest.importorskip("jupyterlab")
    home = tmp_path / "lab"
    kernel = home / "data" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (dedupkit tests)", "language": "python"}))
    notebooks = home / "notebooks"
    notebooks.mkdir()
    out = notebooks / "out"  # output_dir="out", beside the notebook: as a user writes it (and the screenshot shows)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (dedupkit tests)",
                                       "language": "python"}
    nbformat.write(notebook, notebooks / name)
    # no "get Jupyter news?" toast over the widget (and no request for them)
    (home / "config" / "labconfig").mkdir(parents=True)
    (home / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={notebooks}", "--LabApp.expose_app_in_browser=True",
               f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, env=env, cwd=notebooks, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"url": f"{base}/lab/tree/{name}?token={token}", "out": out, "log": tmp_path / "lab.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture()
def lab(tmp_path, sample_dir):
    """JupyterLab with a notebook that shows the sample's groups in ``dedupkit.review``."""
    with _lab_server(tmp_path, [NOTEBOOK.format(sample=str(sample_dir), out="out")], "review.ipynb") as server:
        yield server


def _rows(out: Path, n: int) -> pd.DataFrame:
    """The decisions file once it has ``n`` rows (the kernel writes it when the click's message arrives)."""
    deadline = time.monotonic() + ANSWER
    while True:
        path = out / "decisions.csv"
        rows = read_decisions(path) if path.exists() else None
        if rows is not None and len(rows) >= n or time.monotonic() > deadline:
            assert rows is not None and len(rows) == n, rows
            return rows
        time.sleep(0.2)


def _run_all_cells(browser, url: str, elsewhere: list[str]):
    """A page of JupyterLab at ``url`` (loopback only: any other request is refused and noted in ``elsewhere``),
    once its kernel is up, with every cell sent to run."""
    def loopback_only(route):
        if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(CELLS * 1000)
    page.route("**/*", loopback_only)
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def test_the_widget_works_in_jupyterlab(lab, sample_dir, tmp_path):
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []
    shot = tmp_path / "review.png"
    out, started = lab["out"], time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = _run_all_cells(browser, lab["url"], elsewhere)
            widget = page.locator(".dk-review")
            widget.wait_for(state="visible")
            page.wait_for_function("() => [...document.querySelectorAll('.dk-review img')].length == 2 && "
                                   "[...document.querySelectorAll('.dk-review img')].every(i => i.complete && "
                                   "i.naturalWidth > 0)")
            header = page.locator(".dk-review .dk-head").first
            assert "Group 1 of 11" in header.inner_text()
            cells = page.locator(".jp-Notebook .jp-Cell").count()
            widget.scroll_into_view_if_needed()
            widget.screenshot(path=shot)
            page.set_default_timeout(ANSWER * 1000)

            # a click: keep the copy as well
            page.locator(".dk-review .dk-removed button:has-text('keep instead')").click()
            rows = _rows(out, 1)
            assert rows["decision"].tolist() == ["keep"] and "__" in rows["path"].iloc[0]
            page.locator(".dk-review .dk-card").nth(1).and_(page.locator(".dk-kept")).wait_for()

            # keys, with the mouse over the widget: accept the group, on to the next
            header.hover()
            page.keyboard.press("a")
            page.wait_for_function("() => document.querySelector('.dk-review .dk-head').innerText"
                                   ".includes('Group 2 of 11')")
            rows = _rows(out, 2)
            assert rows["decision"].tolist() == ["keep", "keep"] and rows["group"].nunique() == 1
            second = page.locator(".dk-review .dk-card").nth(1).inner_text()

            # a click: the copy is not a duplicate
            page.locator(".dk-review .dk-card").nth(1).locator("button:has-text('not a duplicate')").click()
            rows = _rows(out, 3)
            assert rows["decision"].iloc[-1] == "distinct"
            assert Path(rows["path"].iloc[-1]).name in second
            page.locator(".dk-review .dk-split").wait_for()

            # keys: the next group, its first file removed, then accepted (the copy removed as proposed)
            header.hover()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("() => document.querySelector('.dk-review .dk-head').innerText"
                                   ".includes('Group 3 of 11')")
            page.keyboard.press("1")
            page.keyboard.press(" ")
            rows = _rows(out, 4)
            assert rows["decision"].iloc[-1] == "remove"
            page.keyboard.press("Enter")
            rows = _rows(out, 5)
            assert rows["decision"].tolist()[-2:] == ["remove", "remove"] and rows["group"].iloc[-2:].nunique() == 1
            page.wait_for_function("() => document.querySelector('.dk-review .dk-head').innerText"
                                   ".includes('3 of 11 groups decided')")
            # the keys went to the widget, not to JupyterLab ('a' would have added a cell, '1' made a heading)
            assert page.locator(".jp-Notebook .jp-Cell").count() == cells
            assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == 0
        finally:
            browser.close()
    took = time.monotonic() - started
    print(f"JupyterLab review test: {took:.0f} s in the browser")
    assert elsewhere == []
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[1] > 600 and pixels.shape[0] > 300
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000  # photos, not an empty box
    kept_green = (pixels[..., 1] > 110) & (pixels[..., 0] < 80) & (pixels[..., 2] < 80)
    assert kept_green.sum() > 1000  # the kept file's green frame
    if os.environ.get("REVIEW_SCREENSHOT"):
        shutil.copy(shot, os.environ["REVIEW_SCREENSHOT"])


def test_the_threshold_slider_redraws_in_jupyterlab(tmp_path, sample_dir):
    """Notebook 2's slider, moved in the browser, redraws the figure and the counts from the kernel."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    source = nbformat.read(REPO / "notebooks" / "02_tune_threshold.ipynb", as_version=4)
    cells = [c.source for c in source.cells if c.cell_type == "code"]
    out = tmp_path / "out"
    cells.insert(1, f"image_dir, output_dir = {str(sample_dir)!r}, {str(out)!r}")  # after the parameters cell
    elsewhere: list[str] = []
    with _lab_server(tmp_path, cells, "tune.ipynb") as lab, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = _run_all_cells(browser, lab["url"], elsewhere)
            page.wait_for_function("() => [...document.querySelectorAll('.widget-vbox .widget-html-content')]"
                                   ".some(h => h.textContent.includes('threshold 10,'))")
            picture = page.locator(".widget-vbox .widget-image").first
            page.wait_for_function("() => [...document.querySelectorAll('.widget-vbox .widget-image')]"
                                   ".some(i => i.complete && i.naturalWidth > 300)")
            first = picture.get_attribute("src")
            # the last cell moves the slider to 11 and back: wait for the whole notebook to have run
            page.wait_for_function("() => !document.querySelector('.jp-Notebook .jp-InputArea-prompt')"
                                   " || ![...document.querySelectorAll('.jp-InputArea-prompt')]"
                                   ".some(p => p.innerText.includes('*'))")
            page.set_default_timeout(ANSWER * 1000)
            readout = page.locator(".widget-vbox .widget-readout").first
            readout.scroll_into_view_if_needed()
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("13")
            page.keyboard.press("Enter")
            page.wait_for_function("() => [...document.querySelectorAll('.widget-vbox .widget-html-content')]"
                                   ".some(h => h.textContent.includes('threshold 13,'))")
            page.wait_for_function("src => document.querySelector('.widget-vbox .widget-image').src != src", arg=first)
            picture.scroll_into_view_if_needed()
            shown = page.locator(".widget-vbox").filter(has=page.locator(".widget-image")).first
            shown.screenshot(path=tmp_path / "slider.png")
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert "Error" not in " ".join(errors.all_inner_texts())
        finally:
            browser.close()
    assert elsewhere == []
    pixels = np.asarray(Image.open(tmp_path / "slider.png").convert("RGB"))
    assert pixels.shape[0] > 300 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # a figure, not a box
    if os.environ.get("SLIDER_SCREENSHOT"):
        shutil.copy(tmp_path / "slider.png", os.environ["SLIDER_SCREENSHOT"])
