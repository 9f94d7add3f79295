"""The web service, in process: every endpoint, every bad input, auth, storage, verification, concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import sqlite3
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from dedupkit import hamming, hash_file, hex_to_codes
from dedupkit._commands import _is_loopback
from dedupkit.cli import main
from dedupkit.duplicates import CANDIDATE_DISTANCE
from dedupkit.features import extract_features
from dedupkit.service.app import create_app, get_store
from dedupkit.service.records import ImageFacts, ImageRecord, MatchRecord
from dedupkit.service.settings import Settings
from dedupkit.service.store import MAX_INTEGER, ImageStore, StoreError
from dedupkit.service.stored_features import decode_features, encode_features

with warnings.catch_warnings():  # starlette suggests another HTTP client for its TestClient; httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TOKEN = "s3cret-token"
LIMIT = 1_000_000  # bytes per request in these tests


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be ``width`` x ``height``: a decompression bomb's shape, without its bulk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def sample(name: str) -> tuple[str, bytes]:
    return name, (SAMPLE / name).read_bytes()


@pytest.fixture(autouse=True)
def _no_dedupkit_environment(monkeypatch):
    """Settings come from the test, never from the developer's shell."""
    for name in [n for n in __import__("os").environ if n.startswith("DEDUPKIT_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def make_client(tmp_path):
    """Start an app on a fresh database (or ``db``); closed at the end of the test."""
    clients = []

    def make(db: Path | None = None, **settings) -> TestClient:
        settings.setdefault("max_upload_bytes", LIMIT)
        client = TestClient(create_app(Settings(db=db or tmp_path / "images.db", **settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def add(client: TestClient, *files: tuple[str, bytes], **params) -> dict:
    response = client.post("/images", files=[("files", f) for f in files], params=params)
    assert response.status_code == 201, response.text
    return response.json()


def count(client: TestClient, **headers) -> int:
    return client.get("/stats", headers=headers).json()["count"]


# -- the endpoints ----------------------------------------------------------------


def test_health_is_open(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_add_answers_id_hash_and_stored_near_duplicates(client):
    first = add(client, sample("coffee.jpg"))["images"][0]
    assert first["id"] >= 1 and first["name"] == "coffee.jpg" and first["matches"] == []
    assert not first["exact_duplicate"]
    second = add(client, sample("coffee__half_size.jpg"))["images"][0]
    # the service hashes an upload exactly as `dedupkit hash` hashes the file on disk
    assert second["hash"] == hash_file(SAMPLE / "coffee__half_size.jpg")["hash"]
    size = (SAMPLE / "coffee__half_size.jpg").stat().st_size
    assert (second["width"], second["height"], second["bytes"]) == (300, 200, size)
    assert second["id"] != first["id"]
    assert second["matches"] == [{"id": first["id"], "name": "coffee.jpg", "distance": 0, "exact": False}]
    assert not second["exact_duplicate"]


def test_an_exact_copy_is_recognised_by_its_bytes(client):
    first = add(client, sample("tulips.jpg"))["images"][0]
    again = add(client, ("copy.jpg", (SAMPLE / "tulips.jpg").read_bytes()))["images"][0]
    assert again["exact_duplicate"] and again["sha256"] == first["sha256"]
    assert again["matches"] == [{"id": first["id"], "name": "tulips.jpg", "distance": 0, "exact": True}]
    assert count(client) == 2  # a copy is still stored, under its own id


def test_files_of_one_request_are_stored_in_order_and_see_each_other(client):
    body = add(client, sample("sunset.jpg"), sample("sunset__brighter.jpg"), sample("rocket.jpg"))
    sunset, brighter, rocket = body["images"]
    assert [m["id"] for m in brighter["matches"]] == [sunset["id"]]
    assert rocket["matches"] == [] and body["max_distance"] == 10
    assert count(client) == 3


def test_max_distance_is_inclusive_and_per_request(client):
    original, crop = "china_temple.jpg", "china_temple__crop_4pct.jpg"
    distance = int(hamming(*hex_to_codes([hash_file(SAMPLE / original)["hash"], hash_file(SAMPLE / crop)["hash"]])))
    assert distance > 0
    add(client, sample(original))
    near = client.post("/search", files={"file": sample(crop)}, params={"max_distance": distance - 1}).json()
    assert near["matches"] == [] and near["max_distance"] == distance - 1
    at = add(client, sample(crop), max_distance=distance)["images"][0]
    assert [m["distance"] for m in at["matches"]] == [distance]


def test_search_by_file_stores_nothing(client):
    stored = add(client, sample("grace_hopper.jpg"))["images"][0]
    body = client.post("/search", files={"file": sample("grace_hopper__exif_rotated.jpg")}).json()
    assert body["matches"] == [{"id": stored["id"], "name": "grace_hopper.jpg", "distance": 0, "exact": False}]
    assert body["hash"] == hash_file(SAMPLE / "grace_hopper__exif_rotated.jpg")["hash"] and body["sha256"]
    exact = client.post("/search", files={"file": sample("grace_hopper.jpg")}).json()
    assert exact["exact_duplicate"] and exact["matches"][0]["exact"]
    assert count(client) == 1


def test_search_by_hash_and_k_nearest(client):
    images = add(client, sample("coins.jpg"), sample("brick.jpg"), sample("camera.jpg"))["images"]
    coins = images[0]
    by_hash = client.post("/search", data={"hash": coins["hash"].upper()}).json()
    assert [m["id"] for m in by_hash["matches"]] == [coins["id"]] and by_hash["sha256"] is None
    # k without max_distance: the k nearest, however far
    nearest = client.post("/search", data={"hash": coins["hash"]}, params={"k": 2}).json()
    assert nearest["max_distance"] is None and len(nearest["matches"]) == 2
    assert nearest["matches"][0]["id"] == coins["id"] and nearest["matches"][1]["distance"] > 10
    # k with max_distance: the k nearest within it
    within = client.post("/search", data={"hash": coins["hash"]}, params={"k": 2, "max_distance": 10}).json()
    assert [m["id"] for m in within["matches"]] == [coins["id"]]
    assert count(client) == 3


def test_matches_are_capped_at_max_matches(make_client):
    client = make_client(max_matches=2)
    data = (SAMPLE / "coffee.jpg").read_bytes()
    add(client, *[(f"{i}.jpg", data) for i in range(3)])
    body = client.post("/search", files={"file": ("q.jpg", data)}).json()
    assert [m["id"] for m in body["matches"]] == [1, 2] and body["matches_truncated"]


def test_get_and_list_images(client):
    body = add(client, *(sample(name) for name in ("coins.jpg", "brick.jpg", "camera.jpg")))
    ids = [image["id"] for image in body["images"]]
    one = client.get(f"/images/{ids[1]}").json()
    assert one["name"] == "brick.jpg" and one["method"] == "dhash" and one["hash_size"] == 8 and one["created"]
    page = client.get("/images", params={"offset": 1, "limit": 1}).json()
    assert [item["id"] for item in page["items"]] == [ids[1]] and page["total"] == 3
    assert page["offset"] == 1 and page["limit"] == 1
    assert [i["id"] for i in client.get("/images").json()["items"]] == ids
    assert client.get("/images", params={"offset": 10}).json()["items"] == []


def test_delete_stops_matching_at_once(client):
    stored = add(client, sample("wine_room.jpg"))["images"][0]
    assert client.delete(f"/images/{stored['id']}").status_code == 204
    assert client.post("/search", files={"file": sample("wine_room.jpg")}).json()["matches"] == []
    assert client.get(f"/images/{stored['id']}").status_code == 404
    assert count(client) == 0
    again = add(client, sample("wine_room.jpg"))["images"][0]
    assert again["id"] != stored["id"] and again["matches"] == []  # ids are never reused


def test_stats(client):
    add(client, sample("coins.jpg"))
    assert client.get("/stats").json() == {
        "count": 1, "method": "dhash", "hash_size": 8, "n_bits": 64, "index": "dedupkit.HashIndex",
        "with_features": 1, "max_distance": 10,
    }


def test_openapi_docs_describe_the_api(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/images", "/images/{image_id}", "/search", "/health", "/stats"} <= set(paths)
    # verify=true is documented: the parameter, and what a verified match says
    search_op = paths["/search"]["post"]
    assert "verify" in [p["name"] for p in search_op["parameters"]] and "verify=true" in search_op["description"]
    fields = schema["components"]["schemas"]["VerifiedMatch"]["properties"]
    for name in ("verified", "relation", "scale", "rotation", "mirrored", "coverage_query", "coverage_stored",
                 "similarity", "reason"):
        assert fields[name]["description"], name
    assert {"candidates", "rejected"} <= set(schema["components"]["schemas"]["VerifiedSearchResponse"]["properties"])


def body_schema(schema: dict, path: str) -> dict:
    ref = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.parametrize("hash_size", [8, 16])
def test_openapi_says_exactly_what_the_endpoints_accept(make_client, hash_size):
    """What schemathesis checks against a real server (tests/test_service_server.py), read here in the document."""
    schema = make_client(hash_size=hash_size).get("/openapi.json").json()
    n_bits = hash_size * hash_size
    files = body_schema(schema, "/images")["properties"]["files"]
    assert files["minItems"] == 1 and files["items"]["format"] == "binary"  # a file picker for each file
    form = body_schema(schema, "/search")
    assert form["properties"]["file"]["format"] == "binary"
    assert form["properties"]["hash"]["pattern"] == f"^([0-9a-fA-F]{{{n_bits // 4}}})?$"
    assert form["properties"]["hash"]["examples"] == [""]  # Swagger UI fills in no hash beside a file
    assert form["anyOf"] == [{"required": ["file"]}, {"required": ["hash"], "properties": {"hash": {"minLength": 1}}}]
    assert set(form["dependentSchemas"]) == {"file", "verify"}
    for path in ("/images", "/search"):
        (distance,) = [p for p in schema["paths"][path]["post"]["parameters"] if p["name"] == "max_distance"]
        assert distance["schema"] | {"description": None, "title": None} == {
            "type": "integer", "minimum": 0, "maximum": n_bits, "description": None, "title": None}
    for method in ("get", "delete"):
        (image_id,) = schema["paths"]["/images/{image_id}"][method]["parameters"]
        assert (image_id["schema"]["minimum"], image_id["schema"]["maximum"]) == (1, 2**63 - 1)
    (offset, _) = schema["paths"]["/images"]["get"]["parameters"]
    assert offset["schema"]["maximum"] == 2**63 - 1
    # an optional parameter is left out, never null
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert "anyOf" not in parameter["schema"], parameter


def test_the_docs_load_nothing_from_elsewhere(client):
    """Swagger UI and ReDoc come from the package (the browser test drives them: tests/test_service_server.py)."""
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets and all(url.startswith("/") for url in assets), (page, assets)
        for url in assets:
            assert client.get(url).status_code == 200, url
    assert "/openapi.json" in client.get("/docs").text


# -- verified search -------------------------------------------------------------------

UNVERIFIED_KEYS = {"hash", "sha256", "max_distance", "k", "exact_duplicate", "matches", "matches_truncated"}


def search(client: TestClient, name: str, **params) -> dict:
    response = client.post("/search", files={"file": sample(name)}, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def features_rows(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT COUNT(*) FROM features").fetchone()[0]
    connection.close()
    return rows


def test_verify_confirms_a_half_size_copy_and_says_how(client):
    stored = add(client, sample("coffee.jpg"), sample("rocket.jpg"), sample("tulips.jpg"))["images"][0]
    plain = search(client, "coffee__half_size.jpg")
    assert set(plain) == UNVERIFIED_KEYS  # without verify, the answer is as it always was
    assert plain["matches"] == [{"id": stored["id"], "name": "coffee.jpg", "distance": 0, "exact": False}]
    body = search(client, "coffee__half_size.jpg", verify="true")
    assert set(body) == UNVERIFIED_KEYS | {"candidates", "rejected"}
    assert body["max_distance"] == CANDIDATE_DISTANCE and body["candidates"] == 1 and body["rejected"] == 0
    (match,) = body["matches"]
    assert (match["id"], match["distance"], match["verified"], match["reason"]) == (stored["id"], 0, True, None)
    assert match["scale"] == pytest.approx(0.5, abs=0.01) and abs(match["rotation"]) < 1 and not match["mirrored"]
    assert match["coverage_query"] > 0.97 and match["coverage_stored"] > 0.97
    assert match["similarity"] > 0.9
    assert match["inliers"] == 0  # the whole pictures agree upright: verified without matching features
    assert match["relation"] == "The query is the stored image at 50% size"


def test_verify_says_where_a_logo_was_laid_over_the_stored_picture(client):
    """A watermarked copy is the stored picture "but for one patch": its share and its box in the stored image."""
    from PIL import ImageDraw

    stored = add(client, sample("picosdeeuropa.jpg"))["images"][0]
    marked = Image.open(SAMPLE / "picosdeeuropa.jpg").convert("RGBA")  # 800x600
    logo = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse([10, 10, 70, 70], outline=(230, 40, 200, 255), width=10)
    marked.alpha_composite(logo, (100, 100))
    buffer = io.BytesIO()
    marked.convert("RGB").save(buffer, "PNG")
    response = client.post("/search", files={"file": ("marked.png", buffer.getvalue())}, params={"verify": "true"})
    assert response.status_code == 200, response.text
    (match,) = response.json()["matches"]
    assert match["id"] == stored["id"] and match["verified"]
    assert 0 < match["overlay"] <= 0.02
    x0, y0, x1, y1 = match["overlay_box"]  # in the stored image's pixels: round the logo at 100..180
    assert x0 <= 110 and y0 <= 110 and x1 >= 170 and y1 >= 170 and (x1 - x0) * (y1 - y0) < 4 * 80 * 80
    assert "but for one patch laid over it" in match["relation"]
    plain = search(client, "picosdeeuropa.jpg", verify="true")["matches"][0]
    assert plain["overlay"] == 0 and plain["overlay_box"] is None


def test_verify_rejects_a_different_photo_within_the_hash_threshold(client):
    stored, query = "retina.jpg", "rocket.jpg"
    distance = int(hamming(*hex_to_codes([hash_file(SAMPLE / stored)["hash"], hash_file(SAMPLE / query)["hash"]])))
    assert distance > 10  # not a hash-only match (about 16 bits of dHash apart)
    threshold = max(distance, CANDIDATE_DISTANCE)  # within the candidate threshold, even if hashing shifts a bit
    add(client, sample(stored))
    assert [m["name"] for m in search(client, query, max_distance=threshold)["matches"]] == [stored]
    body = search(client, query, verify="true", max_distance=threshold)
    assert body["matches"] == [] and body["candidates"] == 1 and body["rejected"] == 1
    assert search(client, query, verify="true", max_distance=distance - 1)["candidates"] == 0


def test_verify_an_exact_copy_a_mirror_and_k(client):
    stored = add(client, sample("friends_dogs.jpg"), sample("gravel.jpg"))["images"][0]
    exact = search(client, "friends_dogs.jpg", verify="1")
    assert exact["exact_duplicate"] and [m["id"] for m in exact["matches"]] == [stored["id"]]
    assert exact["matches"][0]["verified"] and exact["matches"][0]["exact"] and exact["matches"][0]["scale"] == 1
    # a mirror image is far in dHash; with every stored image a candidate, only the right one is confirmed
    mirror = search(client, "friends_dogs__mirrored.jpg", verify="true", max_distance=64)
    assert mirror["candidates"] == 2 and mirror["rejected"] == 1
    (match,) = mirror["matches"]
    assert match["id"] == stored["id"] and match["mirrored"] and match["scale"] == pytest.approx(1, abs=0.02)
    assert "mirrored" in match["relation"]
    # k does not lift verification's threshold; a form field works as well as the query parameter
    response = client.post("/search", files={"file": sample("coffee.jpg")}, data={"verify": "true"}, params={"k": 1})
    assert response.json()["max_distance"] == CANDIDATE_DISTANCE and response.json()["k"] == 1


def test_a_server_may_store_no_features(make_client, monkeypatch):
    monkeypatch.setenv("DEDUPKIT_STORE_FEATURES", "false")
    client = make_client()
    add(client, sample("coffee.jpg"))
    assert client.get("/stats").json()["with_features"] == 0
    (match,) = search(client, "coffee__half_size.jpg", verify="true")["matches"]
    assert match["verified"] is None and "no features stored" in match["reason"]


def test_verified_searches_in_parallel_with_deletes_never_see_half_an_image(client):
    """Matches and their features are read in one snapshot: a match deleted meanwhile is simply absent."""
    half = (SAMPLE / "coffee__half_size.jpg").read_bytes()
    kept = add(client, sample("coffee.jpg"))["images"][0]
    answers, stop = [], threading.Event()

    def searcher() -> None:
        while not stop.is_set():
            response = client.post("/search", files={"file": ("half.jpg", half)}, params={"verify": "true"})
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(6):
            image = add(client, sample("coffee.jpg"))["images"][0]
            assert client.delete(f"/images/{image['id']}").status_code == 204
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert answers and all(status == 200 for status, _ in answers)
    assert all(kept["id"] in [m["id"] for m in body["matches"]] for _, body in answers)
    assert all(m["verified"] is True for _, body in answers for m in body["matches"])


def test_verify_threshold_scales_with_the_hash_length(make_client):
    client = make_client(hash_size=16)
    assert search(client, "coffee.jpg", verify="true")["max_distance"] == CANDIDATE_DISTANCE * 4


def test_features_are_stored_with_the_image_and_deleted_with_it(client, tmp_path):
    db = tmp_path / "images.db"
    stored = add(client, sample("coffee.jpg"))["images"][0]
    assert features_rows(db) == 1 and client.get("/stats").json()["with_features"] == 1
    # what is stored is what the library extracts from the file: keypoints exactly, the grey copy nearly
    kept = client.app.state.store.search(stored["hash"], features=True).features[stored["id"]]
    fresh = extract_features(SAMPLE / "coffee.jpg")
    assert np.array_equal(kept.xy, fresh.xy) and np.array_equal(kept.descriptors, fresh.descriptors)
    assert kept.grey.shape == fresh.grey.shape and kept.size == fresh.size == (600, 400)
    assert kept.scale == fresh.scale
    assert np.abs(kept.grey.astype(int) - fresh.grey).mean() < 1.5
    with pytest.raises(ValueError, match="features must be one per image"):
        client.app.state.store.add(facts(["00000000000000ff"]), features=[])
    # a failed request stores no features either
    bad = client.post("/images", files=[("files", sample("tulips.jpg")), ("files", sample("bad/truncated.jpg"))])
    assert bad.status_code == 422 and features_rows(db) == 1
    assert client.delete(f"/images/{stored['id']}").status_code == 204
    assert features_rows(db) == 0 and client.get("/stats").json()["with_features"] == 0


def test_stored_features_round_trip(tmp_path):
    fresh = extract_features(SAMPLE / "grace_hopper__exif_rotated.jpg")
    back = decode_features(encode_features(fresh))
    assert np.array_equal(back.xy, fresh.xy) and back.xy.dtype == np.float32
    assert np.array_equal(back.descriptors, fresh.descriptors) and back.descriptors.dtype == np.uint8
    assert (back.size, back.scale, back.grey.shape) == (fresh.size, fresh.scale, fresh.grey.shape)
    assert np.abs(back.grey.astype(int) - fresh.grey).max() < 40  # JPEG at quality 95


def test_a_plain_picture_has_no_keypoints_and_verify_still_answers(client):
    def png(value: int, fmt: str) -> bytes:
        out = io.BytesIO()
        Image.new("L", (64, 48), value).save(out, fmt)
        return out.getvalue()

    add(client, ("grey.png", png(128, "PNG")))
    assert client.get("/stats").json()["with_features"] == 1
    response = client.post("/search", files={"file": ("grey.gif", png(128, "GIF"))}, params={"verify": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    # the same plain picture, but nothing to match: the verifier cannot confirm it
    assert body["candidates"] == 1 and body["rejected"] == 1 and body["matches"] == []


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (300, 1)], ids=["1x1", "1x40", "300x1"])
def test_a_one_pixel_thin_image_is_stored_without_keypoints(client, size):
    """OpenCV's ORB fails on an image 1 pixel thin (its pyramid shrinks a side to 0): no keypoints, not a 500."""
    out = io.BytesIO()
    Image.new("L", size, 200).save(out, "PNG")
    stored = add(client, ("thin.png", out.getvalue()))["images"][0]
    assert (stored["width"], stored["height"]) == size
    assert client.get("/stats").json()["with_features"] == 1
    response = client.post("/search", files={"file": ("thin.png", out.getvalue())}, params={"verify": "true"})
    assert response.status_code == 200, response.text
    assert [(m["id"], m["verified"]) for m in response.json()["matches"]] == [(stored["id"], True)]  # same bytes


# The first schema, as dedupkit 0.1's service created it (before local features were stored).
SCHEMA_V1 = """
CREATE TABLE dedupkit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, sha256 TEXT NOT NULL, hash TEXT NOT NULL, method TEXT NOT NULL,
    hash_size INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, bytes INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX images_sha256 ON images (sha256);
INSERT INTO dedupkit_meta VALUES ('schema_version', '1'), ('method', 'dhash'), ('hash_size', '8');
"""


def old_database(path: Path, *names: str) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_V1)
        for name in names:
            row = hash_file(SAMPLE / name)
            db.execute("INSERT INTO images (name, sha256, hash, method, hash_size, width, height, bytes, created) "
                       "VALUES (?, ?, ?, 'dhash', 8, ?, ?, ?, '2025-01-01T00:00:00.000+00:00')",
                       (name, f"{len(name):064x}", row["hash"], row["width"], row["height"], 1000))
    db.close()
    return path


def test_an_old_database_without_features_opens_and_works(make_client, tmp_path):
    db = old_database(tmp_path / "old.db", "coffee.jpg", "rocket.jpg")
    client = make_client(db=db)
    assert (count(client), client.get("/stats").json()["with_features"]) == (2, 0)
    # an image stored before features cannot be checked: kept, with verified null and the reason
    old = search(client, "coffee__half_size.jpg", verify="true")
    assert old["candidates"] == 1 and old["rejected"] == 0
    (match,) = old["matches"]
    assert match["name"] == "coffee.jpg" and match["verified"] is None and "no features stored" in match["reason"]
    assert match["scale"] is None and match["relation"] is None
    # images added now get features, next to the old ones
    new = add(client, sample("coffee.jpg"))["images"][0]
    both = search(client, "coffee__half_size.jpg", verify="true")["matches"]
    assert [(m["name"], m["verified"]) for m in both] == [("coffee.jpg", None), ("coffee.jpg", True)]
    assert both[1]["id"] == new["id"]
    assert client.delete(f"/images/{new['id']}").status_code == 204 and client.delete("/images/1").status_code == 204
    with sqlite3.connect(db) as connection:
        version = connection.execute("SELECT value FROM dedupkit_meta WHERE key = 'schema_version'").fetchone()
    connection.close()
    assert version == ("2",)  # migrated in place


def test_a_database_from_a_newer_dedupkit_is_refused(tmp_path):
    db = old_database(tmp_path / "newer.db")
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE dedupkit_meta SET value = '3' WHERE key = 'schema_version'")
    connection.close()
    with pytest.raises(StoreError, match="schema version '3', this dedupkit reads versions 1 to 2"):
        ImageStore(db)


# -- bad input: a clear 4xx, never a 500, and nothing changes ----------------------

BAD_REQUESTS = [
    # (id, method, path, keyword arguments, status, words in detail)
    ("not-an-image", "post", "/images", {"files": [("files", sample("bad/notes.jpg"))]}, 422, "not an image"),
    ("text-file", "post", "/images", {"files": [("files", ("a.txt", b"hello, world"))]}, 422, "a.txt: not an image"),
    ("truncated", "post", "/images", {"files": [("files", sample("bad/truncated.jpg"))]}, 422, "truncated"),
    ("empty-file", "post", "/images", {"files": [("files", ("empty.jpg", b""))]}, 422, "empty.jpg: empty file"),
    ("one-bad-among-good", "post", "/images",
     {"files": [("files", sample("coffee.jpg")), ("files", sample("bad/truncated.jpg"))]}, 422, "truncated.jpg"),
    ("no-files", "post", "/images", {}, 422, "files (body): Field required"),
    ("over-pixel-limit", "post", "/images", {"files": [("files", ("big.png", png_header(8000, 8000)))]}, 422,
     "64,000,000 pixels (8000x8000), over the limit of 50,000,000"),
    ("decompression-bomb", "post", "/images", {"files": [("files", ("bomb.png", png_header(100_000, 100_000)))]},
     422, "too large to open safely"),
    ("over-size-limit", "post", "/images", {"files": [("files", ("big.jpg", bytes(LIMIT + 1)))]}, 413,
     "over the limit of 1,000,000 bytes"),
    ("max-distance-too-high", "post", "/images", {"files": [("files", sample("coffee.jpg"))],
                                                  "params": {"max_distance": 65}}, 422, "between 0 and 64"),
    ("max-distance-negative", "post", "/images", {"files": [("files", sample("coffee.jpg"))],
                                                  "params": {"max_distance": -1}}, 422, "between 0 and 64"),
    ("max-distance-not-a-number", "post", "/images", {"files": [("files", sample("coffee.jpg"))],
                                                      "params": {"max_distance": "ten"}}, 422, "valid integer"),
    ("search-max-distance", "post", "/search", {"data": {"hash": "f3e96933160b1b36"}, "params": {"max_distance": 65}},
     422, "between 0 and 64"),
    ("search-bad-hex", "post", "/search", {"data": {"hash": "not-hex-at-all!!"}}, 422, "must be 16 hex digits"),
    ("search-short-hash", "post", "/search", {"data": {"hash": "f3e9"}}, 422, "must be 16 hex digits"),
    ("search-k-zero", "post", "/search", {"data": {"hash": "f3e96933160b1b36"}, "params": {"k": 0}}, 422,
     "k (query)"),
    ("search-neither", "post", "/search", {}, 422, "not neither"),
    ("search-both", "post", "/search", {"files": {"file": sample("coffee.jpg")}, "data": {"hash": "f3e96933160b1b36"}},
     422, "not both"),
    ("search-not-an-image", "post", "/search", {"files": {"file": sample("bad/notes.jpg")}}, 422, "not an image"),
    ("verify-a-hash", "post", "/search", {"data": {"hash": "f3e96933160b1b36", "verify": "true"}}, 422,
     "a hash alone has no local features"),
    ("verify-a-hash-by-query", "post", "/search", {"data": {"hash": "f3e96933160b1b36"}, "params": {"verify": 1}},
     422, "verify=true needs the image (multipart field 'file')"),
    ("verify-not-a-boolean", "post", "/search",
     {"files": {"file": sample("coffee.jpg")}, "params": {"verify": "maybe"}}, 422,
     "verify (query): Input should be a valid boolean"),
    ("verify-form-not-a-boolean", "post", "/search", {"files": {"file": sample("coffee.jpg")},
                                                      "data": {"verify": "2"}}, 422, "verify (body): Input should be"),
    ("verify-given-twice", "post", "/search", {"files": {"file": sample("coffee.jpg")}, "data": {"verify": "false"},
                                               "params": {"verify": "true"}}, 422, "verify given twice"),
    ("verify-max-distance", "post", "/search", {"files": {"file": sample("coffee.jpg")},
                                                "params": {"verify": "true", "max_distance": 65}}, 422,
     "between 0 and 64"),
    ("search-hash-with-spaces", "post", "/search", {"data": {"hash": "f3 e96933160b1b3"}}, 422,
     "must be 16 hex digits"),
    ("search-hash-padded", "post", "/search", {"data": {"hash": " f3e96933160b1b36"}}, 422, "must be 16 hex digits"),
    ("get-unknown-id", "get", "/images/999", {}, 404, "no image with id 999"),
    ("get-largest-id", "get", f"/images/{2**63 - 1}", {}, 404, f"no image with id {2**63 - 1}"),
    ("get-bad-id", "get", "/images/abc", {}, 422, "image_id (path)"),
    # ids are SQLite row ids, 1 to 2**63 - 1: an integer outside is no id at all (422, like "abc"), not a 500
    ("get-id-over-64-bits", "get", f"/images/{2**63}", {}, 422, "image_id (path): Input should be less than"),
    ("get-id-zero", "get", "/images/0", {}, 422, "image_id (path): Input should be greater than"),
    ("get-id-negative", "get", f"/images/{-2**63 - 1}", {}, 422, "image_id (path)"),
    ("delete-unknown-id", "delete", "/images/999", {}, 404, "no image with id 999"),
    ("delete-id-over-64-bits", "delete", f"/images/{2**64 + 5}", {}, 422, "image_id (path)"),
    ("list-limit-zero", "get", "/images", {"params": {"limit": 0}}, 422, "limit (query)"),
    ("list-offset-over-64-bits", "get", "/images", {"params": {"offset": 2**63}}, 422,
     "offset (query): Input should be less than or equal to 9223372036854775807"),
    ("unknown-path", "get", "/nowhere", {}, 404, "Not Found"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "words"), [case[1:] for case in BAD_REQUESTS],
                         ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(client, method, path, kwargs, status, words):
    add(client, sample("camera.jpg"))
    before = client.get("/images").json()
    response = client.request(method.upper(), path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["detail"]
    assert client.get("/images").json() == before


def test_a_chunked_upload_over_the_limit_is_refused(client):
    def body():
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        for _ in range(2 * LIMIT // 65536):
            yield b"\0" * 65536

    response = client.post("/images", content=body(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and "over the limit" in response.json()["detail"]
    assert count(client) == 0


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "chunked"])
def test_the_size_limit_stops_reading_the_body(client, announce):
    """The app reads at most one chunk past the limit, and none at all when Content-Length is over it."""
    chunk, chunks_read = 64 * 1024, 0
    headers = [(b"content-type", b"multipart/form-data; boundary=x")]
    if announce:
        headers.append((b"content-length", str(100 * chunk).encode()))
    sent = []

    opening = b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        body = opening.ljust(chunk, b"\0") if chunks_read == 1 else b"\0" * chunk
        return {"type": "http.request", "body": body, "more_body": chunks_read < 100}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/images", "raw_path": b"/images", "query_string": b"", "headers": headers,
             "server": ("test", 80), "client": ("test", 1), "root_path": "", "app": client.app}
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert chunks_read == (0 if announce else LIMIT // chunk + 1)


def test_an_unexpected_error_is_a_json_500(tmp_path):
    class BrokenStore:
        def search(self, *args, **kwargs):
            raise RuntimeError("disk on fire")

    app = create_app(Settings(db=tmp_path / "s.db"))
    app.dependency_overrides[get_store] = BrokenStore
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/search", data={"hash": "f3e96933160b1b36"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error; the server log has the details"}


# -- token -----------------------------------------------------------------------


def test_a_token_guards_every_endpoint_but_health(make_client):
    client = make_client(token=TOKEN)
    good, wrong = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer s3cret-tokem"}
    assert client.get("/health").status_code == 200
    attempts = [("GET", "/stats", {}), ("GET", "/images", {}), ("GET", "/images/1", {}), ("DELETE", "/images/1", {}),
                ("POST", "/images", {"files": [("files", sample("coffee.jpg"))]}),
                ("POST", "/search", {"data": {"hash": "f3e96933160b1b36"}})]
    for method, path, kwargs in attempts:
        for headers in ({}, wrong, {"Authorization": f"Basic {TOKEN}"}):
            response = client.request(method, path, headers=headers, **kwargs)
            assert response.status_code == 401, (method, path, headers)
            assert "token" in response.json()["detail"] and response.headers["www-authenticate"].startswith("Bearer")
    assert count(client, **good) == 0
    assert client.post("/images", files=[("files", sample("coffee.jpg"))], headers=good).status_code == 201
    assert count(client, **good) == 1


# -- settings ----------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DEDUPKIT_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("DEDUPKIT_MAX_DISTANCE", "4")
    monkeypatch.setenv("DEDUPKIT_TOKEN", TOKEN)
    monkeypatch.setenv("DEDUPKIT_MAX_UPLOAD_BYTES", "1000")
    settings = Settings()
    assert (settings.db, settings.max_distance, settings.max_upload_bytes) == (tmp_path / "env.db", 4, 1000)
    assert settings.token.get_secret_value() == TOKEN and TOKEN not in repr(settings)
    assert Settings(max_distance=6).max_distance == 6  # arguments win
    monkeypatch.setenv("DEDUPKIT_TOKEN", "")
    assert Settings().token is None


@pytest.mark.parametrize(("values", "words"), [
    ({"max_distance": 65}, "between 0 and 64"),
    ({"method": "md5"}, "not supported"),
    ({"hash_size": 5}, "whole number of bytes"),
    ({"max_upload_bytes": 0}, "greater than or equal to 1"),
], ids=["distance", "method", "hash-size", "upload-limit"])
def test_bad_settings_are_refused(values, words):
    with pytest.raises(ValidationError, match=words):
        Settings(**values)


# -- the store -----------------------------------------------------------------------


def facts(hashes: list[str]) -> list[ImageFacts]:
    return [ImageFacts(name=f"{i}.jpg", sha256=f"{i:064x}", hash=h, width=1, height=1, bytes=1)
            for i, h in enumerate(hashes)]


def test_store_search_agrees_with_brute_force(tmp_path):
    rng = np.random.default_rng(4)
    stored = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    stored[100:150] = stored[:50] ^ (rng.random((50, 8)) < 0.05)  # some near copies
    queries = np.concatenate([stored[:20] ^ (rng.random((20, 8)) < 0.04), rng.integers(0, 256, (5, 8), dtype=np.uint8)])
    with ImageStore(tmp_path / "s.db") as store:
        ids = [s.id for s, _ in store.add(facts([row.tobytes().hex() for row in stored]))]
        for query in queries:
            distances = hamming(stored, query)
            for max_distance in (0, 6, 20):
                found = store.search(query.tobytes().hex(), max_distance=max_distance, limit=1000)
                expected = sorted((int(d), ids[i]) for i, d in enumerate(distances) if d <= max_distance)
                assert [(m.distance, m.id) for m in found.matches] == expected
            nearest = store.search(query.tobytes().hex(), max_distance=None, k=5)
            assert [m.distance for m in nearest.matches] == sorted(int(d) for d in distances)[:5]


def test_store_returns_its_own_records_not_api_schemas(tmp_path):
    with ImageStore(tmp_path / "s.db") as store:
        (stored, found), (again, near) = store.add(facts(["00000000000000ff", "00000000000000fe"]), max_distance=4)
        records = [stored, again, store.get(stored.id), *store.list()[0], *near.matches,
                   *store.search("00000000000000ff", max_distance=4).matches]
        assert [type(r) for r in records] == [ImageRecord] * 5 + [MatchRecord] * 3
        assert store.get(stored.id) == stored  # what add answered is what was stored, to the millisecond
        assert near.matches == [MatchRecord(stored.id, "0.jpg", 1, False)]
        assert dataclasses.asdict(stored)["created"].tzinfo is not None
        assert store.index_kind == "dedupkit.HashIndex"


def test_store_ids_and_offsets_beyond_sqlite_integers(tmp_path):
    with ImageStore(tmp_path / "s.db") as store:
        (stored, _), = store.add(facts(["00000000000000ff"]))
        for image_id in (0, -1, MAX_INTEGER, MAX_INTEGER + 1, 2**80, -(2**80)):
            assert store.get(image_id) is None and store.delete(image_id) is False
        assert store.list(offset=MAX_INTEGER) == ([], 1) and store.list(offset=2**80) == ([], 1)
        assert store.list(limit=2**80) == ([stored], 1)
        with pytest.raises(ValueError, match="offset must be a whole number >= 0, got -1"):
            store.list(offset=-1)
        with pytest.raises(TypeError, match="an image id must be an integer, got '1'"):
            store.get("1")
        assert len(store) == 1


def test_store_survives_a_restart(tmp_path):
    path = tmp_path / "s.db"
    with ImageStore(path) as store:
        kept, gone = (s.id for s, _ in store.add(facts(["00000000000000ff", "000000000000ffff"])))
        store.delete(gone)
    with ImageStore(path) as store:
        assert len(store) == 1 and store.get(kept).hash == "00000000000000ff" and store.get(gone) is None
        assert [m.id for m in store.search("00000000000000ff", max_distance=64).matches] == [kept]
        assert [s.id for s, _ in store.add(facts(["ffffffffffffffff"]))] == [gone + 1]


def test_a_database_refuses_another_method_or_hash_size(tmp_path, make_client, capsys):
    path = tmp_path / "s.db"
    ImageStore(path, method="dhash", hash_size=8).close()
    for method, hash_size in (("phash", 8), ("dhash", 16)):
        with pytest.raises(StoreError, match="was created with method=dhash, hash_size=8; this server is set to"):
            ImageStore(path, method=method, hash_size=hash_size)
    with pytest.raises(StoreError, match="created with method=dhash"):
        make_client(db=path, method="phash")
    assert main(["serve", "--db", str(path), "--hash-size", "16", "--port", "1"]) == 2
    assert "created with method=dhash, hash_size=8" in capsys.readouterr().err


def test_serve_refuses_bad_settings_before_starting(tmp_path, capsys):
    assert main(["serve", "--db", str(tmp_path / "s.db"), "--max-distance", "65", "--port", "1"]) == 2
    assert "invalid settings: max_distance must be a whole number between 0 and 64" in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("192.168.1.20", False), ("example.org", False)])
def test_serve_knows_a_loopback_address(host, loopback):
    assert _is_loopback(host) is loopback


def test_the_app_serves_a_store_opened_beforehand_and_closes_it(tmp_path):
    store = ImageStore(tmp_path / "opened.db")  # empty: its length is 0, and it must still be used
    with TestClient(create_app(Settings(db=tmp_path / "unused.db"), store=store)) as client:
        add(client, sample("coffee.jpg"))
        assert len(store) == 1
    assert not (tmp_path / "unused.db").exists()
    ImageStore(tmp_path / "opened.db").close()  # the app closed it, so it can be opened again


def test_a_file_that_is_not_a_dedupkit_database_is_refused(tmp_path):
    (tmp_path / "notes.db").write_text("not a database, just some text that is long enough " * 10)
    with pytest.raises(StoreError, match="notes.db: cannot open the database"):
        ImageStore(tmp_path / "notes.db")
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(StoreError, match="not one made by dedupkit"):
        ImageStore(other)


def test_one_server_per_database(tmp_path):
    with ImageStore(tmp_path / "s.db"):
        with pytest.raises(StoreError, match="in use by another dedupkit server"):
            ImageStore(tmp_path / "s.db")
    ImageStore(tmp_path / "s.db").close()  # free again once closed


# -- concurrency ---------------------------------------------------------------------


def test_parallel_uploads_are_all_stored_and_each_sees_those_before_it(client):
    data = (SAMPLE / "coffee.jpg").read_bytes()
    start = threading.Barrier(16)
    answers: list[dict] = []

    def upload(i: int) -> None:
        start.wait()
        response = client.post("/images", files=[("files", (f"{i}.jpg", data))])
        answers.append(response.json()["images"][0])

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = sorted(answer["id"] for answer in answers)
    assert len(answers) == 16 and len(set(ids)) == 16
    assert count(client) == 16 and len(client.app.state.store) == 16
    # uploads are checked and stored one at a time: each saw exactly the ones stored before it
    for answer in answers:
        assert sorted(m["id"] for m in answer["matches"]) == [i for i in ids if i < answer["id"]]
    found = client.post("/search", files={"file": ("q.jpg", data)}).json()["matches"]
    assert sorted(m["id"] for m in found) == ids
