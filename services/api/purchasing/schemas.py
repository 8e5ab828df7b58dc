"""Wire shapes of purchasing: providers, allocations, contracts, invoices, contract status and forecast."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.api.bulk.schemas import BatchResultBase
from services.api.guarantee.http import YearMonth
from services.common.bounds import CalendarDate, EffectiveFrom, Int32Id, TextCheck
from services.common.models.guarantee import InvoiceGranularity
from services.common.models.purchasing import OnProductMismatch, ProductCheck
from services.common.models.registry import AmountUnit
from services.common.review import ReviewState

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2, examples=["27332669.20"])]


class ProviderOut(BaseModel):
    id: int
    code: str
    name_kk: str
    name_ru: str | None
    region: str | None


class AllocationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "plan_date": "2022-11-18",
                    "year": 2022,
                    "service_kind": "palliative_care",
                    "region": "710000000",
                    "beds": "128.00",
                    "bed_days": "340.00",
                    "bed_days_printed": "340 төсек-тәуліктік",
                    "tariff": None,
                    "tariff_unit": None,
                    "amount": "452759.00",
                    "amount_unit": "thousand_tenge",
                    "amount_tenge": "452759000.00",
                    "amount_printed": "452 759 мың теңге",
                    "note": None,
                }
            ]
        }
    )

    id: int
    plan_date: str
    year: int
    service_kind: str
    region: str
    beds: Decimal | None
    bed_days: Decimal | None
    bed_days_printed: str | None
    tariff: Decimal | None
    tariff_unit: AmountUnit | None
    amount: Decimal
    amount_unit: AmountUnit
    amount_tenge: Decimal
    amount_printed: str | None
    note: str | None


class InvoiceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "month": "2022-11",
                    "presented": "30000000.00",
                    "accepted": "28500000.00",
                    "deduction_reason": "volume monitoring: 12 bed-days not confirmed",
                }
            ]
        },
    )

    month: YearMonth
    presented: Money
    accepted: Money
    deduction_reason: Annotated[str | None, Field(max_length=2000), TextCheck] = None

    @model_validator(mode="after")
    def _accepted_within_presented(self) -> "InvoiceIn":
        if self.accepted > self.presented:
            raise ValueError("accepted must not exceed presented")
        if self.accepted < self.presented and not self.deduction_reason:
            raise ValueError("deduction_reason is required when accepted is less than presented")
        return self


class InvoiceOut(BaseModel):
    id: int
    period_start: YearMonth
    period_end: YearMonth
    months: int
    granularity: InvoiceGranularity
    presented: Decimal
    accepted: Decimal
    deduction: Decimal
    deduction_reason: str | None
    note: str | None
    version: int = Field(description="1 for the first figures of the month; a correction adds the next version.")
    is_current: bool
    batch_id: str | None = Field(description="The bulk upload that brought these figures (null otherwise).")
    line: int | None = Field(description="Its line in that upload.")
    superseded_by_batch: str | None = Field(description="The upload that corrected these figures.")
    unit: AmountUnit = AmountUnit.tenge


class InvoiceBatchResult(BatchResultBase):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "fund-astana-2022-11",
                    "mode": "per_row",
                    "status": "partially_accepted",
                    "duplicate": False,
                    "rows_total": 2,
                    "rows_accepted": 1,
                    "rows_new": 1,
                    "rows_new_version": 0,
                    "rows_unchanged": 0,
                    "rows_rejected": 1,
                    "kept_lines": [[2, 2]],
                    "refused": [{"line": 3, "errors": [{"field": "contract_id", "reason": "unknown contract 999"}]}],
                    "refused_truncated": False,
                    "bytes": 164,
                    "content_sha256": "…",
                }
            ]
        }
    )

    kind: str = "invoices"
    rows_new: int = Field(description="Accepted rows for a contract and month that had no invoice yet.")
    rows_new_version: int = Field(description="Accepted rows that correct an invoice: a new version, the old kept.")
    rows_unchanged: int = Field(description="Accepted rows equal to the current invoice (no new version).")


class ContractOut(BaseModel):
    id: int
    number: str | None
    provider: ProviderOut
    purchaser: str | None
    region: str
    service_kind: str
    period_start: YearMonth
    period_end: YearMonth
    period_note: str | None
    amount: Decimal
    amount_unit: AmountUnit
    amount_printed: str | None
    presented_total: Decimal
    accepted_total: Decimal
    remaining: Decimal


class ForecastOut(BaseModel):
    """Run-rate forecast: at the average monthly accepted amount so far, does the balance last?"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "months_elapsed": 10,
                    "last_invoiced_month": "2022-10",
                    "average_monthly_accepted": "27332669.20",
                    "months_left": 2,
                    "months_left_list": ["2022-11", "2022-12"],
                    "needed_for_months_left": "54665338.40",
                    "remaining": "59187721.50",
                    "sufficient": True,
                    "surplus_or_shortfall": "4522383.10",
                    "months_covered": 2,
                    "covered_until": "2022-12",
                }
            ]
        }
    )

    months_elapsed: int
    last_invoiced_month: YearMonth | None
    average_monthly_accepted: Decimal | None
    months_left: int
    months_left_list: list[YearMonth]
    needed_for_months_left: Decimal | None
    remaining: Decimal
    sufficient: bool | None
    surplus_or_shortfall: Decimal | None = Field(description="remaining − needed: negative is a shortfall")
    months_covered: int | None
    covered_until: YearMonth | None = Field(
        description="The last month the balance covers at the run-rate (null "
        "when nothing is accepted yet or beyond 2100-12)."
    )


