"""Enqueue arq jobs only after the transaction that recorded them commits.

A job recorded in Postgres inside the request's transaction must not reach the worker before the
commit (the worker would not see its row) and must not reach it at all after a rollback. The session
keeps the pending jobs and sends them from its `after_commit` event; a rollback drops them. A job that
Redis loses is found again by the worker's sweeper, which re-enqueues recorded jobs still queued.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING = "pending_jobs"
_HOOKED = "pending_jobs_hooked"
_in_flight: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class PendingJob:
    redis: ArqRedis
    function: str
    args: tuple[Any, ...]
    job_id: str
    queue_name: str | None


def enqueue_after_commit(
    session: AsyncSession, redis: ArqRedis, function: str, *args: Any, job_id: str, queue_name: str | None = None
) -> None:
    sync = session.sync_session
    sync.info.setdefault(_PENDING, []).append(PendingJob(redis, function, args, job_id, queue_name))
    if not sync.info.get(_HOOKED):
        event.listen(sync, "after_commit", _send_pending)
        event.listen(sync, "after_soft_rollback", _drop_pending)
        sync.info[_HOOKED] = True


async def _enqueue(job: PendingJob) -> None:
    try:
        kwargs: dict[str, Any] = {"_job_id": job.job_id}
        if job.queue_name:
            kwargs["_queue_name"] = job.queue_name
        await job.redis.enqueue_job(job.function, *job.args, **kwargs)
    except Exception:  # the sweeper re-enqueues it
        log.exception("enqueue of %s %s failed; the sweeper will retry", job.function, job.job_id)


def _send_pending(session: Session) -> None:
    jobs: list[PendingJob] = session.info.pop(_PENDING, [])
    if not jobs:
        return
    loop = asyncio.get_running_loop()
    for job in jobs:
        task = loop.create_task(_enqueue(job))
        _in_flight.add(task)
        task.add_done_callback(_in_flight.discard)


def _drop_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


async def wait_for_enqueued() -> None:
    """Wait until every job handed over after a commit has reached Redis (tests and shutdown)."""
    while _in_flight:
        await asyncio.gather(*list(_in_flight), return_exceptions=True)
