"""Purchasing written by the Fund: bulk invoice uploads, the versions of allocations and contracts, the ministry's
purchasing settings, the vocabularies of payment documents and deduction reasons, and monthly invoices in two steps
(the provider presents, the Fund accepts in full or in part, or returns). Allocations, contracts and the accepted
invoice figures themselves are in `guarantee`."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

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
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base
from services.common.models.guarantee import StagedBatchColumns
from services.common.models.reference import pg_enum
from services.common.models.registry import AmountUnit
from services.common.review import ReviewState


class InvoiceBatch(StagedBatchColumns, Base):
    """One bulk upload of invoices."""

    __tablename__ = "invoice_batch"


class OnProductMismatch(StrEnum):
    """What a written allocation whose beds × bed-days × tariff differs from its amount meets."""

    refuse = "refuse"  # 422 naming the amount and the product
    flag = "flag"  # stored, marked `mismatch` with the product and the difference


class ProductCheck(StrEnum):
    matches = "matches"
    mismatch = "mismatch"
    not_checked = "not_checked"  # beds, bed-days or the tariff not given: no product to compare


class PurchasingSetting(Base):
    """The ministry's purchasing settings as versioned data (set by the ministry administrator, never a constant):
    how a product mismatch of an allocation is met, and the tolerance in tenge within which it matches."""

    __tablename__ = "purchasing_setting"
    __table_args__ = (
        UniqueConstraint("version"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("on_product_mismatch IN ('refuse', 'flag')", name="mismatch_rule_known"),
        CheckConstraint("tolerance_tenge >= 0", name="tolerance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    on_product_mismatch: Mapped[str] = mapped_column(String(20))
    tolerance_tenge: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    basis: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    changed_by: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AllocationVersion(Base):
    """One version of a purchasing-plan allocation. `purchasing_allocation` holds the latest one's figures (the one
    in force today: amendments take effect on a day not after today); every version stays here."""

    __tablename__ = "purchasing_allocation_version"
    __table_args__ = (
        UniqueConstraint("allocation_id", "version"),
        Index(
            "uq_purchasing_allocation_version_open",
            "allocation_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("product_check IN ('matches', 'mismatch', 'not_checked')", name="product_check_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("purchasing_allocation.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    plan_date: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    service_kind: Mapped[str] = mapped_column(String(60))
    beds: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    bed_days: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    bed_days_printed: Mapped[str | None] = mapped_column(Text)
    tariff: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    tariff_unit: Mapped[AmountUnit | None] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    amount_unit: Mapped[AmountUnit] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    amount_printed: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # beds × bed-days × tariff in tenge (exact), and how it compared with the amount under the setting in force.
    product_tenge: Mapped[Decimal | None] = mapped_column(Numeric)
    product_check: Mapped[str] = mapped_column(String(20))
    setting_version: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ContractVersion(Base):
    """One version of a purchase contract's terms (an amendment adds the next). `purchase_contract` holds the latest
    one's terms; every version stays here."""

    __tablename__ = "purchase_contract_version"
    __table_args__ = (
        UniqueConstraint("contract_id", "version"),
        Index(
            "uq_purchase_contract_version_open",
            "contract_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("purchase_contract.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(60))
    signed_on: Mapped[date | None] = mapped_column(Date)
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("purchasing_allocation.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    period_note: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    amount_unit: Mapped[AmountUnit] = mapped_column(pg_enum(AmountUnit, "amount_unit"))
    amount_printed: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentDocumentKind(Base):
    """A payment document a month's invoice comes with (seed 003: invoice register, contract execution protocol,
    act of services rendered): a vocabulary kept as data."""

    __tablename__ = "payment_document_kind"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)


class DeductionReason(Base):
    """Why the Fund deducts part of a presented invoice: a vocabulary kept as data."""

    __tablename__ = "invoice_deduction_reason"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)


class InvoiceFiling(Base):
    """A provider's monthly invoice in two steps: presented (review state `submitted`), then accepted by the Fund in
    full or in part (`accepted`; the accepted figures go into `contract_invoice`, where every total reads them) or
    returned (`returned`, presented again later). One per contract and month. `version` counts its changes (ETag)."""

    __tablename__ = "invoice_filing"
    __table_args__ = (
        UniqueConstraint("contract_id", "month"),
        CheckConstraint("EXTRACT(DAY FROM month) = 1", name="month_is_first_day"),
        CheckConstraint("presented > 0", name="presented_positive"),
        CheckConstraint("accepted IS NULL OR (accepted >= 0 AND accepted <= presented)", name="accepted_within"),
        CheckConstraint("(state = 'accepted') = (accepted IS NOT NULL)", name="accepted_when_accepted"),
        Index("ix_invoice_filing_state", "state", "contract_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("purchase_contract.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    state: Mapped[ReviewState] = mapped_column(pg_enum(ReviewState, "review_state"))
    version: Mapped[int] = mapped_column(Integer)
    submission: Mapped[int] = mapped_column(Integer)
    presented: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    accepted: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    note: Mapped[str | None] = mapped_column(Text)
    return_reason: Mapped[str | None] = mapped_column(Text)
    decision_note: Mapped[str | None] = mapped_column(Text)
    # Recorded in one step by the Fund (the single-record route): presented and accepted together.
    one_step: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    presented_by: Mapped[str] = mapped_column(String(300))
    presented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(300))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("contract_invoice.id"))


class InvoiceFilingDocument(Base):
    """A payment document of a presentation (its kind, number and date; an attachment id once files are kept)."""

    __tablename__ = "invoice_filing_document"
    __table_args__ = (UniqueConstraint("filing_id", "submission", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("invoice_filing.id", ondelete="CASCADE"))
    submission: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    kind_code: Mapped[str] = mapped_column(ForeignKey("payment_document_kind.code"))
    number: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    attachment_id: Mapped[str | None] = mapped_column(String(100))


class InvoiceDeduction(Base):
    """One deduction line of the Fund's decision: an amount and its reason (a code of the vocabulary and text)."""

    __tablename__ = "invoice_deduction"
    __table_args__ = (
        UniqueConstraint("filing_id", "line"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("invoice_filing.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    reason_code: Mapped[str] = mapped_column(ForeignKey("invoice_deduction_reason.code"))
    text: Mapped[str] = mapped_column(Text)
