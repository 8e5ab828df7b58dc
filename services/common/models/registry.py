"""The plan registry: documents, their structure, measures, indicators, and the data-quality report.

History: documents and measures are versioned. A change writes a new `*_version` row and closes the
previous one (`valid_to`), so every read can ask for the state as of a date. Children of a measure
(executors, financing, due dates, sub-items, indicator links) belong to one version and are copied
forward by a change, never edited in place.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
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

from services.common.models.base import Base, CreatedAtMixin
from services.common.models.reference import pg_enum
from services.common.money import AmountUnit
from services.common.periods import DeadlineKind


class FundingSource(StrEnum):
    republican_budget = "republican_budget"  # РБ
    local_budget = "local_budget"  # ЖБ
    health_insurance = "health_insurance"  # МӘМС
    ppp = "ppp"  # МЖӘ
    other = "other"


class FundingNote(StrEnum):
    not_required = "not_required"  # талап етілмейді
    within_existing_funds = "within_existing_funds"  # көзделген қаражат шегінде / шеңберінде


class DesiredDirection(StrEnum):
    increase = "increase"
    decrease = "decrease"
    hold = "hold"


class MeasurementFrequency(StrEnum):
    annual = "annual"
    biennial = "biennial"


class TargetKind(StrEnum):
    value = "value"  # a number
    ratio = "ratio"  # "2,2:1"
    dash = "dash"  # a printed "-"
    empty = "empty"  # an empty cell


class TargetSource(StrEnum):
    section6 = "section6"  # the indicators table
    action_plan_header = "action_plan_header"  # the indicator's header in the action plan


class VersionMixin:
    """Validity of one version: [valid_from, valid_to). `valid_to` is null while the version is current."""

    version: Mapped[int]
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_by: Mapped[str] = mapped_column(Text)
    change_act: Mapped[str | None] = mapped_column(Text)


class Document(CreatedAtMixin, Base):
    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    source_file: Mapped[str | None] = mapped_column(Text)
    source_checksum: Mapped[str | None] = mapped_column(String(64))


class DocumentVersion(VersionMixin, Base):
    __tablename__ = "document_version"
    __table_args__ = (
        UniqueConstraint("document_id", "version"),
        Index("uq_document_version_current", "document_id", unique=True, postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint(
            "period_end IS NULL OR period_start IS NULL OR period_end >= period_start", name="period_ordered"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(60))
    number: Mapped[str] = mapped_column(String(60))
    adopted_on: Mapped[date] = mapped_column(Date)
    issuer_kk: Mapped[str] = mapped_column(Text)
    issuer_ru: Mapped[str | None] = mapped_column(Text)
    title_kk: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)


class DocumentEdition(Base):
    """An amending act: the decree that gave the document its current text, and when."""

    __tablename__ = "document_edition"
    __table_args__ = (UniqueConstraint("document_id", "kind", "number", "adopted_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    number: Mapped[str] = mapped_column(String(60))
    adopted_on: Mapped[date] = mapped_column(Date)
    note_kk: Mapped[str | None] = mapped_column(Text)


class ReportingStage(StrEnum):
    executor = "executor"  # the executors report to the ministry (one expected report per measure, year, executor)
    ministry = "ministry"  # the ministry reports the consolidated information on (to the Government, ...)


class ReportingRule(Base):
    """A recurring reporting duty stated in a decree: who reports to whom, by which day of which year.

    Versioned data: a change by order closes the version in force (`valid_to`) and writes the next one under the
    same `rule_key`, with who changed it and the act. `stage` says whose deadline it is: the executors' (the due
    date of every expected progress report) or the ministry's (its consolidated report). With
    `counts_working_days`, a due date on a day off moves to the next working day of the calendar (`calendar_day`).
    """

    __tablename__ = "reporting_rule"
    __table_args__ = (
        Index(
            "uq_reporting_rule_current",
            "document_id",
            "rule_key",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        UniqueConstraint("document_id", "rule_key", "version"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("month BETWEEN 1 AND 12 AND day BETWEEN 1 AND 31", name="day_of_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    # Stable across versions: "executors", "ministry", "item-81", ...
    rule_key: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(server_default=text("1"))
    stage: Mapped[ReportingStage] = mapped_column(pg_enum(ReportingStage, "reporting_stage"))
    reporter: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(Text)
    # "annual": one report per reporting year (the only frequency the decrees state so far).
    frequency: Mapped[str] = mapped_column(String(20), server_default=text("'annual'"))
    month: Mapped[int] = mapped_column()
    day: Mapped[int] = mapped_column()
    # "same" or "following": the year of the due date relative to the reporting year.
    relative_year: Mapped[str] = mapped_column(String(20))
    counts_working_days: Mapped[bool] = mapped_column(server_default=text("false"))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    text_kk: Mapped[str] = mapped_column(Text)
    text_ru: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_by: Mapped[str] = mapped_column(Text, server_default=text("'loader'"))
    change_reason: Mapped[str | None] = mapped_column(Text)


class CalendarDayKind(StrEnum):
    holiday = "holiday"  # a public holiday: a day off
    day_off = "day_off"  # a weekday made a day off (a holiday on a weekend carried over, or a transfer)
    working_day = "working_day"  # a Saturday or Sunday made a working day (a transfer)


class CalendarDay(Base):
    """An exception to the five-day week (Monday–Friday working): holidays, days off and transferred working days.

    Loaded from data/calendar/ with the documents; the ministry administrator adds or changes days (each change
    audited). A day absent from the table is a working day from Monday to Friday and a day off on Saturday and
    Sunday."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[CalendarDayKind] = mapped_column(pg_enum(CalendarDayKind, "calendar_day_kind"))
    name_kk: Mapped[str | None] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    basis: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_by: Mapped[str] = mapped_column(Text, server_default=text("'loader'"))


