"""Each uploading account's byte cap and upload rate (services/common/quota.py), set on its membership through the
memberships API, on every bulk upload route of the registry API; the rate kept in the real Redis."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from services.common.settings import get_settings
from tests.auth import Auth
from tests.conftest import bind_app

MEMBERSHIPS = "/api/v1/memberships"
VOLUMES = "/api/v1/bulk/executed-volumes"
CSV = {"content-type": "text/csv"}
BODY = (
    b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
    b"710000000,cardiology,2026-01,812,20,0,6450\n"
    b"710000000,cardiology,2026-02,790,18,0,6300\n"
)

# The other bulk routes, with bodies their headers accept.
OTHER_ROUTES = {
    "/api/v1/bulk/invoices": b"contract_id,month,presented,accepted,deduction,deduction_reason\n"
    + b"5,2022-11,30000000.00,28500000.00,1500000.00,volume monitoring\n" * 3,
    "/api/v1/bulk/reference-statistics": b"region,year,code,value\n" + b"710000000,2026,population,1354556\n" * 5,
}


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(get_settings().redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def qapi(
    guarantee_loaded: None, session: AsyncSession, raw_connection: Any, redis: Redis
) -> AsyncIterator[AsyncClient]:
    """The registry API with the real Redis (the lifespan, which connects it in production, does not run here)."""
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    app.state.redis = redis
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        yield client


class Account:
    """An integration account granted through the memberships API, with a subject of its own (its rate window in
    Redis is its own too)."""

    def __init__(self, api: AsyncClient, auth: Auth, admin: dict[str, str]) -> None:
        self.api, self.auth, self.admin = api, auth, admin
        self.subject = f"quota-{uuid.uuid4().hex[:12]}"
        self.headers = {"Authorization": f"Bearer {auth.issuer.token(self.subject)}"}
        self.id = 0
        self.etag = ""

    def _body(self, **limits: int | None) -> dict[str, Any]:
        return {"roles": ["integration"], "source_system": "e-densaulyq", **limits}

    async def grant(self, **limits: int | None) -> "Account":
        body = {"issuer": self.auth.issuer.url, "subject": self.subject, **self._body(**limits)}
        created = await self.api.post(MEMBERSHIPS, json=body, headers=self.admin)
        assert created.status_code == 201, created.text
        self.id, self.etag = created.json()["id"], created.headers["etag"]
        return self

    async def change(self, **limits: int | None) -> dict[str, Any]:
        headers = {**self.admin, "If-Match": self.etag}
        changed = await self.api.put(f"{MEMBERSHIPS}/{self.id}", json=self._body(**limits), headers=headers)
        assert changed.status_code == 200, changed.text
        self.etag = changed.headers["etag"]
        result: dict[str, Any] = changed.json()
        return result

    async def upload(self, batch_id: str, body: Any = BODY, path: str = VOLUMES) -> Any:
        params = {"batch_id": batch_id, "mode": "per_row"}
        if path.endswith("/reference-statistics"):
            params["source"] = "test"
        return await self.api.post(path, params=params, content=body, headers={**CSV, **self.headers})


def _chunked(body: bytes, size: int = 16) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(body), size):
            yield body[i : i + size]

    return gen()


async def _stored(raw_connection: Any, subject: str) -> tuple[int, int]:
    """The account's batches and its audit entries."""
    batches = await raw_connection.fetchval(
        "SELECT (SELECT count(*) FROM ingest_batch WHERE account LIKE $1) "
        "+ (SELECT count(*) FROM invoice_batch WHERE account LIKE $1) "
        "+ (SELECT count(*) FROM statistic_batch WHERE account LIKE $1)",
        f"{subject}@%",
    )
    audited = await raw_connection.fetchval("SELECT count(*) FROM audit_log WHERE subject = $1", subject)
    return int(batches), int(audited)


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


