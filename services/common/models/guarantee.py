"""The Guarantee Programme (Annex 1 ceiling volumes, Annex 2 payment methods, item 79 access norms),
reference statistics (and their bulk uploads), purchasing (allocations, contracts, invoices) and the executed
volumes ingested in bulk.

Rules of the data:
* Annex 1 figures are kept exactly as printed: a `*` cell (no bed fund for the profile) is a null value with
  its printed text kept in `printed_cells`; contradictions are reported in `data_quality_issue`, never fixed.
* Norms are versioned rows (valid_from/valid_to, legal basis); evaluation parameters are data, not code.
* Executed volumes are never changed in place: a correction writes a new version and closes the current one.
* Money is numeric with its unit stated (`amount_unit`): tenge with tiyn for contracts and invoices.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    column,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base, CreatedAtMixin
from services.common.models.reference import pg_enum
from services.common.models.registry import AmountUnit


class Comparator(StrEnum):
    le = "<="
    ge = ">="
    eq = "="


class NormFormula(StrEnum):
    """How an access norm's value is computed from reference statistics."""

    rate_per_population = "rate_per_population"  # numerator / population * per_persons
    population_per_unit = "population_per_unit"  # numerator (a population) / denominator (posts)
    share_percent = "share_percent"  # numerator / denominator * 100
    direct = "direct"  # the statistic itself (days, percent)


class BatchKind(StrEnum):
    executed_volumes = "executed_volumes"


class BatchMode(StrEnum):
    all_or_nothing = "all_or_nothing"
    per_row = "per_row"


class InvoiceGranularity(StrEnum):
    monthly = "monthly"
    aggregate = "aggregate"  # one figure for several months, as the source gives it


class ClinicalProfile(Base):
    """A bed profile of Annex 1 (35 of them), a controlled vocabulary."""

    __tablename__ = "clinical_profile"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)


