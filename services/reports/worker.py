"""The report worker: `arq services.reports.worker.WorkerSettings`."""

from typing import Any, ClassVar

from arq import cron

from services.common.worker import close_database, open_database, worker_redis_settings
from services.reports.tasks import report_queue, run_report, sweep_lost_jobs


class WorkerSettings:
    functions: ClassVar[list[Any]] = [run_report]
    cron_jobs: ClassVar[list[Any]] = [cron(sweep_lost_jobs, second=0, run_at_startup=True)]
    on_startup = open_database
    on_shutdown = close_database
    redis_settings = worker_redis_settings()
    queue_name = report_queue()
    max_tries = 5
    job_timeout = 3600
