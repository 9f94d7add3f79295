"""The hash cache: a re-scan hashes only new or changed files, drops removed ones, and resumes."""

from __future__ import annotations

import glob
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from dedupkit import hash_file, hash_images
from dedupkit import scan as scan_module
from dedupkit.cache import DEFAULT_CACHE_NAME, resolve_cache_path


@pytest.fixture()
def folder(tmp_path, originals):
    """8 photos (one in a sub-folder, one PNG) and one bad file, with their modification times."""
    root = tmp_path / "photos"
    root.mkdir()
    for path in originals[:6]:
        shutil.copy2(path, root / path.name)
    (root / "sub").mkdir()
    shutil.copy2(originals[6], root / "sub" / originals[6].name)
    Image.open(originals[7]).convert("RGB").save(root / "picture.png")
    (root / "bad.jpg").write_bytes(b"not a jpeg")
    return root


def _cache_file(root):
    return root / DEFAULT_CACHE_NAME


def _journals(root):
    return glob.glob(str(_cache_file(root)) + ".journal-*")


def _cached_paths(root):
    return set(pq.read_table(_cache_file(root)).column("path").to_pylist())


def test_second_scan_of_an_unchanged_folder_hashes_nothing(folder):
    first = hash_images(folder, cache=True)
    assert first.attrs["hashed"] == 9 and first.attrs["cached"] == 0
    assert _cache_file(folder).exists() and not _journals(folder)
    second = hash_images(folder, cache=True)
    assert second.attrs["hashed"] == 0 and second.attrs["cached"] == 9
    pd.testing.assert_frame_equal(first, second)
    # the same table as without a cache, the bad file's error included
    pd.testing.assert_frame_equal(second, hash_images(folder))
    assert second.set_index("path").loc[str(folder / "bad.jpg"), "error"]
    # paths inside the cache's folder are stored relative to it
    assert _cached_paths(folder) >= {"bad.jpg", "picture.png", os.path.join("sub", os.listdir(folder / "sub")[0])}


def test_changed_added_and_removed_files(folder, originals):
    hash_images(folder, cache=True)
    changed = folder / originals[0].name
    os.utime(folder / originals[1].name)  # touched: new mtime, same bytes
    Image.open(originals[10]).convert("RGB").save(changed, quality=90)  # rewritten with another photo
    os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 5_000_000_000))
    shutil.copy2(originals[11], folder / "added.jpg")
    (folder / originals[2].name).unlink()

    table = hash_images(folder, cache=True)
    assert table.attrs["hashed"] == 3  # changed, touched, added
    assert table.attrs["cached"] == 9 - 1 - 2
    hashes = table.set_index("path")["hash"]
    assert hashes[str(changed)] == hash_file(changed)["hash"] != hash_file(originals[0])["hash"]
    assert hashes[str(folder / "added.jpg")] == hash_file(originals[11])["hash"]
    assert str(folder / originals[2].name) not in hashes.index
    cached = _cached_paths(folder)
    assert originals[2].name not in cached and "added.jpg" in cached
    pd.testing.assert_frame_equal(table, hash_images(folder))
    assert hash_images(folder, cache=True).attrs["hashed"] == 0


def test_same_size_and_mtime_but_another_path_is_another_file(folder, originals):
    hash_images(folder, cache=True)
    os.rename(folder / originals[0].name, folder / "renamed.jpg")
    table = hash_images(folder, cache=True)
    assert table.attrs["hashed"] == 1
    assert originals[0].name not in _cached_paths(folder)


def test_another_method_size_or_mode_does_not_reuse_the_cache(folder):
    cache = folder.parent / "hashes.parquet"
    dhash = hash_images(folder, cache=cache)
    for options in ({"method": "phash"}, {"hash_size": 16}, {"exact": True}):
        table = hash_images(folder, cache=cache, **options)
        assert table.attrs["hashed"] == 9, options
        pd.testing.assert_frame_equal(table, hash_images(folder, **options))
    # every set of settings is kept side by side: nothing is hashed again
    again = hash_images(folder, cache=cache, hash_size=16)
    assert again.attrs["hashed"] == 0
    assert hash_images(folder, cache=cache).attrs["hashed"] == 0
    pd.testing.assert_frame_equal(hash_images(folder, cache=cache), dhash)


