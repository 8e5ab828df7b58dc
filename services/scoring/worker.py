"""arq worker for the scoring service's jobs: `arq services.scoring.worker.WorkerSettings`."""

from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from services.common.db import make_engine, make_sessionmaker
from services.common.settings import get_settings
from services.scoring.tasks import MAX_TRIES, queue_name, score_batch_job, sweep_lost_jobs


async def startup(ctx: dict[str, Any]) -> None:
    ctx["engine"] = make_engine()
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [score_batch_job]
    # Re-sends recorded jobs that Redis lost (still queued a minute after they were recorded).
    cron_jobs: ClassVar[list[Any]] = [cron(sweep_lost_jobs, second=0, run_at_startup=True)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    queue_name = queue_name()
    max_tries = MAX_TRIES
    job_timeout = 3600
