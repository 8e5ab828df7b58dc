"""Queries of the scoring service: JSON Lines jobs (their lines and results are read and written by `tasks`)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import BULK_UPLOAD
from services.common.errors import NotFound
from services.common.models.identity import AuditLog
from services.common.models.scoring import BatchJob


async def get_job(session: AsyncSession, job_id: int) -> BatchJob:
    job = await session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"batch job {job_id} does not exist")
    return job


# The audit log's kind for a queued JSON Lines run (recorded once per job: who, its lines, the body's checksum).
BATCH_KIND = "htmc_batch_scoring"


async def sender(session: AsyncSession, job_id: int) -> int | None:
    """The membership that sent the job: the one its audit record (`record_batch`, written with the job) names."""
    found: int | None = await session.scalar(
        select(AuditLog.membership_id)
        .where(
            AuditLog.action == BULK_UPLOAD,
            AuditLog.resource == BATCH_KIND,
            AuditLog.resource_id == str(job_id),
        )
        .limit(1)
    )
    return found
