"""Report jobs: recorded with the request, enqueued after commit, run by the worker."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job, JobStatus
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.auth import Role
from services.common.db import make_sessionmaker, unit_of_work
from services.common.jobs import REPORT, wait_for_enqueued
from services.common.models.reports import ReportJob
from services.common.settings import REPO_ROOT, plain_dsn
from services.common.worker import job_function, sweep
from services.reports.tasks import run_report
from tests.committed_auth import committed_headers
from tests.conftest import bind_app

CONCEPT = "health-concept-2022-2029"
CANCER = "cancer-plan-2018-2022"


@pytest.fixture
async def redis() -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    yield pool
    await pool.aclose()


async def test_annual_plan_report_job(loaded: None, engine: AsyncEngine, redis: ArqRedis) -> None:
    """The job, called with a real ctx, aggregates the plan of one year."""
    maker = make_sessionmaker(engine)
    async with unit_of_work(maker) as session:
        job = ReportJob(
            kind="annual_plan", params={"document": CANCER, "year": 2019, "as_of": "2021-06-30"}, requested_by="test"
        )
        session.add(job)
    try:
        ctx: dict[str, Any] = {"sessionmaker": maker, "redis": redis}
        run = job_function(REPORT, run_report).coroutine
        assert await run(ctx, str(job.id), 1) == "done"
        assert await run(ctx, str(job.id), 1) == "skipped"  # a second delivery changes nothing
        async with maker() as session:
            done = await session.get(ReportJob, job.id)
            assert done is not None and done.status == "done" and done.result is not None
            result = done.result
        # The measures' own 2019 cells, beside the document's printed 2019 total.
        assert result["financing"]["total"] == "8141347"
        assert result["financing"]["published_total"] == "8141346"
        assert {d["due"] for d in result["reporting_deadlines"]} == {"2020-01-10", "2020-01-25"}
        assert result["measures_due"] == len(result["measures"]) > 0
        numbers = {m["number"] for m in result["measures"]}
        assert {"3", "4", "10"} <= numbers  # due September 2019 / every year 2019–2022
        assert any(e["code"] == "БҒМ" for e in result["executors"])
    finally:
        async with unit_of_work(maker) as session:
            await session.execute(delete(ReportJob).where(ReportJob.id == job.id))


async def test_request_is_enqueued_only_after_commit(
    loaded: None, session: AsyncSession, raw_connection: Any, redis: ArqRedis, auth: Any
) -> None:
    from services.api.main import create_app

    app = create_app()
    app.state.redis = redis
    bind_app(app, session, raw_connection)
    admin = auth.headers(Role.ministry_admin)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test", headers=admin) as client:
        resp = await client.post("/api/v1/reports/annual-plan", json={"document": CONCEPT, "year": 2027})
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["id"]
        assert resp.json()["status"] == "queued"
        await wait_for_enqueued()
        assert resp.json()["attempts"] == 1
        arq_id = REPORT.arq_job_id(job_id, 1)
        status = await Job(arq_id, redis, _queue_name=REPORT.queue).status()
        assert status == JobStatus.queued
        await redis.delete(f"arq:job:{arq_id}")
        await redis.zrem(REPORT.queue, arq_id)

        bad = await client.post("/api/v1/reports/annual-plan", json={"document": "nope", "year": 2027})
        assert bad.status_code == 404 and bad.json()["errors"][0]["field"] == "document"
        bad = await client.post("/api/v1/reports/annual-plan", json={"document": CONCEPT, "year": 1900})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "year"
        assert (await client.get("/api/v1/reports/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_worker_end_to_end(loaded: None, engine: AsyncEngine, database_url: str, redis: ArqRedis) -> None:
    """A real worker process takes the job from Redis; a job Redis lost is found by the sweeper."""
    from services.api.main import create_app

    app = create_app()
    env = {**os.environ, "DATABASE_URL": database_url}
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "services.reports.worker.WorkerSettings",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    maker = make_sessionmaker(engine)
    ids: list[str] = []
    try:
        async with app.router.lifespan_context(app):
            admin = await committed_headers(plain_dsn(database_url), Role.ministry_admin, subject="e2e")
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
                resp = await client.post(
                    "/api/v1/reports/annual-plan", json={"document": CONCEPT, "year": 2028}, headers=admin
                )
                ids.append(resp.json()["id"])
                await wait_for_enqueued()
                body: dict[str, Any] = {}
                for _ in range(300):
                    body = (await client.get(f"/api/v1/reports/{ids[0]}", headers=admin)).json()
                    if body["status"] in ("done", "failed"):
                        break
                    await asyncio.sleep(0.1)
                assert body["status"] == "done", body
                assert body["requested_by"].partition("@")[0] == "e2e"
                result = body["result"]
                assert result["financing"]["total"] == "21966381"  # measures 82, 92 and 93 in 2028
                assert {t["number"] for t in result["indicator_targets"]} >= {3, 5}
                assert {d["due"] for d in result["reporting_deadlines"]} == {"2029-04-01", "2029-05-01"}

        # A job recorded but never enqueued (Redis lost it) is sent again by the sweeper.
        async with unit_of_work(maker) as session:
            lost = ReportJob(
                kind="annual_plan",
                params={"document": CANCER, "year": 2020, "as_of": "2021-01-01"},
                requested_by="test",
            )
            session.add(lost)
        ids.append(str(lost.id))
        async with unit_of_work(maker) as session:
            await session.execute(
                ReportJob.__table__.update()
                .where(ReportJob.id == lost.id)
                .values(heartbeat_at=ReportJob.heartbeat_at - timedelta(hours=1))
            )
        assert await sweep({"sessionmaker": maker, "redis": redis}, (REPORT,)) >= 1
        for _ in range(300):
            async with maker() as session:
                row = await session.get(ReportJob, lost.id)
                if row is not None and row.status == "done":
                    break
            await asyncio.sleep(0.1)
        assert row is not None and row.status == "done"
        assert row.attempts == 2 and row.error is None  # the second send ran it
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), timeout=20)
        async with unit_of_work(maker) as session:
            await session.execute(delete(ReportJob).where(ReportJob.id.in_(ids)))


async def test_rolled_back_jobs_are_never_sent(engine: AsyncEngine, redis: ArqRedis) -> None:
    from services.common.jobs import send_after_commit

    rolled_back, committed = f"rolled-back-{uuid4()}", f"committed-{uuid4()}"
    rolled_back_id, committed_id = REPORT.arq_job_id(rolled_back, 1), REPORT.arq_job_id(committed, 1)
    maker = make_sessionmaker(engine)
    async with maker() as session:
        send_after_commit(session, redis, REPORT, rolled_back, 1)
        await session.rollback()
    async with maker() as session:
        send_after_commit(session, redis, REPORT, committed, 1)
        assert await Job(committed_id, redis, _queue_name=REPORT.queue).status() == JobStatus.not_found
        await session.commit()
        await wait_for_enqueued()
    assert await Job(committed_id, redis, _queue_name=REPORT.queue).status() == JobStatus.queued
    assert await Job(rolled_back_id, redis, _queue_name=REPORT.queue).status() == JobStatus.not_found
    await redis.delete(f"arq:job:{committed_id}")
    await redis.zrem(REPORT.queue, committed_id)
