"""Tables of image bytes: Parquet (written as Hugging Face writes it), pandas, Arrow, datasets.Dataset.

The same images written as files are the reference: a row's hash must be the
file's hash, a bad row an error row, and a table larger than memory is read a
batch at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import dedupkit
from dedupkit import find_duplicates, hash_images, table_images
from dedupkit.bytes_table import TableImages, is_table_source
from dedupkit.cli import main
from dedupkit.thumbnails import placeholder, thumbnail

HF_FEATURES = {"id": {"dtype": "int64", "_type": "Value"}, "image": {"_type": "Image"}}
BAD = {"corrupt": b"\xff\xd8\xff\xe0 not really a JPEG", "empty": b"", "null": None}


def write_hf_parquet(path: Path, ids: list[int], images: list[bytes | None], names: list[str | None], *,
                     row_group_size: int) -> Path:
    """A Parquet file laid out as `datasets` writes an Image feature: struct<bytes, path> and its metadata."""
    structs = [None if data is None else {"bytes": data, "path": name} for data, name in zip(images, names)]
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"id": pa.array(ids, pa.int64()), "image": pa.array(structs, image_type)})
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": HF_FEATURES}})})
    pq.write_table(table, path, row_group_size=row_group_size, use_dictionary=False)
    return path


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, originals) -> Path:
    """Ten images as files: eight photos, a half-size PNG of the first, a JPEG q20 of the second."""
    root = tmp_path_factory.mktemp("as_files")
    for path in originals[:8]:
        (root / path.name).write_bytes(path.read_bytes())
    first = Image.open(originals[0]).convert("RGB")
    first.resize((first.width // 2, first.height // 2)).save(root / "z_half.png")
    Image.open(originals[1]).convert("RGB").save(root / "z_q20.jpg", quality=20)
    return root


@pytest.fixture(scope="module")
def hf_parquet(image_files, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The same images in a Hugging Face-style Parquet (row groups of 3), with a corrupt, an empty and a null row.

    Returns the file and each row's id (as a string) -> its image file's name (or the kind of bad row).
    """
    files = sorted(image_files.iterdir())
    ids = [1000 + 7 * i for i in range(len(files) + len(BAD))]
    images = [p.read_bytes() for p in files] + list(BAD.values())
    names = [p.name for p in files] + [None] * len(BAD)
    path = write_hf_parquet(tmp_path_factory.mktemp("hf") / "train.parquet", ids, images, names, row_group_size=3)
    return path, dict(zip(map(str, ids), [p.name for p in files] + list(BAD)))


@pytest.fixture(scope="module")
def file_hashes(image_files) -> pd.DataFrame:
    return hash_images(image_files, workers=1).assign(name=lambda t: t["path"].map(lambda p: Path(p).name))


def _by_name(hashes: pd.DataFrame, rows: dict[str, str]) -> pd.DataFrame:
    return hashes.assign(name=hashes["path"].map(rows)).set_index("name")


def test_parquet_rows_hash_like_the_same_images_as_files(hf_parquet, file_hashes, tmp_path):
    path, rows = hf_parquet
    assert pq.ParquetFile(path).num_row_groups == 5
    hashes = hash_images(path, column="image", key="id", workers=1)
    assert hashes["path"].tolist() == list(rows)  # the table's ids, in the table's order
    got = _by_name(hashes, rows)
    want = file_hashes.set_index("name")
    for column in ("hash", "width", "height", "format", "bytes"):
        assert got.loc[want.index, column].tolist() == want[column].tolist(), column
    assert got.loc[want.index, "error"].isna().all()
    (tmp_path / "corrupt.jpg").write_bytes(BAD["corrupt"])  # the same bytes as a file: the same reason
    assert got.loc["corrupt", "error"] == dedupkit.hash_file(tmp_path / "corrupt.jpg")["error"]
    assert got.loc["corrupt", "error"].startswith("corrupt image header")
    assert got.loc["empty", "error"] == "empty image (0 bytes)"
    assert got.loc["null", "error"] == "no image in this row (the image column is null)"
    assert got.loc[list(BAD), "hash"].isna().all()
    assert dedupkit.hash_settings(hashes)["method"] == "dhash"  # a hash table like any other


