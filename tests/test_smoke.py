"""The whole path on the bundled sample, through the public API and the CLI: also run on the lowest declared
versions of every dependency (``make test-min``), so it imports nothing beyond the package and pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

import dedupkit

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def test_the_sample_end_to_end(tmp_path):
    hashes = dedupkit.hash_images(SAMPLE, progress=False, workers=1)
    assert len(hashes) == 44 and hashes["error"].notna().sum() == 3  # the three bad files of data/sample/bad
    phash = dedupkit.hash_images(SAMPLE, method="phash", progress=False, workers=1)
    assert phash["hash"].dropna().str.len().eq(16).all() and dedupkit.hash_settings(phash)["method"] == "phash"
    hash_pairs = dedupkit.find_pairs(hashes, max_distance=10)
    assert len(hash_pairs) >= 8 and (hash_pairs["distance"] <= 10).all()
    pairs = dedupkit.find_duplicates(hashes, progress=False, workers=1)
    assert len(pairs) == 11 and pairs["verified"].all()
    groups = dedupkit.find_groups(pairs, hashes, progress=False)
    assert groups["group"].nunique() == 11 and groups["keep"].sum() == 11
    assert not groups.loc[groups["keep"], "path"].str.contains("__").any()  # the originals are kept
    index = dedupkit.HashIndex.from_hashes(hashes[hashes["error"].isna()])
    index.save(tmp_path / "index.parquet")
    found = dedupkit.HashIndex.load(tmp_path / "index.parquet").search_images([SAMPLE / "coffee.jpg"], max_distance=4)
    assert (found["distance"] == 0).any()


def test_the_cli_and_the_service_import(tmp_path):
    out = tmp_path / "pairs.csv"
    env = {**os.environ, "PYTHONPATH": str(Path(dedupkit.__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-m", "dedupkit", "find", str(SAMPLE), "-o", str(out)], check=True, env=env,
                   capture_output=True)
    assert len(pd.read_csv(out)) == 11
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from dedupkit.service.app import create_app  # noqa: PLC0415
    from dedupkit.service.settings import Settings  # noqa: PLC0415

    app = create_app(Settings(db=tmp_path / "service.db"))
    assert {"/images", "/search"} <= set(app.openapi()["paths"])
    with TestClient(app) as client:
        added = client.post("/images", files=[("files", ("coffee.jpg", (SAMPLE / "coffee.jpg").read_bytes()))])
        assert added.status_code == 201, added.text
        query = ("half.jpg", (SAMPLE / "coffee__half_size.jpg").read_bytes())
        found = client.post("/search", files={"file": query}, data={"verify": "true"})
        assert found.status_code == 200, found.text
        assert [m["name"] for m in found.json()["matches"]] == ["coffee.jpg"] and found.json()["matches"][0]["verified"]
        by_hash = client.post("/search", data={"hash": added.json()["images"][0]["hash"]})
        assert by_hash.status_code == 200 and by_hash.json()["matches"][0]["distance"] == 0
