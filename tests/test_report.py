"""The HTML report: what it counts and shows, escaping, missing files, the CLI, and a real headless browser."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import dedupkit
from dedupkit.cli import main

#: Debian's chromium (`make install` puts it there); playwright drives it and never downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """What a report shows: its summary numbers, its figures by section, every tag, its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stats: dict[str, tuple[str, str]] = {}  # data-stat -> (data-value, shown text)
        self.figures: list[dict] = []  # path, classes, group (None outside groups), section, text
        self.tags: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._stat = self._figure = self._group = None
        self._section = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "h2":
            self._section = attrs.get("id")
        if "data-stat" in attrs:
            self._stat = [attrs["data-stat"], attrs["data-value"], ""]
        if tag == "section" and "data-group" in attrs:
            self._group = attrs["data-group"]
        if tag == "figure":
            self._figure = {"path": attrs["data-path"], "classes": attrs["class"].split(), "group": self._group,
                            "section": self._section, "text": ""}
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "div" and self._stat and self._stat[2]:
            self.stats[self._stat[0]] = (self._stat[1], self._stat[2].strip())
            self._stat = None
        if tag == "section":
            self._group = None
        if tag == "figure":
            self.figures.append(self._figure)
            self._figure = None

    def handle_data(self, data):
        self.text.append(data)
        if self._stat is not None:
            self._stat[2] += data
        if self._figure is not None:
            self._figure["text"] += data + " "

    def groups(self) -> dict[int, list[dict]]:
        shown: dict[int, list[dict]] = {}
        for figure in self.figures:
            if figure["group"] is not None:
                shown.setdefault(int(figure["group"]), []).append(figure)
        return shown


@pytest.fixture(scope="module")
def sample_tables(sample_dir):
    hashes = dedupkit.hash_images(sample_dir, progress=False)
    pairs = dedupkit.find_duplicates(hashes, progress=False)
    return hashes, pairs, dedupkit.find_groups(pairs, hashes)


@pytest.fixture(scope="module")
def sample_report(sample_tables, tmp_path_factory) -> Path:
    hashes, pairs, groups = sample_tables
    return dedupkit.write_report(groups, pairs=pairs, hashes=hashes,
                                 path=tmp_path_factory.mktemp("report") / "sub" / "report.html")


def test_the_summary_counts_what_the_tables_hold(sample_tables, sample_report):
    hashes, pairs, groups = sample_tables
    page = Page(sample_report.read_text())
    removable = groups.loc[~groups["keep"], "path"]
    expected = {"files_scanned": len(hashes), "unreadable": int(hashes["error"].notna().sum()),
                "pairs": len(pairs), "groups": groups["group"].nunique(), "files_removable": len(removable),
                "bytes_removable": int(hashes.set_index("path").loc[removable, "bytes"].sum())}
    assert {key: int(value) for key, (value, _) in page.stats.items()} == expected
    assert expected["files_scanned"] == 44 and expected["unreadable"] == 3 and expected["groups"] == 11
    assert page.stats["files_scanned"][1] == "44 files scanned"
    assert page.stats["bytes_removable"][1].startswith(f"{expected['bytes_removable'] / 1e6:.1f} MB")
    assert "hash: dhash, 64 bits" in "".join(page.text)


def test_every_group_is_shown_with_exactly_its_kept_file_marked(sample_tables, sample_report):
    _, _, groups = sample_tables
    shown = Page(sample_report.read_text()).groups()
    assert set(shown) == set(groups["group"])
    for number, members in groups.groupby("group"):
        figures = shown[number]
        assert sorted(f["path"] for f in figures) == sorted(members["path"])
        kept = [f for f in figures if "kept" in f["classes"]]
        row = members[members["keep"]].iloc[0]
        assert [f["path"] for f in kept] == [row["path"]]
        assert "KEPT" in kept[0]["text"] and row["keep_reason"] in kept[0]["text"]
        assert figures[0] is kept[0]  # the kept file comes first
        assert all("KEPT" not in f["text"] for f in figures if f is not kept[0])


