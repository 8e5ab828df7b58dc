"""Jobs of the scoring service: large JSON Lines scoring runs, recorded in Postgres, run by arq.

The request records the job and its lines and sends it (`send_after_commit`), so it reaches Redis only once the
request's transaction has committed (and never after a rollback). The worker takes only the id and runs it
through the job machinery of services.common.worker (a guarded claim, a heartbeat, the sweeper that sends again a
job Redis lost or whose worker died); `score_batch_job` scores the lines in chunks and records progress after
each chunk, so a try taken up again carries on from the first line without a result.
"""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import unit_of_work
from services.common.errors import FieldError, ValidationFailed
from services.common.jobs import SCORING_BATCH, Lost, send_after_commit
from services.common.models.scoring import BatchItem, BatchJob, JobStatus
from services.scoring.batch.scoring import VersionCache, error_line, score_raw_line

log = logging.getLogger(__name__)

CHUNK = 1000
# Results read per query when a job's results are streamed out.
RESULTS_CHUNK = 1000
MAX_JOB_LINES = 1_000_000
# A line longer than this is answered with an error line (and not buffered further).
MAX_LINE_BYTES = 1 << 20
# Yielded by `lines_of` in place of a line longer than MAX_LINE_BYTES (compared by identity).
OVERLONG = b"\x00overlong\x00"


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


def enqueue(session: AsyncSession, redis: ArqRedis | None, job: BatchJob) -> None:
    """Send the job to the worker once `session` commits (nothing is sent if it rolls back)."""
    send_after_commit(session, redis, SCORING_BATCH, job.id, job.attempts)


def _score_stored(cache: VersionCache, line_no: int, data: dict[str, Any]) -> dict[str, Any]:
    if "invalid" in data:
        reason = str(data["invalid"])
        return error_line(line_no, None, [FieldError("line", reason)], reason.split(":")[0])
    return score_raw_line(cache, line_no, data["raw"].encode())


async def score_batch_job(ctx: dict[str, Any], job: BatchJob) -> dict[str, Any]:
    """The work of a claimed batch job (services.common.worker runs it). Lines already scored are kept
    (committed chunk by chunk): a later attempt carries on after them. Progress is written only while the row is
    this attempt's."""
    maker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    async with unit_of_work(maker) as session:
        cache = await VersionCache.load(session)
    last = 0
    while True:
        async with unit_of_work(maker) as session:
            rows = (
                await session.execute(
                    select(BatchItem.line_no, BatchItem.input)
                    .where(BatchItem.job_id == job.id, BatchItem.line_no > last, BatchItem.output.is_(None))
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
                    update(BatchItem).where(BatchItem.job_id == job.id, BatchItem.line_no == line_no).values(output=out)
                )
            last = rows[-1][0]
            progress = await session.execute(
                update(BatchJob)
                .where(BatchJob.id == job.id, BatchJob.attempts == job.attempts, BatchJob.status == JobStatus.running)
                .values(
                    processed=BatchJob.processed + len(rows),
                    failed_lines=BatchJob.failed_lines + failed,
                    heartbeat_at=datetime.now(UTC),
                )
            )
            if not progress.rowcount:  # type: ignore[attr-defined]
                raise Lost(f"batch job {job.id} attempt {job.attempts}")  # this chunk is rolled back
    return {}


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