def test_interrupted_scan_resumes_where_it_stopped(folder, monkeypatch):
    calls = []
    real = scan_module.hash_file

    def stops_at_the_seventh_file(path, **options):
        calls.append(path)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(path, **options)

    monkeypatch.setattr(scan_module, "hash_file", stops_at_the_seventh_file)
    with pytest.raises(KeyboardInterrupt):
        hash_images(folder, cache=True, workers=1, chunk_size=3)
    assert len(_journals(folder)) == 1 and not _cache_file(folder).exists()
    monkeypatch.setattr(scan_module, "hash_file", real)

    resumed = hash_images(folder, cache=True, workers=1, chunk_size=3)
    assert resumed.attrs["cached"] == 6  # two whole chunks were saved; the third was lost
    assert resumed.attrs["hashed"] == 3
    assert not _journals(folder) and len(_cached_paths(folder)) == 9
    pd.testing.assert_frame_equal(resumed, hash_images(folder))


class FlakyExecutor(ThreadPoolExecutor):
    """One worker thread, whose ``fail_at``-th chunk fails (after a pause) like a lost worker."""

    def __init__(self, fail_at):
        super().__init__(max_workers=1)
        self.fail_at, self.submitted = fail_at, 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        if self.submitted == self.fail_at:
            return super().submit(_lose_worker)
        return super().submit(fn, *args, **kwargs)


def _lose_worker():
    time.sleep(0.5)  # the chunks before it are done and saved by then
    raise RuntimeError("worker lost")


def test_a_failed_chunk_on_an_executor_loses_only_unsaved_chunks(folder):
    with FlakyExecutor(fail_at=2) as flaky, pytest.raises(RuntimeError, match="worker lost"):
        hash_images(folder, cache=True, executor=flaky, chunk_size=2)
    assert len(_journals(folder)) == 1
    with ThreadPoolExecutor(2) as pool:
        resumed = hash_images(folder, cache=True, executor=pool, chunk_size=2)
    assert resumed.attrs["cached"] == 2 and resumed.attrs["hashed"] == 7  # the first chunk was saved
    pd.testing.assert_frame_equal(resumed, hash_images(folder))


def test_a_torn_journal_keeps_its_complete_chunks(folder, monkeypatch):
    real = scan_module.hash_file
    calls = []

    def killed(path, **options):
        calls.append(path)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return real(path, **options)

    monkeypatch.setattr(scan_module, "hash_file", killed)
    with pytest.raises(KeyboardInterrupt):
        hash_images(folder, cache=True, workers=1, chunk_size=2)
    monkeypatch.setattr(scan_module, "hash_file", real)
    (journal,) = _journals(folder)
    data = Path(journal).read_bytes()
    with open(journal, "wb") as handle:  # as if the process died while writing the last chunk
        handle.write(data[: len(data) - 100])
    resumed = hash_images(folder, cache=True, workers=1, chunk_size=2)
    assert resumed.attrs["cached"] == 4 and resumed.attrs["hashed"] == 5
    pd.testing.assert_frame_equal(resumed, hash_images(folder))


def test_parallel_scan_with_cache(folder):
    with ThreadPoolExecutor(2) as pool:
        first = hash_images(folder, cache=True, executor=pool, chunk_size=2)
        second = hash_images(folder, cache=True, executor=pool, chunk_size=2)
    assert second.attrs["hashed"] == 0
    pd.testing.assert_frame_equal(first, second)


def test_a_folder_moved_with_its_cache_is_not_hashed_again(folder, tmp_path):
    hash_images(folder, cache=True)
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)  # copy2 keeps the modification times
    table = hash_images(moved, cache=True)
    assert table.attrs["hashed"] == 0
    assert table["path"].str.startswith(str(moved)).all()


