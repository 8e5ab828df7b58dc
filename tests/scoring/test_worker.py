"""A real arq worker process runs queued batch jobs through to done, against committed data in the per-run
test database (queue name SCORING_QUEUE_NAME, per run, from tests/conftest.py). The rows committed here are
deleted at the end."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import make_sessionmaker, unit_of_work
from services.common.jobs import wait_for_enqueued
from services.common.models.scoring import BatchItem, BatchJob, JobStatus
from services.common.settings import REPO_ROOT
from services.scoring.tasks import arq_job_id, queue_name, sweep_lost_jobs

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

    assert queue_name().startswith("arq:test-")  # this run's own queue
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
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://scoring.test") as client:
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
                .values(created_at=BatchJob.created_at - timedelta(hours=1))
            )
        assert await sweep_lost_jobs({"sessionmaker": maker, "redis": redis}) == 1
        row = None
        for _ in range(600):
            async with maker() as session:
                row = await session.get(BatchJob, lost.id)
            if row is not None and row.status == JobStatus.done:
                break
            await asyncio.sleep(0.05)
        assert row is not None and (row.status, row.processed) == (JobStatus.done, 2)
        # Swept again, a finished job is not sent again.
        assert await sweep_lost_jobs({"sessionmaker": maker, "redis": redis}) == 0
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), timeout=20)
        async with unit_of_work(maker) as session:
            await session.execute(delete(BatchJob).where(BatchJob.id.in_(ids)))  # items cascade
        async with maker() as session:
            assert (await session.scalars(select(BatchItem.job_id).where(BatchItem.job_id.in_(ids)))).all() == []
        for job_id in ids:
            await redis.delete(f"arq:result:{arq_job_id(job_id)}", f"arq:job:{arq_job_id(job_id)}")


async def test_sweeper_fails_running_jobs_the_worker_gave_up_on(engine: AsyncEngine, redis: ArqRedis) -> None:
    """A job left `running` with no progress for longer than the worker's job timeout, that arq no longer holds
    (it timed the try out: a result is stored; or Redis lost it), is failed with the reason; the lines it scored
    stay readable. A job arq still holds (a retry waiting) or one that moved recently is left alone."""
    from arq.jobs import result_key_prefix

    from services.scoring.tasks import JOB_TIMEOUT, result_chunks
    from services.scoring.worker import WorkerSettings

    assert WorkerSettings.job_timeout is JOB_TIMEOUT  # the sweeper's limit is the worker's setting
    maker = make_sessionmaker(engine)
    now = datetime.now(UTC)
    stale = now - JOB_TIMEOUT - timedelta(minutes=1)
    moved = {
        "timed_out": stale,
        "lost": stale,
        "retry_waiting": stale,
        "recent": now - JOB_TIMEOUT + timedelta(minutes=5),
    }
    ids: dict[str, int] = {}
    try:
        async with unit_of_work(maker) as session:
            for name, updated_at in moved.items():
                job = BatchJob(
                    status=JobStatus.running,
                    total=2,
                    processed=1,
                    failed_lines=0,
                    error="ValueError: boom" if name == "timed_out" else None,
                    started_at=updated_at - timedelta(minutes=5),
                    updated_at=updated_at,
                )
                session.add(job)
                await session.flush()
                ids[name] = job.id
                # Line 1 scored, line 2 not yet (no output).
                await session.execute(
                    insert(BatchItem), [{"job_id": job.id, "line_no": 1, "input": {}, "output": {"line": 1}}]
                )
                await session.execute(insert(BatchItem), [{"job_id": job.id, "line_no": 2, "input": {}}])
        # arq finished the timed-out try (its result is stored) and holds the waiting retry (deferred).
        await redis.set(result_key_prefix + arq_job_id(ids["timed_out"]), b"timed out")
        sent = await redis.enqueue_job(
            "score_batch_job",
            ids["retry_waiting"],
            _job_id=arq_job_id(ids["retry_waiting"]),
            _queue_name=queue_name(),
            _defer_by=timedelta(hours=1),
        )
        assert sent is not None

        ctx = {"sessionmaker": maker, "redis": redis}
        assert await sweep_lost_jobs(ctx) == 2
        async with maker() as session:
            rows = {name: await session.get(BatchJob, job_id) for name, job_id in ids.items()}
            status = {name: row.status if row else None for name, row in rows.items()}
            error = {name: row.error if row else None for name, row in rows.items()}
            assert status == {
                "timed_out": JobStatus.failed,
                "lost": JobStatus.failed,
                "retry_waiting": JobStatus.running,
                "recent": JobStatus.running,
            }
            for name in ("timed_out", "lost"):
                assert "no progress for more than 3600 s (the worker's job timeout)" in str(error[name]), error
            assert str(error["timed_out"]).endswith("; last error: ValueError: boom")
            assert all(rows[n] and rows[n].finished_at and rows[n].processed == 1 for n in ("timed_out", "lost"))
            assert [c async for c in result_chunks(session, ids["lost"])] == [[{"line": 1}]]  # the lines done are kept
        # Swept again, nothing more to do: the failed jobs stay failed, the others are still left alone.
        assert await sweep_lost_jobs(ctx) == 0
    finally:
        async with unit_of_work(maker) as session:
            await session.execute(delete(BatchJob).where(BatchJob.id.in_(ids.values())))  # items cascade
        for job_id in ids.values():
            await redis.delete(f"arq:result:{arq_job_id(job_id)}", f"arq:job:{arq_job_id(job_id)}")
            await redis.zrem(queue_name(), arq_job_id(job_id))
