"""Indicator actuals and achievement: what each target indicator actually reached in a year, and the rule it is
judged by.

* `indicator_rule`: how an indicator is judged and who reports it, as versioned data the ministry sets (direction,
  tolerance for "hold", comparison of ratios, the years that carry a target, what a missing value means, whether
  actuals go through the review cycle, the responsible organisation). Until the ministry writes a version, the
  rule in force is the document's own (version 0, computed from the indicator as loaded: never stored).
* `indicator_actual`: one row per version of an indicator's actual for a year (a value, a ratio, or "no data" with
  a reason), append-only: every entry, correction and review step writes the next version and closes the previous
  one (`valid_to`). Achievement counts the newest *accepted* version recorded on or before the day asked.
* `indicator_actual_batch`: one bulk upload of actuals from official statistics (an integration account's).
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base
from services.common.models.guarantee import StagedBatchColumns
from services.common.models.reference import pg_enum
from services.common.models.registry import DesiredDirection
from services.common.review import ReviewState


class RatioComparison(StrEnum):
    quotient = "quotient"  # a:b compared as the number a/b (a plain number n counts as n:1)
    antecedent = "antecedent"  # a:b compared by a alone, only when both consequents are equal


class MissingRule(StrEnum):
    not_evaluable = "not_evaluable"  # no accepted value (or "no data"): the year cannot be judged
    not_achieved = "not_achieved"  # no accepted value counts as a target missed


class ActualKind(StrEnum):
    value = "value"
    ratio = "ratio"
    no_data = "no_data"


class ActualOrigin(StrEnum):
    entry = "entry"  # entered by the responsible organisation
    upload = "upload"  # uploaded from official statistics by an integration account
    review = "review"  # a review step (submit, accept, return) on the previous version's content


class IndicatorRule(Base):
    __tablename__ = "indicator_rule"
    __table_args__ = (
        UniqueConstraint("indicator_id", "version"),
        Index("uq_indicator_rule_current", "indicator_id", unique=True, postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("tolerance IS NULL OR tolerance >= 0", name="tolerance_not_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    direction: Mapped[DesiredDirection] = mapped_column(pg_enum(DesiredDirection, "desired_direction"))
    # For "hold": how far (in the indicator's unit) the actual may lie from the target. Null: not evaluable.
    tolerance: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    ratio_comparison: Mapped[RatioComparison] = mapped_column(pg_enum(RatioComparison, "ratio_comparison"))
    # The years that carry a target; null: the years the document prints a number or a ratio for.
    target_years: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    missing_rule: Mapped[MissingRule] = mapped_column(pg_enum(MissingRule, "missing_actual_rule"))
    requires_review: Mapped[bool] = mapped_column()
    responsible_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    basis: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IndicatorActualBatch(StagedBatchColumns, Base):
    """One bulk upload of indicator actuals from official statistics."""

    __tablename__ = "indicator_actual_batch"


class IndicatorActual(Base):
    __tablename__ = "indicator_actual"
    __table_args__ = (
        UniqueConstraint("indicator_id", "year", "version"),
        Index(
            "uq_indicator_actual_current",
            "indicator_id",
            "year",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_indicator_actual_year", "year", "indicator_id"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint(
            "(kind = 'value' AND value IS NOT NULL AND ratio_consequent IS NULL AND no_data_reason IS NULL)"
            " OR (kind = 'ratio' AND value IS NOT NULL AND ratio_consequent > 0 AND no_data_reason IS NULL)"
            " OR (kind = 'no_data' AND value IS NULL AND ratio_consequent IS NULL AND no_data_reason IS NOT NULL)",
            name="kind_matches_value",
        ),
        CheckConstraint("(batch_id IS NULL) = (batch_account IS NULL)", name="batch_with_account"),
        ForeignKeyConstraint(
            ["batch_account", "batch_id"], ["indicator_actual_batch.account", "indicator_actual_batch.batch_id"]
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column()
    version: Mapped[int] = mapped_column()
    state: Mapped[ReviewState] = mapped_column(pg_enum(ReviewState, "review_state"))
    kind: Mapped[ActualKind] = mapped_column(pg_enum(ActualKind, "actual_kind"))
    # For a ratio a:b, value is a and ratio_consequent is b.
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    ratio_consequent: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    no_data_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    origin: Mapped[ActualOrigin] = mapped_column(pg_enum(ActualOrigin, "actual_origin"))
    # The organisation that filed it (null for an upload from official statistics).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    batch_account: Mapped[str | None] = mapped_column(String(300))
    batch_id: Mapped[str | None] = mapped_column(String(100))
    line_no: Mapped[int | None] = mapped_column(Integer)
    return_reason: Mapped[str | None] = mapped_column(Text)
    # Filed (submitted, or entered where no review is wanted) after the decree's reporting day for the year (the
    # executors' report to the ministry: 1 April of the following year): marked, not refused.
    late: Mapped[bool] = mapped_column(server_default=text("false"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
