"""The job machinery of services.common.worker on both job tables: the guarded claim, sends under a new arq id,
and the one sweeper (called with a real context; the rows are committed in this run's database and deleted)."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job
from arq.jobs import JobStatus as ArqJobStatus
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import make_sessionmaker, unit_of_work
from services.common.jobs import REPORT, SCORING_BATCH, JobKind, send
from services.common.models.jobs import JobStatus
from services.common.models.reports import ReportJob
from services.common.models.scoring import BatchJob
from services.common.settings import REPO_ROOT, get_settings
from services.common.worker import job_function, sweep


@pytest.fixture
async def redis() -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    yield pool
    for kind in (REPORT, SCORING_BATCH):
        keys = [key async for key in pool.scan_iter(match=f"arq:*:{kind.queue}:*")]
        if keys:
            await pool.delete(*keys)
        await pool.delete(kind.queue)
    await pool.aclose()


def _row(kind: JobKind, **values: Any) -> Any:
    if kind is REPORT:
        return ReportJob(kind="annual_plan", params={}, requested_by="test", **values)
    return BatchJob(total=0, processed=0, failed_lines=0, **values)


@pytest.mark.parametrize("kind", [REPORT, SCORING_BATCH], ids=["report", "scoring"])
async def test_sweeper(kind: JobKind, engine: AsyncEngine, redis: ArqRedis) -> None:
    """Taken for lost once the heartbeat is older than the window: a running job (its worker died) and a queued one
    arq does not hold are sent again under the next number and a new arq id; at the last attempt, failed with the
    reason. A queued job arq still holds, and jobs with a recent heartbeat, are left alone."""
    maker = make_sessionmaker(engine)
    settings = get_settings()
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=settings.job_lost_after_s + 60)
    fresh = now - timedelta(seconds=settings.job_lost_after_s / 2)
    last = settings.job_max_attempts
    rows = {
        "dead_worker": dict(status=JobStatus.running, attempts=1, heartbeat_at=stale),
        "dead_worker_last_try": dict(status=JobStatus.running, attempts=last, heartbeat_at=stale, error="E: boom"),
        "never_sent": dict(status=JobStatus.queued, attempts=1, heartbeat_at=stale),
        "held_by_arq": dict(status=JobStatus.queued, attempts=1, heartbeat_at=stale),
        "running": dict(status=JobStatus.running, attempts=1, heartbeat_at=fresh),
        "queued": dict(status=JobStatus.queued, attempts=1, heartbeat_at=fresh),
        "done": dict(status=JobStatus.done, attempts=1, heartbeat_at=stale),
    }
    ids: dict[str, Any] = {}
    try:
        async with unit_of_work(maker) as session:
            for name, values in rows.items():
                row = _row(kind, **values)
                session.add(row)
                await session.flush()
                ids[name] = row.id
        # arq holds this one's send, waiting for a free worker.
        assert await send(redis, kind, ids["held_by_arq"], 1, defer=timedelta(hours=1))
        # A send arq has finished (a try that failed before it could claim): its id is spent.
        await redis.set(f"arq:result:{kind.arq_job_id(ids['dead_worker'], 1)}", b"spent")

        ctx = {"sessionmaker": maker, "redis": redis}
        assert await sweep(ctx, (kind,)) == 3
        async with maker() as session:
            got = {name: await session.get(kind.model, job_id) for name, job_id in ids.items()}
        state = {name: (row.status, row.attempts) for name, row in got.items() if row is not None}
        assert state == {
            "dead_worker": (JobStatus.queued, 2),
            "dead_worker_last_try": (JobStatus.failed, last),
            "never_sent": (JobStatus.queued, 2),
            "held_by_arq": (JobStatus.queued, 1),
            "running": (JobStatus.running, 1),
            "queued": (JobStatus.queued, 1),
            "done": (JobStatus.done, 1),
        }
        assert "the worker running attempt 1 stopped: no heartbeat for" in str(got["dead_worker"].error)
        failed = str(got["dead_worker_last_try"].error)
        assert failed.startswith(f"gave up after {last} attempts: the worker running attempt {last} stopped")
        assert failed.endswith("; last error: E: boom")
        assert got["dead_worker_last_try"].finished_at is not None
        assert str(got["never_sent"].error) == "send 1 was lost (arq: not_found)"
        # Sent again under the next number: arq holds the new send even where the old id is spent.
        for name in ("dead_worker", "never_sent"):
            status = await Job(kind.arq_job_id(ids[name], 2), redis, _queue_name=kind.queue).status()
            assert status == ArqJobStatus.queued, name
        # Swept again at once: nothing is taken for lost twice (the re-sent jobs' heartbeat is now).
        assert await sweep(ctx, (kind,)) == 0
    finally:
        async with unit_of_work(maker) as session:
            await session.execute(delete(kind.model).where(kind.model.id.in_(ids.values())))  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", [REPORT, SCORING_BATCH], ids=["report", "scoring"])
async def test_only_the_current_send_of_a_queued_job_claims_it(kind: JobKind, engine: AsyncEngine) -> None:
    """A stale send (an earlier number), a second delivery of the current one, or a send of a job running elsewhere
    never runs the job."""
    maker = make_sessionmaker(engine)
    calls: list[Any] = []

    async def body(ctx: dict[str, Any], job: Any) -> dict[str, Any]:
        calls.append(job.id)
        return {}

    run = job_function(kind, body).coroutine
    async with unit_of_work(maker) as session:
        row = _row(kind, status=JobStatus.queued, attempts=2)
        session.add(row)
    job_id = str(row.id)
    try:
        ctx = {"sessionmaker": maker}
        assert await run(ctx, job_id, 1) == "skipped"  # the first send, superseded by the second
        assert await run(ctx, job_id, 2) == "done"
        assert await run(ctx, job_id, 2) == "skipped"  # delivered twice: runs once
        assert calls == [row.id]
        async with maker() as session:
            done = await session.get(kind.model, row.id)
            assert done is not None and (done.status, done.attempts, done.error) == (JobStatus.done, 2, None)
    finally:
        async with unit_of_work(maker) as session:
            await session.execute(delete(kind.model).where(kind.model.id == row.id))  # type: ignore[attr-defined]


def test_the_api_imports_no_worker_code() -> None:
    """The registry and scoring APIs send jobs by name: neither the report jobs nor the worker machinery is imported
    by them."""
    code = (
        "import sys, services.api.main, services.scoring.main\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('services.reports', 'services.common.worker')))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("kind", [REPORT, SCORING_BATCH], ids=["report", "scoring"])
async def test_a_try_taken_over_stops_and_writes_nothing(
    kind: JobKind, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a try runs, the sweeper gives its job to the next send (as it does when the heartbeat went silent):
    the try's heartbeat finds the row is no longer its own, the try is cancelled, and it neither finishes nor
    fails the job."""
    monkeypatch.setattr(get_settings(), "job_heartbeat_s", 0.05)
    maker = make_sessionmaker(engine)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def body(ctx: dict[str, Any], job: Any) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    async with unit_of_work(maker) as session:
        row = _row(kind, status=JobStatus.queued, attempts=1)
        session.add(row)
    model: Any = kind.model
    try:
        run = asyncio.create_task(job_function(kind, body).coroutine({"sessionmaker": maker}, str(row.id), 1))
        await asyncio.wait_for(started.wait(), 10)
        async with unit_of_work(maker) as session:
            await session.execute(
                update(model).where(model.id == row.id).values(status=JobStatus.queued, attempts=2, error="taken over")
            )
        assert await asyncio.wait_for(run, 10) == "lost"
        assert cancelled.is_set()
        async with maker() as session:
            after = await session.get(model, row.id)
            assert after is not None and (after.status, after.attempts, after.error) == (
                JobStatus.queued,
                2,
                "taken over",
            )
    finally:
        async with unit_of_work(maker) as session:
            await session.execute(delete(model).where(model.id == row.id))
