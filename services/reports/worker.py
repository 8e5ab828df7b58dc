"""The report worker: `arq services.reports.worker.WorkerSettings`."""

from typing import Any, ClassVar

from arq import cron

from services.common.jobs import REPORT
from services.common.worker import close_database, job_function, open_database, sweeper, worker_redis_settings
from services.reports.tasks import index_executed_volumes, run_report


class WorkerSettings:
    functions: ClassVar[list[Any]] = [job_function(REPORT, run_report)]
    cron_jobs: ClassVar[list[Any]] = [
        sweeper(REPORT),
        # Uploads of executed volumes get their read index within a minute of landing.
        cron(index_executed_volumes, second=30, run_at_startup=True),
    ]
    on_startup = open_database
    on_shutdown = close_database
    redis_settings = worker_redis_settings()
    queue_name = REPORT.queue
    job_timeout = 3600
