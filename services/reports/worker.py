"""The report worker: `arq services.reports.worker.WorkerSettings`."""

from typing import Any, ClassVar

from services.common.jobs import REPORT
from services.common.worker import close_database, job_function, open_database, sweeper, worker_redis_settings
from services.reports.tasks import run_report


class WorkerSettings:
    functions: ClassVar[list[Any]] = [job_function(REPORT, run_report)]
    cron_jobs: ClassVar[list[Any]] = [sweeper(REPORT)]
    on_startup = open_database
    on_shutdown = close_database
    redis_settings = worker_redis_settings()
    queue_name = REPORT.queue
    job_timeout = 3600
