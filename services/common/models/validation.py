"""Validation rules as versioned data: what the ministry checks in a report's figures, changed by its order."""

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base, CreatedAtMixin


class ValidationRule(CreatedAtMixin, Base):
    """A rule's identity: its stable code; what it says is in its versions."""

    __tablename__ = "validation_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)


class ValidationRuleVersion(Base):
    """One version of a rule, in force over [valid_from, valid_to); `valid_to` is null for the latest."""

    __tablename__ = "validation_rule_version"
    __table_args__ = (
        UniqueConstraint("rule_id", "version"),
        Index("uq_validation_rule_version_latest", "rule_id", unique=True, postgresql_where=text("valid_to IS NULL")),
        Index("ix_validation_rule_version_document", "document_id"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("scope IN ('report', 'per_source', 'per_indicator')", name="scope_known"),
        CheckConstraint("operator IN ('<', '<=', '==', '!=', '>=', '>')", name="operator_known"),
        CheckConstraint("importance IN ('blocking', 'warning')", name="importance_known"),
        CheckConstraint(
            "missing_value_strategy IN ('skip_if_any_value_missing', 'skip_if_all_values_missing', 'never_skip')",
            name="missing_value_strategy_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("validation_rule.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    # The document whose reports it checks; null: every document's.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    scope: Mapped[str] = mapped_column(String(20))
    left_expression: Mapped[str] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(String(2))
    right_expression: Mapped[str] = mapped_column(Text)
    importance: Mapped[str] = mapped_column(String(20))
    missing_value_strategy: Mapped[str] = mapped_column(String(40))
    message_kk: Mapped[str] = mapped_column(Text)
    message_ru: Mapped[str] = mapped_column(Text)
    # False: the rule is switched off from `valid_from` (a version that checks nothing).
    enabled: Mapped[bool] = mapped_column(Boolean)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # The order (or other act) the version follows, and who recorded it.
    basis: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
