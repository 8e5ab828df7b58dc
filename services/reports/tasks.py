"""Jobs run by the report worker: reports (they take ids; each opens its own unit of work), and the re-sending of
recorded jobs that Redis lost."""

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from arq import Retry
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from services.common.db import unit_of_work
from services.common.models.reports import JobStatus, ReportJob
from services.common.settings import get_settings
from services.reports.annual_plan import annual_plan_report

log = logging.getLogger(__name__)

RUN_REPORT = "run_report"
# A recorded job still queued after this long is taken for lost by Redis and sent again.
LOST_AFTER = timedelta(seconds=60)

REPORTS = {"annual_plan": annual_plan_report}


def report_queue() -> str:
    return get_settings().reports_queue


async def run_report(ctx: dict[str, Any], job_id: str) -> str:
    maker = ctx["sessionmaker"]
    async with unit_of_work(maker) as session:
        job = await session.get(ReportJob, UUID(job_id), with_for_update=True)
        if job is None or job.status == JobStatus.done:
            return "skipped"
        job.status, job.started_at, job.attempts = JobStatus.running, datetime.now(UTC), job.attempts + 1
    try:
        async with unit_of_work(maker) as session:
            params = dict(job.params)
            result = await REPORTS[job.kind](
                session, params["document"], int(params["year"]), date.fromisoformat(params["as_of"])
            )
            await session.execute(
                update(ReportJob)
                .where(ReportJob.id == job.id)
                .values(status=JobStatus.done, result=result, error=None, finished_at=datetime.now(UTC))
            )
        return "done"
    except OperationalError as exc:  # the database went away: try again later
        raise Retry(defer=10) from exc
    except Exception as exc:
        log.exception("report %s failed", job_id)
        async with unit_of_work(maker) as session:
            await session.execute(
                update(ReportJob)
                .where(ReportJob.id == job.id)
                .values(status=JobStatus.failed, error=f"{type(exc).__name__}: {exc}", finished_at=datetime.now(UTC))
            )
        return "failed"


async def sweep_lost_jobs(ctx: dict[str, Any]) -> int:
    """Re-enqueue recorded jobs still queued long after they were created (Redis lost them)."""
    cutoff = datetime.now(UTC) - LOST_AFTER
    async with unit_of_work(ctx["sessionmaker"]) as session:
        ids = (
            await session.scalars(
                select(ReportJob.id).where(ReportJob.status == JobStatus.queued, ReportJob.created_at < cutoff)
            )
        ).all()
    for job_id in ids:
        # The job id makes this idempotent: arq refuses a second job with an id it still holds.
        await ctx["redis"].enqueue_job(RUN_REPORT, str(job_id), _job_id=str(job_id), _queue_name=report_queue())
    return len(ids)