def test_sizes_weakest_links_and_unreadable_files_are_shown(sample_tables, sample_report):
    hashes, pairs, _ = sample_tables
    page = Page(sample_report.read_text())
    facts = hashes.set_index("path")
    for figure in page.figures:
        width, height, n_bytes = facts.loc[figure["path"], ["width", "height", "bytes"]]
        assert f"{width} × {height} px · {n_bytes / 1000:.1f} kB" in figure["text"]
    weakest = [f["path"] for f in page.figures if f["section"] == "weakest"]
    widest = pairs.loc[pairs["distance"].idxmax()]
    assert weakest[:2] == [widest["path_a"], widest["path_b"]] and widest["distance"] == 6
    assert len(weakest) == 2 * min(12, len(pairs))
    text = " ".join(page.text)
    for path, error in hashes.loc[hashes["error"].notna(), ["path", "error"]].itertuples(index=False):
        assert path in text and error in text


def test_the_page_needs_nothing_but_itself(sample_report):
    page = Page(sample_report.read_text())
    assert len(page.images) == len(page.figures) > 0
    assert all(src.startswith("data:image/jpeg;base64,") for src in page.images)
    assert all(href.startswith("#") for href in page.links)
    assert "script" not in page.tags and "link" not in page.tags


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory, sample_dir) -> Path:
    """Copies of one photo whose names are HTML, and an unreadable file named like a tag."""
    root = tmp_path_factory.mktemp("hostile")
    shutil.copy(sample_dir / "coffee.jpg", root / "<script>alert(1)<script>.jpg")
    shutil.copy(sample_dir / "coffee__half_size.jpg", root / '"><img src=x onerror=alert(1)>.jpg')
    (root / "<b>bad & broken.jpg").write_text("not an image\n")
    return root