def test_without_a_key_rows_are_keyed_by_their_number(hf_parquet):
    path, rows = hf_parquet
    hashes = hash_images(path, workers=1)  # a .parquet path is a table; column "image" by default
    assert hashes["path"].tolist() == [str(i) for i in range(len(rows))]
    by_id = hash_images(path, key="id", workers=1)
    assert hashes["hash"].tolist() == by_id["hash"].tolist()


def test_a_folder_of_parquet_files_is_one_dataset(hf_parquet, tmp_path):
    path, rows = hf_parquet
    table = pq.read_table(path)
    (tmp_path / "data").mkdir()
    pq.write_table(table.slice(0, 6), tmp_path / "data" / "part-0.parquet", row_group_size=2)
    pq.write_table(table.slice(6), tmp_path / "data" / "part-1.parquet", row_group_size=2)
    (tmp_path / "mixed").mkdir()  # images beside a Parquet file (a cache, say): a folder of images
    (tmp_path / "mixed" / "a.jpg").write_bytes(rows and (path.parent / "train.parquet").read_bytes()[:0] or b"x")
    (tmp_path / "mixed" / "hashes.parquet").write_bytes(path.read_bytes())
    assert is_table_source(tmp_path / "data") and not is_table_source(tmp_path / "mixed")
    hashes = hash_images(tmp_path / "data", key="id", workers=1)
    assert hashes["hash"].tolist() == hash_images(path, key="id", workers=1)["hash"].tolist()


def test_pandas_arrow_and_binary_columns_hash_alike(hf_parquet, file_hashes):
    path, rows = hf_parquet
    reference = hash_images(path, key="id", workers=1)
    arrow = pq.read_table(path)
    frame = arrow.to_pandas()  # the image column holds {"bytes", "path"} dicts, as pandas gets HF's structs
    plain = pd.DataFrame({"id": frame["id"], "jpeg": [None if s is None else s["bytes"] for s in frame["image"]]})
    for table, column in ((arrow, "image"), (frame, "image"), (plain, "jpeg"), (pa.Table.from_pandas(plain), "jpeg")):
        hashes = hash_images(table, column=column, key="id", workers=1)
        assert hashes["path"].tolist() == reference["path"].tolist()
        assert hashes["hash"].tolist() == reference["hash"].tolist()
        assert hashes["error"].tolist() == reference["error"].tolist()
        assert hashes.attrs["images"] == {"source": None, "column": column, "key": "id"}


def test_hugging_face_dataset_is_read_through_its_arrow_table(hf_parquet):
    import datasets  # noqa: PLC0415 - in the dev extra; slow to import
    path, rows = hf_parquet
    table = pq.read_table(path)
    features = datasets.Features({"id": datasets.Value("int64"), "image": datasets.Image()})
    stored = datasets.table.InMemoryTable(table.cast(features.arrow_schema))
    dataset = datasets.Dataset(stored, info=datasets.DatasetInfo(features=features))
    assert dataset.features["image"] == datasets.Image()  # datasets would decode it to PIL; dedupkit reads bytes
    reference = hash_images(path, key="id", workers=1)
    hashes = hash_images(dataset, key="id", workers=1)
    assert hashes["hash"].tolist() == reference["hash"].tolist()
    with pytest.raises(TypeError, match=r"DatasetDict holds several splits: hash one, e.g. dataset\['train'\]"):
        hash_images(datasets.DatasetDict({"train": dataset}), key="id")
    picked = dataset.select([4, 0, 2])  # an indices mapping over the same table: the rows it names, in its order
    hashes = hash_images(picked, key="id", workers=1)
    assert hashes["path"].tolist() == [reference["path"][i] for i in (4, 0, 2)]
    assert hashes["hash"].tolist() == [reference["hash"][i] for i in (4, 0, 2)]


def test_a_process_pool_and_an_executor_give_the_serial_hashes(tmp_path, originals):
    photos = [p.read_bytes() for p in originals[:5]]
    n = 80  # above the serial threshold: a real pool of 2 processes, fed a few chunks of bytes at a time
    images = [photos[i % 5] if i % 17 else b"broken" for i in range(n)]
    path = write_hf_parquet(tmp_path / "t.parquet", list(range(n)), images, [None] * n, row_group_size=16)
    serial = hash_images(path, key="id", workers=1)
    pooled = hash_images(path, key="id", workers=2, chunk_size=8, batch_size=16)
    with ThreadPoolExecutor(2) as executor:
        executed = hash_images(path, key="id", executor=executor, chunk_size=5, batch_size=7)
    for other in (pooled, executed):
        assert other["path"].tolist() == serial["path"].tolist()
        assert other["hash"].tolist() == serial["hash"].tolist()
        assert other["error"].tolist() == serial["error"].tolist()
    assert serial["error"].notna().sum() == len(range(0, n, 17))


