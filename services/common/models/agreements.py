"""Agreements on implementing the Guarantee Programme (seed 002, chapter 7, items 80–81).

* The model form the Ministry approves is versioned data (`agreement_form`: the approving order, valid_from/valid_to,
  its sections and information deadlines), with the target indicators it holds (`agreement_form_indicator`): an item
  79 access norm is referenced by its code (its threshold is read from the norm version in force), not copied.
* One agreement per region and year (`agreement`) between the Ministry, the region's akimat and the Fund, on a form
  version, with each party's signature and its target value per indicator (`agreement_target`).
* The akimat's information against the agreement per period the form's deadlines define
  (`agreement_information`, its figures in `agreement_information_figure`) goes through the one review cycle
  (services/common/review.py); its state is a column of the shared enum `review_state`.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base
from services.common.models.guarantee import Comparator
from services.common.models.reference import pg_enum
from services.common.review import ReviewState


class IndicatorKind(StrEnum):
    access_norm = "access_norm"  # an item 79 norm: referenced by code, its threshold read from the norm in force
    other = "other"  # an indicator the form itself names (unit and direction on the form, target in the agreement)


class AgreementForm(Base):
    """One version of the model form approved by the Ministry's order. A new order closes the latest version."""

    __tablename__ = "agreement_form"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        Index("uq_agreement_form_current", "code", unique=True, postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    title_kk: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str | None] = mapped_column(Text)
    # The Ministry's order approving this version of the form.
    order_number: Mapped[str] = mapped_column(String(80))
    order_date: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # [{"number": "1", "title_kk": ..., "title_ru": ...}, ...]
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # The information deadlines: [{"period": "Q1", "due_day": 10, "due_month": 4, "year_offset": 0,
    #   "in_decree": false, "basis": "..."}]; the decree (item 80) names them but sets none.
    deadlines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgreementFormIndicator(Base):
    """A target indicator a form version holds."""

    __tablename__ = "agreement_form_indicator"
    __table_args__ = (
        UniqueConstraint("form_id", "code"),
        CheckConstraint(
            "(kind = 'access_norm') = (norm_code IS NOT NULL)"
            " AND (kind = 'access_norm' OR (name_kk IS NOT NULL AND unit IS NOT NULL AND comparator IS NOT NULL))",
            name="norm_or_named",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("agreement_form.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(80))
    kind: Mapped[IndicatorKind] = mapped_column(pg_enum(IndicatorKind, "agreement_indicator_kind"))
    section: Mapped[str | None] = mapped_column(String(20))
    # The access norm's code (access_norm.code, every version of it); null for the form's own indicators.
    norm_code: Mapped[str | None] = mapped_column(String(80))
    name_kk: Mapped[str | None] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(40))
    comparator: Mapped[Comparator | None] = mapped_column(pg_enum(Comparator, "norm_comparator"))


class Agreement(Base):
    """The agreement of one region for one year on a form version. `row_version` guards concurrent writes."""

    __tablename__ = "agreement"
    __table_args__ = (
        UniqueConstraint("region_code", "year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"))
    year: Mapped[int] = mapped_column(Integer)
    form_id: Mapped[int] = mapped_column(ForeignKey("agreement_form.id"))
    number: Mapped[str | None] = mapped_column(String(80))
    ministry_signed_on: Mapped[date | None] = mapped_column(Date)
    ministry_signed_by: Mapped[str | None] = mapped_column(Text)
    akimat_signed_on: Mapped[date | None] = mapped_column(Date)
    akimat_signed_by: Mapped[str | None] = mapped_column(Text)
    fund_signed_on: Mapped[date | None] = mapped_column(Date)
    fund_signed_by: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgreementTarget(Base):
    """The agreement's target value for one of its form's indicators."""

    __tablename__ = "agreement_target"

    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True)
    indicator_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    target: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    comparator: Mapped[Comparator] = mapped_column(pg_enum(Comparator, "norm_comparator"))
    # True where the target was taken from the access norm in force (not agreed otherwise).
    from_norm: Mapped[bool] = mapped_column(Boolean)
    norm_version: Mapped[int | None] = mapped_column(Integer)


class AgreementInformation(Base):
    """An akimat's information against its agreement for one period: one row per revision (a correction of an
    accepted one opens the next revision as a draft, the accepted one stays)."""

    __tablename__ = "agreement_information"
    __table_args__ = (
        UniqueConstraint("agreement_id", "period", "revision"),
        Index("ix_agreement_information_state", "state", "agreement_id"),
        CheckConstraint("revision >= 1", name="revision_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10))
    revision: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    state: Mapped[ReviewState] = mapped_column(pg_enum(ReviewState, "review_state"))
    narrative_kk: Mapped[str | None] = mapped_column(Text)
    narrative_ru: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    submitted_on: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    late: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    return_reason: Mapped[str | None] = mapped_column(Text)
    # The akimat's organisation that filed it (the recipients of its review's events).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    reviewed_by: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    row_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class AgreementInformationFigure(Base):
    """The figure an akimat's information gives for one target indicator of its agreement."""

    __tablename__ = "agreement_information_figure"

    information_id: Mapped[int] = mapped_column(
        ForeignKey("agreement_information.id", ondelete="CASCADE"), primary_key=True
    )
    indicator_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
