"""An integration account's byte cap and upload rate (services/common/quota.py) on the scoring service's batch routes,
the rate kept in the real Redis. (The limits are set through the registry API's memberships; here they are written
on the membership directly: tests/guarantee/test_upload_quota.py covers the API.)"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from redis.asyncio import Redis

from services.common.auth import Role
from services.common.settings import get_settings
from tests.auth import Auth

NDJSON = {"content-type": "application/x-ndjson"}
LINE = b'{"first_used_world_year":2020,"as_of":"2026-06-01","levels":{"complexity":"5"}}\n'


@pytest.fixture
async def rclient(client: AsyncClient) -> AsyncIterator[AsyncClient]:
    """The scoring client, its app on the real Redis (the lifespan, which connects it in production, does not run)."""
    redis = Redis.from_url(get_settings().redis_url)
    client._transport.app.state.redis = redis  # type: ignore[attr-defined]
    yield client
    await redis.aclose()


async def _account(auth: Auth, raw_connection: Any, **limits: int) -> dict[str, str]:
    """A new integration account's headers, with `limits` written on its membership."""
    subject = f"q-{uuid.uuid4().hex[:10]}"
    headers = dict(await auth.headers(Role.integration, source_system="hta-partner", subject=subject))
    for column in limits:
        assert column in ("upload_max_bytes", "uploads_per_hour")
        await raw_connection.execute(
            f"UPDATE membership_version SET {column} = $1 WHERE valid_to IS NULL AND membership_id = "
            "(SELECT id FROM membership WHERE subject = $2)",
            limits[column],
            subject,
        )
    return headers


async def _counts(raw_connection: Any) -> tuple[int, int]:
    jobs = await raw_connection.fetchval("SELECT count(*) FROM htmc_batch_job")
    audited = await raw_connection.fetchval("SELECT count(*) FROM audit_log")
    return int(jobs), int(audited)


async def test_batch_routes_keep_each_accounts_byte_cap(rclient: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    small = await _account(auth, raw_connection, upload_max_bytes=len(LINE) * 2)
    large = await _account(auth, raw_connection, upload_max_bytes=len(LINE) * 10)
    body = LINE * 3
    before = await _counts(raw_connection)

    async def chunks() -> AsyncIterator[bytes]:
        for line in (LINE, LINE, LINE):
            yield line

    for path in ("/api/v1/batch/jobs", "/api/v1/batch/score"):
        for content in (body, chunks()):  # declared, then chunked
            refused = await rclient.post(path, content=content, headers={**small, **NDJSON})
            assert refused.status_code == 413, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["limit_bytes"] == len(LINE) * 2
    assert await _counts(raw_connection) == before  # no job, no audit entry

    created = await rclient.post("/api/v1/batch/jobs", content=body, headers={**large, **NDJSON})
    assert created.status_code == 202, created.text
    assert created.json()["total"] == 3
    assert await _counts(raw_connection) == (before[0] + 1, before[1] + 1)


async def test_batch_routes_keep_each_accounts_rate(rclient: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    limited = await _account(auth, raw_connection, uploads_per_hour=1)
    other = await _account(auth, raw_connection, uploads_per_hour=1)
    assert (await rclient.post("/api/v1/batch/score", content=LINE, headers={**limited, **NDJSON})).status_code == 200
    before = await _counts(raw_connection)
    refused = await rclient.post("/api/v1/batch/jobs", content=LINE, headers={**limited, **NDJSON})
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["content-type"] == "application/problem+json"
    assert await _counts(raw_connection) == before
    assert (await rclient.post("/api/v1/batch/jobs", content=LINE, headers={**other, **NDJSON})).status_code == 202
