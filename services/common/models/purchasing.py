"""Bulk uploads of contract invoices, keyed by the sender's batch id (the invoices are in `guarantee`)."""

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base
from services.common.models.guarantee import BatchMode
from services.common.models.reference import pg_enum


class InvoiceBatch(Base):
    """One bulk upload of invoices. Sending the same batch again changes nothing; the first answer is replayed."""

    __tablename__ = "invoice_batch"

    batch_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    mode: Mapped[BatchMode] = mapped_column(pg_enum(BatchMode, "batch_mode"))
    content_type: Mapped[str] = mapped_column(String(60))
    content_sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column()
    rows_accepted: Mapped[int] = mapped_column()
    rows_rejected: Mapped[int] = mapped_column()
    rows_new: Mapped[int] = mapped_column()
    rows_new_version: Mapped[int] = mapped_column()
    rows_unchanged: Mapped[int] = mapped_column()
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
