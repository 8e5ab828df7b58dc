"""The plans' monitoring cycle: the reports each executor owes, what it filed, and the periods the ministry locked.

* `expected_report`: one report owed per measure, reporting year and executor organisation (a group executor such as
  "ЖАО" stands for one per member). A co-executor's report goes to the lead (`lead_id`, the lead's own expected
  report), which consolidates it; the lead's report (and a sole executor's) is the one the ministry reviews. The due
  date comes from the document's executors' reporting rule and the working-day calendar.
* `progress_report`: the filing for one expected report; its content lives in versions. Every change (an edit, a
  submission, a return, an acceptance, a correction) closes the current version and writes the next, so the
  history keeps each state; `revision` counts corrections after acceptance (1 for the first filing).
* `reporting_period_lock`: a document's reporting year the ministry has consolidated: nothing in it changes state.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base
from services.common.models.reference import pg_enum
from services.common.models.registry import FundingSource
from services.common.review import ReviewState


class ProgressStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"
    partly_done = "partly_done"
    not_done = "not_done"


class ExpectedReport(Base):
    __tablename__ = "expected_report"
    __table_args__ = (
        UniqueConstraint("measure_id", "period_year", "organisation_id"),
        Index("ix_expected_report_organisation", "organisation_id", "due_date"),
        Index("ix_expected_report_document_period", "document_id", "period_year"),
        Index("ix_expected_report_due_date", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id", ondelete="CASCADE"), index=True)
    direction_id: Mapped[int] = mapped_column(ForeignKey("direction.id"))
    period_year: Mapped[int] = mapped_column()
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    # The group the measure names ("ЖАО"), when this organisation reports as one of its members.
    via_group_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # The lead's expected report this co-executor reports to; null for a lead or a sole executor.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("expected_report.id", ondelete="CASCADE"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    rule_id: Mapped[int] = mapped_column(ForeignKey("reporting_rule.id"))


class ProgressReport(Base):
    __tablename__ = "progress_report"
    # The INSERT's RETURNING brings the server defaults (created_at): a write answers without reading the row back.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 (read once, by the declarative base)

    id: Mapped[int] = mapped_column(primary_key=True)
    expected_report_id: Mapped[int] = mapped_column(ForeignKey("expected_report.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text)


class ProgressReportVersion(Base):
    __tablename__ = "progress_report_version"
    __table_args__ = (
        UniqueConstraint("report_id", "version"),
        Index(
            "uq_progress_report_version_current", "report_id", unique=True, postgresql_where=text("valid_to IS NULL")
        ),
        Index("ix_progress_report_version_state", "state", postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("narrative_kk IS NOT NULL OR narrative_ru IS NOT NULL", name="narrative_given"),
    )
    # The INSERT's RETURNING brings the server defaults (late, recorded_at): a write answers without reading back.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 (read once, by the declarative base)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("progress_report.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    revision: Mapped[int] = mapped_column()
    state: Mapped[ReviewState] = mapped_column(pg_enum(ReviewState, "review_state"))
    status: Mapped[ProgressStatus] = mapped_column(pg_enum(ProgressStatus, "progress_status"))
    narrative_kk: Mapped[str | None] = mapped_column(Text)
    narrative_ru: Mapped[str | None] = mapped_column(Text)
    completion_form_id: Mapped[int | None] = mapped_column(ForeignKey("completion_form.id"))
    completion_number: Mapped[str | None] = mapped_column(String(200))
    completion_date: Mapped[date | None] = mapped_column(Date)
    # The first submission of the filing (Almaty date) and whether it came after the due date.
    first_submitted_on: Mapped[date | None] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(server_default=text("false"))
    return_reason: Mapped[str | None] = mapped_column(Text)
    # What this version did ("create", "edit", "submit", "return", "accept", "correct"), who and why.
    action: Mapped[str] = mapped_column(String(20))
    changed_by: Mapped[str] = mapped_column(Text)
    change_reason: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProgressReportSpending(Base):
    """Money spent in the reporting year per funding source, thousand tenge."""

    __tablename__ = "progress_report_spending"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    version_id: Mapped[int] = mapped_column(
        ForeignKey("progress_report_version.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[FundingSource] = mapped_column(pg_enum(FundingSource, "funding_source"), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 3))


class ProgressReportActual(Base):
    """The actual value, in the reporting year, of an indicator the measure names."""

    __tablename__ = "progress_report_actual"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("progress_report_version.id", ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"), primary_key=True)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))


class ProgressReportAttachment(Base):
    """A file (services/api/attachments) filed with one version of a report; carried forward to the next versions."""

    __tablename__ = "progress_report_attachment"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("progress_report_version.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("attachment.id"), primary_key=True, index=True)


class ReportingPeriodLock(Base):
    __tablename__ = "reporting_period_lock"

    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), primary_key=True)
    period_year: Mapped[int] = mapped_column(primary_key=True)
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
