"""Jobs of the scoring service: large JSON Lines scoring runs, recorded in Postgres, run by arq.

The request records the job and its lines; the job id is handed to `enqueue_after_commit`, so it reaches
Redis only once the request's transaction has committed (and never after a rollback). The worker takes
only the id, scores the lines in chunks, and records progress after each chunk (resumable: a retried run
carries on from the first line without a result). A job Redis lost (still `queued` after `LOST_AFTER`) is
sent again by the worker's cron `sweep_lost_jobs`; the arq job id is derived from the job's id, so a second
send of a job arq still holds is a no-op. The same cron marks `failed` a job left `running` that arq no longer
holds and that made no progress for longer than the worker's job timeout (`fail_stalled_jobs`).
"""

import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.jobs import JobStatus as ArqJobStatus
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import unit_of_work
from services.common.errors import FieldError, ValidationFailed
from services.common.jobs import enqueue_after_commit
from services.common.models.scoring import BatchItem, BatchJob, JobStatus
from services.scoring.batch.scoring import VersionCache, error_line, score_raw_line

log = logging.getLogger(__name__)

SCORE_BATCH_JOB = "score_batch_job"
CHUNK = 1000
# Results read per query when a job's results are streamed out.
RESULTS_CHUNK = 1000
MAX_JOB_LINES = 1_000_000
MAX_TRIES = 5
# The worker's `job_timeout` (one try of a job); also how long a running job may go without progress.
JOB_TIMEOUT = timedelta(hours=1)
# A recorded job still queued after this long is taken for lost by Redis and sent again.
LOST_AFTER = timedelta(seconds=60)
# A line longer than this is answered with an error line (and not buffered further).
MAX_LINE_BYTES = 1 << 20
# Yielded by `lines_of` in place of a line longer than MAX_LINE_BYTES (compared by identity).
OVERLONG = b"\x00overlong\x00"


def queue_name() -> str:
    return os.environ.get("SCORING_QUEUE_NAME", "arq:scoring")


