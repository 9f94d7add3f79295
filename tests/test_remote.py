"""hash_images on object storage: a real S3 server (moto) on loopback, read through s3fs; and an HTTP index page."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dedupkit import hash_images, load_image
from dedupkit.cli import main

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from s3server import FlakyProxy  # noqa: E402
from test_notebooks import kernel  # noqa: E402, F401 - the fixture: a 'python3' kernel that is this interpreter

BUCKET = "photos"


@pytest.fixture(scope="module")
def small_bucket(s3, small_dir):
    """``small_dir`` (4 photos, a sub-folder, bad files, a text file, a hidden file) under s3://photos/small/."""
    s3.upload(BUCKET, small_dir, prefix="small/")
    return f"s3://{BUCKET}/small"


@pytest.fixture(scope="module")
def local(small_dir):
    return hash_images(small_dir, workers=1)


def _by_name(table: pd.DataFrame, root: str) -> pd.DataFrame:
    """The table keyed by the path under its root, to compare a bucket's scan with a folder's."""
    names = table["path"].map(lambda p: str(p)[len(str(root)):].lstrip("/"))
    return table.assign(path=names).sort_values("path", ignore_index=True)


def test_a_bucket_is_listed_and_hashed_as_its_folder(s3, small_bucket, local, small_dir):
    table = hash_images(small_bucket + "/", storage_options=s3.storage_options(), workers=1)
    assert table["path"].str.startswith("s3://photos/small/").all()
    assert not table["path"].str.contains("hidden").any()  # hidden objects are skipped, as hidden files
    assert table.attrs["skipped"] == ["s3://photos/small/readme.txt"]
    remote, here = _by_name(table, small_bucket), _by_name(local, small_dir)
    pd.testing.assert_frame_equal(remote.drop(columns="error"), here.drop(columns="error"))
    # the same bad files, for the same reasons
    assert remote["error"].isna().tolist() == here["error"].isna().tolist()
    assert remote.loc[remote["path"] == "bad_empty.jpg", "error"].item() == "empty file (0 bytes)"


def test_a_process_pool_reads_the_bucket_in_its_workers(s3, sample_dir):
    """88 objects (enough for a pool): the worker processes, forked after the listing, read with their own clients."""
    s3.upload(BUCKET, sample_dir, prefix="pool/a/")
    s3.upload(BUCKET, sample_dir, prefix="pool/b/")
    url, options = f"s3://{BUCKET}/pool", s3.storage_options()
    pooled = hash_images(url, storage_options=options, workers=2, chunk_size=8)
    assert len(pooled) == 88 and pooled["error"].notna().sum() == 6
    pd.testing.assert_frame_equal(pooled, hash_images(url, storage_options=options, workers=1))


_SCAN_TWICE = """
import json, sys, time
from dedupkit import hash_images

url, options = sys.argv[1], json.loads(sys.argv[2])
for _ in range(2):
    began = time.perf_counter()
    table = hash_images(url, storage_options=options, workers=2, progress=False)
    print(len(table), table["error"].notna().sum(), time.perf_counter() - began)
"""


