"""A source system whose connection drops in the middle of a bulk upload of indicator actuals, against a real server
process: nothing is stored, the batch id stays free, and the server takes it as the client's doing (no unhandled
error logged as a 500)."""

import asyncio
import socket
import time
from typing import Any

import asyncpg
import httpx

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers

CSV_HEAD = b"indicator,year,value\n"


def _cut_off(url: str, token: str, batch_id: str, content_type: str, body: bytes, *, chunked: bool) -> None:
    """Send the headers and part of the body (a declared length far beyond it, or an unfinished chunked body), then
    drop the connection."""
    host, port = url.removeprefix("http://").split(":")
    path = f"/api/v1/bulk/indicator-actuals?batch_id={batch_id}&mode=per_row&source=stat"
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body) * 50}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
        f"Content-Type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + (f"{len(body):x}\r\n".encode() + body + b"\r\n" if chunked else body))
        time.sleep(0.3)


async def test_an_upload_cut_off_midway_stores_nothing_and_is_no_server_error(
    api_server: Any, live_database: str
) -> None:
    dsn = plain_dsn(live_database)
    headers = await committed_headers(dsn, Role.integration, subject="test:cut-off-uploader", source_system="stat")
    log_before = len(api_server.log())
    csv = CSV_HEAD + b"46,2024,19.5\n" * 20_000
    jsonl = b'{"indicator": "46", "year": "2024", "value": "19.5"}\n' * 5_000
    sent = [
        ("cut-csv", "text/csv", csv, False),
        ("cut-csv-chunked", "text/csv", csv, True),
        ("cut-jsonl", "application/x-ndjson", jsonl, False),
        ("cut-jsonl-chunked", "application/x-ndjson", jsonl, True),
    ]
    for batch_id, content_type, body, chunked in sent:
        _cut_off(api_server.url, headers["Authorization"], batch_id, content_type, body, chunked=chunked)
    await asyncio.sleep(1.0)

    log = api_server.log()[log_before:]
    assert "unhandled error" not in log, log
    conn = await asyncpg.connect(dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM indicator_actual_batch WHERE batch_id LIKE 'cut-%'")
    finally:
        await conn.close()
    assert stored == 0
    # The batch id is still free: sent whole, the same upload is taken in.
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60) as client:
        whole = await client.post(
            "/api/v1/bulk/indicator-actuals",
            params={"batch_id": "cut-csv", "mode": "per_row", "source": "stat"},
            content=CSV_HEAD + b"46,2024,19.5\n",
            headers={**headers, "Content-Type": "text/csv"},
        )
    assert whole.status_code == 200, whole.text
    assert whole.json()["duplicate"] is False
    assert whole.json()["rows_accepted"] == 1
