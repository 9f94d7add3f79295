"""Real Google Cloud Storage and Azure Blob servers on loopback for tests: gcp-storage-emulator and Azurite.

``GcsEmulator`` runs ``gcp-storage-emulator`` (PyPI, pure Python, the JSON API
gcsfs speaks) in memory on a free port of 127.0.0.1; it does not check
credentials. ``Azurite`` runs Microsoft's Azurite blob service (npm, installed
by ``make install`` under ``.venv/node``) in memory; it checks the shared-key
signature of every request, with the well-known development account.

Each class finds its program or says where it should be (:func:`missing`), so
a test can skip with that reason when it is absent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from s3server import LoopbackServer, free_port

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's development account (public, documented by Microsoft for the emulator)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _gcs_program() -> str | None:
    beside = Path(sys.executable).with_name("gcp-storage-emulator")
    return str(beside) if beside.exists() else shutil.which("gcp-storage-emulator")


def _azurite_program() -> str | None:
    return str(AZURITE) if AZURITE.exists() else shutil.which("azurite-blob")


def missing(kind: str) -> str | None:
    """Why the emulator of ``kind`` ("gcs" or "azure") cannot run here, or ``None`` if it can."""
    if kind == "gcs":
        if _gcs_program() is None:
            return "gcp-storage-emulator is not installed (pip install gcp-storage-emulator, or make install)"
        return None
    if _azurite_program() is None:
        return f"Azurite is not installed at {AZURITE} (make install runs npm install azurite there)"
    if shutil.which("node") is None:
        return "Azurite needs node, which is not on PATH (apt-get install nodejs npm)"
    return None


def _wait(process: subprocess.Popen, port: int, name: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start on 127.0.0.1:{port}") from None
            time.sleep(0.1)


class GcsEmulator(LoopbackServer):
    """gcp-storage-emulator on a free port of 127.0.0.1, in memory; ``storage_options()`` reach it with gcsfs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [_gcs_program(), "start", "--host", "127.0.0.1", "--port", str(self.port), "--in-memory"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            _wait(self._process, self.port, "gcp-storage-emulator")
        except BaseException:
            self.stop()
            raise

    def storage_options(self) -> dict:
        return {"endpoint_url": self.endpoint, "token": "anon", "project": "dedupkit-test"}

    def upload(self, bucket: str, folder: Path, prefix: str = "") -> None:
        import gcsfs

        fs = gcsfs.GCSFileSystem(**self.storage_options(), skip_instance_cache=True)
        if not fs.exists(bucket):
            fs.mkdir(bucket)
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                fs.pipe_file(f"{bucket}/{prefix}{path.relative_to(folder).as_posix()}", path.read_bytes())


class Azurite(LoopbackServer):
    """Azurite's blob service on a free port of 127.0.0.1, in memory; shared-key signatures checked."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"
        self._process = subprocess.Popen(
            [_azurite_program(), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
             "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "AZURITE_ACCOUNTS": ""},
        )
        try:
            _wait(self._process, self.port, "Azurite")
        except BaseException:
            self.stop()
            raise

    def storage_options(self, *, key: str = AZURITE_KEY) -> dict:
        return {"connection_string": f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                                     f"AccountKey={key};BlobEndpoint={self.endpoint};"}

    def upload(self, container: str, folder: Path, prefix: str = "") -> None:
        import adlfs

        fs = adlfs.AzureBlobFileSystem(**self.storage_options(), skip_instance_cache=True)
        if not fs.exists(container):
            fs.mkdir(container)
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                fs.pipe_file(f"{container}/{prefix}{path.relative_to(folder).as_posix()}", path.read_bytes())