_MEASURE = textwrap.dedent("""
    import json, sys, tracemalloc
    import pyarrow as pa
    import pyarrow.parquet as pq
    from dedupkit.bytes_table import hash_table

    def high_water():  # this process's peak resident memory (VmHWM: not inherited from the parent, as ru_maxrss is)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))

    pool = pa.default_memory_pool()
    hash_table(pq.ParquetFile(sys.argv[1]).read_row_group(0), key="id", workers=1)  # imports what hashing needs
    before = high_water()
    tracemalloc.start()
    hashes = hash_table(sys.argv[1], key="id", batch_size=int(sys.argv[2]), workers=1, progress=False)
    python_peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"rows": len(hashes), "hashed": int(hashes["hash"].notna().sum()), "python": python_peak,
                      "arrow": pool.max_memory(), "rss_growth": high_water() - before}))
""")


def test_a_large_table_is_hashed_in_batches_with_bounded_memory(tmp_path, originals):
    rng = np.random.default_rng(0)
    photos = [p.read_bytes() for p in originals[:6]]
    n, batch = 240, 8
    # each row a photo and 200 KB of noise after its end (decoders stop at the end of the image): unique,
    # incompressible rows, so the file is as large as its images
    images = [photos[i % 6] + rng.bytes(200_000) for i in range(n)]
    path = write_hf_parquet(tmp_path / "big.parquet", list(range(n)), images, [None] * n, row_group_size=batch)
    size = sum(map(len, images))
    assert os.path.getsize(path) > 0.9 * size  # ~60 MB on disk
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(batch)], capture_output=True, text=True,
                         check=True, timeout=600)
    measured = json.loads(run.stdout)
    assert measured["rows"] == measured["hashed"] == n
    group = size / n * batch  # bytes of a row group, ~2 MB
    # measured: Arrow ~4 row groups (8 MB), Python ~4 MB, resident memory +8 MB, for a table of 61 MB (Arrow's
    # scanner with its defaults held 77-91 MB: every row group of the file read ahead)
    assert measured["arrow"] < min(size / 5, 6 * group), measured
    assert measured["python"] < size / 5, measured
    assert measured["rss_growth"] < size / 4, measured
    assert measured["rss_growth"] < size / 2, measured  # the whole process, allocator slack included


def test_find_verifies_planted_duplicates_from_the_parquet_rows(hf_parquet):
    path, rows = hf_parquet
    ids = {name: key for key, name in rows.items()}
    hashes = hash_images(path, key="id", workers=1)
    pairs = dedupkit.find_duplicates(hashes, workers=1)
    found = {frozenset(pair) for pair in zip(pairs["path_a"], pairs["path_b"])}
    files = sorted(n for n in rows.values() if n not in BAD)
    planted = {frozenset((ids[files[0]], ids["z_half.png"])), frozenset((ids[files[1]], ids["z_q20.jpg"]))}
    assert planted <= found
    assert pairs["verified"].all()
    groups = dedupkit.find_groups(pairs, hashes)
    by_path = groups.set_index("path")
    assert by_path.loc[ids[files[0]], "keep"] and not by_path.loc[ids["z_half.png"], "keep"]  # the larger copy


def test_hashes_of_a_table_in_memory_verify_inside_table_images(hf_parquet):
    path, rows = hf_parquet
    table = pq.read_table(path)
    hashes = hash_images(table, key="id", workers=1)
    with pytest.raises(ValueError, match="table_images"):
        dedupkit.find_duplicates(hashes, workers=1)
    with table_images(table, key="id"):
        pairs = dedupkit.find_duplicates(hashes, workers=1)
    assert pairs.equals(dedupkit.find_duplicates(hash_images(path, key="id", workers=1), workers=1))


