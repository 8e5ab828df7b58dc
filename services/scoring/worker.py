"""arq worker for the scoring service's jobs: `arq services.scoring.worker.WorkerSettings`."""

from typing import Any, ClassVar

from arq import cron

from services.common.worker import close_database, open_database, worker_redis_settings
from services.scoring.tasks import JOB_TIMEOUT, MAX_TRIES, queue_name, score_batch_job, sweep_lost_jobs


class WorkerSettings:
    functions: ClassVar[list[Any]] = [score_batch_job]
    # Re-sends recorded jobs that Redis lost (still queued a minute after they were recorded) and fails running
    # jobs the worker gave up on (no progress for longer than job_timeout).
    cron_jobs: ClassVar[list[Any]] = [cron(sweep_lost_jobs, second=0, run_at_startup=True)]
    on_startup = open_database
    on_shutdown = close_database
    redis_settings = worker_redis_settings()
    queue_name = queue_name()
    max_tries = MAX_TRIES
    job_timeout = JOB_TIMEOUT  # the sweeper's limit for a running job too
