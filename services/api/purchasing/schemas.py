"""Wire shapes of purchasing: providers, allocations, contracts, invoices, contract status and forecast."""

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.api.bulk.schemas import BatchResultBase
from services.api.guarantee.http import YearMonth
from services.common.bounds import TextCheck
from services.common.models.guarantee import InvoiceGranularity
from services.common.models.registry import AmountUnit

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