def test_table_keys_open_from_their_rows(hf_parquet, image_files):
    path, rows = hf_parquet
    key = next(k for k, name in rows.items() if name == "z_half.png")
    images = TableImages(path, key="id")
    assert images.get(key) == (image_files / "z_half.png").read_bytes()
    assert images.get("999999", "absent") == "absent" and images.get("not a number", "absent") == "absent"
    closed = TableImages(path, key="id", lazy=False)  # only what it was told to fetch
    assert closed.get(key, "absent") == "absent"
    closed.fetch([key])
    assert closed.get(key) == (image_files / "z_half.png").read_bytes()
    number = str(list(rows).index(key))
    assert TableImages(path).get(number) == (image_files / "z_half.png").read_bytes()  # by row number
    dedupkit.thumbnails.clear_cache()
    assert np.array_equal(thumbnail(key), placeholder())  # outside the context a key is no file
    with table_images(path, key="id", keys=[key]):
        assert np.array_equal(thumbnail(key), thumbnail(image_files / "z_half.png"))
        assert dedupkit.load_image(key).size == Image.open(image_files / "z_half.png").size
        null = next(k for k, name in rows.items() if name == "null")
        with pytest.raises(dedupkit.ImageLoadError, match="no image in this row"):
            dedupkit.load_image(null)


def test_bad_tables_are_refused_with_the_fix(hf_parquet, tmp_path):
    path, rows = hf_parquet
    with pytest.raises(ValueError, match=r"no image column 'picture'.*\['id', 'image'\].*column="):
        hash_images(path, column="picture")
    with pytest.raises(ValueError, match=r"no key column 'uid'.*key="):
        hash_images(path, key="uid")
    with pytest.raises(TypeError, match="column 'name' holds (large_)?string, not image bytes"):
        hash_images(pd.DataFrame({"name": ["a.jpg"]}), column="name")
    with pytest.raises(TypeError, match="the DataFrame: column 'image' .* cannot be read as image bytes"):
        hash_images(pd.DataFrame({"image": [Image.new("RGB", (8, 8))]}))  # decoded pictures, not bytes
    with pytest.raises(ValueError, match=r"the DataFrame has no key column 'id'; its columns are \['image'\]"):
        hash_images(pd.DataFrame({"image": [b"x"]}), key="id")
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        hash_images(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="cache="):
        hash_images(path, cache=True)
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="fake.parquet: cannot be read as Parquet"):
        hash_images(tmp_path / "fake.parquet")


def test_a_struct_without_bytes_opens_the_file_its_path_names(image_files, file_hashes, tmp_path):
    names = ["z_half.png", "astronaut.jpg", "gone.jpg"]  # as datasets keeps local files before embedding them
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    structs = [{"bytes": None, "path": str(image_files / name)} for name in names]
    table = pa.table({"id": [1, 2, 3], "image": pa.array(structs, image_type)})
    hashes = hash_images(table, key="id", workers=1)
    want = file_hashes.set_index("name")
    assert hashes["hash"].tolist()[:2] == want.loc[names[:2], "hash"].tolist()
    assert hashes["bytes"].tolist()[:2] == want.loc[names[:2], "bytes"].tolist()
    assert hashes["error"][2] == f"{image_files / 'gone.jpg'} (named by this row): file not found"
    with table_images(table, key="id"):
        assert np.array_equal(thumbnail("1"), thumbnail(image_files / "z_half.png"))


def test_a_repeated_key_is_hashed_and_named(hf_parquet, caplog):
    path, rows = hf_parquet
    frame = pq.read_table(path).to_pandas().assign(id=lambda t: t["id"] % 3)  # ids 0, 1, 2 over and over
    reference = hash_images(path, key="id", workers=1)["hash"].tolist()
    assert hash_images(frame, key="id", workers=1)["hash"].tolist() == reference
    assert "rows repeat a key of column 'id'" in caplog.text and "key=None" in caplog.text
    with ThreadPoolExecutor(4) as threads:  # rows of one key on four threads at once: each opens its own bytes
        for _ in range(3):
            assert hash_images(frame, key="id", executor=threads, chunk_size=1)["hash"].tolist() == reference


