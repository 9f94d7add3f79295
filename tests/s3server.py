"""A real S3-compatible server on loopback for tests and benchmarks: moto in server mode, with credentials checked.

``S3Server`` starts moto's S3 application on a free port of 127.0.0.1 with
IAM authentication on (``INITIAL_NO_AUTH_ACTION_COUNT``): the first three
requests create a user, its access key and an allow-all policy; every request
after them must be signed with that key, so a wrong secret is refused with 403
as by AWS. ``FlakyProxy`` sits in front of it and answers the first ``n``
GETs of each object with ``503 SlowDown``, as a throttled bucket does.

The application is served by uvicorn (``python tests/s3server.py PORT``), not
by ``python -m moto.server``: Werkzeug's development server answers every
request with ``Connection: close``, so each GET would open a new TCP
connection (connect, name look-up, close on both sides, about 0.5 ms of CPU
in the client alone), which no real object store imposes; uvicorn keeps
connections alive as S3 does.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackServer:
    """A server in its own process (``_process``), stopped on leaving a ``with`` block."""

    _process: subprocess.Popen

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class S3Server(LoopbackServer):
    """moto's S3 server in its own process; ``storage_options`` reach it with valid credentials.

    ``auth=False``: credentials are not checked (no IAM look-up per request).
    """

    def __init__(self, *, auth: bool = True) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "1"}
        if auth:  # else any key is taken (cheaper per request: for benchmarks)
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            env.pop(name, None)
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            self._wait()
            self.key, self.secret = self._make_user()
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._process.pid

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on {self.endpoint}") from None
                time.sleep(0.1)

    def _make_user(self) -> tuple[str, str]:
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="dedupkit")
        key = iam.create_access_key(UserName="dedupkit")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="dedupkit", PolicyName="all", PolicyDocument=json.dumps(policy))
        return key["AccessKeyId"], key["SecretAccessKey"]

    def storage_options(self, *, endpoint: str | None = None, secret: str | None = None, **extra) -> dict:
        """s3fs options for this server (or a proxy in front of it), with the right secret unless told."""
        return {"key": self.key, "secret": secret or self.secret,
                "client_kwargs": {"endpoint_url": endpoint or self.endpoint, "region_name": REGION}, **extra}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.key, aws_secret_access_key=self.secret)

    def upload(self, bucket: str, folder: Path, prefix: str = "") -> list[str]:
        """Create ``bucket`` (if needed) and put every file under ``folder`` in it; return the keys."""
        client = self.client()
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        keys = []
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                key = prefix + path.relative_to(folder).as_posix()
                client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                keys.append(key)
        return keys



class FlakyProxy:
    """An HTTP proxy to ``target`` answering the first ``failures`` GETs of each object with 503 SlowDown."""

    def __init__(self, target_port: int, failures: int) -> None:
        self.failures = failures
        self.failed: dict[str, int] = {}
        self.requests: collections.Counter = collections.Counter()  # by method
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                path = self.path.split("?", 1)[0]
                with proxy.lock:
                    proxy.requests[self.command] += 1
                is_object = self.command == "GET" and path.strip("/").count("/") >= 1
                if is_object:
                    with proxy.lock:
                        seen = proxy.failed.get(path, 0)
                        fail = seen < proxy.failures
                        if fail:
                            proxy.failed[path] = seen + 1
                    if fail:
                        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                                b"<Message>Please reduce your request rate.</Message></Error>")
                        self.send_response(503)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    # a HEAD answer has no body but the object's length, as the server said
                    length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                    self.send_header("Content-Length", length if length is not None else str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _serve(port: int) -> None:
    """Serve moto's application (every service, S3 included) on 127.0.0.1:``port`` with keep-alive connections."""
    import uvicorn
    from moto.server import DomainDispatcherApplication, create_backend_app
    from uvicorn.middleware.wsgi import WSGIMiddleware

    os.environ.setdefault("MOTO_PORT", str(port))  # as python -m moto.server sets it
    app = DomainDispatcherApplication(create_backend_app)
    uvicorn.run(WSGIMiddleware(app, workers=8), host="127.0.0.1", port=port, log_level="warning",
                timeout_keep_alive=60)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