class ContractStatusOut(BaseModel):
    contract: ContractOut
    invoices: list[InvoiceOut]
    accepted_share_percent: Decimal | None
    forecast: ForecastOut
    unit: AmountUnit = AmountUnit.tenge


class PurchasingSummaryOut(BaseModel):
    region: str
    service_kind: str
    year: int
    allocations: list[AllocationOut]
    allocated_beds: Decimal | None
    allocated_thousand_tenge: Decimal
    contracts_count: int
    contracted_tenge: Decimal
    presented_tenge: Decimal
    accepted_tenge: Decimal
    accepted_share_percent: Decimal | None
    remaining_tenge: Decimal
    contracts: list[ContractOut]


# --- written by the Fund: allocations, contracts, the ministry's settings -------------------------------------

PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2, examples=["27332669.20"])]
Beds = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, examples=["128"])]
BedDays = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, examples=["340"])]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), TextCheck]
Printed = Annotated[str, StringConstraints(max_length=500), TextCheck]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{9}$"), Field(examples=["710000000"])]
ServiceKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,59}$"), Field(examples=["palliative_care"])]
Year = Annotated[int, Field(ge=1991, le=2100, examples=[2022])]
WhenInForce = Annotated[
    CalendarDate | None,
    Field(description="The day this version takes effect: not after today, not before the current version's."),
]