class CeilingVolume(Base):
    """One printed row of Annex 1: planned cases of 24-hour inpatient care for a region and a profile.

    `profile_code` is null for the region's printed "Барлық бейіндер бойынша" (all profiles) row.
    Rural columns are null for the three cities (their table has no such columns).
    """

    __tablename__ = "ceiling_volume"
    __table_args__ = (
        UniqueConstraint("document_version_id", "region_code", "profile_code", postgresql_nulls_not_distinct=True),
        Index("ix_ceiling_volume_profile", "profile_code", "region_code"),
        CheckConstraint("is_region_total = (profile_code IS NULL)", name="total_row_has_no_profile"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_version_id: Mapped[int] = mapped_column(ForeignKey("document_version.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"))
    profile_code: Mapped[str | None] = mapped_column(ForeignKey("clinical_profile.code"))
    is_region_total: Mapped[bool] = mapped_column(Boolean)
    layout: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column()
    total: Mapped[int | None] = mapped_column(Integer)
    children: Mapped[int | None] = mapped_column(Integer)
    adults: Mapped[int | None] = mapped_column(Integer)
    rural_total: Mapped[int | None] = mapped_column(Integer)
    rural_children: Mapped[int | None] = mapped_column(Integer)
    rural_adults: Mapped[int | None] = mapped_column(Integer)
    # The cells exactly as printed (thousand-separator spaces kept, "*" marks), in column order.
    printed_cells: Mapped[list[str]] = mapped_column(ARRAY(Text))
    cell_assignment: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    first_line: Mapped[int | None] = mapped_column()
    last_line: Mapped[int | None] = mapped_column()


class PaymentMethod(Base):
    """Annex 2: one payment method (or tariff type) for a direction of care, text as printed."""

    __tablename__ = "payment_method"
    __table_args__ = (UniqueConstraint("document_id", "row_position", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    row_position: Mapped[int] = mapped_column()
    row_number: Mapped[str | None] = mapped_column(String(10))
    care_type_kk: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column()
    text_kk: Mapped[str] = mapped_column(Text)
    sub_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    first_line: Mapped[int | None] = mapped_column()
    last_line: Mapped[int | None] = mapped_column()


class AccessNorm(Base):
    """An access criterion (chapter 6, item 79) as a versioned rule.

    The printed reading (comparator, threshold or range, population base as printed) is kept apart from the
    evaluation parameters (`eval_*`), which say how the norm is checked and why, so that a reading of an
    ambiguous text is visible data, not code.
    """

    __tablename__ = "access_norm"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        Index("uq_access_norm_current", "code", unique=True, postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column()
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column()
    text_kk: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(40))
    comparator: Mapped[Comparator] = mapped_column(pg_enum(Comparator, "norm_comparator"))
    threshold: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    threshold_printed: Mapped[str | None] = mapped_column(Text)
    range_min: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    range_max: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    per_population: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    per_population_unit_kk: Mapped[str | None] = mapped_column(Text)
    per_population_persons_literal: Mapped[int | None] = mapped_column(BigInteger)
    # Evaluation: value = formula(statistics); met when value <eval_comparator> eval_threshold.
    eval_formula: Mapped[NormFormula] = mapped_column(pg_enum(NormFormula, "norm_formula"))
    eval_numerator: Mapped[str] = mapped_column(String(60))
    eval_denominator: Mapped[str | None] = mapped_column(String(60))
    eval_per_persons: Mapped[int | None] = mapped_column(BigInteger)
    eval_comparator: Mapped[Comparator] = mapped_column(pg_enum(Comparator, "norm_comparator"))
    eval_threshold: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    eval_note: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    first_line: Mapped[int | None] = mapped_column()
    last_line: Mapped[int | None] = mapped_column()
    # The date of the act named in `legal_basis`; who recorded the version through the API, and when.
    legal_basis_date: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StagedBatchColumns:
    """The columns of a batch of an upload that services.api.bulk.staged takes in (invoices, reference statistics):
    keyed by the sending account and its batch id (batch ids are per account); the first answer is kept and
    replayed when the same batch comes again."""

    # The account that sent the upload (Principal.label: the token's subject at its issuer).
    account: Mapped[str] = mapped_column(String(300), primary_key=True)
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


class StatisticBatch(StagedBatchColumns, Base):
    """One bulk upload of reference statistics."""

    __tablename__ = "statistic_batch"


class ReferenceStatistic(Base):
    """A statistic of a region for a year (population, brigades, beds, …). Corrections add a version."""

    __tablename__ = "reference_statistic"
    __table_args__ = (
        UniqueConstraint("region_code", "year", "code", "version"),
        Index(
            "uq_reference_statistic_current",
            "region_code",
            "year",
            "code",
            unique=True,
            postgresql_where=text("is_current"),
        ),
        Index("ix_reference_statistic_batch", "batch_id"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("(batch_id IS NULL) = (batch_account IS NULL)", name="batch_with_account"),
        ForeignKeyConstraint(["batch_account", "batch_id"], ["statistic_batch.account", "statistic_batch.batch_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"))
    year: Mapped[int] = mapped_column()
    code: Mapped[str] = mapped_column(String(60))
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    source: Mapped[str] = mapped_column(Text)
    is_synthetic: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column()
    is_current: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The bulk upload (and its line) a row came from, and the one whose new version closed it; null for the rows
    # taken in otherwise (the JSON upload, the demo set).
    batch_account: Mapped[str | None] = mapped_column(String(300))
    batch_id: Mapped[str | None] = mapped_column(String(100))
    line_no: Mapped[int | None] = mapped_column(Integer)
    superseded_by_batch: Mapped[str | None] = mapped_column(String(100))


class PurchasingAllocation(CreatedAtMixin, Base):
    """A purchasing-plan allocation: service kind and region, beds × bed-days (× tariff) → amount."""

    __tablename__ = "purchasing_allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    plan_date: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column()
    service_kind: Mapped[str] = mapped_column(String(60))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"))
    beds: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    bed_days: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    bed_days_printed: Mapped[str | None] = mapped_column(Text)
    tariff: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    tariff_unit: Mapped[AmountUnit | None] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    amount_unit: Mapped[AmountUnit] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    amount_printed: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class PurchaseContract(CreatedAtMixin, Base):
    """A purchase contract between the fund and a provider. Amount in tenge with tiyn."""

    __tablename__ = "purchase_contract"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_purchase_contract_region_kind", "region_code", "service_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[str | None] = mapped_column(String(60))
    signed_on: Mapped[date | None] = mapped_column(Date)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    purchaser_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("purchasing_allocation.id"))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"))
    service_kind: Mapped[str] = mapped_column(String(60))
    # Months are stored as their first day.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    period_note: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    amount_unit: Mapped[AmountUnit] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    amount_printed: Mapped[str | None] = mapped_column(Text)


class ContractInvoice(CreatedAtMixin, Base):
    """An invoice for one month (or, where the source only gives that, an aggregate of several months)."""

    __tablename__ = "contract_invoice"
    __table_args__ = (
        # One row per version; `is_current` marks the live one of a contract and starting month.
        UniqueConstraint("contract_id", "period_start", "version"),
        Index(
            "uq_contract_invoice_current",
            "contract_id",
            "period_start",
            unique=True,
            postgresql_where=text("is_current"),
        ),
        Index("ix_contract_invoice_batch", "batch_id"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("presented >= 0 AND accepted >= 0", name="amounts_not_negative"),
        CheckConstraint("accepted <= presented", name="accepted_within_presented"),
        CheckConstraint(
            "EXTRACT(DAY FROM period_start) = 1 AND EXTRACT(DAY FROM period_end) = 1", name="periods_are_months"
        ),
        CheckConstraint("(batch_id IS NULL) = (batch_account IS NULL)", name="batch_with_account"),
        ForeignKeyConstraint(["batch_account", "batch_id"], ["invoice_batch.account", "invoice_batch.batch_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("purchase_contract.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    granularity: Mapped[InvoiceGranularity] = mapped_column(pg_enum(InvoiceGranularity, "invoice_granularity"))
    presented: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    accepted: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    # The deduction after quality and volume monitoring: presented − accepted, with its stated reason.
    deduction_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # Versions: a correction closes the current row (is_current false, superseded_by_batch) and adds the next.
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    is_current: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    batch_account: Mapped[str | None] = mapped_column(String(300))
    batch_id: Mapped[str | None] = mapped_column(String(100))
    line_no: Mapped[int | None] = mapped_column(Integer)
    superseded_by_batch: Mapped[str | None] = mapped_column(String(100))


class IngestBatch(Base):
    """One bulk upload, keyed by the caller's batch id. Sending the same batch again changes nothing.

    `batch_no` numbers the executed-volume uploads: a stored row names its upload (and the upload that corrected it)
    by this number. Batch ids are per account: the key is the sending account (Principal.label) and its batch id."""

    __tablename__ = "ingest_batch"

    account: Mapped[str] = mapped_column(String(300), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer, Sequence("ingest_batch_no_seq"), unique=True)
    kind: Mapped[BatchKind] = mapped_column(pg_enum(BatchKind, "batch_kind"))
    mode: Mapped[BatchMode] = mapped_column(pg_enum(BatchMode, "batch_mode"))
    content_type: Mapped[str] = mapped_column(String(60))
    content_sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column()
    rows_accepted: Mapped[int] = mapped_column()
    rows_rejected: Mapped[int] = mapped_column()
    rows_new_version: Mapped[int] = mapped_column()
    rows_unchanged: Mapped[int] = mapped_column()
    # The response given the first time (with the refused rows), replayed for a repeated batch.
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExecutedVolume(Base):
    """Executed 24-hour inpatient volume: treated cases and bed-days per region × profile × month (× provider when
    the sender reports per provider), one row per version of a key, all in this one table whatever the number of
    uploads.

    A key (region, profile, provider, month) has one current row (`is_current`), which Postgres enforces with a
    partial unique index; a correction closes the current row (is_current false, `superseded_by` its upload) and
    adds the next version, so the history stays. Every reference is a foreign key. A row is identified by the
    upload that brought it and its line in the file."""

    __tablename__ = "executed_volume"
    __table_args__ = (
        # One current row per key; a row without provider is one key of its own (NULLS NOT DISTINCT). In the
        # order the list reads the current figures.
        Index(
            "uq_executed_volume_current",
            "region_code",
            "profile_code",
            "month",
            column("provider_code").nulls_first(),
            unique=True,
            postgresql_where=text("is_current"),
            postgresql_nulls_not_distinct=True,
        ),
        # One row per version of a key; in the order the list reads the history.
        Index(
            "uq_executed_volume_version",
            "region_code",
            "profile_code",
            "month",
            column("provider_code").nulls_first(),
            "version",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("EXTRACT(DAY FROM month) = 1", name="month_is_first_day"),
        CheckConstraint(
            "treated_cases >= 0 AND bed_days >= 0 AND children_cases >= 0 AND rural_cases >= 0"
            " AND (children_bed_days IS NULL OR children_bed_days >= 0)"
            " AND (rural_bed_days IS NULL OR rural_bed_days >= 0)",
            name="not_negative",
        ),
        CheckConstraint(
            "children_cases <= treated_cases AND rural_cases <= treated_cases"
            " AND children_bed_days <= bed_days AND rural_bed_days <= bed_days",
            name="parts_within_total",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    batch_no: Mapped[int] = mapped_column(ForeignKey("ingest_batch.batch_no"), primary_key=True)
    line_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"))
    profile_code: Mapped[str] = mapped_column(ForeignKey("clinical_profile.code"))
    provider_code: Mapped[str | None] = mapped_column(ForeignKey("organisation.code"))
    month: Mapped[date] = mapped_column(Date)
    treated_cases: Mapped[int] = mapped_column(Integer)
    children_cases: Mapped[int] = mapped_column(Integer)
    rural_cases: Mapped[int] = mapped_column(Integer)
    bed_days: Mapped[int] = mapped_column(Integer)
    children_bed_days: Mapped[int | None] = mapped_column(Integer)
    rural_bed_days: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    is_current: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # The upload whose new version closed this row.
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.batch_no"))


class ExecutedVolumeCell(Base):
    """The executed volumes of one region × profile × month: how many rows (every version) and how many current,
    and the sums of the current ones. Planned against executed, and the list's totals, read these instead of the
    rows; an upload adds its kept rows to their cells and takes the rows it closes off theirs, in the same
    transaction."""

    __tablename__ = "executed_volume_cell"
    __table_args__ = (
        Index("ix_executed_volume_cell_month", "month", "region_code", "profile_code"),
        CheckConstraint("current_rows BETWEEN 0 AND rows", name="current_within_rows"),
    )

    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"), primary_key=True)
    profile_code: Mapped[str] = mapped_column(ForeignKey("clinical_profile.code"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    current_rows: Mapped[int] = mapped_column(BigInteger)
    treated_cases: Mapped[int] = mapped_column(BigInteger)
    children_cases: Mapped[int] = mapped_column(BigInteger)
    rural_cases: Mapped[int] = mapped_column(BigInteger)
    bed_days: Mapped[int] = mapped_column(BigInteger)
