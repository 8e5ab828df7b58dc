"""Queries of the scoring service: JSON Lines jobs (their lines and results are read and written by `tasks`)."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.common.models.scoring import BatchJob


async def get_job(session: AsyncSession, job_id: int) -> BatchJob:
    job = await session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"batch job {job_id} does not exist")
    return job
