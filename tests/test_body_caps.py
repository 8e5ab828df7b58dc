"""Bounded request bodies: a cap per body for every route but the bulk uploads (chunked bodies included), and for
bulk uploads a cap per upload and per line, set in the settings; all answered 413 problem+json naming the limit.
Refusing a huge line does not stall the event loop."""

import asyncio
import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.api.bulk.stream import Digest
from services.common.auth import Role
from services.common.errors import DomainError
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers
from tests.live import API_APP, LiveServer, serve
from tests.registry.test_write_api import CANCER, new_measure

EV_HEADER = b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
EV_LINE = b"710000000,cardiology,2026-01,812,20,0,6450\n"
UPLOADS = {
    "executed-volumes": EV_HEADER,
    "invoices": b"contract_id,month,presented,accepted\n",
    "reference-statistics": b"region,year,code,value\n",
}


# ------------------------------------------------------------------------------------------------ the line cap


def _feed(chunks: list[bytes], max_line: int) -> str | None:
    digest = Digest(max_line=max_line)
    try:
        for chunk in chunks:
            digest.update(chunk)
    except DomainError as exc:
        assert exc.status_code == 413 and f"{max_line} bytes" in exc.detail
        return "413"
    return None


@pytest.mark.parametrize(
    ("chunks", "refused"),
    [
        ([b"12345\n123\n12345"], None),  # lines of 5, 3 and an unended 5
        ([b"123456\n"], "413"),  # one line over the cap
        ([b"12\n1234", b"56\n1"], "413"),  # a line over the cap across chunks
        ([b"1\n123456\n1"], "413"),  # a line over the cap wholly inside one chunk
        ([b"12345\r\n12345\n"], "413"),  # a CR is a byte of its line
        ([b"123", b"45", b"\n12345", b"\n"], None),
        ([b"123", b"45", b"6"], "413"),  # an unended line over the cap
    ],
)
def test_the_line_cap_counts_every_line_however_it_is_chunked(chunks: list[bytes], refused: str | None) -> None:
    assert _feed(chunks, max_line=5) == refused


# ------------------------------------------------------------------------------------------------ live servers


@pytest.fixture(scope="module")
def uploader(live_database: str) -> dict[str, str]:
    """An integration account of the live database (the bulk uploads are theirs)."""
    return asyncio.run(committed_headers(plain_dsn(live_database), Role.integration, subject="test:caps-uploader"))


@pytest.fixture(scope="module")
def admin(live_database: str) -> dict[str, str]:
    return asyncio.run(committed_headers(plain_dsn(live_database), Role.ministry_admin, subject="test:caps-admin"))


