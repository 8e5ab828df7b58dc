"""A real arq worker process runs queued batch jobs through to done, against committed data in the per-run
test database (queue name SCORING_QUEUE_NAME, per run, from tests/conftest.py). The rows committed here are
deleted at the end."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import orjson
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import make_sessionmaker, unit_of_work
from services.common.jobs import SCORING_BATCH, wait_for_enqueued
from services.common.models.scoring import BatchItem, BatchJob, JobStatus
from services.common.settings import REPO_ROOT
from services.common.worker import sweep
from tests.scoring.conftest import demo_headers

LINE = {
    "first_used_world_year": 2020,
    "as_of": "2026-06-01",
    "levels": {"resource_intensity": "5", "uniqueness": "5", "complexity": "5"},
}
LINES = 3500  # four chunks of progress (1000 lines each)


@pytest.fixture
async def redis() -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    yield pool
    await pool.aclose()


async def _wait_done(client: AsyncClient, job_id: int) -> list[tuple[str, int]]:
    """Poll the job until it is done or failed; the (status, processed) pairs seen, in order."""
    seen: list[tuple[str, int]] = []
    for _ in range(600):
        body = (await client.get(f"/api/v1/batch/jobs/{job_id}")).json()
        if not seen or seen[-1] != (body["status"], body["processed"]):
            seen.append((body["status"], body["processed"]))
        if body["status"] in ("done", "failed"):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {seen}")


async def test_real_worker_runs_a_queued_job_to_done(
    loaded: None, engine: AsyncEngine, database_url: str, redis: ArqRedis
) -> None:
    from services.scoring.main import create_app

    assert SCORING_BATCH.queue.startswith("arq:test-")  # this run's own queue
    app = create_app()
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "services.scoring.worker.WorkerSettings",
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    maker = make_sessionmaker(engine)
    ids: list[int] = []
    try:
        async with app.router.lifespan_context(app):
            async with AsyncClient(
                transport=ASGITransport(app=app),
                base_url="http://scoring.test",
                headers=demo_headers("demo-commission-secretary"),
            ) as client:
                body = b"\n".join(orjson.dumps({**LINE, "ref": f"r{i}"}) for i in range(LINES - 1))
                body += b"\n{broken\n"  # the last line fails alone
                resp = await client.post(
                    "/api/v1/batch/jobs", content=body, headers={"content-type": "application/x-ndjson"}
                )
                assert resp.status_code == 202, resp.text
                job = resp.json()
                ids.append(job["id"])
                assert (job["status"], job["total"], job["processed"]) == ("queued", LINES, 0)
                assert resp.headers["Location"] == f"/api/v1/batch/jobs/{job['id']}"
                await wait_for_enqueued()

                seen = await _wait_done(client, job["id"])
                assert seen[-1] == ("done", LINES), seen
                processed = [p for _, p in seen]
                assert processed == sorted(processed)  # progress only moves forward
                assert all(p % 1000 == 0 or p == LINES for p in processed)  # recorded after each chunk
                state = (await client.get(f"/api/v1/batch/jobs/{job['id']}")).json()
                assert (state["failed_lines"], state["error"]) == (1, None)
                assert state["started_at"] is not None and state["finished_at"] >= state["started_at"]

                results = [
                    orjson.loads(x)
                    for x in (await client.get(f"/api/v1/batch/jobs/{job['id']}/results")).content.splitlines()
                ]
                assert len(results) == LINES
                assert [r["line"] for r in results] == list(range(1, LINES + 1))
                # age 6 → innovativeness 7.5: 0.75 + 1.5 + 0.5 + 2.5 = 5.25; no threshold → unclassified
                assert results[0] == {
                    "line": 1,
                    "ref": "r0",
                    "criteria_version_id": results[0]["criteria_version_id"],
                    "age_years": 6,
                    "levels": {
                        "innovativeness": "7.5",
                        "resource_intensity": "5",
                        "uniqueness": "5",
                        "complexity": "5",
                    },
                    "score": "5.25",
                    "classification": None,
                    "why_not_classified": results[0]["why_not_classified"],
                }
                assert "no decision threshold in force on 2026-06-01" in results[0]["why_not_classified"]
                assert results[-1]["error"]["detail"] == "malformed JSON"

        # A job recorded and committed but never sent (Redis lost it) is found and sent by the sweeper.
        async with unit_of_work(maker) as session:
            lost = BatchJob(status=JobStatus.queued, total=2, processed=0, failed_lines=0)
            session.add(lost)
            await session.flush()
            await session.execute(
                insert(BatchItem),
                [
                    {"job_id": lost.id, "line_no": n, "input": {"raw": orjson.dumps({**LINE, "ref": f"l{n}"}).decode()}}
                    for n in (1, 2)
                ],
            )
        ids.append(lost.id)
        async with unit_of_work(maker) as session:
            await session.execute(
                update(BatchJob)
                .where(BatchJob.id == lost.id)
                .values(heartbeat_at=BatchJob.heartbeat_at - timedelta(hours=1))
            )
        assert await sweep({"sessionmaker": maker, "redis": redis}, (SCORING_BATCH,)) == 1
        row = None
        for _ in range(600):
            async with maker() as session:
                row = await session.get(BatchJob, lost.id)
            if row is not None and row.status == JobStatus.done:
                break
            await asyncio.sleep(0.05)
        assert row is not None and (row.status, row.processed, row.attempts) == (JobStatus.done, 2, 2)
        # Swept again, a finished job is not sent again.
        assert await sweep({"sessionmaker": maker, "redis": redis}, (SCORING_BATCH,)) == 0
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), timeout=20)
        async with unit_of_work(maker) as session:
            await session.execute(delete(BatchJob).where(BatchJob.id.in_(ids)))  # items cascade
        async with maker() as session:
            assert (await session.scalars(select(BatchItem.job_id).where(BatchItem.job_id.in_(ids)))).all() == []
        for job_id in ids:
            for attempt in (1, 2):
                arq_id = SCORING_BATCH.arq_job_id(job_id, attempt)
                await redis.delete(f"arq:result:{arq_id}", f"arq:job:{arq_id}")