async def test_an_account_over_its_own_byte_cap_gets_413_and_another_with_a_larger_cap_is_taken(
    qapi: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    admin = auth.headers(Role.ministry_admin)
    small = await Account(qapi, auth, admin).grant(upload_max_bytes=100)
    large = await Account(qapi, auth, admin).grant(upload_max_bytes=10_000)
    assert len(BODY) > 100
    volumes_before = await raw_connection.fetchval("SELECT count(*) FROM executed_volume")

    chunked = _problem(await small.upload("b-1", _chunked(BODY)), 413)
    assert chunked["limit_bytes"] == 100 and "upload_max_bytes" in chunked["detail"]
    declared = _problem(await small.upload("b-1"), 413)  # a Content-Length over the cap: refused before reading
    assert declared["limit_bytes"] == 100 and declared["errors"][0]["field"] == "body"
    for path, body in OTHER_ROUTES.items():
        assert len(body) > 100
        assert _problem(await small.upload("b-1", _chunked(body), path=path), 413)["limit_bytes"] == 100, path
    assert await _stored(raw_connection, small.subject) == (0, 0)  # nothing stored, nothing audited
    assert await raw_connection.fetchval("SELECT count(*) FROM executed_volume") == volumes_before

    taken = await large.upload("b-1", _chunked(BODY))
    assert taken.status_code == 200, taken.text
    assert taken.json()["rows_accepted"] == 2
    assert await _stored(raw_connection, large.subject) == (1, 1)


async def test_the_rate_limit_answers_429_with_retry_after_per_account(
    qapi: AsyncClient, auth: Auth, raw_connection: Any, redis: Redis
) -> None:
    admin = auth.headers(Role.ministry_admin)
    limited = await Account(qapi, auth, admin).grant(uploads_per_hour=2)
    other = await Account(qapi, auth, admin).grant(uploads_per_hour=2)
    for n in (1, 2):
        resp = await limited.upload(f"r-{n}")
        assert resp.status_code == 200, resp.text
    refused = _problem(await limited.upload("r-3"), 429)
    assert refused["limit_per_hour"] == 2 and "uploads_per_hour" in refused["detail"]
    retry_after = int((await limited.upload("r-3")).headers["retry-after"])
    assert 1 <= retry_after <= 3600
    # Every bulk route counts against the one window; nothing of a refused upload is stored or audited.
    assert (await limited.upload("r-4", path="/api/v1/bulk/invoices")).status_code == 429
    assert await _stored(raw_connection, limited.subject) == (2, 2)
    # Another account is unaffected.
    for n in (1, 2):
        assert (await other.upload(f"r-{n}")).status_code == 200
    # The window is in Redis, keyed by the account: shared by every process of the service, kept over restarts.
    keys = [k.decode() async for k in redis.scan_iter(match=f"{get_settings().upload_rate_key_prefix}:*quota-*")]
    assert any(k.endswith(limited.subject) for k in keys) and any(k.endswith(other.subject) for k in keys)
    assert await redis.zcard(next(k for k in keys if k.endswith(limited.subject))) == 2


async def test_a_changed_cap_through_the_memberships_api_holds_from_the_next_upload(
    qapi: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    admin = auth.headers(Role.ministry_admin)
    account = await Account(qapi, auth, admin).grant()  # the defaults
    assert (await account.upload("c-1")).status_code == 200

    changed = await account.change(upload_max_bytes=50)
    assert changed["upload_max_bytes"] == 50 and changed["uploads_per_hour"] is None and changed["version"] == 2
    assert _problem(await account.upload("c-2"), 413)["limit_bytes"] == 50
    await account.change(upload_max_bytes=None, uploads_per_hour=2)  # back to the default cap; a rate of 2 an hour
    # c-2, refused on its Content-Length before the rate was counted, took no turn: the window holds c-1 and c-3.
    assert (await account.upload("c-3")).status_code == 200
    assert _problem(await account.upload("c-4"), 429)["limit_per_hour"] == 2

    history = (await qapi.get(f"{MEMBERSHIPS}/{account.id}/history", headers=admin)).json()
    assert [(v["upload_max_bytes"], v["uploads_per_hour"]) for v in history] == [(None, None), (50, None), (None, 2)]
    audited = await raw_connection.fetch(
        "SELECT before->>'upload_max_bytes' AS b, after->>'upload_max_bytes' AS a FROM audit_log "
        "WHERE resource = 'membership' AND resource_id = $1 AND action = 'update' ORDER BY id",
        str(account.id),
    )
    assert [(r["b"], r["a"]) for r in audited] == [(None, "50"), ("50", None)]
    # Of the uploads only the accepted ones are audited.
    assert await _stored(raw_connection, account.subject) == (2, 2)


async def test_limits_are_checked_when_set(qapi: AsyncClient, auth: Auth) -> None:
    admin = auth.headers(Role.ministry_admin)
    ceiling = get_settings().bulk_max_upload_bytes
    for limits, field in (
        ({"upload_max_bytes": ceiling + 1}, "upload_max_bytes"),
        ({"upload_max_bytes": 0}, "upload_max_bytes"),
        ({"uploads_per_hour": 0}, "uploads_per_hour"),
    ):
        body = {"issuer": auth.issuer.url, "subject": "quota-bad", "roles": ["integration"], "source_system": "x"}
        resp = await qapi.post(MEMBERSHIPS, json={**body, **limits}, headers=admin)
        assert _problem(resp, 422)["errors"][0]["field"].endswith(field), resp.text


async def test_without_redis_an_upload_is_admitted(
    guarantee_loaded: None, session: AsyncSession, raw_connection: Any, auth: Auth
) -> None:
    """Redis away: the rate cannot be counted and the upload is taken (the README says why); the byte cap holds."""
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    app.state.redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1)  # nothing listens there
    admin = auth.headers(Role.ministry_admin)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        account = await Account(client, auth, admin).grant(uploads_per_hour=1, upload_max_bytes=100)
        assert (await account.upload("n-1")).status_code == 413
        await account.change(uploads_per_hour=1)
        for n in (1, 2):
            resp = await account.upload(f"n-{n}")
            assert resp.status_code == 200, resp.text
    await app.state.redis.aclose()


async def test_a_redis_that_does_not_answer_admits_the_upload_within_the_check_timeout(
    guarantee_loaded: None, session: AsyncSession, raw_connection: Any, auth: Auth
) -> None:
    """A Redis that takes the connection and never answers: the rate check gives up after RATE_CHECK_TIMEOUT_S."""
    from services.api.main import create_app
    from services.common.quota import RATE_CHECK_TIMEOUT_S

    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    app = create_app()
    bind_app(app, session, raw_connection)
    app.state.redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    admin = auth.headers(Role.ministry_admin)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
            account = await Account(client, auth, admin).grant(uploads_per_hour=1)
            t0 = time.perf_counter()
            resp = await account.upload("h-1")
            assert resp.status_code == 200, resp.text
            assert RATE_CHECK_TIMEOUT_S <= time.perf_counter() - t0 < RATE_CHECK_TIMEOUT_S + 10
    finally:
        for writer in held:
            writer.close()
        server.close()
        await app.state.redis.aclose()