def test_cache_path_choices(folder, tmp_path):
    assert resolve_cache_path(None, folder) is None and resolve_cache_path(False, folder) is None
    assert resolve_cache_path(True, folder) == folder / DEFAULT_CACHE_NAME
    assert resolve_cache_path(tmp_path, folder) == tmp_path / DEFAULT_CACHE_NAME
    assert resolve_cache_path(tmp_path / "c.parquet", folder) == tmp_path / "c.parquet"
    with pytest.raises(ValueError, match="must be a folder"):
        hash_images([folder / "bad.jpg"], cache=True)
    # a list of files with a cache file of its own
    files = sorted(str(p) for p in folder.glob("*.jpg"))
    assert hash_images(files, cache=tmp_path / "list.parquet").attrs["hashed"] == len(files)
    assert hash_images(files, cache=tmp_path / "list.parquet").attrs["hashed"] == 0


def test_a_file_that_is_not_a_cache_is_never_overwritten(folder, tmp_path):
    mine = tmp_path / "mine.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(mine)
    before = mine.read_bytes()
    with pytest.raises(ValueError, match="not a dedupkit hash cache"):
        hash_images(folder, cache=mine)
    (tmp_path / "text.parquet").write_text("hello")
    with pytest.raises(ValueError, match="not a dedupkit hash cache"):
        hash_images(folder, cache=tmp_path / "text.parquet")
    assert mine.read_bytes() == before


def test_an_unwritable_cache_warns_and_the_scan_goes_on(folder, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.warns(RuntimeWarning, match="cannot be written"):
        table = hash_images(folder, cache=blocker / "cache.parquet")
    pd.testing.assert_frame_equal(table, hash_images(folder))


def test_missing_files_are_not_cached(folder, tmp_path):
    files = [str(folder / "bad.jpg"), str(folder / "missing.jpg")]
    cache = tmp_path / "c.parquet"
    table = hash_images(files, cache=cache)
    assert table["error"].notna().all()
    assert hash_images(files, cache=cache).attrs["hashed"] == 1  # only the missing file again
    assert "error_kind" not in table.columns and "error_kind" not in pd.read_parquet(cache).columns


def test_the_cache_decides_by_the_error_kind_not_its_words(folder, tmp_path):
    from dedupkit.cache import HashCache

    cache = HashCache(tmp_path / "c.parquet", {"method": "dhash"})
    paths = [str(folder / "bad.jpg"), str(next(folder.glob("*.jpg")))]
    assert cache.lookup(paths)[1] == paths  # both there, neither cached yet
    # worded like a passing failure but a lasting kind, and the other way round
    cache.record([{"path": paths[0], "hash": None, "error": "file not found, as it were", "error_kind": "corrupt"},
                  {"path": paths[1], "hash": None, "error": "a lasting-sounding reason", "error_kind": "permission"}])
    cache.close()
    kept = pd.read_parquet(tmp_path / "c.parquet")
    assert kept["error"].tolist() == ["file not found, as it were"]


def test_a_broken_link_is_cached_until_it_changes(folder, originals):
    link = folder / "link.jpg"
    link.symlink_to(folder / "gone.jpg")
    first = hash_images(folder, cache=True)
    assert "broken symbolic link" in first.set_index("path").loc[str(link), "error"]
    assert hash_images(folder, cache=True).attrs["hashed"] == 0  # not tried again on every scan
    shutil.copy(originals[0], folder / "gone.jpg")  # the target appears: the link is a photo now
    fixed = hash_images(folder, cache=True)
    assert fixed.attrs["hashed"] == 2  # the link and its new target
    by_path = fixed.set_index("path")
    assert by_path.loc[str(link), "hash"] == by_path.loc[str(folder / "gone.jpg"), "hash"]


def test_one_cache_for_several_folders_keeps_each_folders_rows(folder, tmp_path, originals):
    other = tmp_path / "other"
    other.mkdir()
    for path in originals[20:23]:
        shutil.copy2(path, other / path.name)
    cache = tmp_path / "shared.parquet"
    hash_images(folder, cache=cache)
    assert hash_images(other, cache=cache).attrs["hashed"] == 3
    assert hash_images(folder, cache=cache).attrs["hashed"] == 0  # scanning `other` dropped nothing
    assert hash_images(other, cache=cache).attrs["hashed"] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(hash_images(empty, cache=cache)) == 0
    assert len(hash_images(empty, cache=True)) == 0
    assert hash_images(folder, cache=cache).attrs["hashed"] == 0
