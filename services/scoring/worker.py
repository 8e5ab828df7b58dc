"""arq worker for the scoring service's jobs: `arq services.scoring.worker.WorkerSettings`."""

from typing import Any, ClassVar

from services.common.jobs import SCORING_BATCH
from services.common.worker import close_database, job_function, open_database, sweeper, worker_redis_settings
from services.scoring.tasks import score_batch_job


class WorkerSettings:
    functions: ClassVar[list[Any]] = [job_function(SCORING_BATCH, score_batch_job)]
    cron_jobs: ClassVar[list[Any]] = [sweeper(SCORING_BATCH)]
    on_startup = open_database
    on_shutdown = close_database
    redis_settings = worker_redis_settings()
    queue_name = SCORING_BATCH.queue
    job_timeout = 3600
