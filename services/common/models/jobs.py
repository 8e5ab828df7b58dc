"""The columns every job table shares (report jobs, scoring batch jobs): one lifecycle, run by services.common.worker.

A job is `queued` when recorded, `running` once a worker claimed it, then `done` or `failed` (with the reason in
`error`). `attempts` counts the sends to the queue: each send carries its number, and only the send whose number
is the row's current one can claim the job (queued -> running, a guarded UPDATE), so a stale or duplicated send
never runs it a second time. `heartbeat_at` is the last sign of life: the time of the last send while queued,
refreshed by the worker while running; a job whose heartbeat is older than the settings' window is taken for lost
and sent again (or failed with the reason once it used up its attempts).
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import DateTime, Enum, Text, func, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from services.common.models.reference import pg_enum


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class JobColumns:
    # Each table keeps its own Postgres enum type of the same four values.
    status_type_name: ClassVar[str]

    @declared_attr
    def status(cls) -> Mapped[JobStatus]:
        enum: Enum = pg_enum(JobStatus, cls.status_type_name)
        return mapped_column(enum, default=JobStatus.queued)

    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC), server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
