"""Events in Postgres (an outbox): every state change of a filing and every deadline worth announcing, written in
the change's own transaction, for later delivery by notifications and partner integrations."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base


class OutboxEvent(Base):
    __tablename__ = "outbox_event"
    __table_args__ = (
        # What a deliverer reads: the undelivered events, oldest first.
        Index("ix_outbox_event_undelivered", "id", postgresql_where=text("delivered_at IS NULL")),
        Index("ix_outbox_event_subject", "subject", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What happened, as "<subject>.<event>": "progress_report.submitted", "deadline.upcoming", ...
    topic: Mapped[str] = mapped_column(String(120))
    # Which thing it happened to (resource name and id, as in the audit log).
    subject: Mapped[str] = mapped_column(String(120))
    subject_id: Mapped[str] = mapped_column(String(255))
    # The organisation the event concerns (its recipients' scope), where there is one.
    organisation_id: Mapped[int | None] = mapped_column()
    # Who caused it (Principal.label), or "system" for the clock's own events.
    actor: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
