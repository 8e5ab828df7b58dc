"""A write is committed before it is answered, and a commit that fails is answered as an error, on a real server
process whose writes really commit (tests/live.py)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers
from tests.conftest import ISSUER
from tests.live import LiveServer
from tests.registry.test_write_api import CANCER, new_measure

FAIL_TITLE = "commit-must-fail"
SLOW_TITLE = "slow commit"


@pytest.fixture
async def client(api_server: LiveServer, live_database: str) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
    admin = await committed_headers(plain_dsn(live_database), Role.ministry_admin, subject="test:live-admin")
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30, limits=limits, headers=admin) as c:
        yield c


def _number() -> str:
    """A measure number no other test of the run uses (the live database is shared by the run)."""
    return str(1000 + uuid.uuid4().int % 8_000_000)


async def _create(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await client.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number=_number(), **overrides))


@pytest.fixture(params=["23514", "40001"], ids=["deferred-check", "serialization-failure"])
async def failing_commit(request: pytest.FixtureRequest, live_database: str) -> AsyncIterator[str]:
    """A constraint checked only at COMMIT (a deferred constraint trigger) that refuses a measure version titled
    FAIL_TITLE with the given SQLSTATE: the statements of the request all succeed, its commit fails."""
    sqlstate = request.param
    conn = await asyncpg.connect(plain_dsn(live_database))
    try:
        await conn.execute(
            f"""
            CREATE OR REPLACE FUNCTION test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = '{sqlstate}'; END $$;
            CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT OR UPDATE ON measure_version
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.title_kk = '{FAIL_TITLE}')
                EXECUTE FUNCTION test_refuse_at_commit();
            """
        )
        yield sqlstate
    finally:
        await conn.execute(
            "DROP TRIGGER IF EXISTS test_refuse_at_commit ON measure_version;"
            "DROP FUNCTION IF EXISTS test_refuse_at_commit()"
        )
        await conn.close()


async def test_a_failed_commit_is_answered_as_an_error(
    client: httpx.AsyncClient, live_database: str, failing_commit: str
) -> None:
    conn = await asyncpg.connect(plain_dsn(live_database))
    try:
        before = await conn.fetchval("SELECT count(*) FROM measure_version")
        # A new measure whose commit fails: 409 problem+json, nothing stored.
        refused = await _create(client, title_kk=FAIL_TITLE)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/conflict")
        assert await conn.fetchval("SELECT count(*) FROM measure_version") == before
        assert await conn.fetchval("SELECT count(*) FROM measure_version WHERE title_kk = $1", FAIL_TITLE) == 0

        # A new version of a stored measure whose commit fails: the measure stays as it was, its ETag still good.
        created = await _create(client)
        assert created.status_code == 201, created.text
        url, etag = f"/api/v1/measures/{created.json()['id']}", created.headers["etag"]
        changed = new_measure(number=created.json()["number"], title_kk=FAIL_TITLE, effective_from="2022-01-15")
        put = await client.put(url, json=changed, headers={"If-Match": etag})
        assert put.status_code == 409, put.text
        assert put.headers["content-type"] == "application/problem+json"
        shown = await client.get(url)
        assert shown.json()["version"] == 1 and shown.json()["title_kk"] != FAIL_TITLE
        assert shown.headers["etag"] == etag
        # The connection the failed request used serves the next one.
        ok = await client.put(url, json={**changed, "title_kk": "after a failed commit"}, headers={"If-Match": etag})
        assert ok.status_code == 200, ok.text
    finally:
        await conn.close()


@pytest.fixture
async def slow_commit(live_database: str) -> AsyncIterator[str]:
    """Commits of measure versions titled SLOW_TITLE... take 0.3 s (a deferred trigger sleeps), as on a busy disk: a
    write answered before its commit ends is then seen missing by the read that follows it."""
    conn = await asyncpg.connect(plain_dsn(live_database))
    try:
        await conn.execute(
            f"""
            CREATE OR REPLACE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT OR UPDATE ON measure_version
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.title_kk LIKE '{SLOW_TITLE}%')
                EXECUTE FUNCTION test_slow_commit();
            """
        )
        yield SLOW_TITLE
    finally:
        await conn.execute(
            "DROP TRIGGER IF EXISTS test_slow_commit ON measure_version; DROP FUNCTION IF EXISTS test_slow_commit()"
        )
        await conn.close()


async def test_concurrent_writers_read_their_own_writes(client: httpx.AsyncClient, slow_commit: str) -> None:
    """30 clients at once each write and at once read back what they wrote: none may miss its own write."""
    created = await asyncio.gather(*(_create(client) for _ in range(30)))
    assert all(r.status_code == 201 for r in created), [r.text for r in created if r.status_code != 201]

    async def create_then_read() -> str | None:
        made = await _create(client, title_kk=f"{slow_commit}: a new measure")
        assert made.status_code == 201, made.text
        read = await client.get(f"/api/v1/measures/{made.json()['id']}")
        return (
            None
            if read.status_code == 200
            else f"created {made.json()['id']}, then read {read.status_code}: {read.text}"
        )

    async def put_then_read(made: httpx.Response, n: int) -> str | None:
        url = f"/api/v1/measures/{made.json()['id']}"
        title = f"{slow_commit}: written by client {n} ({uuid.uuid4().hex[:8]})"
        body = new_measure(number=made.json()["number"], title_kk=title, effective_from="2022-01-15")
        put = await client.put(url, json=body, headers={"If-Match": made.headers["etag"]})
        assert put.status_code == 200, put.text
        read = await client.get(url)
        if read.status_code != 200:
            return f"client {n} wrote {title!r}, then read {read.status_code}: {read.text[:300]}"
        if read.json()["title_kk"] != title or read.headers["etag"] != put.headers["etag"]:
            return f"client {n} wrote {title!r}, then read {read.json()['title_kk']!r}"
        return None

    misses = await asyncio.gather(
        *(put_then_read(made, n) for n, made in enumerate(created)), *(create_then_read() for _ in range(30))
    )
    assert [m for m in misses if m] == []


async def test_scoring_streams_and_jobs_on_a_real_server(scoring_server: LiveServer, live_database: str) -> None:
    """The scoring service's streamed routes keep what they need once the request's session has committed: the
    streamed batch scores every line; a queued job is readable at once; its results stream from a session of
    their own."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.common.db import make_sessionmaker
    from services.common.jobs import SCORING_BATCH
    from services.common.settings import asyncpg_dialect_url
    from services.common.worker import run_job
    from services.scoring import tasks

    line = {"first_used_world_year": 2020, "as_of": "2026-06-01"}
    levels = {"resource_intensity": "5", "uniqueness": "7.5", "complexity": "10"}
    body = b"\n".join(orjson.dumps({**line, "levels": levels, "ref": f"r{i}"}) for i in range(700)) + b"\n{broken"
    ndjson = {"content-type": "application/x-ndjson"}
    secretary = {"Authorization": f"Bearer {ISSUER.token('demo-commission-secretary')}"}  # a demo membership
    async with httpx.AsyncClient(base_url=scoring_server.url, timeout=60, headers=secretary) as client:
        scored = await client.post("/api/v1/batch/score", content=body, headers=ndjson)
        assert scored.status_code == 200, scored.text
        out = [orjson.loads(x) for x in scored.content.splitlines()]
        assert len(out) == 701 and out[0]["score"] and out[-1]["error"]["detail"] == "malformed JSON"

        created = await client.post("/api/v1/batch/jobs", content=body, headers=ndjson)
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        assert (await client.get(f"/api/v1/batch/jobs/{job}")).json()["status"] in ("queued", "running", "done")

        engine = create_async_engine(asyncpg_dialect_url(live_database))
        try:
            # The job's first send, run as the worker runs it (no worker listens on this run's queue).
            ran = await run_job(
                {"sessionmaker": make_sessionmaker(engine)}, SCORING_BATCH, job, 1, tasks.score_batch_job
            )
            assert ran == "done"
        finally:
            await engine.dispose()
        results = await client.get(f"/api/v1/batch/jobs/{job}/results")
        assert results.status_code == 200
        assert [orjson.loads(x)["line"] for x in results.content.splitlines()] == list(range(1, 702))