def _chunked(body: bytes, size: int = 65536) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length), as a client streaming it does."""
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _too_large(resp: httpx.Response, limit: int, setting: str) -> None:
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["type"].endswith("/payload-too-large") and problem["errors"][0]["field"] == "body"
    assert f"{limit} bytes" in problem["detail"] and setting in problem["detail"], problem


def test_a_chunked_json_body_over_the_cap_is_413(api_server: LiveServer, admin: dict[str, str]) -> None:
    body = httpx.Request("POST", "/", json=new_measure(title_kk="x" * 2_000_000)).content
    with httpx.Client(base_url=api_server.url, timeout=30, headers=admin) as client:
        url = f"/api/v1/documents/{CANCER}/measures"
        chunked = client.post(url, content=_chunked(body), headers={"content-type": "application/json"})
        _too_large(chunked, 1_000_000, "MAX_BODY_BYTES")
        declared = client.post(url, content=body, headers={"content-type": "application/json"})
        _too_large(declared, 1_000_000, "MAX_BODY_BYTES")
        assert client.get("/health/live").status_code == 200


@pytest.fixture(scope="module")
def small_caps_api(live_database: str) -> Iterator[LiveServer]:
    """The API with small bulk caps: uploads of at most 200 000 bytes, lines of at most 1 000."""
    env = {"BULK_MAX_UPLOAD_BYTES": "200000", "BULK_MAX_LINE_BYTES": "1000"}
    with serve(API_APP, live_database, env=env) as server:
        yield server


def _upload(client: httpx.Client, kind: str, batch_id: str, body: Any, media: str = "text/csv") -> httpx.Response:
    params = {"batch_id": batch_id, "mode": "per_row", "source": "a test of the caps"}
    return client.post(f"/api/v1/bulk/{kind}", params=params, content=body, headers={"content-type": media})


def _stored(client: httpx.Client, kind: str, batch_id: str) -> bool:
    path = {
        "executed-volumes": "/api/v1/actuals/batches/{}",
        "invoices": "/api/v1/purchasing/invoice-batches/{}",
        "reference-statistics": "/api/v1/reference-statistics/batches/{}",
    }[kind]
    return client.get(path.format(batch_id)).status_code != 404


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_bulk_uploads_have_a_cap_per_upload_and_per_line(
    small_caps_api: LiveServer, kind: str, uploader: dict[str, str]
) -> None:
    header = UPLOADS[kind]
    with httpx.Client(base_url=small_caps_api.url, timeout=60, headers=uploader) as client:
        long_line = header + b"1," * 600 + b"\n"
        _too_large(_upload(client, kind, f"long-line-{kind}", _chunked(long_line, 100)), 1000, "BULK_MAX_LINE_BYTES")
        assert not _stored(client, kind, f"long-line-{kind}")
        jsonl = b'{"region": "' + b"7" * 2000 + b'"}\n'
        refused = _upload(client, kind, f"long-json-{kind}", jsonl, media="application/x-ndjson")
        _too_large(refused, 1000, "BULK_MAX_LINE_BYTES")

        big = header + EV_LINE * (250_000 // len(EV_LINE))
        _too_large(_upload(client, kind, f"big-{kind}", _chunked(big)), 200_000, "BULK_MAX_UPLOAD_BYTES")
        _too_large(_upload(client, kind, f"big-declared-{kind}", big), 200_000, "BULK_MAX_UPLOAD_BYTES")
        assert not _stored(client, kind, f"big-{kind}") and not _stored(client, kind, f"big-declared-{kind}")


def test_an_upload_under_the_caps_is_taken(small_caps_api: LiveServer, uploader: dict[str, str]) -> None:
    with httpx.Client(base_url=small_caps_api.url, timeout=60, headers=uploader) as client:
        body = EV_HEADER + b"710000000,cardiology,2031-01,812,20,0,6450\n"
        resp = _upload(client, "executed-volumes", "under-the-caps", _chunked(body, 10))
        assert resp.status_code == 200, resp.text
        assert resp.json()["rows_accepted"] == 1


# ------------------------------------------------------------------------------------------------ the event loop


def _send_huge_line(port: int, size: int, outcome: dict[str, Any], token: str) -> None:
    """Stream a CSV whose second line is `size` bytes long, chunked; record the answer's status line and how long
    sending it all and getting the answer took."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            b"POST /api/v1/bulk/executed-volumes?batch_id=huge-line&mode=per_row HTTP/1.1\r\nHost: test\r\n"
            b"Authorization: " + token.encode() + b"\r\n"
            b"Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        answer = b""
        answered = threading.Event()

        def read() -> None:
            nonlocal answer
            while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
                answer += chunk
            answered.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        chunk = b"7" * 65536
        started = time.perf_counter()
        with contextlib.suppress(OSError):  # the server may stop reading once it has answered
            sock.sendall(b"%x\r\n%s\r\n" % (len(EV_HEADER), EV_HEADER))
            for _ in range(size // len(chunk)):  # all of it, as a client that does not read the answer early would
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        answered.wait(timeout=60)
        outcome["seconds"] = time.perf_counter() - started
        outcome["status"] = answer.split(b"\r\n", 1)[0]


def test_a_64_mb_line_is_refused_without_stalling_the_event_loop(
    api_server: LiveServer, uploader: dict[str, str]
) -> None:
    """/health/live answers as fast (p99 within 2x) while a 64 MiB single-line upload is sent and refused as when
    nothing is sent. Three uploads, one after the other with pauses between them; the probe's samples taken while
    one is under way are compared with those taken in the pauses."""
    port = int(api_server.url.rsplit(":", 1)[1])
    warm_up: dict[str, Any] = {}  # the route's first run (its imports, statements, connections) is not measured
    token = uploader["Authorization"]
    _send_huge_line(port, 2 << 20, warm_up, token)
    assert warm_up["status"].startswith(b"HTTP/1.1 413"), warm_up
    windows: list[tuple[float, float]] = []
    outcomes: list[dict[str, Any]] = []

    def uploads() -> None:
        for _ in range(3):
            time.sleep(0.5)
            outcome: dict[str, Any] = {}
            start = time.perf_counter()
            _send_huge_line(port, 64 << 20, outcome, token)
            windows.append((start, time.perf_counter()))
            outcomes.append(outcome)
        time.sleep(0.5)

    samples: list[tuple[float, float]] = []
    uploader = threading.Thread(target=uploads)
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        uploader.start()
        while uploader.is_alive():
            t0 = time.perf_counter()
            assert client.get("/health/live").status_code == 200
            samples.append((t0, time.perf_counter() - t0))
    uploader.join()

    def during(t: float) -> bool:
        return any(start <= t <= end for start, end in windows)

    busy_times = [d for t, d in samples if during(t)]
    idle_times = [d for t, d in samples if not during(t)]
    idle, busy = (statistics.quantiles(times, n=100)[98] for times in (idle_times, busy_times))
    print(
        f"/health/live p99: idle {idle * 1000:.2f} ms ({len(idle_times)} samples), while a 64 MiB line is sent and "
        f"refused {busy * 1000:.2f} ms ({len(busy_times)} samples); the uploads took "
        + ", ".join(f"{o['seconds']:.2f} s" for o in outcomes)
    )
    assert all(o["status"].startswith(b"HTTP/1.1 413") for o in outcomes), outcomes
    # What is tested is that the loop is never held: before the line cap, buffering the line took 8.6 s and stalled
    # the loop for 1.4 s. The p99 while refusing stays within 2x of idle; below 50 ms a request's time is the
    # scheduler's on a 2-core machine shared with other processes (a few 5-10 ms time slices), not the service's, so
    # the idle figure is taken as at least that: a stall of 100 ms or more still fails.
    assert busy <= 2 * max(idle, 0.05), (idle, busy)
