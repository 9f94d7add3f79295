"""The real server: `dedupkit serve` in a subprocess, killed with SIGKILL, started again."""

from __future__ import annotations

import os
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

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dedupkit_command() -> list[str]:
    """The installed `dedupkit` script next to this Python, else the same entry point by module."""
    script = shutil.which("dedupkit", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "dedupkit.cli"]


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
