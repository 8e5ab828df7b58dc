"""Report jobs: recorded in Postgres with the request, run by the report worker, their results kept."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base
from services.common.models.jobs import JobColumns, JobStatus

__all__ = ["JobStatus", "ReportJob"]


class ReportJob(JobColumns, Base):
    __tablename__ = "report_job"
    __table_args__ = (Index("ix_report_job_status_heartbeat", "status", "heartbeat_at"),)
    status_type_name = "job_status"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    requested_by: Mapped[str] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC), server_default=func.now()
    )