def arq_job_id(job_id: int) -> str:
    """The arq job id of a batch job: unique per queue, stable across re-sends (idempotent enqueue)."""
    return f"{queue_name()}:htmc-batch:{job_id}"


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Split a byte stream into lines (without the newline). A line over MAX_LINE_BYTES is yielded as OVERLONG
    once, and its bytes are skipped up to the next newline."""
    buffer = b""
    skipping = False
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if skipping:
                skipping = False  # the end of the overlong line
                continue
            yield OVERLONG if len(line) > MAX_LINE_BYTES else line
        if len(buffer) > MAX_LINE_BYTES:
            if not skipping:
                yield OVERLONG
                skipping = True
            buffer = b""
    if buffer and not skipping:
        yield OVERLONG if len(buffer) > MAX_LINE_BYTES else buffer


def stored_input(raw: bytes) -> dict[str, Any]:
    """A line as stored in `htmc_batch_item.input` (JSONB): its text, or why it cannot be scored. JSONB holds
    neither invalid UTF-8 nor NUL characters; neither can be in a valid JSON line anyway."""
    if raw is OVERLONG:
        return {"invalid": f"line longer than {MAX_LINE_BYTES} bytes"}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"invalid": f"malformed JSON: not UTF-8 at byte {exc.start}"}
    if "\x00" in text:
        return {"invalid": f"malformed JSON: a NUL byte at {text.index(chr(0))}"}
    return {"raw": text}


async def create_job(session: AsyncSession, lines: AsyncIterator[bytes]) -> BatchJob:
    """Record a job and its lines (each stored by `stored_input`); flushes only."""
    job = BatchJob(status=JobStatus.queued, total=0, processed=0, failed_lines=0)
    session.add(job)
    await session.flush()
    batch: list[dict[str, Any]] = []
    n = 0
    async for raw in lines:
        if raw is not OVERLONG and not raw.strip():
            continue
        n += 1
        if n > MAX_JOB_LINES:
            raise ValidationFailed(
                f"a job takes at most {MAX_JOB_LINES} lines", [FieldError("body", f"more than {MAX_JOB_LINES} lines")]
            )
        batch.append({"job_id": job.id, "line_no": n, "input": stored_input(raw)})
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


def enqueue(session: AsyncSession, redis: ArqRedis | None, job_id: int) -> None:
    """Send the job to the worker once `session` commits (nothing is sent if it rolls back)."""
    if redis is None:
        log.warning("no redis pool: batch job %s stays queued until the sweeper sends it", job_id)
        return
    enqueue_after_commit(session, redis, SCORE_BATCH_JOB, job_id, job_id=arq_job_id(job_id), queue_name=queue_name())


async def sweep_lost_jobs(ctx: dict[str, Any]) -> int:
    """Re-enqueue recorded jobs still queued long after they were created (Redis lost them), then fail the
    running jobs the worker gave up on (`fail_stalled_jobs`). How many jobs it re-sent or failed."""
    cutoff = datetime.now(UTC) - LOST_AFTER
    async with unit_of_work(ctx["sessionmaker"]) as session:
        ids = (
            await session.scalars(
                select(BatchJob.id).where(BatchJob.status == JobStatus.queued, BatchJob.created_at < cutoff)
            )
        ).all()
    for job_id in ids:
        await ctx["redis"].enqueue_job(SCORE_BATCH_JOB, job_id, _job_id=arq_job_id(job_id), _queue_name=queue_name())
    return len(ids) + len(await fail_stalled_jobs(ctx))


async def fail_stalled_jobs(ctx: dict[str, Any]) -> list[int]:
    """Mark `failed` the jobs still `running` without progress for longer than JOB_TIMEOUT that arq no longer
    holds (it timed the try out, or gave up after a crash and MAX_TRIES); the ids failed.

    A try refreshes `updated_at` when it starts and after each chunk, and arq cancels a try JOB_TIMEOUT after it
    started: older than that, no try is at work. A job arq still holds (queued, deferred for a retry, or in
    progress until a crashed worker's lock expires) is left to it. Failed rather than sent again: arq does not
    retry a timed-out try, and a re-send would start a new arq job with its tries counted from 1, so a job that
    cannot finish in time would run for ever. The lines scored are kept and readable in the results."""
    stalled_before = datetime.now(UTC) - JOB_TIMEOUT
    async with unit_of_work(ctx["sessionmaker"]) as session:
        stalled = (
            await session.execute(
                select(BatchJob.id, BatchJob.error).where(
                    BatchJob.status == JobStatus.running, BatchJob.updated_at < stalled_before
                )
            )
        ).all()
    failed: list[int] = []
    for job_id, last_error in stalled:
        held = await Job(arq_job_id(job_id), ctx["redis"], _queue_name=queue_name()).status()
        if held not in (ArqJobStatus.complete, ArqJobStatus.not_found):
            continue
        error = (
            f"the worker gave up on this job: no progress for more than {int(JOB_TIMEOUT.total_seconds())} s "
            "(the worker's job timeout); the lines scored are kept"
        )
        if last_error:
            error += f"; last error: {last_error}"
        now = datetime.now(UTC)
        async with unit_of_work(ctx["sessionmaker"]) as session:
            done = await session.execute(
                update(BatchJob)
                .where(
                    BatchJob.id == job_id,
                    BatchJob.status == JobStatus.running,
                    BatchJob.updated_at < stalled_before,  # unless a try took it up meanwhile
                )
                .values(status=JobStatus.failed, error=error, finished_at=now, updated_at=now)
            )
        if done.rowcount:  # type: ignore[attr-defined]
            log.warning("batch job %s failed by the sweeper: %s", job_id, error)
            failed.append(job_id)
    return failed


def _score_stored(cache: VersionCache, line_no: int, data: dict[str, Any]) -> dict[str, Any]:
    if "invalid" in data:
        reason = str(data["invalid"])
        return error_line(line_no, None, [FieldError("line", reason)], reason.split(":")[0])
    return score_raw_line(cache, line_no, data["raw"].encode())


async def score_batch_job(ctx: dict[str, Any], job_id: int) -> dict[str, Any]:
    maker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with unit_of_work(maker) as session:
        job = await session.get(BatchJob, job_id, with_for_update=True)
        if job is None:
            raise Retry(defer=1)  # not committed yet (or never: arq gives up after max_tries)
        if job.status in (JobStatus.done, JobStatus.failed):
            return {"job_id": job_id, "status": str(job.status)}
        job.status = JobStatus.running
        job.started_at = job.started_at or datetime.now(UTC)
        job.error = None
        job.updated_at = datetime.now(UTC)
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
                    out = _score_stored(cache, line_no, data)
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
        # Lines already scored are kept (committed chunk by chunk): a retry carries on after them.
        final = int(ctx.get("job_try") or 1) >= MAX_TRIES
        log.exception("batch job %s failed (try %s%s)", job_id, ctx.get("job_try"), ", giving up" if final else "")
        async with unit_of_work(maker) as session:
            await session.execute(
                update(BatchJob)
                .where(BatchJob.id == job_id)
                .values(
                    status=JobStatus.failed if final else JobStatus.running,
                    error=f"{type(exc).__name__}: {exc}",
                    finished_at=datetime.now(UTC) if final else None,
                    updated_at=datetime.now(UTC),
                )
            )
        if final:
            return {"job_id": job_id, "status": "failed"}
        raise Retry(defer=5) from exc
    async with unit_of_work(maker) as session:
        await session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id)
            .values(status=JobStatus.done, finished_at=datetime.now(UTC), updated_at=datetime.now(UTC))
        )
    return {"job_id": job_id, "status": "done"}


async def result_chunks(session: AsyncSession, job_id: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The job's results in line order, RESULTS_CHUNK rows per query (keyset on the primary key), so a large job
    is never held in memory. Each query sees the latest commit: lines a running job scores meanwhile may be
    included, still in line order and never twice."""
    last = 0
    while True:
        rows = (
            await session.execute(
                select(BatchItem.line_no, BatchItem.output)
                .where(BatchItem.job_id == job_id, BatchItem.line_no > last, BatchItem.output.is_not(None))
                .order_by(BatchItem.line_no)
                .limit(RESULTS_CHUNK)
            )
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [output for _, output in rows if output is not None]  # a JSON null is no result
        if len(rows) < RESULTS_CHUNK:
            return