def test_cli_hash_and_find_on_a_parquet_file(hf_parquet, tmp_path, capsys):
    path, rows = hf_parquet
    ids = {name: key for key, name in rows.items()}
    out = tmp_path / "hashes.csv"
    assert main(["hash", str(path), "--column", "image", "--key", "id", "-o", str(out), "--workers", "1"]) == 0
    table = pd.read_csv(out, dtype={"path": str})
    assert table["path"].tolist() == list(rows)  # the ids, not paths made relative to the file
    assert table["hash"].notna().sum() == len(rows) - len(BAD)
    printed = capsys.readouterr().out
    assert f"scanned {len(rows)} rows in {path}: 3 could not be read" in printed
    assert f"error: {ids['null']}: no image in this row" in printed
    pairs_csv, groups_csv = tmp_path / "pairs.csv", tmp_path / "groups.csv"
    assert main(["find", str(path), "--key", "id", "-o", str(pairs_csv), "--groups", str(groups_csv),
                 "--no-progress", "--workers", "1"]) == 0
    pairs = pd.read_csv(pairs_csv, dtype={"path_a": str, "path_b": str})
    found = {frozenset(pair) for pair in zip(pairs["path_a"], pairs["path_b"])}
    files = sorted(n for n in rows.values() if n not in BAD)
    assert frozenset((ids[files[0]], ids["z_half.png"])) in found
    assert frozenset((ids[files[1]], ids["z_q20.jpg"])) in found
    groups = pd.read_csv(groups_csv, dtype={"path": str})
    assert set(groups["path"]) == set().union(*found)
    assert "sha256" not in groups.columns  # facts of files, which a table's rows are not
    report = tmp_path / "report.html"
    assert main(["report", str(path), "--key", "id", "--groups", str(groups_csv), "--pairs", str(pairs_csv),
                 "-o", str(report)]) == 0
    html = report.read_text()
    assert "file missing" not in html and html.count("data:image/jpeg;base64,") >= len(groups)


def test_a_parquet_url_is_read_through_fsspec(hf_parquet):
    import fsspec  # noqa: PLC0415 - optional for dedupkit (URLs only); the dev extra has it (with datasets)
    path, rows = hf_parquet
    memory = fsspec.filesystem("memory")
    url = "memory://dedupkit-test/train.parquet"
    memory.pipe(url, path.read_bytes())
    try:
        assert is_table_source(url)
        hashes = hash_images(url, key="id", workers=1)
        assert hashes["hash"].tolist() == hash_images(path, key="id", workers=1)["hash"].tolist()
        assert hashes.attrs["images"]["source"] == url
        key = next(k for k, name in rows.items() if name == "z_half.png")
        assert TableImages(url, key="id").get(key) == TableImages(path, key="id").get(key)
    finally:
        memory.rm("memory://dedupkit-test", recursive=True)


def test_cli_find_files_against_a_table(hf_parquet, image_files, tmp_path, capsys):
    path, rows = hf_parquet
    ids = {name: key for key, name in rows.items()}
    leaks = tmp_path / "leaks.csv"
    assert main(["find", str(image_files), "--against", str(path), "--key", "id", "-o", str(leaks),
                 "--no-progress", "--workers", "1"]) == 0
    found = pd.read_csv(leaks, dtype={"path": str, "match": str})
    assert found["verified"].all()
    matched = set(zip(found["path"], found["match"]))
    assert {(name, ids[name]) for name in ids if name not in BAD} <= matched  # each file matches its own row
    assert ("z_half.png", ids[sorted(n for n in ids if n not in BAD)[0]]) in matched
    assert f"indexed {len(rows) - len(BAD)} reference images in {path}" in capsys.readouterr().out
    assert main(["find", str(path), "--against", str(path), "-o", str(leaks)]) == 2  # row numbers of both
    assert "--against with two tables keyed by row number" in capsys.readouterr().err
    assert main(["find", str(path), "--against", str(path), "--key", "id", "-o", str(leaks), "--workers", "1",
                 "--no-progress"]) == 2
    assert "keys of --key id name rows of both tables (e.g. 1000)" in capsys.readouterr().err


