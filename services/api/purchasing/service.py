"""Purchasing use cases: contract status, monthly invoices and the run-rate forecast.

Every figure is computed from the loaded contracts and invoices; nothing the letter states is stored as an answer.
"""

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import provider_scope
from services.api.guarantee.http import YearMonth
from services.api.purchasing import filings, terms
from services.api.purchasing import repository as repo
from services.api.purchasing.schemas import (
    AllocationOut,
    ContractOut,
    ContractStatusOut,
    ForecastOut,
    InvoiceIn,
    InvoiceOut,
    ProviderOut,
    PurchasingSummaryOut,
)
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import content_etag
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import ContractInvoice, PurchasingAllocation
from services.common.models.purchasing import AllocationVersion, ContractVersion
from services.common.models.reference import Organisation
from services.common.models.registry import AmountUnit
from services.common.validity import is_in_force

CENT = Decimal("0.01")
UNIT_TO_TENGE = {
    AmountUnit.tenge: Decimal(1),
    AmountUnit.thousand_tenge: Decimal(1000),
    AmountUnit.million_tenge: Decimal(1_000_000),
    AmountUnit.billion_tenge: Decimal(1_000_000_000),
}


def _provider(o: Organisation) -> ProviderOut:
    return ProviderOut(id=o.id, code=o.code, name_kk=o.name_kk, name_ru=o.name_ru, region=o.region_code)


async def providers(
    session: AsyncSession, region: str | None, limit: int, offset: int
) -> tuple[list[ProviderOut], int]:
    items, total = await repo.providers(session, region, limit, offset)
    return [_provider(o) for o in items], total


def _allocation(a: PurchasingAllocation | AllocationVersion, region_code: str | None = None) -> AllocationOut:
    """An allocation row, or one of its versions (whose region, which no version changes, is `region_code`)."""
    if isinstance(a, AllocationVersion):
        allocation_id, region = a.allocation_id, region_code or ""
    else:
        allocation_id, region = a.id, a.region_code
    return AllocationOut(
        id=allocation_id,
        plan_date=a.plan_date.isoformat(),
        year=a.year,
        service_kind=a.service_kind,
        region=region,
        beds=a.beds,
        bed_days=a.bed_days,
        bed_days_printed=a.bed_days_printed,
        tariff=a.tariff,
        tariff_unit=a.tariff_unit,
        amount=a.amount,
        amount_unit=a.amount_unit,
        amount_tenge=(a.amount * UNIT_TO_TENGE[a.amount_unit]).quantize(CENT),
        amount_printed=a.amount_printed,
        note=a.note,
    )


async def allocations(
    session: AsyncSession,
    region: str | None,
    service_kind: str | None,
    year: int | None,
    provider_id: int | None = None,
    as_of: date | None = None,
) -> list[AllocationOut]:
    """Allocations (with `as_of`: each as its version in force that day); with `provider_id` (a provider's scope),
    only those its contracts were concluded under."""
    if as_of is not None:
        rows = await repo.allocations_as_of(session, region, service_kind, year, provider_id, as_of)
        return [_allocation(v, region_code) for region_code, v in rows]
    return [_allocation(a) for a in await repo.allocations(session, region, service_kind, year, provider_id)]


def _contract(row: Row[Any]) -> ContractOut:
    c, provider = row._mapping["PurchaseContract"], row._mapping["Organisation"]
    accepted = Decimal(row.accepted)
    return ContractOut(
        id=c.id,
        number=c.number,
        provider=_provider(provider),
        purchaser=row.purchaser_name,
        region=c.region_code,
        service_kind=c.service_kind,
        period_start=YearMonth.of(c.period_start),
        period_end=YearMonth.of(c.period_end),
        period_note=c.period_note,
        amount=c.amount,
        amount_unit=c.amount_unit,
        amount_printed=c.amount_printed,
        presented_total=Decimal(row.presented),
        accepted_total=accepted,
        remaining=(c.amount * UNIT_TO_TENGE[c.amount_unit] - accepted).quantize(CENT),
    )


async def contracts(
    session: AsyncSession,
    region: str | None,
    service_kind: str | None,
    year: int | None,
    provider_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ContractOut], int]:
    rows, total = await repo.contracts(session, region, service_kind, year, provider_id, limit, offset)
    return [_contract(r) for r in rows], total