class PublishedTotal(Base):
    """A total printed in the document (per year, or the grand total with year null), in thousand tenge."""

    __tablename__ = "published_total"
    __table_args__ = (UniqueConstraint("document_id", "year", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    year: Mapped[int | None] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 3))


class Direction(Base):
    __tablename__ = "direction"
    __table_args__ = (UniqueConstraint("document_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column()
    title_kk: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str | None] = mapped_column(Text)


class Section(Base):
    __tablename__ = "section"
    __table_args__ = (UniqueConstraint("direction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    direction_id: Mapped[int] = mapped_column(ForeignKey("direction.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column()
    title_kk: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str | None] = mapped_column(Text)


class CompletionForm(Base):
    """Controlled vocabulary of completion forms (the document that proves a measure done)."""

    __tablename__ = "completion_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name_kk: Mapped[str] = mapped_column(Text, unique=True)
    name_ru: Mapped[str | None] = mapped_column(Text)


class Indicator(Base):
    __tablename__ = "indicator"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    direction_id: Mapped[int] = mapped_column(ForeignKey("direction.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    unit_kk: Mapped[str | None] = mapped_column(Text)
    desired_direction: Mapped[DesiredDirection] = mapped_column(pg_enum(DesiredDirection, "desired_direction"))
    frequency: Mapped[MeasurementFrequency] = mapped_column(pg_enum(MeasurementFrequency, "measurement_frequency"))
    action_plan_header_kk: Mapped[str | None] = mapped_column(Text)
    first_line: Mapped[int | None] = mapped_column()
    last_line: Mapped[int | None] = mapped_column()
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class IndicatorTarget(Base):
    """One year's target as printed: a number, a ratio, a dash, or an empty cell (kept distinct)."""

    __tablename__ = "indicator_target"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'value' AND value IS NOT NULL) OR (kind = 'ratio' AND value IS NOT NULL "
            "AND ratio_consequent IS NOT NULL) OR (kind IN ('dash', 'empty') AND value IS NULL)",
            name="kind_matches_value",
        ),
    )

    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[TargetSource] = mapped_column(pg_enum(TargetSource, "target_source"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TargetKind] = mapped_column(pg_enum(TargetKind, "target_kind"))
    # For a ratio a:b, value is a and ratio_consequent is b.
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    ratio_consequent: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    printed: Mapped[str | None] = mapped_column(Text)


class Measure(CreatedAtMixin, Base):
    """The stable identity of a measure; its content lives in `MeasureVersion`."""

    __tablename__ = "measure"
    __table_args__ = (UniqueConstraint("document_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    # Unique within the document: the row number (cancer plan) or direction.number (Concept).
    key: Mapped[str] = mapped_column(String(40))


class MeasureVersion(VersionMixin, Base):
    __tablename__ = "measure_version"
    __table_args__ = (
        UniqueConstraint("measure_id", "version"),
        Index("uq_measure_version_current", "measure_id", unique=True, postgresql_where=text("valid_to IS NULL")),
        Index("ix_measure_version_validity", "valid_from", "valid_to"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    direction_id: Mapped[int] = mapped_column(ForeignKey("direction.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id"))
    number: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column()
    title_kk: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str | None] = mapped_column(Text)
    # Titles and sub-items case-folded in Python, for text search independent of the database locale.
    search_text: Mapped[str] = mapped_column(Text, default="")
    completion_form_id: Mapped[int | None] = mapped_column(ForeignKey("completion_form.id"))
    deadline_kind: Mapped[DeadlineKind | None] = mapped_column(pg_enum(DeadlineKind, "deadline_kind"))
    deadline_year: Mapped[int | None] = mapped_column()
    deadline_month: Mapped[int | None] = mapped_column()
    deadline_quarter: Mapped[int | None] = mapped_column()
    deadline_half: Mapped[int | None] = mapped_column()
    deadline_start_year: Mapped[int | None] = mapped_column()
    deadline_end_year: Mapped[int | None] = mapped_column()
    deadline_date: Mapped[date | None] = mapped_column(Date)
    deadline_raw: Mapped[str | None] = mapped_column(Text)
    funding_note: Mapped[FundingNote | None] = mapped_column(pg_enum(FundingNote, "funding_note"))
    funding_raw: Mapped[str | None] = mapped_column(Text)
    financing_total_printed: Mapped[Decimal | None] = mapped_column(Numeric(20, 3))
    first_line: Mapped[int | None] = mapped_column()
    last_line: Mapped[int | None] = mapped_column()


class MeasureSubItem(Base):
    __tablename__ = "measure_sub_item"

    measure_version_id: Mapped[int] = mapped_column(
        ForeignKey("measure_version.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str | None] = mapped_column(String(20))
    text_kk: Mapped[str] = mapped_column(Text)
    text_ru: Mapped[str | None] = mapped_column(Text)


class MeasureExecutor(Base):
    """An executor of a measure: position 0 is the lead; `by_agreement` marks "(келісу бойынша)"."""

    __tablename__ = "measure_executor"
    __table_args__ = (Index("ix_measure_executor_organisation", "organisation_id", "measure_version_id"),)

    measure_version_id: Mapped[int] = mapped_column(
        ForeignKey("measure_version.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    is_lead: Mapped[bool] = mapped_column()
    by_agreement: Mapped[bool] = mapped_column()


class MeasureFinancing(Base):
    """Planned financing: one row per year and source, amount as printed in its printed unit."""

    __tablename__ = "measure_financing"
    __table_args__ = (
        Index("ix_measure_financing_version", "measure_version_id"),
        Index("ix_measure_financing_year_source", "year", "source"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_version_id: Mapped[int] = mapped_column(ForeignKey("measure_version.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    year: Mapped[int | None] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 3))
    unit: Mapped[AmountUnit] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    # The same amount in thousand tenge, the unit of the documents' totals.
    amount_thousand_tenge: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    source: Mapped[FundingSource] = mapped_column(pg_enum(FundingSource, "funding_source"))
    programme: Mapped[str | None] = mapped_column(String(10))
    subprogramme: Mapped[str | None] = mapped_column(String(10))
    source_raw: Mapped[str | None] = mapped_column(Text)


class MeasureDueDate(Base):
    """The concrete due dates a measure's deadline creates (one per year of a span or recurrence)."""

    __tablename__ = "measure_due_date"
    __table_args__ = (Index("ix_measure_due_date_date", "due_date"),)

    measure_version_id: Mapped[int] = mapped_column(
        ForeignKey("measure_version.id", ondelete="CASCADE"), primary_key=True
    )
    due_date: Mapped[date] = mapped_column(Date, primary_key=True)


class MeasureIndicator(Base):
    """A measure filed under a target indicator's header in the action plan."""

    __tablename__ = "measure_indicator"
    __table_args__ = (Index("ix_measure_indicator_indicator", "indicator_id"),)

    measure_version_id: Mapped[int] = mapped_column(
        ForeignKey("measure_version.id", ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True)


class DataQualityIssue(Base):
    """An inconsistency the importer found in a document: where, which rule, by how much. Never fixed."""

    __tablename__ = "data_quality_issue"
    __table_args__ = (Index("ix_data_quality_issue_document", "document_slug", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_slug: Mapped[str] = mapped_column(String(120))
    location: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    actual: Mapped[str | None] = mapped_column(Text)
    difference: Mapped[Decimal | None] = mapped_column(Numeric(24, 6))
    first_line: Mapped[int | None] = mapped_column()
    last_line: Mapped[int | None] = mapped_column()
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