def test_cli_find_a_table_against_another_table(hf_parquet, tmp_path, capsys):
    path, rows = hf_parquet
    table = pq.read_table(path)
    test = tmp_path / "test.parquet"  # the planted copies, under ids of their own
    half, q20 = (list(rows.values()).index(name) for name in ("z_half.png", "z_q20.jpg"))
    pq.write_table(table.take([half, q20]).set_column(0, "id", pa.array([1, 2], pa.int64())), test)
    leaks = tmp_path / "leaks.csv"
    assert main(["find", str(test), "--against", str(path), "--key", "id", "-o", str(leaks), "--workers", "1",
                 "--no-progress"]) == 0
    found = pd.read_csv(leaks, dtype={"path": str, "match": str})
    originals = sorted(n for n in rows.values() if n not in BAD)[:2]
    ids = {name: key for key, name in rows.items()}
    assert {("1", ids[originals[0]]), ("2", ids[originals[1]])} <= set(zip(found["path"], found["match"]))
    assert found["verified"].all()


_MEASURE_CROPS = textwrap.dedent("""
    import json, sys, tracemalloc
    import pyarrow as pa
    from dedupkit import find_duplicates
    from dedupkit.bytes_table import hash_table

    def high_water():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))

    pool = pa.default_memory_pool()
    batch = int(sys.argv[2])
    hashes = hash_table(sys.argv[1], key="id", batch_size=batch, workers=1, progress=False)
    small = hashes.head(12).copy()
    small.attrs = dict(hashes.attrs)
    find_duplicates(small, crops=True, workers=1, batch_size=batch, progress=False)  # imports OpenCV, faiss
    before, arrow_before = high_water(), pool.max_memory()
    tracemalloc.start()
    pairs = find_duplicates(hashes, crops=True, workers=1, batch_size=batch, progress=False)
    python_peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"pairs": sorted(map(sorted, zip(pairs["path_a"], pairs["path_b"]))), "python": python_peak,
                      "arrow": pool.max_memory(), "rss_growth": high_water() - before}))
""")


@pytest.fixture(scope="module")
def crop_table(tmp_path_factory, originals) -> tuple[Path, int]:
    """The 27 photos, a 70% crop of the first and a caption-barred copy of the second, one row group each, every
    image followed by 2 MB of noise (decoders stop at the image's end), so the file is as large as its rows: ~60 MB."""
    import io

    rng = np.random.default_rng(1)

    def jpeg(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        return out.getvalue()

    first, second = (Image.open(p).convert("RGB") for p in originals[:2])
    w, h = first.size
    barred = Image.new("RGB", (second.width, second.height + second.height // 5), "white")
    barred.paste(second, (0, 0))
    images = [p.read_bytes() for p in originals] + [
        jpeg(first.crop((w * 15 // 100, h * 15 // 100, w * 85 // 100, h * 85 // 100))), jpeg(barred)]
    images = [data + rng.bytes(2_000_000) for data in images]
    path = write_hf_parquet(tmp_path_factory.mktemp("crops") / "crops.parquet", list(range(len(images))), images,
                            [None] * len(images), row_group_size=1)
    return path, sum(map(len, images))


def test_crop_candidates_on_a_table_stream_its_rows(crop_table):
    """find_duplicates(crops=True) on a Parquet table reads it in batches: the same pairs for any batch size."""
    path, _ = crop_table
    hashes = hash_images(path, key="id", workers=1)
    batched = find_duplicates(hashes, crops=True, workers=1, batch_size=2)
    whole = find_duplicates(hashes, crops=True, workers=1, batch_size=1000)
    pd.testing.assert_frame_equal(batched, whole)
    found = set(map(frozenset, zip(batched["path_a"], batched["path_b"])))
    assert {frozenset({"0", "27"}), frozenset({"1", "28"})} <= found  # the crop and the caption-barred copy
    with pytest.raises(ValueError, match="batch_size"):
        find_duplicates(hashes, crops=True, batch_size=0)


def test_crop_candidates_on_a_large_table_keep_memory_bounded(crop_table):
    path, size = crop_table
    run = subprocess.run([sys.executable, "-c", _MEASURE_CROPS, str(path), "2"], capture_output=True, text=True,
                         check=True, timeout=600)
    measured = json.loads(run.stdout)
    assert ["0", "27"] in measured["pairs"] and ["1", "28"] in measured["pairs"]
    row = size / 29  # ~2 MB
    # every row's bytes held at once (as before) would be ~60 MB in Python and in Arrow
    assert measured["arrow"] < min(size / 5, 6 * row), measured
    assert measured["python"] < size / 5, measured
    assert measured["rss_growth"] < size / 3, measured
