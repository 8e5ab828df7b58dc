"""Attachments: files filed with a report (completion documents, scans), kept behind one storage interface."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base


class Attachment(Base):
    """A stored file: what it is, who filed it for which organisation, and where its bytes are (`store`, `key`)."""

    __tablename__ = "attachment"
    __table_args__ = (
        Index("ix_attachment_organisation", "organisation_id"),
        CheckConstraint("size >= 0", name="size_not_negative"),
        CheckConstraint("store IN ('postgres', 'disk')", name="store_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(Text)
    # The uploading organisation (null for a ministry account bound to none).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    created_by: Mapped[str] = mapped_column(String(800))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    store: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(128))


class AttachmentChunk(Base):
    """The Postgres store's bytes: a file as numbered chunks under its key."""

    __tablename__ = "attachment_chunk"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
