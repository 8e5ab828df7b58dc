"""High-technology medical care (HTMC, ЖТМК): criteria versions, technologies, applications, expert
assessments, decisions and the HTMC list over time.

Everything the ministry sets by order (criteria, weights, scale levels, the age bands of
innovativeness, the threshold, the combination rule) is data in `htmc_criteria_version` and its
children, never a constant in code. Scores are `numeric` (exact decimals). History is kept: a decision
is a row that is never edited; list membership has validity dates [valid_from, valid_to).
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base, CreatedAtMixin
from services.common.models.jobs import JobColumns
from services.common.models.jobs import JobStatus as JobStatus  # re-exported: the scoring code names it here
from services.common.models.reference import pg_enum

SCORE = Numeric(12, 6)
WEIGHT = Numeric(6, 4)
LEVEL = Numeric(5, 2)


class CombinationRule(StrEnum):
    mean = "mean"
    median = "median"
    trimmed_mean = "trimmed_mean"


class CriterionRuleKind(StrEnum):
    expert = "expert"  # an expert picks the level with a written reason
    age_bands = "age_bands"  # derived from whole years since first use in the world


class ApplicationStatus(StrEnum):
    submitted = "submitted"
    under_review = "under_review"
    scored = "scored"
    decided = "decided"


class DecisionKind(StrEnum):
    include = "include"  # the application's technology enters the HTMC list
    refuse = "refuse"  # the application is refused
    move_to_specialised = "move_to_specialised"  # a listed technology leaves the list for ММК


class CriteriaVersion(CreatedAtMixin, Base):
    """One criteria set in force over [valid_from, valid_to) with its legal basis."""

    __tablename__ = "htmc_criteria_version"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity_ordered"),
        CheckConstraint("threshold IS NULL OR (threshold >= 0 AND threshold <= max_score)", name="threshold_in_range"),
        CheckConstraint(
            "trim_fraction IS NULL OR (trim_fraction >= 0 AND trim_fraction < 0.5)", name="trim_fraction_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    title_kk: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    act_number: Mapped[str | None] = mapped_column(String(60))
    act_date: Mapped[date | None] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    max_score: Mapped[Decimal] = mapped_column(SCORE)
    # Decimal places a combined panel score is rounded to (half-up); weighted sums themselves are exact.
    score_decimals: Mapped[int] = mapped_column(SmallInteger, default=4)
    # The decision rule with the latest effective date (a copy of the last row of `htmc_decision_rule` by
    # effective_from, then id): null = the version scores but refuses to classify. Every setting is kept in
    # `htmc_decision_rule`; classification on a date uses the rule in force that day, not these columns.
    threshold: Mapped[Decimal | None] = mapped_column(SCORE)
    combination_rule: Mapped[CombinationRule | None] = mapped_column(pg_enum(CombinationRule, "htmc_combination_rule"))
    trim_fraction: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    decision_rule_basis: Mapped[str | None] = mapped_column(Text)
    decision_rule_set_by: Mapped[str | None] = mapped_column(Text)
    decision_rule_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_file: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class DecisionRule(Base):
    """One setting of a criteria version's decision rule (threshold, combination rule, trim share) by an
    administrator, with its basis, who set it and when. Never edited nor deleted: a later setting supersedes it.

    The rule in force on a date d is the version's row with the latest `effective_from` ≤ d (on a tie, the
    later setting). Before the first row's effective date the version has no rule: it scores, unclassified.
    """

    __tablename__ = "htmc_decision_rule"
    __table_args__ = (
        CheckConstraint("threshold IS NULL OR threshold >= 0", name="threshold_nonnegative"),
        CheckConstraint(
            "trim_fraction IS NULL OR (trim_fraction > 0 AND trim_fraction < 0.5)", name="trim_fraction_range"
        ),
        Index("ix_htmc_decision_rule_version_effective", "version_id", "effective_from", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("htmc_criteria_version.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    threshold: Mapped[Decimal | None] = mapped_column(SCORE)
    combination_rule: Mapped[CombinationRule | None] = mapped_column(pg_enum(CombinationRule, "htmc_combination_rule"))
    trim_fraction: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    basis: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str | None] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Criterion(Base):
    __tablename__ = "htmc_criterion"
    __table_args__ = (
        UniqueConstraint("version_id", "code"),
        CheckConstraint("weight >= 0 AND weight <= 1", name="weight_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("htmc_criteria_version.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(SmallInteger)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[Decimal] = mapped_column(WEIGHT)
    rule_kind: Mapped[CriterionRuleKind] = mapped_column(pg_enum(CriterionRuleKind, "htmc_criterion_rule"))
    # For age_bands: {"bands": [{"min_years": 0, "max_years": 4, "level": "10"}, ...], "note": "..."}
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ScaleLevel(Base):
    __tablename__ = "htmc_scale_level"
    __table_args__ = (UniqueConstraint("criterion_id", "value"), UniqueConstraint("criterion_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("htmc_criterion.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)  # 1 = highest level
    value: Mapped[Decimal] = mapped_column(LEVEL)
    printed_points: Mapped[Decimal | None] = mapped_column(SCORE)  # "Өлшемшарт баллы" as printed
    wording_kk: Mapped[str] = mapped_column(Text)
    wording_ru: Mapped[str | None] = mapped_column(Text)


class Technology(CreatedAtMixin, Base):
    __tablename__ = "htmc_technology"
    __table_args__ = (
        CheckConstraint(
            "performing_organisations IS NULL OR performing_organisations >= 0", name="performers_nonnegative"
        ),
        CheckConstraint(
            "first_used_world_on IS NULL OR extract(year FROM first_used_world_on) = first_used_world_year",
            name="first_use_date_in_year",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    clinical_profile: Mapped[str] = mapped_column(Text)
    codes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # The first use in force now: a copy of the last row of `htmc_technology_first_use` (by effective_from, then
    # id). Every value and correction is kept there; scoring as of a date uses the value in force that day.
    first_used_world_year: Mapped[int] = mapped_column(SmallInteger)
    # Exact first-use date when known; otherwise 1 January of first_used_world_year is used.
    first_used_world_on: Mapped[date | None] = mapped_column(Date)
    introduced_kz_year: Mapped[int | None] = mapped_column(SmallInteger)
    performing_organisations: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class TechnologyFirstUse(Base):
    """One value of a technology's first use in the world (from which its age is counted): the value it was
    registered with (`effective_from` null: in force for every date before the first correction) or a
    correction, in force from the day it was recorded, with its basis and who made it. Never edited nor deleted.

    The value in force on a date d is the technology's row with the latest `effective_from` ≤ d (null counts as
    the earliest; on a tie, the later correction).
    """

    __tablename__ = "htmc_technology_first_use"
    __table_args__ = (
        CheckConstraint(
            "first_used_world_on IS NULL OR extract(year FROM first_used_world_on) = first_used_world_year",
            name="first_use_date_in_year",
        ),
        Index("ix_htmc_technology_first_use_technology_effective", "technology_id", "effective_from", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(ForeignKey("htmc_technology.id"))
    effective_from: Mapped[date | None] = mapped_column(Date)
    first_used_world_year: Mapped[int] = mapped_column(SmallInteger)
    first_used_world_on: Mapped[date | None] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str | None] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Application(CreatedAtMixin, Base):
    """A medical organisation's application to include a technology in the HTMC list."""

    __tablename__ = "htmc_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(ForeignKey("htmc_technology.id"), index=True)
    applicant: Mapped[str] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    criteria_version_id: Mapped[int] = mapped_column(ForeignKey("htmc_criteria_version.id"))
    submitted_on: Mapped[date] = mapped_column(Date)
    # The as-of date of the assessment: innovativeness is derived from the technology's age on this day.
    assessed_on: Mapped[date] = mapped_column(Date)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[ApplicationStatus] = mapped_column(
        pg_enum(ApplicationStatus, "htmc_application_status"), default=ApplicationStatus.submitted
    )
    panel_score: Mapped[Decimal | None] = mapped_column(SCORE)
    panel_min: Mapped[Decimal | None] = mapped_column(SCORE)
    panel_max: Mapped[Decimal | None] = mapped_column(SCORE)
    # The decision-rule setting the panel score was combined and classified with (the one in force on
    # `assessed_on` when it was scored); null when none was in force, and for scores made before revision 0010.
    decision_rule_id: Mapped[int | None] = mapped_column(ForeignKey("htmc_decision_rule.id"))
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class ExpertAssignment(CreatedAtMixin, Base):
    __tablename__ = "htmc_expert_assignment"
    __table_args__ = (UniqueConstraint("application_id", "expert_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("htmc_application.id", ondelete="CASCADE"))
    expert_code: Mapped[str] = mapped_column(String(120))
    expert_name: Mapped[str] = mapped_column(Text)
    conflict_of_interest: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict_statement: Mapped[str | None] = mapped_column(Text)
    recused: Mapped[bool] = mapped_column(Boolean, default=False)


class ExpertScore(CreatedAtMixin, Base):
    """One expert's assessment of one application (at most one: a second is refused)."""

    __tablename__ = "htmc_expert_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("htmc_expert_assignment.id", ondelete="CASCADE"), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("htmc_application.id", ondelete="CASCADE"), index=True)
    criteria_version_id: Mapped[int] = mapped_column(ForeignKey("htmc_criteria_version.id"))
    assessed_on: Mapped[date] = mapped_column(Date)
    # Whole years since first use in the world on `assessed_on` (the fact behind age-derived criteria).
    age_years: Mapped[int] = mapped_column(SmallInteger)
    total: Mapped[Decimal] = mapped_column(SCORE)


class ExpertScoreItem(Base):
    __tablename__ = "htmc_expert_score_item"

    score_id: Mapped[int] = mapped_column(ForeignKey("htmc_expert_score.id", ondelete="CASCADE"), primary_key=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("htmc_criterion.id"), primary_key=True)
    level: Mapped[Decimal] = mapped_column(LEVEL)
    reason: Mapped[str] = mapped_column(Text)
    derived: Mapped[bool] = mapped_column(Boolean, default=False)


class Decision(CreatedAtMixin, Base):
    """A commission decision with its document. Never edited: a later decision supersedes it."""

    __tablename__ = "htmc_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DecisionKind] = mapped_column(pg_enum(DecisionKind, "htmc_decision_kind"))
    technology_id: Mapped[int] = mapped_column(ForeignKey("htmc_technology.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("htmc_application.id"))
    criteria_version_id: Mapped[int | None] = mapped_column(ForeignKey("htmc_criteria_version.id"))
    decided_on: Mapped[date] = mapped_column(Date)
    document_number: Mapped[str] = mapped_column(String(120))
    document_title: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    score: Mapped[Decimal | None] = mapped_column(SCORE)
    threshold: Mapped[Decimal | None] = mapped_column(SCORE)


class ListEntry(CreatedAtMixin, Base):
    """Membership of a technology in the HTMC list over [valid_from, valid_to)."""

    __tablename__ = "htmc_list_entry"
    __table_args__ = (
        Index("uq_htmc_list_entry_open", "technology_id", unique=True, postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(ForeignKey("htmc_technology.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("htmc_application.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    included_by_id: Mapped[int] = mapped_column(ForeignKey("htmc_decision.id"))
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("htmc_decision.id"))


class Scenario(CreatedAtMixin, Base):
    """A saved what-if for the commission: the inputs and the computed outcome, frozen."""

    __tablename__ = "htmc_scenario"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    as_of: Mapped[date] = mapped_column(Date)
    criteria_version_id: Mapped[int | None] = mapped_column(ForeignKey("htmc_criteria_version.id"))
    weights: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    threshold: Mapped[Decimal | None] = mapped_column(SCORE)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text)


class BatchJob(JobColumns, CreatedAtMixin, Base):
    """A queued batch scoring run: lines stored in `htmc_batch_item`, processed by the arq worker."""

    __tablename__ = "htmc_batch_job"
    __table_args__ = (Index("ix_htmc_batch_job_status_heartbeat", "status", "heartbeat_at"),)
    status_type_name = "htmc_job_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    failed_lines: Mapped[int] = mapped_column(Integer, default=0)


class BatchItem(Base):
    __tablename__ = "htmc_batch_item"

    job_id: Mapped[int] = mapped_column(ForeignKey("htmc_batch_job.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    input: Mapped[dict[str, Any]] = mapped_column(JSONB)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
