"""The real server: `dedupkit serve` in a subprocess on 127.0.0.1.

Killed with SIGKILL and started again; checked against its own OpenAPI
document by schemathesis; its API docs driven in headless Chromium, offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TOKEN = "server-test-token"
#: Debian's chromium (`make install` puts it there); playwright drives it and never downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(name: str, module: str) -> list[str]:
    """The installed script ``name`` next to this Python, else the same entry point by module."""
    script = shutil.which(name, path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", module]


def dedupkit_command() -> list[str]:
    return command("dedupkit", "dedupkit.cli")


def start(db: Path, port: int, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUPKIT_")} | {"DEDUPKIT_TOKEN": TOKEN}
    server = subprocess.Popen([*dedupkit_command(), "serve", "--port", str(port), "--db", str(db),
                               "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.flush()
            raise AssertionError(f"dedupkit serve exited with {server.returncode}:\n{Path(log.name).read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    log.flush()
    raise AssertionError(f"dedupkit serve did not answer /health within 60 s:\n{Path(log.name).read_text()}")


def kill(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    """A `dedupkit serve` with a token on a free loopback port and a fresh database: its URL."""
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        process = start(tmp_path / "service.db", port, log)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            kill(process)


def test_an_answered_upload_survives_kill_9(tmp_path):
    db, port = tmp_path / "service.db", free_port()
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    coffee = (SAMPLE / "coffee.jpg").read_bytes()
    with open(tmp_path / "server.log", "wb") as log:
        server = start(db, port, log)
        try:
            with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
                assert httpx.get(f"{url}/stats").status_code == 401  # the token from the environment is in force
                rocket = (SAMPLE / "rocket.jpg").read_bytes()
                files = [("files", ("coffee.jpg", coffee)), ("files", ("rocket.jpg", rocket))]
                response = client.post("/images", files=files)
                assert response.status_code == 201, response.text
                stored = response.json()["images"][0]
        finally:
            kill(server)  # no shutdown, no lifespan exit: only what was committed is left

        server = start(db, port, log)
        try:
            with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
                assert client.get("/stats").json()["count"] == 2
                again = client.post("/images", files=[("files", ("again.jpg", coffee))]).json()["images"][0]
                assert again["exact_duplicate"] and again["id"] != stored["id"]
                assert {"id": stored["id"], "name": "coffee.jpg", "distance": 0, "exact": True} in again["matches"]
                half = (SAMPLE / "coffee__half_size.jpg").read_bytes()
                near = client.post("/search", files={"file": ("half.jpg", half)})
                assert stored["id"] in [m["id"] for m in near.json()["matches"]]
                # its local features were committed with it: a verified search confirms it
                verified = client.post("/search", files={"file": ("half.jpg", half)}, data={"verify": "true"}).json()
                confirmed = [(m["id"], m["verified"]) for m in verified["matches"]]
                assert confirmed == [(stored["id"], True), (again["id"], True)]

                # 16 parallel uploads through uvicorn's thread pool: all stored, ids distinct
                def upload(i: int) -> int:
                    response = client.post("/images", files=[("files", (f"{i}.jpg", coffee))])
                    assert response.status_code == 201, response.text
                    return response.json()["images"][0]["id"]

                with ThreadPoolExecutor(16) as pool:
                    ids = list(pool.map(upload, range(16)))
                assert len(set(ids)) == 16
                assert client.get("/stats").json()["count"] == 2 + 1 + 16
        finally:
            kill(server)


# -- the OpenAPI document against the endpoints ----------------------------------------------------

#: Test cases per operation and phase: the test takes 9 s on this 2-core machine, 19 s with two busy loops beside it.
SCHEMATHESIS_EXAMPLES = 25


#: Every check, and every warning fails the run. A JSON Schema cannot say that an upload's bytes must be an image
#: (nor that ``verify`` given both in the query and the form must agree), so for the two upload operations a 422
#: with the reason is an acceptable answer to a request the schema allows; everywhere else it is not.
SCHEMATHESIS_CONFIG = """\
[warnings]
fail-on = true