def test_file_names_and_errors_are_escaped(hostile_dir, tmp_path):
    hashes = dedupkit.hash_images(hostile_dir, progress=False)
    pairs = dedupkit.find_duplicates(hashes, progress=False)
    groups = dedupkit.find_groups(pairs, hashes)
    assert len(groups) == 2
    html = dedupkit.write_report(groups, pairs=pairs, hashes=hashes, path=tmp_path / "r.html").read_text()
    page = Page(html)
    assert "script" not in page.tags and "b" in page.tags  # <b> only from the summary's own numbers
    assert len(page.images) == len(page.figures) == 4  # the group's two, the weakest link's two
    assert {f["path"] for f in page.figures} == set(groups["path"])
    text = "".join(page.text)
    assert "<script>alert(1)<script>.jpg" in text and "<b>bad & broken.jpg" in text
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_a_missing_file_gets_a_placeholder_and_no_hash_table_is_needed(hostile_dir, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(hostile_dir, folder)
    hashes = dedupkit.hash_images(folder, progress=False)
    pairs = dedupkit.find_duplicates(hashes, progress=False)
    groups = dedupkit.find_groups(pairs, hashes)
    gone = groups.loc[~groups["keep"], "path"].iloc[0]
    Path(gone).unlink()
    page = Page(dedupkit.write_report(groups, path=tmp_path / "r.html").read_text())
    figure = next(f for f in page.figures if f["path"] == gone)
    assert "unreadable" in figure["classes"] and "file missing" in figure["text"]
    assert len(page.images) == 2 and "files_scanned" not in page.stats
    assert int(page.stats["files_removable"][0]) == 1
    assert "No pair table was given" in "".join(page.text)


def test_groups_are_shown_largest_first_and_a_cap_says_so(sample_dir, tmp_path):
    photos = sorted(str(p) for p in sample_dir.glob("*.jpg"))[:9]
    sizes = {0: 2, 1: 4, 2: 3}  # numbered out of order on purpose
    rows, start = [], 0
    for number, size in sizes.items():
        rows += [{"group": number, "path": p, "keep": i == 0} for i, p in enumerate(photos[start:start + size])]
        start += size
    page = Page(dedupkit.write_report(pd.DataFrame(rows), path=tmp_path / "r.html", max_groups=2).read_text())
    assert list(page.groups()) == [1, 2]
    assert "Showing the 2 largest of 3 groups." in "".join(page.text)


@pytest.mark.parametrize(("call", "error"), [
    (lambda: dedupkit.write_report([{"group": 0}]), TypeError),
    (lambda: dedupkit.write_report(pd.DataFrame({"path": ["a"]})), ValueError),
    (lambda: dedupkit.write_report(pd.DataFrame({"group": [0], "path": ["a"], "keep": [True]}), thumb_size=4),
     ValueError),
    (lambda: dedupkit.write_report(pd.DataFrame({"group": [0], "path": ["a"], "keep": [True]}),
                                   pairs=pd.DataFrame({"path_a": ["a"]})), ValueError),
], ids=["groups-not-a-table", "groups-without-columns", "thumb-too-small", "pairs-without-columns"])
def test_bad_input_is_refused(call, error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error):
        call()
    assert not (tmp_path / "report.html").exists()


def test_the_cli_reports_from_the_folder_or_from_finds_csv_files(sample_dir, tmp_path, capsys):
    scanned, read = tmp_path / "scanned.html", tmp_path / "read.html"
    assert main(["report", str(sample_dir), "-o", str(scanned), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == f"11 groups, 11 files could be removed: {scanned}"
    csvs = {name: tmp_path / f"{name}.csv" for name in ("pairs", "groups", "hashes")}
    assert main(["find", str(sample_dir), "-o", str(csvs["pairs"]), "--groups", str(csvs["groups"]),
                 "--hashes", str(csvs["hashes"]), "--no-progress"]) == 0
    assert main(["report", str(sample_dir), "-o", str(read), "--groups", str(csvs["groups"]),
                 "--pairs", str(csvs["pairs"]), "--hashes", str(csvs["hashes"])]) == 0
    first, second = Page(scanned.read_text()), Page(read.read_text())
    assert first.stats == second.stats and first.stats["files_scanned"][0] == "44"
    assert [(f["path"], f["classes"]) for f in first.figures] == [(f["path"], f["classes"]) for f in second.figures]
    assert "astronaut.jpg" in {f["path"] for f in first.figures}  # relative to DIR
    assert "unreadable" not in {c for f in first.figures for c in f["classes"]}  # every thumbnail was found
    assert "max distance: 16" in "".join(first.text)


def test_the_cli_refuses_pairs_without_groups(sample_dir, tmp_path, capsys):
    assert main(["report", str(sample_dir), "-o", str(tmp_path / "r.html"), "--pairs", "p.csv"]) == 2
    assert "--groups" in capsys.readouterr().err and not (tmp_path / "r.html").exists()


def test_the_report_renders_offline_in_chromium(sample_tables, sample_report, tmp_path):
    """Headless Chromium opens the file with every non-file, non-data request blocked: every image loads, upright."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []

    def local_only(route):
        if route.request.url.startswith(("file://", "data:")):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    shot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", local_only)
            page.goto(sample_report.as_uri(), wait_until="load")
            images = page.eval_on_selector_all("img", """els => els.map(
                e => [e.complete, e.naturalWidth, e.naturalHeight, e.closest('figure').dataset.path])""")
            badges = page.locator("figure.kept .badge")
            n_badges, first_visible = badges.count(), badges.first.is_visible()
            borders = page.evaluate("""() => ['figure.kept', 'figure:not(.kept)'].map(
                s => getComputedStyle(document.querySelector(s)).borderTopColor)""")
            page.screenshot(path=shot, full_page=True)
        finally:
            browser.close()
    assert elsewhere == []
    assert len(images) == len(Page(sample_report.read_text()).images) > 0
    assert all(complete and width > 0 for complete, width, _, _ in images), images
    shown = sample_tables[0].set_index("path")
    for _, width, height, path in images:  # the thumbnail has the file's shape as displayed (EXIF turn applied)
        assert width / height == pytest.approx(shown.loc[path, "width"] / shown.loc[path, "height"], rel=0.02), path
    assert any(path.endswith("__exif_rotated.jpg") for *_, path in images)
    assert n_badges == 11 and first_visible
    assert borders[0] != borders[1]  # the kept file's frame stands out
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[1] == 1280 and pixels.shape[0] > 900
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000  # photos, not a blank page