def test_a_second_scan_does_not_wait_for_lost_connections(s3, tmp_path):
    """The workers of a scan must leave the connections of the process that started them alone.

    They did not: a forked worker dropped the filesystem it inherited, whose
    finalizer took the parent's sockets out of the parent's event loop (an
    epoll instance, which fork shares), and the next scan's listing waited for
    the read timeout (15 s with s3fs's default), after printing "attached to a
    different loop". Run as a script of its own, as a user's would; 500 tiny
    objects, for a worker to collect its garbage.
    """
    rng = np.random.default_rng(5)
    (tmp_path / "tiny").mkdir()
    for i in range(500):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(tmp_path / "tiny" / f"{i:03d}.png")
    s3.upload(BUCKET, tmp_path / "tiny", prefix="tiny/")
    options = s3.storage_options(config_kwargs={"read_timeout": 10})
    done = subprocess.run([sys.executable, "-c", _SCAN_TWICE, f"s3://{BUCKET}/tiny/", json.dumps(options)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (n1, bad1, first), (n2, bad2, second) = (map(float, line.split()) for line in done.stdout.splitlines())
    assert n1 == n2 == 500 and bad1 == bad2 == 0
    assert second < first + 5, done.stdout  # no wait for the read timeout (10 s)
    assert "attached to a different loop" not in done.stderr


def test_missing_object_and_wrong_secret_give_error_rows(s3, small_bucket, local):
    keys = [f"{small_bucket}/{name}" for name in local["path"].map(lambda p: p.rsplit("/", 1)[-1])[:2]]
    missing = f"{small_bucket}/no_such_photo.jpg"
    table = hash_images([*keys, missing], storage_options=s3.storage_options(), workers=1)
    assert table.set_index("path").loc[missing, "error"] == "object not found"
    assert table.set_index("path").loc[keys, "hash"].notna().all()

    wrong = s3.storage_options(secret="not-the-secret")
    refused = hash_images(keys, storage_options=wrong, workers=1)
    assert refused["hash"].isna().all()
    assert refused["error"].str.startswith("permission denied").all()
    assert refused["error"].str.contains("credentials").all()
    with pytest.raises(PermissionError, match=r"s3://photos/small.*listing refused.*credentials"):
        hash_images(small_bucket, storage_options=wrong, workers=1)
    with pytest.raises(FileNotFoundError, match="s3://photos/nothing-here"):
        hash_images(f"s3://{BUCKET}/nothing-here", storage_options=s3.storage_options(), workers=1)


def test_throttled_reads_succeed_on_retry(s3, small_bucket, local, small_dir):
    proxy = FlakyProxy(s3.port, failures=2)  # every object answers 503 SlowDown twice, then its bytes
    try:
        table = hash_images(small_bucket, storage_options=s3.storage_options(endpoint=proxy.endpoint), workers=1)
    finally:
        proxy.close()
    assert len(proxy.failed) == len(table) and set(proxy.failed.values()) == {2}  # each GET was throttled twice
    assert proxy.requests["GET"] == 1 + 3 * len(table) and proxy.requests["HEAD"] == 0  # a listing, then one read each
    pd.testing.assert_frame_equal(_by_name(table, small_bucket), _by_name(local, small_dir))


def test_a_read_that_keeps_failing_is_an_error_row(s3, small_bucket, local):
    proxy = FlakyProxy(s3.port, failures=10_000)
    good = local["path"][local["error"].isna()].iloc[0].rsplit("/", 1)[-1]
    options = s3.storage_options(endpoint=proxy.endpoint, config_kwargs={"retries": {"max_attempts": 1}})
    try:
        table = hash_images([f"{small_bucket}/{good}"], storage_options=options, workers=1)
    finally:
        proxy.close()
    error = table["error"].item()
    assert error.startswith("cannot read the object after 3 attempts"), error
    assert "reduce your request rate" in error or "SlowDown" in error


def test_cache_knows_an_object_by_its_etag(s3, small_dir, tmp_path):
    s3.upload(BUCKET, small_dir, prefix="cached/")
    url, cache, options = f"s3://{BUCKET}/cached", tmp_path / "cache.parquet", s3.storage_options()
    first = hash_images(url, storage_options=options, workers=1, cache=cache)
    second = hash_images(url, storage_options=options, workers=1, cache=cache)
    assert first.attrs["hashed"] == len(first) and second.attrs["hashed"] == 0
    pd.testing.assert_frame_equal(first, second)
    photos = sorted(p for p in small_dir.glob("*.jpg") if not p.name.startswith(("bad", ".")))
    # the same key, other bytes of the same size: a new ETag, hashed again
    data = bytearray(photos[0].read_bytes())
    data[-3] ^= 0xFF
    s3.client().put_object(Bucket=BUCKET, Key=f"cached/{photos[0].name}", Body=bytes(data))
    third = hash_images(url, storage_options=options, workers=1, cache=cache)
    assert third.attrs["hashed"] == 1
    with pytest.raises(ValueError, match=r"s3://photos/cached is a URL: pass a local file"):
        hash_images(url, storage_options=options, workers=1, cache=True)


def test_cache_keeps_a_list_of_urls_and_shards_in_a_bucket(s3, small_dir, tmp_path):
    """A list of URLs is known by its folders' listings; shards behind URLs by their ETag: neither read again."""
    s3.upload(BUCKET, small_dir, prefix="listed/")
    options, cache = s3.storage_options(), tmp_path / "cache.parquet"
    photos = sorted(p.name for p in small_dir.glob("*.jpg") if not p.name.startswith(("bad", ".")))
    urls = [f"s3://{BUCKET}/listed/{name}" for name in photos] + [f"s3://{BUCKET}/listed/sub/half.png"]
    first = hash_images(urls, storage_options=options, workers=1, cache=cache)
    assert first["error"].isna().all() and first.attrs["hashed"] == len(urls)
    second = hash_images(urls, storage_options=options, workers=1, cache=cache)
    assert (second.attrs["hashed"], second.attrs["cached"]) == (0, len(urls))
    pd.testing.assert_frame_equal(second, first, check_like=True)
    s3.client().put_object(Bucket=BUCKET, Key=f"listed/{photos[0]}", Body=(small_dir / photos[1]).read_bytes())
    third = hash_images(urls, storage_options=options, workers=1, cache=cache)
    assert (third.attrs["hashed"], third.attrs["cached"]) == (1, len(urls) - 1)  # the rewritten one
    folder = tmp_path / "shards"
    folder.mkdir()
    with tarfile.open(folder / "s-0.tar", "w") as archive:
        archive.add(small_dir / photos[0], arcname=photos[0])
    s3.upload(BUCKET, folder, prefix="tars/")
    proxy = FlakyProxy(s3.port, failures=0)  # counts the requests
    try:
        shards = f"s3://{BUCKET}/tars/s-{{0..0}}.tar"
        flagged = s3.storage_options(endpoint=proxy.endpoint)
        first = hash_images(shards, storage_options=flagged, workers=1, cache=cache)
        assert first.attrs["hashed"] == 1 and first["error"].isna().all(), first["error"].tolist()
        gets = proxy.requests["GET"]
        again = hash_images(shards, storage_options=flagged, workers=1, cache=cache)
        assert (again.attrs["hashed"], again.attrs["cached"]) == (0, 1)
        assert proxy.requests["GET"] == gets  # the shard's state from a HEAD; its bytes not fetched
        with tarfile.open(folder / "s-0.tar", "w") as archive:  # rewritten: a new ETag, read again
            archive.add(small_dir / photos[1], arcname=photos[1])
        s3.upload(BUCKET, folder, prefix="tars/")
        third = hash_images(shards, storage_options=flagged, workers=1, cache=cache)
        assert third.attrs["hashed"] == 1
        assert third["path"].tolist() == [f"s3://{BUCKET}/tars/s-0.tar/{photos[1]}"], third["error"].tolist()
    finally:
        proxy.close()


def test_cli_hash_and_find_against_read_buckets(s3, small_dir, tmp_path, monkeypatch, capsys):
    """The command line with credentials and endpoint from the environment, as s3fs reads them."""
    s3.upload(BUCKET, small_dir, prefix="train/")
    query = tmp_path / "query"
    query.mkdir()
    photo = sorted(p for p in small_dir.glob("*.jpg") if not p.name.startswith(("bad", ".")))[0]
    shutil.copy(photo, query / "copy.jpg")
    s3.upload(BUCKET, query, prefix="test/")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    out = tmp_path / "hashes.csv"
    assert main(["hash", f"s3://{BUCKET}/train", "-o", str(out), "--workers", "1"]) == 0
    written = pd.read_csv(out)
    assert written["path"].str.startswith(f"s3://{BUCKET}/train/").all()
    assert f"s3://{BUCKET}/train/bad_empty.jpg: empty file" in capsys.readouterr().out
    pairs = tmp_path / "pairs.csv"
    assert main(["find", f"s3://{BUCKET}/test", "--against", f"s3://{BUCKET}/train", "-o", str(pairs),
                 "--workers", "1"]) == 0
    found = pd.read_csv(pairs)  # verified: both images read back from the bucket
    assert sorted(found[["path", "match"]].values.tolist()) == [
        [f"s3://{BUCKET}/test/copy.jpg", f"s3://{BUCKET}/train/{photo.name}"],
        [f"s3://{BUCKET}/test/copy.jpg", f"s3://{BUCKET}/train/sub/half.png"],  # small_dir's half-size copy
    ]


def test_cli_credentials_and_endpoint_only_by_storage_option_flags(s3, small_dir, tmp_path, monkeypatch, capsys):
    """--storage-option reaches every read of find --against, report and hash; a wrong secret is named."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))  # no credentials from files either
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = "flagged"  # a bucket no other test read, so no storage options are remembered for it
    s3.upload(bucket, small_dir, prefix="train/")
    query = tmp_path / "query"
    query.mkdir()
    photo = sorted(p for p in small_dir.glob("*.jpg") if not p.name.startswith(("bad", ".")))[0]
    shutil.copy(photo, query / "copy.jpg")
    s3.upload(bucket, query, prefix="test/")
    flags = ["--storage-option", f"key={s3.key}", "--storage-option", f"secret={s3.secret}",
             "--storage-option", f'client_kwargs={{"endpoint_url": "{s3.endpoint}"}}',
             "--storage-option", 'client_kwargs={"region_name": "us-east-1"}']  # dicts given twice merge
    pairs = tmp_path / "pairs.csv"
    assert main(["find", f"s3://{bucket}/test", "--against", f"s3://{bucket}/train", "-o", str(pairs),
                 "--workers", "1", "--no-progress", *flags]) == 0
    found = pd.read_csv(pairs)  # verified: both images of each pair read back from the bucket
    assert sorted(found[["path", "match"]].values.tolist()) == [
        [f"s3://{bucket}/test/copy.jpg", f"s3://{bucket}/train/{photo.name}"],
        [f"s3://{bucket}/test/copy.jpg", f"s3://{bucket}/train/sub/half.png"],
    ]
    report = tmp_path / "report.html"
    assert main(["report", f"s3://{bucket}/train", "-o", str(report), "--workers", "1", "--no-progress",
                 *flags]) == 0
    page = report.read_text()
    assert page.count("data:image/jpeg;base64,") >= 2 and f"s3://{bucket}/train/sub/half.png" in page
    capsys.readouterr()
    wrong = [*flags[:2], "--storage-option", "secret=wrong", *flags[4:]]
    assert main(["hash", f"s3://{bucket}/train", "-o", str(tmp_path / "h.csv"), *wrong]) == 2
    assert f"s3://{bucket}/train: listing refused" in capsys.readouterr().err


def test_tar_shards_in_a_bucket(s3, small_dir, local, tmp_path):
    photos = sorted(p for p in small_dir.glob("*.jpg") if not p.name.startswith(("bad", ".")))
    folder = tmp_path / "shards"
    folder.mkdir()
    for number, photo in enumerate(photos[:2]):
        with tarfile.open(folder / f"train-{number}.tar", "w") as archive:
            archive.add(photo, arcname=f"{number}/{photo.name}")
    s3.upload(BUCKET, folder, prefix="shards/")
    table = hash_images(f"s3://{BUCKET}/shards/train-{{0..1}}.tar", storage_options=s3.storage_options(), workers=1)
    assert table["path"].tolist() == [f"s3://{BUCKET}/shards/train-{n}.tar/{n}/{p.name}"
                                      for n, p in enumerate(photos[:2])]
    expected = local.set_index("path").loc[[str(p) for p in photos[:2]], "hash"].tolist()
    assert table["hash"].tolist() == expected
    # the key opens the image again, streaming its shard from the bucket (options remembered from the scan)
    assert load_image(table["path"].iloc[1]).size == (table["width"].iloc[1], table["height"].iloc[1])


def test_results_point_back_to_the_bucket(s3, small_bucket, small_dir, tmp_path):
    """Pairs, groups, the export and the report name the objects, and thumbnails are read from them."""
    from dedupkit import export_duplicates, find_duplicates, find_groups, write_report
    from dedupkit.keep import file_facts
    from dedupkit.thumbnails import clear_cache, placeholder, thumbnail

    hashes = hash_images(small_bucket, storage_options=s3.storage_options(), workers=1)
    pairs = find_duplicates(hashes, workers=1)  # verified: both images of each pair read from the bucket
    photo = min(p.name for p in small_dir.glob("*.jpg") if not p.name.startswith(("bad", ".")))
    copy = [f"{small_bucket}/{photo}", f"{small_bucket}/sub/half.png"]
    assert sorted(pairs.loc[pairs["verified"], ["path_a", "path_b"]].values.tolist()) == [copy]
    groups = find_groups(pairs, hashes)
    assert sorted(groups["path"]) == copy
    facts = file_facts(copy)  # what decides which copy is kept: read from the bucket too
    assert facts["error"].isna().all() and facts["width"].tolist() == [hashes.set_index("path").loc[u, "width"]
                                                                       for u in copy]
    assert groups.loc[groups["keep"], "path"].tolist() == [copy[0]]  # the full-size photo, not the half-size PNG
    written = export_duplicates(pairs, groups, tmp_path / "out")
    assert sorted(pd.read_csv(written["groups"])["path"]) == copy
    clear_cache()
    thumb = thumbnail(copy[1], size=64)
    assert thumb.shape[2] == 3 and max(thumb.shape[:2]) == 64
    assert not (thumb.shape == placeholder(64).shape and (thumb == placeholder(64)).all())
    report = write_report(groups, pairs=pairs, hashes=hashes, path=tmp_path / "report.html", thumb_size=64)
    page = report.read_text()
    assert all(f'data-path="{url}"' in page for url in copy)
    assert "file missing" not in page and "could not be read:" not in page


class _SlowHandler(SimpleHTTPRequestHandler):
    """A static file server whose files named ``slow*`` answer after 5 seconds."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self):
        if "slow" in self.path:
            time.sleep(5)
        return super().do_GET()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # the client gave up on the slow file: a broken pipe here is expected


def test_http_index_page_and_a_timeout(small_dir, local, tmp_path):
    aiohttp = pytest.importorskip("aiohttp")
    root = tmp_path / "site"
    shutil.copytree(small_dir, root, ignore=shutil.ignore_patterns(".*"))
    shutil.copy(small_dir / "sub" / "half.png", root / "slow.png")
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_SlowHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        options = {"client_kwargs": {"timeout": aiohttp.ClientTimeout(total=0.5)}}
        table = hash_images(url + "/", storage_options=options, workers=1)
    finally:
        server.shutdown()
        server.server_close()
    rows = table.set_index("path")
    assert rows.loc[f"{url}/slow.png", "error"].startswith("timed out reading the object (3 attempts")
    assert rows.loc[f"{url}/sub/half.png", "hash"] == local.set_index("path").loc[str(small_dir / "sub" / "half.png"),
                                                                                    "hash"]


def test_notebook_1_hashes_a_bucket(s3, small_dir, local, tmp_path, monkeypatch, kernel):  # noqa: F811
    """image_dir may be a URL: the credentials come from the environment, as s3fs reads them."""
    papermill = pytest.importorskip("papermill")
    import nbformat
    from test_notebooks import CELL_TIMEOUT, REPO

    s3.upload(BUCKET, small_dir, prefix="notebook/")
    for name, value in {"AWS_ACCESS_KEY_ID": s3.key, "AWS_SECRET_ACCESS_KEY": s3.secret,
                        "AWS_ENDPOINT_URL": s3.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "results"
    papermill.execute_notebook(
        str(REPO / "notebooks" / "01_hash_dataset.ipynb"), str(tmp_path / "01.ipynb"),
        parameters={"image_dir": f"s3://{BUCKET}/notebook", "output_dir": str(out)},
        kernel_name=kernel, cwd=str(tmp_path), progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
    )
    executed = nbformat.read(tmp_path / "01.ipynb", as_version=4)
    assert not [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    hashes = pd.read_parquet(out / "hashes.parquet")
    assert hashes["path"].str.startswith(f"s3://{BUCKET}/notebook/").all()
    pd.testing.assert_series_equal(_by_name(hashes, f"s3://{BUCKET}/notebook")["hash"],
                                   _by_name(local, small_dir)["hash"])
