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
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
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

    `batch_no` numbers the executed-volume uploads: it keys the upload's partition of executed_volume. Batch ids
    are per account: the key is the sending account (Principal.label) and its batch id."""

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


# Executed 24-hour inpatient volume: treated cases and bed-days per region × profile × month (× provider when the
# sender reports per provider), one row per version of a key; `is_current` marks the live one.
#
# Partitioned by upload: every upload's rows are one partition (schema executed_volume_batch, table b<batch_no>),
# written by COPY straight into a table of its own and attached when the upload commits. A million rows per upload
# is the expected size, so nothing is maintained row by row while they arrive: the partition's unique index on the
# key of a row is built once after the COPY (which is also the check that no key repeats within the upload), and
# the index that serves reads of rows by region, profile and month is built by the report worker after commit.
# A key has at most one current row across partitions: uploads of executed volumes take one lock in turn once
# their body is in (services.api.bulk.batches.take_turn), and an upload that touches a region × profile × month
# with figures already closes the versions it corrects (see executed_volume_cell).
#
# The rows carry no foreign keys (a row-level RI trigger per row and key would cost more than the COPY itself).
# Their references are kept per upload instead, in executed_volume_cell (region, profile, month) and
# executed_volume_provider, which do carry foreign keys: every row's region, profile and provider stands in its
# upload's rows there.
executed_volume = Table(
    "executed_volume",
    Base.metadata,
    Column("batch_no", Integer, nullable=False),
    Column("line_no", BigInteger, nullable=False),
    Column("region_code", String(9), nullable=False),
    Column("profile_code", String(60), nullable=False),
    Column("provider_code", String(120)),
    Column("month", Date, nullable=False),
    Column("treated_cases", Integer, nullable=False),
    Column("children_cases", Integer, nullable=False),
    Column("rural_cases", Integer, nullable=False),
    Column("bed_days", Integer, nullable=False),
    Column("children_bed_days", Integer),
    Column("rural_bed_days", Integer),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("is_current", Boolean, nullable=False, server_default=text("true")),
    Column("superseded_by", Integer),  # ingest_batch.batch_no of the upload that corrected this row
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
    postgresql_partition_by="LIST (batch_no)",
)


class ExecutedVolumeCell(Base):
    """An upload's rows in one region × profile × month: how many, and the sums of those still current.

    The references of the upload's rows (with foreign keys); how an upload finds at once whether it touches figures
    already held; and the current totals per region, profile and month, read by planned-against-executed and the
    reports without reading the rows: an upload adds its cells, a correction takes the rows it closes off the cells
    of their uploads."""

    __tablename__ = "executed_volume_cell"
    __table_args__ = (
        Index("ix_executed_volume_cell_batch", "batch_no"),
        Index("ix_executed_volume_cell_month", "month", "region_code", "profile_code"),
        CheckConstraint("current_rows BETWEEN 0 AND rows", name="current_within_rows"),
    )

    region_code: Mapped[str] = mapped_column(ForeignKey("region.kato_code"), primary_key=True)
    profile_code: Mapped[str] = mapped_column(ForeignKey("clinical_profile.code"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    batch_no: Mapped[int] = mapped_column(ForeignKey("ingest_batch.batch_no"), primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    current_rows: Mapped[int] = mapped_column(Integer)
    treated_cases: Mapped[int] = mapped_column(BigInteger)
    children_cases: Mapped[int] = mapped_column(BigInteger)
    rural_cases: Mapped[int] = mapped_column(BigInteger)
    bed_days: Mapped[int] = mapped_column(BigInteger)


class ExecutedVolumeProvider(Base):
    """The providers an upload's rows name (foreign keys to organisation)."""

    __tablename__ = "executed_volume_provider"

    batch_no: Mapped[int] = mapped_column(ForeignKey("ingest_batch.batch_no"), primary_key=True)
    provider_code: Mapped[str] = mapped_column(ForeignKey("organisation.code"), primary_key=True)
