"""What every arq worker shares: the database in the job context, Redis that is waited for, and one machinery for
the jobs recorded in Postgres (services.common.jobs names them; services.common.models.jobs their columns).

A job runs in four steps, each guarded in Postgres by the send's number (`attempts`):
1. claim: `UPDATE ... SET status = 'running' WHERE id = :id AND status = 'queued' AND attempts = :attempt
   RETURNING`: only the current send of a queued job gets it, so a job never runs twice;
2. while it runs, a heartbeat refreshes `heartbeat_at` every `job_heartbeat_s`; if the row is no longer this
   send's (the sweeper gave it to another send) the try is cancelled;
3. the job's own work (`body`), which returns the columns to set when it is done;
4. done, in one guarded UPDATE. A database or connection error sends the job again (the next number), up to
   `job_max_attempts`; any other error fails it with the reason.

The sweeper (one arq cron, `sweeper(...)`, in each worker for the kinds it runs) takes for lost a job whose
heartbeat is older than `job_lost_after_s`: running (its worker died) or queued and not held by arq (Redis lost
it, or a try failed before it could claim). It sends it again with the next number, or fails it with the reason
once it was sent `job_max_attempts` times. A claim that fails on a stale connection (Postgres restarted) is
retried by arq at once.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry, cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.jobs import Job
from arq.jobs import JobStatus as ArqJobStatus
from arq.worker import Function, func
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import func as sql_func
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import make_engine, make_sessionmaker, unit_of_work
from services.common.jobs import JobKind, Lost, send
from services.common.models.jobs import JobStatus
from services.common.settings import get_settings

log = logging.getLogger(__name__)

# A job's work: given the job context and the claimed row, the columns to set when it is done.
JobBody = Callable[[dict[str, Any], Any], Awaitable[dict[str, Any]]]


async def open_database(ctx: dict[str, Any]) -> None:
    """Jobs open their own units of work from `ctx["sessionmaker"]`."""
    ctx["engine"] = make_engine()
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])


async def close_database(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


def worker_redis_settings() -> RedisSettings:
    """Redis for a worker: every command waits for Redis to come back (retried for ever, backing off to 5 s), so a
    worker rides out a Redis outage or restart instead of exiting."""
    settings = RedisSettings.from_dsn(get_settings().redis_url)
    settings.retry = RedisRetry(ExponentialBackoff(cap=5, base=0.1), retries=-1)
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, ConnectionError, OSError]
    settings.conn_retries = 1_000_000  # at start too
    return settings


def sweep_seconds() -> set[int] | None:
    """The seconds of each minute the sweeper runs at (None: every second)."""
    every = max(1, min(60, get_settings().job_sweep_every_s))
    return None if every == 1 else set(range(0, 60, every))


def _transient(exc: BaseException) -> bool:
    """A fault of the database or the network, not of the job: worth another try."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError | RedisConnectionError)


def _guard(kind: JobKind, job_id: Any, attempt: int, status: JobStatus) -> Any:
    model: Any = kind.model
    return update(model).where(model.id == job_id, model.attempts == attempt, model.status == status)


async def _heartbeat(maker: async_sessionmaker[AsyncSession], kind: JobKind, job_id: Any, attempt: int) -> None:
    """Refresh the heartbeat until cancelled; return when the row is no longer this send's."""
    every = get_settings().job_heartbeat_s
    while True:
        await asyncio.sleep(every)
        try:
            async with unit_of_work(maker) as session:
                done = await session.execute(
                    _guard(kind, job_id, attempt, JobStatus.running).values(heartbeat_at=datetime.now(UTC))
                )
            if not done.rowcount:  # type: ignore[attr-defined]
                return
        except Exception:
            log.warning("heartbeat of %s %s failed; retrying", kind.function, job_id, exc_info=True)


async def _release(ctx: dict[str, Any], kind: JobKind, job_id: Any, attempt: int, reason: str) -> None:
    """Give a running job back: queued with the next send number and sent again, or failed once it used up its
    attempts. If this fails (the database is away), the sweeper does it when the heartbeat is stale."""
    settings = get_settings()
    now = datetime.now(UTC)
    async with unit_of_work(ctx["sessionmaker"]) as session:
        if attempt >= settings.job_max_attempts:
            await session.execute(
                _guard(kind, job_id, attempt, JobStatus.running).values(
                    status=JobStatus.failed, error=f"gave up after {attempt} attempts: {reason}", finished_at=now
                )
            )
            return
        done = await session.execute(
            _guard(kind, job_id, attempt, JobStatus.running).values(
                status=JobStatus.queued, attempts=attempt + 1, error=reason, heartbeat_at=now
            )
        )
    if done.rowcount:  # type: ignore[attr-defined]
        await send(ctx["redis"], kind, job_id, attempt + 1, defer=timedelta(seconds=2))