[[operations]]
include-path-regex = "^/(images|search)$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2XX", "401", "422"]
"""


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(server, tmp_path):
    """schemathesis's coverage, fuzzing and stateful phases, bounded, against the real server, with every check.

    Any 5xx fails, and so does a status or a body the document does not
    describe (401 without the token, 400 for a body that is not multipart,
    422 as the app words it), and any warning: an operation that rejects
    every case its schema allows, or 404s every id. The stateful phase follows
    POST /images to GET and DELETE /images/{image_id} with the ids it returned.
    """
    config = tmp_path / "schemathesis.toml"  # given explicitly: no schemathesis.toml of the caller's is read
    config.write_text(SCHEMATHESIS_CONFIG)
    report = tmp_path / "schemathesis.json"
    result = subprocess.run(
        [*command("schemathesis", "schemathesis.cli"), "--config-file", str(config), "--no-color", "run",
         f"{server}/openapi.json", "--checks", "all", "--header", f"Authorization: Bearer {TOKEN}",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(SCHEMATHESIS_EXAMPLES),
         "--seed", "10", "--workers", "1", "--generation-database", "none", "--request-timeout", "30",
         "--report", "json", "--report-json-path", str(report)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, output
    run = json.loads(report.read_text())
    assert run["complete"] and not run["failures"] and not run["errors"], output
    assert {name: found for name, found in run["warnings"].items() if found} == {}, output
    assert {phase: state["status"] for phase, state in run["phases"].items()} == {
        "examples": "skip", "coverage": "success", "fuzzing": "success", "stateful": "success"}, output
    assert run["operations"]["tested"] == run["operations"]["total"] == 7
    # every operation accepted some of what its schema allows: real uploads were stored and found by their ids
    accepted = {name: sum(rate["accepted"] for rate in phases.values()) for name, phases in run["valid_rates"].items()}
    assert len(accepted) == 7 and min(accepted.values()) > 0, accepted
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", result.stdout)
    assert links and int(links[1]) == int(links[2]) >= 2, output


# -- the API docs, offline, in a browser -----------------------------------------------------------


def test_the_docs_work_offline_and_try_it_out_uploads(server, tmp_path):
    """/docs renders with no request leaving 127.0.0.1, and "Try it out" adds two files and searches one."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []

    def loopback_only(route):
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", loopback_only)
            page.goto(f"{server}/docs")
            page.wait_for_selector("#operations-images-add_images_images_post", timeout=30_000)

            page.get_by_role("button", name="Authorize").first.click()
            page.locator(".auth-container input").fill(TOKEN)
            page.locator(".auth-container button.authorize").click()
            page.locator("button.btn-done").click()

            add = page.locator("#operations-images-add_images_images_post")
            add.locator(".opblock-summary").click()
            add.locator("button.try-out__btn").click()
            add.get_by_role("button", name="Add string item").click()
            pickers = add.locator("input[type=file]")
            assert pickers.count() == 2  # a file picker for each file
            pickers.nth(0).set_input_files(SAMPLE / "coffee.jpg")
            pickers.nth(1).set_input_files(SAMPLE / "tulips.jpg")
            added = answer(add)

            search = page.locator("#operations-search-search_search_post")
            search.locator(".opblock-summary").click()
            search.locator("button.try-out__btn").click()
            assert search.locator("input[placeholder=hash]").input_value() == ""  # no hash beside the file
            search.locator("input[type=file]").set_input_files(SAMPLE / "coffee__half_size.jpg")
            found = answer(search)
            page.screenshot(path=tmp_path / "docs.png", full_page=True)
        finally:
            browser.close()
    assert elsewhere == []
    assert added[0] == "201" and [image["name"] for image in added[1]["images"]] == ["coffee.jpg", "tulips.jpg"]
    coffee = added[1]["images"][0]["id"]
    assert found[0] == "200" and [m["id"] for m in found[1]["matches"]] == [coffee]
    stored = httpx.get(f"{server}/images", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert stored["total"] == 2


def answer(operation) -> tuple[str, dict]:
    """Press Execute on an opened Swagger UI operation: the status and JSON body of the live response."""
    operation.locator("button.execute").click()
    row = operation.locator(".live-responses-table tbody tr.response")
    row.wait_for(timeout=60_000)
    status = row.locator(".response-col_status").inner_text().strip()
    return status, json.loads(row.locator(".response-col_description pre").first.inner_text())
