"""The report worker: `arq services.reports.worker.WorkerSettings`."""

from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from services.common.db import make_engine, make_sessionmaker
from services.common.settings import get_settings
from services.reports.tasks import report_queue, run_report, sweep_lost_jobs


async def startup(ctx: dict[str, Any]) -> None:
    ctx["engine"] = make_engine()
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [run_report]
    cron_jobs: ClassVar[list[Any]] = [cron(sweep_lost_jobs, second=0, run_at_startup=True)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    queue_name = report_queue()
    max_tries = 5
    job_timeout = 3600