def _invoice(i: ContractInvoice) -> InvoiceOut:
    start, end = YearMonth.of(i.period_start), YearMonth.of(i.period_end)
    return InvoiceOut(
        id=i.id,
        period_start=start,
        period_end=end,
        months=start.months_until(end) + 1,
        granularity=i.granularity,
        presented=i.presented,
        accepted=i.accepted,
        deduction=i.presented - i.accepted,
        deduction_reason=i.deduction_reason,
        note=i.note,
        version=i.version,
        is_current=i.is_current,
        batch_id=i.batch_id,
        line=i.line_no,
        superseded_by_batch=i.superseded_by_batch,
    )


def forecast(contract: ContractOut, invoices: Sequence[InvoiceOut]) -> ForecastOut:
    """At the average monthly accepted amount so far, does the remaining balance cover the months left?"""
    if not invoices:
        months_left = contract.period_start.months_until(contract.period_end) + 1
        return ForecastOut(
            months_elapsed=0,
            last_invoiced_month=None,
            average_monthly_accepted=None,
            months_left=months_left,
            months_left_list=_months(contract.period_start, months_left),
            needed_for_months_left=None,
            remaining=contract.remaining,
            sufficient=None,
            surplus_or_shortfall=None,
            months_covered=None,
            covered_until=None,
        )
    last = max(i.period_end for i in invoices)
    elapsed = contract.period_start.months_until(last) + 1
    average = (contract.accepted_total / elapsed).quantize(CENT, rounding=ROUND_HALF_UP)
    months_left = max(last.months_until(contract.period_end), 0)
    needed = (average * months_left).quantize(CENT)
    covered = int(contract.remaining // average) if average > 0 else None
    next_month = _months(last, 2)[1]
    return ForecastOut(
        months_elapsed=elapsed,
        last_invoiced_month=last,
        average_monthly_accepted=average,
        months_left=months_left,
        months_left_list=_months(next_month, months_left),
        needed_for_months_left=needed,
        remaining=contract.remaining,
        sufficient=contract.remaining >= needed,
        surplus_or_shortfall=contract.remaining - needed,
        months_covered=covered,
        covered_until=_shift(last, covered) if covered else None,
    )


def _shift(start: YearMonth, count: int) -> YearMonth | None:
    """The month `count` months after `start`; None past 2100-12 (a tiny run-rate covers "for ever")."""
    idx = start.index() + count
    return YearMonth(idx // 12, idx % 12 + 1) if idx // 12 <= 2100 else None


def _months(start: YearMonth, count: int) -> list[YearMonth]:
    idx = start.index()
    return [YearMonth((idx + k) // 12, (idx + k) % 12 + 1) for k in range(count)]


def _share(accepted: Decimal, presented: Decimal) -> Decimal | None:
    return (accepted / presented * 100).quantize(CENT) if presented else None


async def _contract_row(session: AsyncSession, contract_id: int, provider_id: int | None) -> Row[Any]:
    """A contract, 404 when there is none or (with `provider_id`, a provider's scope) it is another provider's."""
    row = await repo.contract(session, contract_id)
    if row is None or (provider_id is not None and row._mapping["PurchaseContract"].provider_id != provider_id):
        raise NotFound(f"no contract {contract_id}", [FieldError("contract_id", "unknown contract")])
    return row


async def contract_status(
    session: AsyncSession, contract_id: int, provider_id: int | None, as_of: date | None = None
) -> tuple[ContractStatusOut, str]:
    """A contract with its terms in force on `as_of` (today by default), its invoices, balance and forecast, and its
    ETag: `"contract-{id}.v{latest}.v{shown}-{digest}"` (the latest terms version, the one shown and a digest of
    the invoices' figures, so that If-Match compares the terms version and If-None-Match the whole answer)."""
    row = await _contract_row(session, contract_id, provider_id)
    contract = _contract(row)
    history = await terms.contract_versions(session, contract_id)
    latest = history[-1].version if history else 0
    shown = 0
    if history:
        on = as_of or clock.today()
        version = next((v for v in reversed(history) if is_in_force(v, on)), None)
        if version is None:
            raise NotFound(
                f"contract {contract_id} has no version in force on {on}",
                [FieldError("as_of", f"no version in force on {on}")],
            )
        shown = version.version
        contract = _with_terms(contract, version)
    invoices = [_invoice(i) for i in await repo.invoices(session, contract_id)]
    out = ContractStatusOut(
        contract=contract,
        invoices=invoices,
        accepted_share_percent=_share(contract.accepted_total, contract.presented_total),
        forecast=forecast(contract, invoices),
    )
    digest = content_etag("c", out).strip('"').rsplit(".v", 1)[1]
    return out, terms.contract_etag(contract_id, latest, f"{shown}-{digest}")


def _with_terms(contract: ContractOut, v: ContractVersion) -> ContractOut:
    """The contract as its version `v` states it (the invoices' totals are today's)."""
    amount = v.amount * UNIT_TO_TENGE[v.amount_unit]
    return contract.model_copy(
        update=dict(
            number=v.number,
            period_start=YearMonth.of(v.period_start),
            period_end=YearMonth.of(v.period_end),
            period_note=v.period_note,
            amount=v.amount,
            amount_unit=v.amount_unit,
            amount_printed=v.amount_printed,
            remaining=(amount - contract.accepted_total).quantize(CENT),
        )
    )


async def invoices(session: AsyncSession, contract_id: int, history: bool, provider_id: int | None) -> list[InvoiceOut]:
    await _contract_row(session, contract_id, provider_id)
    return [_invoice(i) for i in await repo.invoices(session, contract_id, history)]


async def add_invoice(session: AsyncSession, contract_id: int, body: InvoiceIn, who: Principal) -> InvoiceOut:
    """The Fund records a month's invoice in one step: presented and accepted together, recorded as both steps of the
    two-step invoice (services.api.purchasing.filings.record_in_one_step). Providers present theirs at
    `POST /contracts/{id}/monthly-invoices`."""
    row = await _contract_row(session, contract_id, provider_scope(who))
    contract = _contract(row)
    if not contract.period_start <= body.month <= contract.period_end:
        raise ValidationFailed(
            f"{body.month} is outside the contract period {contract.period_start} – {contract.period_end}",
            [FieldError("month", "outside the contract period")],
        )
    for i in await repo.invoices(session, contract_id):
        if YearMonth.of(i.period_start) <= body.month <= YearMonth.of(i.period_end):
            raise Conflict(
                f"an invoice for {body.month} is already recorded (invoice {i.id})",
                [FieldError("month", "already invoiced")],
            )
    if contract.accepted_total + body.accepted > contract.amount * UNIT_TO_TENGE[contract.amount_unit]:
        raise ValidationFailed(
            "the accepted amount would exceed the contract amount",
            [FieldError("accepted", f"only {contract.remaining} tenge remain on the contract")],
        )
    invoice = await filings.record_in_one_step(
        session,
        row._mapping["PurchaseContract"],
        body.month,
        body.presented,
        body.accepted,
        body.deduction_reason,
        who,
    )
    out = _invoice(invoice)
    await record_change(session, who, "create", "contract-invoice", invoice.id, None, out.model_dump(mode="json"))
    return out


async def summary(session: AsyncSession, region: str, service_kind: str, year: int) -> PurchasingSummaryOut:
    allocs = await allocations(session, region, service_kind, year)
    contracts_, total = await contracts(session, region, service_kind, year, None, 500, 0)
    if not allocs and not contracts_:
        raise NotFound(
            f"no purchasing of {service_kind} in {region} in {year}", [FieldError("service_kind", "nothing purchased")]
        )
    presented = sum((c.presented_total for c in contracts_), Decimal(0))
    accepted = sum((c.accepted_total for c in contracts_), Decimal(0))
    beds = [a.beds for a in allocs if a.beds is not None]
    return PurchasingSummaryOut(
        region=region,
        service_kind=service_kind,
        year=year,
        allocations=allocs,
        allocated_beds=sum(beds, Decimal(0)) if beds else None,
        allocated_thousand_tenge=sum((a.amount_tenge / 1000 for a in allocs), Decimal(0)).quantize(CENT),
        contracts_count=total,
        contracted_tenge=sum((c.amount for c in contracts_), Decimal(0)),
        presented_tenge=presented,
        accepted_tenge=accepted,
        accepted_share_percent=_share(accepted, presented),
        remaining_tenge=sum((c.remaining for c in contracts_), Decimal(0)),
        contracts=contracts_,
    )
