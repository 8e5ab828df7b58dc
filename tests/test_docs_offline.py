"""/docs works on a closed network: the service serves Swagger UI's assets itself, and Chromium renders it."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import pytest

from services.common.settings import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served_api(database_url: str) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "services.api.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health/live", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the API did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_docs_assets_are_local(served_api: str) -> None:
    page = httpx.get(f"{served_api}/docs").text
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static-offline-docs/{asset}" in page
        assert httpx.get(f"{served_api}/static-offline-docs/{asset}").status_code == 200
    assert "/static-offline-docs/redoc.standalone.js" in httpx.get(f"{served_api}/redoc").text


def test_docs_render_in_headless_chromium(served_api: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed (make system-deps installs it)"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                f"{served_api}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    # Swagger UI rendered the operations from the service's own OpenAPI document.
    assert 'class="opblock-summary-path" data-path="/api/v1/measures"' in dom
    assert "List, filter, sort and page measures" in dom
    assert "Health plans registry API" in dom
