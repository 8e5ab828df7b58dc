"""Faults ridden out, on real server processes: a database outage answers 503 problem+json and the service recovers
once the database is back, without a restart; an unexpected error answers 500 problem+json and closes its
connection cleanly."""

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers
from tests.live import API_APP, PrivatePostgres, migrate_and_load, private_postgres, serve
from tests.registry.test_write_api import CANCER, new_measure


@pytest.fixture(scope="module")
def private_pg(database_url: str) -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        migrate_and_load(pg.url)
        yield pg


def _answers(client: httpx.Client, n: int) -> dict[str, httpx.Response]:
    """One request of each kind: an ORM read, a read on the bare asyncpg pool, a write."""
    return {
        "orm read": client.get(f"/api/v1/documents/{CANCER}"),
        "pool read": client.get("/api/v1/measures", params={"document": CANCER, "limit": 5}),
        "write": client.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number=str(9000 + n))),
    }


def test_a_database_outage_answers_503_and_passes(private_pg: PrivatePostgres) -> None:
    admin = asyncio.run(committed_headers(plain_dsn(private_pg.url), Role.ministry_admin, subject="test:fault-admin"))
    with serve(API_APP, private_pg.url) as api, httpx.Client(base_url=api.url, timeout=30, headers=admin) as client:
        before = _answers(client, 1)
        assert {k: r.status_code for k, r in before.items()} == {"orm read": 200, "pool read": 200, "write": 201}

        private_pg.stop()
        try:
            for attempt in range(2):  # pooled connections found dead, then new ones refused
                during = _answers(client, 2 + attempt)
                for kind, resp in during.items():
                    assert resp.status_code == 503, (kind, resp.status_code, resp.text)
                    assert resp.headers["content-type"] == "application/problem+json"
                    assert resp.json()["type"].endswith("/database-unavailable")
                    assert resp.headers["retry-after"]
            ready = client.get("/health/ready")
            assert ready.status_code == 503 and ready.json()["checks"]["postgres"].startswith("error")
        finally:
            private_pg.start()

        deadline = time.monotonic() + 15
        while (after := _answers(client, 10))["orm read"].status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert api.proc.poll() is None  # the same process: nothing restarted it
        n = 11
        for _ in range(3):  # every pooled connection was replaced: each kind works again, repeatedly
            assert {k: r.status_code for k, r in after.items()} == {"orm read": 200, "pool read": 200, "write": 201}
            after, n = _answers(client, n), n + 1
        assert client.get("/health/ready").status_code == 200
        # An outage is logged as a warning, not as an unhandled error or a crash of the request.
        assert "database unavailable" in api.log()
        assert "unhandled error" not in api.log() and "Exception in ASGI application" not in api.log()


def _http_exchange(sock: socket.socket, path: str) -> tuple[bytes, bytes]:
    """Send one keep-alive GET and read its whole response: (head, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before the response head"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside the response body"
        body += chunk
    return head, body


def test_an_unexpected_error_answers_500_and_closes_cleanly(database_url: str) -> None:
    with serve("tests.faulty_app:app", database_url) as app:
        port = int(app.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # A healthy exchange keeps the connection open...
            head, _ = _http_exchange(sock, "/health/live")
            assert head.startswith(b"HTTP/1.1 200") and b"connection: close" not in head.lower()
            # ...a 500 says it will close it, and does so cleanly (end of stream, not a reset).
            head, body = _http_exchange(sock, "/fail")
            assert head.startswith(b"HTTP/1.1 500"), head
            assert b"content-type: application/problem+json" in head.lower()
            assert b"connection: close" in head.lower()
            assert b'"type":"https://errors.kz-health-plans.example/internal"' in body
            assert sock.recv(65536) == b""  # a reset would raise ConnectionResetError here
        assert "a fault no one planned for" in app.log()  # logged with its traceback


def test_database_errors_are_told_apart() -> None:
    """What the driver raises, by SQLSTATE or by kind: a conflict (409), the database gone (503), or neither."""
    import asyncpg
    import sqlalchemy.exc

    from services.common.errors import database_fault

    def wrapped(exc: BaseException) -> BaseException:
        """As SQLAlchemy raises it: the driver's exception as `orig`."""
        return sqlalchemy.exc.DBAPIError("COMMIT", None, exc, connection_invalidated=False)

    assert database_fault(wrapped(asyncpg.UniqueViolationError("duplicate key"))) == 409
    assert database_fault(wrapped(asyncpg.DeadlockDetectedError("deadlock detected"))) == 409
    assert database_fault(wrapped(asyncpg.SerializationError("could not serialize"))) == 409
    assert database_fault(wrapped(asyncpg.AdminShutdownError("terminating connection"))) == 503
    assert database_fault(wrapped(asyncpg.CannotConnectNowError("the database system is starting up"))) == 503
    assert database_fault(asyncpg.ConnectionDoesNotExistError("connection was closed")) == 503
    assert database_fault(ConnectionRefusedError(111, "Connect call failed")) == 503
    assert database_fault(sqlalchemy.exc.DBAPIError("SELECT 1", None, OSError(), connection_invalidated=True)) == 503
    assert database_fault(wrapped(asyncpg.DivisionByZeroError("division by zero"))) is None
    assert database_fault(FileNotFoundError(2, "No such file or directory")) is None  # not raised by the driver
    assert database_fault(RuntimeError("a bug")) is None
