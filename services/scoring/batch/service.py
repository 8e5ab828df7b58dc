"""The rules of the scoring service over the database (JSON Lines scoring, streamed or as a queued job). Services
flush; they never commit."""

import hashlib
from collections.abc import AsyncIterator

import orjson
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import record_batch
from services.common.auth import Principal, Role
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.scoring import BatchJob
from services.common.spool import Spool
from services.scoring import tasks
from services.scoring.batch import repository as repo
from services.scoring.batch.scoring import VersionCache, error_line, score_raw_line

# Result lines per chunk of a streamed answer.
LINES_PER_CHUNK = 500
# A streamed body is spooled in memory up to this size, then in a temporary file; it is read back this much at a time.
SPOOL_BYTES = 64 << 10


def _score(cache: VersionCache, line_no: int, raw: bytes) -> dict[str, object]:
    if raw is tasks.OVERLONG:
        reason = f"longer than {tasks.MAX_LINE_BYTES} bytes"
        return error_line(line_no, None, [FieldError("line", reason)], "line too long")
    return score_raw_line(cache, line_no, raw)


async def score_lines(session: AsyncSession, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The results of a JSON Lines body, one result or error object per non-blank line, in order, as chunks of
    JSON Lines to stream out. An empty body is refused (422) here, before any result is produced.

    The body is taken in whole (spooled: in memory up to SPOOL_BYTES, then in a temporary file) before the answer
    starts: while it streams an answer, Starlette's `StreamingResponse` waits for the client's disconnect by calling
    `receive()`, which would take the request's body chunks from under a reader still reading them."""
    cache = await VersionCache.load(session)
    spool = Spool(body, in_memory=SPOOL_BYTES, read_size=SPOOL_BYTES)
    try:
        lines = tasks.lines_of(spool.again())
        # Read up to the first non-blank line before answering, so an empty body is refused with a problem (422).
        first_no = 0
        first: bytes | None = None
        async for raw in lines:
            first_no += 1
            if raw is tasks.OVERLONG or raw.strip():
                first = raw
                break
        if first is None:
            raise ValidationFailed("the body has no lines", [FieldError("body", "empty: one JSON object per line")])
    except BaseException:
        spool.close()
        raise
    return _results(cache, spool, lines, first_no, first)


async def _results(
    cache: VersionCache, spool: Spool, lines: AsyncIterator[bytes], first_no: int, first: bytes
) -> AsyncIterator[bytes]:
    try:
        out: list[bytes] = [orjson.dumps(_score(cache, first_no, first)) + b"\n"]
        line_no = first_no
        async for raw in lines:
            line_no += 1
            if raw is not tasks.OVERLONG and not raw.strip():
                continue
            out.append(orjson.dumps(_score(cache, line_no, raw)) + b"\n")
            if len(out) >= LINES_PER_CHUNK:
                yield b"".join(out)
                out.clear()
        if out:
            yield b"".join(out)
    finally:
        spool.close()


async def _hashed(body: AsyncIterator[bytes], digest: "hashlib._Hash") -> AsyncIterator[bytes]:
    async for chunk in body:
        digest.update(chunk)
        yield chunk


async def create_job(
    session: AsyncSession, body: AsyncIterator[bytes], redis: ArqRedis | None, who: Principal
) -> BatchJob:
    """Record a job and its lines; it is sent to the worker once the session commits. Audited once, as a batch
    (its number of lines and the SHA-256 of the body), not per line."""
    digest = hashlib.sha256()
    job = await tasks.create_job(session, tasks.lines_of(_hashed(body, digest)))
    await record_batch(session, who, repo.BATCH_KIND, str(job.id), {"lines": job.total}, digest.hexdigest())
    tasks.enqueue(session, redis, job)
    return job


async def get_job(session: AsyncSession, job_id: int, who: Principal) -> BatchJob:
    """A job, for the commission secretary and the auditor; an integration account sees only the jobs it sent
    (another's answers 404, as if it did not exist)."""
    job = await repo.get_job(session, job_id)
    if not who.has(Role.commission_secretary, Role.auditor) and await repo.sender(session, job.id) != who.membership_id:
        raise NotFound(f"batch job {job_id} does not exist")
    return job


async def job_results(session: AsyncSession, job_id: int, who: Principal) -> AsyncIterator[bytes]:
    """The job's results as chunks of JSON Lines, in line order (404 for an unknown job, or another account's,
    before any is produced)."""
    await get_job(session, job_id, who)
    return _job_results(session, job_id)


async def _job_results(session: AsyncSession, job_id: int) -> AsyncIterator[bytes]:
    async for outputs in tasks.result_chunks(session, job_id):
        if outputs:
            yield b"".join(orjson.dumps(output) + b"\n" for output in outputs)
