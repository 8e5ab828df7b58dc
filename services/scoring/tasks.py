"""Jobs of the scoring service: large JSON Lines scoring runs, recorded in Postgres, run by arq.

The request records the job and its lines and commits; the job id is then enqueued. The worker takes
only the id, scores the lines in chunks, and records progress after each chunk.
"""

import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from arq import Retry
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import unit_of_work
from services.common.errors import FieldError, ValidationFailed
from services.common.models.scoring import BatchItem, BatchJob, JobStatus

log = logging.getLogger(__name__)

CHUNK = 1000
MAX_JOB_LINES = 1_000_000


def queue_name() -> str:
    return os.environ.get("SCORING_QUEUE_NAME", "arq:scoring")


async def create_job(session: AsyncSession, lines: AsyncIterator[bytes]) -> BatchJob:
    """Record a job and its raw lines (each stored as {"raw": text}); flushes only."""
    job = BatchJob(status=JobStatus.queued, total=0, processed=0, failed_lines=0)
    session.add(job)
    await session.flush()
    batch: list[dict[str, Any]] = []
    n = 0
    async for raw in lines:
        if not raw.strip():
            continue
        n += 1
        if n > MAX_JOB_LINES:
            raise ValidationFailed(
                f"a job takes at most {MAX_JOB_LINES} lines", [FieldError("body", f"more than {MAX_JOB_LINES} lines")]
            )
        batch.append({"job_id": job.id, "line_no": n, "input": {"raw": raw.decode("utf-8", "replace")}})
        if len(batch) >= CHUNK:
            await session.execute(insert(BatchItem), batch)
            batch = []
    if batch:
        await session.execute(insert(BatchItem), batch)
    if n == 0:
        raise ValidationFailed("the body has no lines", [FieldError("body", "empty")])
    job.total = n
    await session.flush()
    return job


async def enqueue(app: Any, job_id: int) -> None:
    redis = getattr(app.state, "redis", None)
    if redis is None:
        log.warning("no redis pool: batch job %s stays queued", job_id)
        return
    await redis.enqueue_job("score_batch_job", job_id, _queue_name=queue_name())


async def score_batch_job(ctx: dict[str, Any], job_id: int) -> dict[str, Any]:
    from services.scoring.router import score_raw_line
    from services.scoring.service import VersionCache

    maker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with unit_of_work(maker) as session:
        job = await session.get(BatchJob, job_id, with_for_update=True)
        if job is None:
            raise Retry(defer=1)  # the request's transaction may not have committed yet
        if job.status in (JobStatus.done, JobStatus.failed):
            return {"job_id": job_id, "status": str(job.status)}
        job.status = JobStatus.running
        job.started_at = datetime.now(UTC)
        cache = await VersionCache.load(session)
    try:
        last = 0
        while True:
            async with unit_of_work(maker) as session:
                rows = (
                    await session.execute(
                        select(BatchItem.line_no, BatchItem.input)
                        .where(BatchItem.job_id == job_id, BatchItem.line_no > last, BatchItem.output.is_(None))
                        .order_by(BatchItem.line_no)
                        .limit(CHUNK)
                    )
                ).all()
                if not rows:
                    break
                failed = 0
                for line_no, data in rows:
                    out = score_raw_line(cache, line_no, data["raw"].encode())
                    failed += "error" in out
                    await session.execute(
                        update(BatchItem)
                        .where(BatchItem.job_id == job_id, BatchItem.line_no == line_no)
                        .values(output=out)
                    )
                last = rows[-1][0]
                await session.execute(
                    update(BatchJob)
                    .where(BatchJob.id == job_id)
                    .values(
                        processed=BatchJob.processed + len(rows),
                        failed_lines=BatchJob.failed_lines + failed,
                        updated_at=datetime.now(UTC),
                    )
                )
    except Exception as exc:
        async with unit_of_work(maker) as session:
            await session.execute(
                update(BatchJob)
                .where(BatchJob.id == job_id)
                .values(status=JobStatus.failed, error=f"{type(exc).__name__}: {exc}", finished_at=datetime.now(UTC))
            )
        raise
    async with unit_of_work(maker) as session:
        await session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id)
            .values(status=JobStatus.done, finished_at=datetime.now(UTC), updated_at=datetime.now(UTC))
        )
    return {"job_id": job_id, "status": "done"}


async def results(session: AsyncSession, job_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(BatchItem.output)
        .where(BatchItem.job_id == job_id, BatchItem.output.is_not(None))
        .order_by(BatchItem.line_no)
    )
    return [r for r in rows if r is not None]