class AllocationTerms(BaseModel):
    """An allocation's figures: beds × bed-days (per bed) × tariff per bed-day is checked against the amount."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan_date": "2022-11-18",
                    "year": 2022,
                    "service_kind": "palliative_care",
                    "beds": "128",
                    "bed_days": "340",
                    "tariff": "10.40",
                    "tariff_unit": "thousand_tenge",
                    "amount": "452608",
                    "amount_unit": "thousand_tenge",
                    "reason": "purchasing plan of 18.11.2022",
                }
            ]
        },
    )

    plan_date: CalendarDate
    year: Year
    service_kind: ServiceKind
    beds: Beds | None = None
    bed_days: BedDays | None = Field(None, description="Bed-days per bed (the product is beds × bed-days × tariff).")
    bed_days_printed: Printed | None = None
    tariff: Money | None = Field(None, description="Per bed-day, in `tariff_unit`.")
    tariff_unit: AmountUnit | None = None
    amount: Money
    amount_unit: AmountUnit
    amount_printed: Printed | None = None
    note: Reason | None = None
    reason: Reason = Field(description="Why this version: the plan or the order it follows.")
    effective_from: WhenInForce = None

    @model_validator(mode="after")
    def _tariff_has_unit(self) -> "AllocationTerms":
        if self.tariff is not None and self.tariff_unit is None:
            raise ValueError("tariff_unit is required with a tariff")
        return self


class AllocationIn(AllocationTerms):
    region: RegionCode


class AllocationVersionOut(BaseModel):
    id: int
    version: int
    region: str
    plan_date: date
    year: int
    service_kind: str
    beds: Decimal | None
    bed_days: Decimal | None
    bed_days_printed: str | None
    tariff: Decimal | None
    tariff_unit: AmountUnit | None
    amount: Decimal
    amount_unit: AmountUnit
    amount_tenge: Decimal
    amount_printed: str | None
    note: str | None
    product_tenge: Decimal | None = Field(description="beds × bed-days × tariff in tenge (null: not all given).")
    product_check: ProductCheck
    difference_tenge: Decimal | None = Field(description="amount − product, in tenge.")
    setting_version: int | None = Field(description="The purchasing setting the check was made under.")
    valid_from: date
    valid_to: date | None
    reason: str
    changed_by: str


class ContractTerms(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "number": "ПК-17",
                    "allocation_id": 1,
                    "period_start": "2022-01",
                    "period_end": "2022-12",
                    "amount": "332514413.50",
                    "amount_unit": "tenge",
                    "reason": "additional agreement No. 2",
                }
            ]
        },
    )

    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), TextCheck] | None = (
        None
    )
    signed_on: CalendarDate | None = None
    allocation_id: Int32Id | None = None
    period_start: YearMonth
    period_end: YearMonth
    period_note: Reason | None = None
    amount: Money
    amount_unit: AmountUnit = AmountUnit.tenge
    amount_printed: Printed | None = None
    reason: Reason = Field(description="Why this version: the contract or its amendment.")
    effective_from: WhenInForce = None

    @model_validator(mode="after")
    def _period_ordered(self) -> "ContractTerms":
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class ContractIn(ContractTerms):
    provider_id: Int32Id
    region: RegionCode
    service_kind: ServiceKind


class ContractVersionOut(BaseModel):
    id: int
    version: int
    provider_id: int
    region: str
    service_kind: str
    number: str | None
    signed_on: date | None
    allocation_id: int | None
    period_start: YearMonth
    period_end: YearMonth
    period_note: str | None
    amount: Decimal
    amount_unit: AmountUnit
    amount_printed: str | None
    valid_from: date
    valid_to: date | None
    reason: str
    changed_by: str


class SettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_product_mismatch: OnProductMismatch = Field(
        description="refuse: an allocation whose product differs from its amount is refused (422); flag: stored "
        "and marked `mismatch`."
    )
    tolerance_tenge: Money = Field(description="A difference up to this many tenge still matches.")
    basis: Reason = Field(description="The order or decision the setting follows.")
    valid_from: EffectiveFrom


class SettingOut(BaseModel):
    version: int = Field(description="0: nothing recorded yet (a mismatch is flagged, never refused).")
    on_product_mismatch: OnProductMismatch
    tolerance_tenge: Decimal
    basis: str
    valid_from: date | None
    valid_to: date | None
    changed_by: str | None


# --- monthly invoices in two steps ----------------------------------------------------------------------------

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$"), Field(examples=["volume_monitoring"])]


class VocabularyOut(BaseModel):
    code: str
    name_kk: str
    name_ru: str | None
    required: bool | None = None


class PaymentDocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Code = Field(description="A code of /purchasing/payment-document-kinds.", examples=["invoice_register"])
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), TextCheck]
    issued_on: CalendarDate
    attachment_id: Annotated[str, StringConstraints(min_length=1, max_length=100), TextCheck] | None = None


class PaymentDocumentOut(BaseModel):
    kind: str
    number: str
    issued_on: date
    attachment_id: str | None
    submission: int


_PRESENT_EXAMPLE: dict[str, Any] = {
    "month": "2022-11",
    "presented": "30000000.00",
    "documents": [
        {"kind": "invoice_register", "number": "ШТ-11/2022", "issued_on": "2022-12-02"},
        {"kind": "contract_execution_protocol", "number": "ХТ-11/2022", "issued_on": "2022-12-02"},
        {"kind": "services_act", "number": "А-11/2022", "issued_on": "2022-12-02"},
    ],
}


class PresentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PRESENT_EXAMPLE]})

    month: YearMonth
    presented: PositiveMoney
    documents: list[PaymentDocumentIn] = Field(max_length=20)
    note: Reason | None = None


class ResubmitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{k: v for k, v in _PRESENT_EXAMPLE.items() if k != "month"}]}
    )

    presented: PositiveMoney
    documents: list[PaymentDocumentIn] = Field(max_length=20)
    note: Reason | None = None


class DeductionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveMoney
    reason_code: Code = Field(description="A code of /purchasing/deduction-reasons.")
    text: Reason


class DeductionOut(BaseModel):
    line: int
    amount: Decimal
    reason_code: str
    text: str


class AcceptIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "deductions": [
                        {
                            "amount": "1500000.00",
                            "reason_code": "volume_monitoring",
                            "text": "12 bed-days not confirmed",
                        }
                    ]
                }
            ]
        },
    )

    deductions: list[DeductionIn] = Field(default_factory=list, max_length=100)
    note: Reason | None = None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class MonthlyInvoiceOut(BaseModel):
    id: int
    contract_id: int
    month: YearMonth
    state: ReviewState = Field(description="submitted (presented), accepted or returned: the one review cycle.")
    outcome: str | None = Field(description="full or partial once accepted.")
    allowed_actions: list[str] = Field(
        description="What the cycle allows next: accept and return (the Fund) while submitted, submit (the "
        "provider's resubmit) once returned, nothing once accepted."
    )
    version: int
    submission: int = Field(description="1 for the first presentation; a presentation after a return adds one.")
    presented: Decimal
    accepted: Decimal | None
    deduction_total: Decimal | None
    deductions: list[DeductionOut]
    documents: list[PaymentDocumentOut]
    note: str | None
    return_reason: str | None
    decision_note: str | None
    one_step: bool = Field(description="Recorded by the Fund in one step (presented and accepted together).")
    presented_by: str
    presented_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    invoice_id: int | None = Field(description="The accepted figures in the contract's invoices.")
    unit: AmountUnit = AmountUnit.tenge
