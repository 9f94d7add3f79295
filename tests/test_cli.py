"""The command line: exit codes, one-line errors, CSV columns, paths relative to DIR."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from dedupkit import HashIndex, hash_images, hash_settings, read_hashes
from dedupkit.cli import main


def test_hash_writes_a_table_with_relative_paths(small_dir, tmp_path, capsys):
    out = tmp_path / "hashes.csv"
    assert main(["hash", str(small_dir), "-o", str(out), "--workers", "1"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["path", "hash", "width", "height", "format", "bytes", "error",
                                   "method", "hash_size", "trim", "exact"]
    assert "sub/half.png" in table["path"].tolist()
    assert table["error"].notna().sum() == 3
    printed = capsys.readouterr().out
    assert "scanned 8 files" in printed and "3 could not be read" in printed


def test_find_writes_verified_pairs_and_groups(sample_dir, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    pairs_csv, groups_csv = tmp_path / "out" / "pairs.csv", tmp_path / "out" / "groups.csv"
    status = main(["find", str(sample_dir), "-o", str(pairs_csv), "--groups", str(groups_csv), "--no-progress"])
    assert status == 0
    pairs = pd.read_csv(pairs_csv)
    assert list(pairs.columns[:4]) == ["path_a", "path_b", "distance", "source"]
    assert {"verified", "scale", "coverage_a", "coverage_b", "mirrored"} <= set(pairs.columns)
    assert pairs["verified"].all() and len(pairs) == 11
    assert ("coffee.jpg", "coffee__half_size.jpg") in set(zip(pairs["path_a"], pairs["path_b"]))
    half = pairs.set_index(["path_a", "path_b"]).loc[("coffee.jpg", "coffee__half_size.jpg")]
    assert half["scale"] == pytest.approx(0.5, abs=0.03)
    groups = pd.read_csv(groups_csv)
    assert list(groups.columns) == ["group", "path", "keep", "size", "diameter", "link_distance",
                                     "keep_reason", "bytes", "mtime_ns", "sha256"]  # the facts apply checks
    printed = capsys.readouterr().out
    assert "scanned 44 files" in printed and "3 could not be read" in printed
    assert "11 verified pairs within distance 16" in printed and "11 groups" in printed


def test_find_no_verify_gives_the_hash_only_answer(sample_dir, tmp_path, capsys):
    pairs_csv = tmp_path / "pairs.csv"
    assert main(["find", str(sample_dir), "-o", str(pairs_csv), "--no-verify", "--no-progress"]) == 0
    pairs = pd.read_csv(pairs_csv)
    assert list(pairs.columns) == ["path_a", "path_b", "distance", "source"]
    assert len(pairs) == 11 and pairs["distance"].max() <= 10
    assert "11 pairs within distance 10" in capsys.readouterr().out


def test_find_crops_needs_verify(sample_dir, tmp_path, capsys):
    assert main(["find", str(sample_dir), "-o", str(tmp_path / "p.csv"), "--no-verify", "--crops"]) == 2
    assert "--crops" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


def test_find_against_a_reference_folder_reports_only_cross_pairs(sample_dir, tmp_path, originals):
    new = tmp_path / "new"
    new.mkdir()
    for name in ["coffee__half_size.jpg", "sunset__brighter.jpg", "friends_dogs__mirrored.jpg"]:
        (new / name).write_bytes((sample_dir / name).read_bytes())
    reference = tmp_path / "reference"
    reference.mkdir()
    for path in originals:
        (reference / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "leaks.csv"
    assert main(["find", str(new), "--against", str(reference), "-o", str(out)]) == 0
    leaks = pd.read_csv(out)
    assert list(leaks.columns[:3]) == ["path", "match", "distance"] and leaks["verified"].all()
    assert sorted(zip(leaks["path"], leaks["match"])) == [
        ("coffee__half_size.jpg", "coffee.jpg"), ("sunset__brighter.jpg", "sunset.jpg")]


@pytest.mark.parametrize(
    "args, words",
    [(["find", "/no/such/folder", "-o", "x.csv"], "no such folder"),
     (["find", ".", "-o", "x.csv", "--max-distance", "abc"], "whole number"),
     (["hash", ".", "-o", "x.csv", "--method", "md5"], "invalid choice"),
     (["hash", ".", "-o", "x.csv", "--hash-size", "5"], "hash_size")],
    ids=["missing-folder", "bad-number", "bad-method", "bad-hash-size"],
)
def test_wrong_arguments_are_one_line_errors(args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = subprocess.run([sys.executable, "-m", "dedupkit", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("dedupkit")  # no usage block


def test_help_everywhere():
    for args in (["--help"], ["hash", "--help"], ["find", "--help"]):
        result = subprocess.run([sys.executable, "-m", "dedupkit", *args], capture_output=True, text=True)
        assert result.returncode == 0 and "usage: dedupkit" in result.stdout


def test_cache_option_hashes_only_what_changed(small_dir, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in small_dir.glob("*.jpg"):
        (folder / path.name).write_bytes(path.read_bytes())
    cache = tmp_path / "cache.parquet"
    args = ["find", str(folder), "-o", str(tmp_path / "pairs.csv"), "--cache", str(cache), "--workers", "1"]
    assert main(args) == 0
    assert cache.exists() and "from the cache" not in capsys.readouterr().out
    assert main(args) == 0
    assert "7 files taken from the cache, 0 hashed" in capsys.readouterr().out
    (folder / "new.jpg").write_bytes(next(small_dir.glob("*.jpg")).read_bytes())
    assert main(args) == 0
    assert "7 files taken from the cache, 1 hashed" in capsys.readouterr().out


def test_find_warns_about_a_group_wider_than_the_threshold(tmp_path, capsys):
    # a picture and two edits of it, each 16 bits of dHash from it and 32 from each other
    import numpy as np
    from PIL import Image

    base = np.array([[40 + 20 * c if r % 2 else 200 - 20 * c for c in range(9)] for r in range(8)], np.uint8)
    top, bottom = base.copy(), base.copy()
    top[:2], bottom[6:] = base[:2, ::-1], base[6:, ::-1]
    folder = tmp_path / "images"
    folder.mkdir()
    for name, pixels in {"a.png": base, "edit_top.png": top, "edit_bottom.png": bottom}.items():
        Image.fromarray(pixels).resize((180, 160), Image.Resampling.NEAREST).save(folder / name)
    groups_csv = tmp_path / "groups.csv"
    status = main(["find", str(folder), "-o", str(tmp_path / "pairs.csv"), "--groups", str(groups_csv),
                   "--max-distance", "16", "--workers", "1", "--no-progress", "--no-verify"])
    assert status == 0
    groups = pd.read_csv(groups_csv)
    assert groups["size"].tolist() == [3, 3, 3] and groups["diameter"].tolist() == [32, 32, 32]
    assert groups.loc[groups["keep"], "path"].tolist() == ["a.png"]
    err = capsys.readouterr().err
    assert "warning: group 0 (3 files) has diameter 32, wider than --max-distance 16" in err
    assert "a.png" in err
    assert main(["find", str(folder), "-o", str(tmp_path / "pairs.csv"), "--groups", str(groups_csv),
                 "--max-distance", "32", "--workers", "1", "--no-progress", "--no-verify"]) == 0
    assert "warning" not in capsys.readouterr().err


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dedupkit", *args], capture_output=True, text=True, cwd=cwd)


def test_hash_writes_the_format_its_name_asks_for(small_dir, tmp_path):
    assert main(["hash", str(small_dir), "-o", str(tmp_path / "hashes.parquet"), "--method", "phash",
                 "--workers", "1", "--no-progress"]) == 0
    table = pd.read_parquet(tmp_path / "hashes.parquet")  # Parquet, not CSV under a Parquet name
    assert hash_settings(table) == {"method": "phash", "hash_size": 8, "trim": True, "exact": False}
    assert HashIndex.from_hashes(read_hashes(tmp_path / "hashes.parquet")).method == "phash"


@pytest.mark.parametrize(
    "args, words",
    [(["hash", "{dir}", "-o", "hashes.txt"], ".csv or .parquet"),
     (["hash", "{dir}", "-o", "out"], "is a folder"),
     (["hash", "{dir}", "-o", "nowhere/hashes.csv"], "does not exist; create it first"),
     (["find", "{dir}", "-o", "out"], "is a folder"),
     (["find", "{dir}", "-o", "pairs.csv", "--groups", "out"], "is a folder"),
     (["find", "{dir}", "-o", "pairs.csv", "--hashes", "pairs.csv"], "both name"),
     (["find", "{dir}", "-o", "pairs.csv", "--max-distance", "100"], "at most 64"),
     (["find", "{dir}", "-o", "pairs.csv", "--against", "{dir}", "--groups", "groups.csv"], "drop --groups"),
     (["find", "{dir}", "-o", "pairs.csv", "--workers", "0"], "at least 1")],
    ids=["unknown-format", "output-is-a-folder", "missing-folder", "find-output-folder", "groups-folder",
         "same-file-twice", "distance-too-big", "groups-with-against", "no-workers"],
)
def test_every_argument_is_checked_before_the_first_image_is_read(args, words, small_dir, tmp_path):
    (tmp_path / "out").mkdir()
    result = _run(*(a.replace("{dir}", str(small_dir)) for a in args), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "scanned" not in result.stdout  # nothing was hashed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any((tmp_path / "out").iterdir())


def test_version_comes_from_the_installed_metadata(tmp_path):
    from importlib.metadata import version

    result = _run("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"dedupkit {version('dedupkit')}"
    import dedupkit

    assert dedupkit.__version__ == version("dedupkit")


def test_hash_with_the_cache_says_what_it_hashed(small_dir, tmp_path, capsys):
    args = ["hash", str(small_dir), "-o", str(tmp_path / "hashes.csv"), "--cache", str(tmp_path / "cache.parquet"),
            "--workers", "1", "--no-progress"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "8 files taken from the cache, 0 hashed" in printed and "hashed 5" not in printed


def test_find_and_export_write_the_same_files(sample_dir, tmp_path):
    from dedupkit import export_duplicates, find_duplicates, find_groups

    (tmp_path / "cli").mkdir()
    assert main(["find", str(sample_dir), "-o", str(tmp_path / "cli" / "duplicates.csv"), "--groups",
                 str(tmp_path / "cli" / "groups.csv"), "--no-verify", "--no-progress"]) == 0
    hashes = hash_images(sample_dir)
    pairs = find_duplicates(hashes, verify=False)
    written = export_duplicates(pairs, find_groups(pairs, hashes), tmp_path / "library", root=sample_dir)
    for name, path in written.items():
        assert path.read_text() == (tmp_path / "cli" / f"{name}.csv").read_text(), name


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["anon=true"], {"anon": True}),
        (["requester_pays=false", "default_block_size=1048576"], {"requester_pays": False,
                                                                  "default_block_size": 1048576}),
        (["key=AKIA...", "token="], {"key": "AKIA...", "token": ""}),  # not JSON: the text as given
        (['client_kwargs={"endpoint_url": "http://127.0.0.1:9000"}', 'client_kwargs={"region_name": "eu-west-1"}'],
         {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"}}),
        (["secret=a=b"], {"secret": "a=b"}),  # split at the first '='
    ],
    ids=["json-bool", "several", "plain-text", "dicts-merge", "equals-in-value"],
)
def test_storage_option_flags_are_parsed_as_json_where_they_parse(flags, expected, tmp_path):
    from dedupkit._commands import storage_options
    from dedupkit.cli import build_parser

    argv = ["hash", str(tmp_path), "-o", str(tmp_path / "h.csv")]
    for flag in flags:
        argv += ["--storage-option", flag]
    assert storage_options(build_parser().parse_args(argv)) == expected
    assert storage_options(build_parser().parse_args(argv[:4])) is None


def test_storage_option_without_equals_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["hash", str(tmp_path), "-o", str(tmp_path / "h.csv"), "--storage-option", "anon"])
    assert stop.value.code == 2
    assert "expected KEY=VALUE (e.g. anon=true), got 'anon'" in capsys.readouterr().err
