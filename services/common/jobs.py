"""The kinds of jobs and their queues, and sending them to arq only after the transaction that recorded them
commits.

A job kind names its arq function, its queue and its table; the API sends jobs by kind and imports no worker
code (services.common.worker runs them). Each send of a job carries its number (`attempts` on the row) and has
an arq job id of its own, `{queue}:{function}:{id}:{attempt}`: a re-send is never ignored by arq for an id it
still holds (a result, an in-progress key left by a killed worker), and a stale send cannot claim the job.

A job recorded in Postgres inside the request's transaction must not reach the worker before the
commit (the worker would not see its row) and must not reach it at all after a rollback. The session
keeps the pending jobs and sends them from its `after_commit` event; a rollback drops them. A job that
Redis loses is found again by the worker's sweeper, which re-enqueues recorded jobs still queued.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.common.models.jobs import JobColumns
from services.common.models.reports import ReportJob
from services.common.models.scoring import BatchJob
from services.common.settings import get_settings

log = logging.getLogger(__name__)

_PENDING = "pending_jobs"
_HOOKED = "pending_jobs_hooked"
_in_flight: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class JobKind:
    function: str  # the arq function that runs it
    queue_setting: str  # the setting naming its queue
    model: type[JobColumns]  # its table
    parse_id: Any  # the row id from its text form in the arq job's arguments

    @property
    def queue(self) -> str:
        return str(getattr(get_settings(), self.queue_setting))

    def arq_job_id(self, job_id: Any, attempt: int) -> str:
        return f"{self.queue}:{self.function}:{job_id}:{attempt}"


@dataclass(frozen=True)
class PendingJob:
    """A send waiting for its session's commit."""

    redis: ArqRedis
    kind: JobKind
    job_id: Any
    attempt: int


class Lost(Exception):
    """A job's row is no longer this send's: the sweeper gave the job to another send (raised by a job's work)."""


REPORT = JobKind("run_report", "reports_queue", ReportJob, UUID)
SCORING_BATCH = JobKind("score_batch_job", "scoring_queue_name", BatchJob, int)


def send_after_commit(session: AsyncSession, redis: ArqRedis | None, kind: JobKind, job_id: Any, attempt: int) -> None:
    """Send a recorded job (its send number `attempt`) once `session` commits; nothing if it rolls back. Without
    Redis the job stays queued until the worker's sweeper sends it."""
    if redis is None:
        log.warning("no redis pool: %s %s stays queued until the sweeper sends it", kind.function, job_id)
        return
    sync = session.sync_session
    sync.info.setdefault(_PENDING, []).append(PendingJob(redis, kind, job_id, attempt))
    if not sync.info.get(_HOOKED):
        event.listen(sync, "after_commit", _send_pending)
        event.listen(sync, "after_soft_rollback", _drop_pending)
        sync.info[_HOOKED] = True


async def send(redis: ArqRedis, kind: JobKind, job_id: Any, attempt: int, defer: timedelta | None = None) -> bool:
    """Send a job now (the sweeper and the worker); False when arq already holds this send."""
    sent = await redis.enqueue_job(
        kind.function,
        str(job_id),
        attempt,
        _job_id=kind.arq_job_id(job_id, attempt),
        _queue_name=kind.queue,
        _defer_by=defer,
    )
    return sent is not None


async def _send_once_committed(job: PendingJob) -> None:
    try:
        await send(job.redis, job.kind, job.job_id, job.attempt)
    except Exception:  # the sweeper sends it again
        log.exception("send of %s %s failed; the sweeper will retry", job.kind.function, job.job_id)


def _send_pending(session: Session) -> None:
    jobs: list[PendingJob] = session.info.pop(_PENDING, [])
    if not jobs:
        return
    loop = asyncio.get_running_loop()
    for job in jobs:
        task = loop.create_task(_send_once_committed(job))
        _in_flight.add(task)
        task.add_done_callback(_in_flight.discard)


def _drop_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


async def wait_for_enqueued() -> None:
    """Wait until every job handed over after a commit has reached Redis (tests and shutdown)."""
    while _in_flight:
        await asyncio.gather(*list(_in_flight), return_exceptions=True)