async def run_job(ctx: dict[str, Any], kind: JobKind, job_id: Any, attempt: int, body: JobBody) -> str:
    maker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    model: Any = kind.model
    now = datetime.now(UTC)
    try:
        async with unit_of_work(maker) as session:
            row = await session.scalar(
                _guard(kind, job_id, attempt, JobStatus.queued)
                .values(
                    status=JobStatus.running,
                    started_at=sql_func.coalesce(model.started_at, now),
                    heartbeat_at=now,
                    finished_at=None,
                )
                .returning(model)
            )
    except Exception as exc:
        if _transient(exc):  # e.g. a stale connection after a Postgres restart: nothing claimed, try again
            log.warning("claim of %s %s failed (%s); retrying", kind.function, job_id, exc)
            raise Retry(defer=1) from exc
        raise
    if row is None:
        return "skipped"  # done, failed, running elsewhere, or a stale send
    beat = asyncio.create_task(_heartbeat(maker, kind, job_id, attempt))
    work = asyncio.ensure_future(body(ctx, row))
    try:
        await asyncio.wait({beat, work}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await work
            log.warning("%s %s attempt %s was taken over; stopped", kind.function, job_id, attempt)
            return "lost"
        values = work.result()
    except asyncio.CancelledError:
        # A timeout or a shutdown: give the job back at once rather than after the heartbeat window.
        work.cancel()
        with suppress(Exception):
            await asyncio.wait_for(_release(ctx, kind, job_id, attempt, "interrupted: timeout or shutdown"), 5)
        raise
    except Lost:
        log.warning("%s %s attempt %s was taken over; stopped", kind.function, job_id, attempt)
        return "lost"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if _transient(exc):
            log.warning("%s %s attempt %s: %s; sending it again", kind.function, job_id, attempt, reason)
            await _release(ctx, kind, job_id, attempt, reason)
            return "released"
        log.exception("%s %s failed", kind.function, job_id)
        async with unit_of_work(maker) as session:
            await session.execute(
                _guard(kind, job_id, attempt, JobStatus.running).values(
                    status=JobStatus.failed, error=reason, finished_at=datetime.now(UTC)
                )
            )
        return "failed"
    finally:
        beat.cancel()
    async with unit_of_work(maker) as session:
        done = await session.execute(
            _guard(kind, job_id, attempt, JobStatus.running).values(
                status=JobStatus.done,
                error=None,
                finished_at=datetime.now(UTC),
                heartbeat_at=datetime.now(UTC),
                **values,
            )
        )
    return "done" if done.rowcount else "lost"  # type: ignore[attr-defined]


def job_function(kind: JobKind, body: JobBody) -> Function:
    """The arq function of a job kind: `(ctx, job_id, attempt)`."""

    async def run(ctx: dict[str, Any], job_id: str, attempt: int) -> str:
        return await run_job(ctx, kind, kind.parse_id(job_id), int(attempt), body)

    return func(run, name=kind.function, max_tries=get_settings().job_max_attempts)


async def sweep(ctx: dict[str, Any], kinds: tuple[JobKind, ...]) -> int:
    """Send again, or fail with the reason, the jobs of `kinds` taken for lost; how many it handled."""
    settings = get_settings()
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=settings.job_lost_after_s)
    handled = 0
    for kind in kinds:
        model: Any = kind.model
        async with unit_of_work(ctx["sessionmaker"]) as session:
            stale = (
                await session.execute(
                    select(model.id, model.status, model.attempts, model.error).where(
                        model.status.in_([JobStatus.queued, JobStatus.running]), model.heartbeat_at < cutoff
                    )
                )
            ).all()
        for job_id, status, attempt, last_error in stale:
            if status == JobStatus.queued:
                held = await Job(kind.arq_job_id(job_id, attempt), ctx["redis"], _queue_name=kind.queue).status()
                if held in (ArqJobStatus.queued, ArqJobStatus.deferred):
                    continue  # waiting for a free worker
                reason = f"send {attempt} was lost (arq: {held.value})"
            else:
                reason = (
                    f"the worker running attempt {attempt} stopped: no heartbeat for {settings.job_lost_after_s:g} s"
                )
            values: dict[str, Any]
            if attempt >= settings.job_max_attempts:
                error = f"gave up after {attempt} attempts: {reason}"
                if last_error and last_error not in reason:
                    error += f"; last error: {last_error}"
                values = {"status": JobStatus.failed, "error": error, "finished_at": now}
            else:
                values = {"status": JobStatus.queued, "attempts": attempt + 1, "error": reason, "heartbeat_at": now}
            async with unit_of_work(ctx["sessionmaker"]) as session:
                done = await session.execute(
                    update(model)
                    .where(
                        model.id == job_id,
                        model.status == status,
                        model.attempts == attempt,
                        model.heartbeat_at < cutoff,  # unless it moved meanwhile
                    )
                    .values(**values)
                )
            if not done.rowcount:  # type: ignore[attr-defined]
                continue
            handled += 1
            log.warning("%s %s: %s; %s", kind.function, job_id, reason, values["status"])
            if values["status"] == JobStatus.queued:
                await send(ctx["redis"], kind, job_id, attempt + 1)
    return handled


def sweeper(*kinds: JobKind) -> CronJob:
    """The sweeper cron of a worker running `kinds`."""

    async def sweep_jobs(ctx: dict[str, Any]) -> int:
        return await sweep(ctx, kinds)

    # The cron's arq job id is global to Redis: named after the queues, so workers of other queues sweep too.
    name = "sweep_jobs:" + ",".join(kind.queue for kind in kinds)
    return cron(sweep_jobs, name=name, second=sweep_seconds(), run_at_startup=True, timeout=300)
