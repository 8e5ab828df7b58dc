"""Purchasing written by the Fund: allocations and contracts created and amended through the API, each change a
version (the current one closed on the day the next takes effect, nothing overwritten), and the ministry's purchasing
settings, which say how an allocation whose beds × bed-days × tariff differs from its amount is met.

* An amendment takes effect on a day not after today and not before the current version's: the allocation and
  contract rows (which every total reads) then hold the version in force today, and `as_of` reads and the history
  read the versions.
* Writes of a new version need If-Match (services.common.concurrency); the database guards the version read
  (`close_latest_version`), so of two amendments holding one ETag one wins and the other answers 412.
* Each accepted write is audited with who and why, and recorded as an outbox event.
"""

import decimal
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import provider_scope
from services.api.guarantee.http import YearMonth
from services.api.purchasing import terms_repository as repo
from services.api.purchasing.schemas import (
    AllocationIn,
    AllocationTerms,
    AllocationVersionOut,
    ContractIn,
    ContractTerms,
    ContractVersionOut,
    SettingIn,
    SettingOut,
)
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import PurchaseContract, PurchasingAllocation
from services.common.models.purchasing import (
    AllocationVersion,
    ContractVersion,
    OnProductMismatch,
    ProductCheck,
    PurchasingSetting,
)
from services.common.models.registry import AmountUnit
from services.common.outbox import record_event
from services.common.validity import is_in_force

UNIT_TO_TENGE = {
    AmountUnit.tenge: Decimal(1),
    AmountUnit.thousand_tenge: Decimal(1000),
    AmountUnit.million_tenge: Decimal(1_000_000),
    AmountUnit.billion_tenge: Decimal(1_000_000_000),
}
# beds (12 digits) × bed-days (14) × tariff (18) × unit (10) fits in 60 digits: computed exactly, never rounded.
EXACT = decimal.Context(prec=80)
SETTINGS = "purchasing-settings"


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


# --- the ministry's settings --------------------------------------------------------------------------------------


def _setting_out(s: PurchasingSetting | None) -> SettingOut:
    if s is None:
        return SettingOut(
            version=0,
            on_product_mismatch=OnProductMismatch.flag,
            tolerance_tenge=Decimal("0.00"),
            basis="no setting recorded: a mismatch is flagged, never refused",
            valid_from=None,
            valid_to=None,
            changed_by=None,
        )
    return SettingOut(
        version=s.version,
        on_product_mismatch=OnProductMismatch(s.on_product_mismatch),
        tolerance_tenge=s.tolerance_tenge,
        basis=s.basis,
        valid_from=s.valid_from,
        valid_to=s.valid_to,
        changed_by=s.changed_by,
    )


async def setting(session: AsyncSession, as_of: date | None) -> tuple[SettingOut, str]:
    latest = await repo.latest_setting(session)
    shown = await repo.setting_in_force(session, as_of or clock.today())
    return _setting_out(shown), etag(SETTINGS, latest.version if latest else 0, shown.version if shown else 0)


async def record_setting(
    session: AsyncSession, body: SettingIn, if_match: str | None, who: Principal
) -> tuple[SettingOut, str]:
    latest = await repo.latest_setting(session)
    check_if_match(if_match, etag(SETTINGS, latest.version if latest else 0))
    if latest is not None:
        if body.valid_from < latest.valid_from:
            raise _invalid([FieldError("valid_from", f"must not be before {latest.valid_from}, the current version's")])
        await close_latest_version(session, PurchasingSetting, latest.id, body.valid_from)
    new = PurchasingSetting(
        version=(latest.version if latest else 0) + 1,
        on_product_mismatch=body.on_product_mismatch.value,
        tolerance_tenge=body.tolerance_tenge,
        basis=body.basis,
        valid_from=body.valid_from,
        valid_to=None,
        changed_by=who.label,
    )
    session.add(new)
    await session.flush()
    out = _setting_out(new)
    await record_change(session, who, "new_version", "purchasing-settings", new.version, _setting_out(latest), out)
    await record_event(
        session, "purchasing_settings.changed", "purchasing-settings", new.version, out.model_dump(), actor=who.label
    )
    return out, etag(SETTINGS, new.version)


# --- the product check ---------------------------------------------------------------------------------------------


def product_of(terms: Any) -> Decimal | None:
    """beds × bed-days × tariff in tenge, exact; None when one of them is not given."""
    if terms.beds is None or terms.bed_days is None or terms.tariff is None or terms.tariff_unit is None:
        return None
    return EXACT.multiply(
        EXACT.multiply(EXACT.multiply(terms.beds, terms.bed_days), terms.tariff),
        UNIT_TO_TENGE[AmountUnit(terms.tariff_unit)],
    )


def amount_tenge(amount: Decimal, unit: AmountUnit | str) -> Decimal:
    return EXACT.multiply(amount, UNIT_TO_TENGE[AmountUnit(unit)])


async def check_product(
    session: AsyncSession, terms: AllocationTerms
) -> tuple[Decimal | None, ProductCheck, int | None]:
    """The product, how it compares with the amount, and the setting it was compared under; 422 when it differs and
    the setting in force today refuses a mismatch."""
    product = product_of(terms)
    s = await repo.setting_in_force(session, clock.today())
    if product is None:
        return None, ProductCheck.not_checked, s.version if s else None
    amount = amount_tenge(terms.amount, terms.amount_unit)
    difference = EXACT.subtract(amount, product)
    tolerance = s.tolerance_tenge if s else Decimal(0)
    if abs(difference) <= tolerance:
        return product, ProductCheck.matches, s.version if s else None
    if s is not None and s.on_product_mismatch == OnProductMismatch.refuse:
        raise ValidationFailed(
            f"beds × bed_days × tariff = {product} tenge, the amount is {amount} tenge (difference {difference}); "
            f"the purchasing setting v{s.version} refuses a mismatch beyond {s.tolerance_tenge} tenge",
            [FieldError("amount", f"differs from beds × bed_days × tariff ({product} tenge) by {difference} tenge")],
            product_tenge=str(product),
            setting_version=s.version,
        )
    return product, ProductCheck.mismatch, s.version if s else None


# --- allocations ---------------------------------------------------------------------------------------------------


def allocation_etag(allocation_id: int, latest: int, shown: int | None = None) -> str:
    return etag(f"allocation-{allocation_id}", latest, shown)


def _allocation_out(region: str, v: AllocationVersion) -> AllocationVersionOut:
    amount = amount_tenge(v.amount, v.amount_unit)
    return AllocationVersionOut(
        id=v.allocation_id,
        version=v.version,
        region=region,
        plan_date=v.plan_date,
        year=v.year,
        service_kind=v.service_kind,
        beds=v.beds,
        bed_days=v.bed_days,
        bed_days_printed=v.bed_days_printed,
        tariff=v.tariff,
        tariff_unit=v.tariff_unit,
        amount=v.amount,
        amount_unit=v.amount_unit,
        amount_tenge=amount.quantize(Decimal("0.01")),
        amount_printed=v.amount_printed,
        note=v.note,
        product_tenge=v.product_tenge,
        product_check=ProductCheck(v.product_check),
        difference_tenge=EXACT.subtract(amount, v.product_tenge) if v.product_tenge is not None else None,
        setting_version=v.setting_version,
        valid_from=v.valid_from,
        valid_to=v.valid_to,
        reason=v.reason,
        changed_by=v.changed_by,
    )


def _allocation_values(terms: AllocationTerms) -> dict[str, Any]:
    return dict(
        plan_date=terms.plan_date,
        year=terms.year,
        service_kind=terms.service_kind,
        beds=terms.beds,
        bed_days=terms.bed_days,
        bed_days_printed=terms.bed_days_printed,
        tariff=terms.tariff,
        tariff_unit=terms.tariff_unit,
        amount=terms.amount,
        amount_unit=terms.amount_unit,
        amount_printed=terms.amount_printed,
        note=terms.note,
    )


def _effective(terms: AllocationTerms | ContractTerms, current_from: date | None) -> date:
    today = clock.today()
    day = terms.effective_from or today
    if day > today:
        raise _invalid([FieldError("effective_from", f"must not be after today ({today})")])
    if current_from is not None and day < current_from:
        raise _invalid(
            [FieldError("effective_from", f"must not be before {current_from}, when the current version took effect")]
        )
    return day


async def _visible_allocation(session: AsyncSession, allocation_id: int, who: Principal) -> PurchasingAllocation:
    row = await repo.allocation(session, allocation_id)
    own = provider_scope(who)
    if row is None or (own is not None and not await repo.allocation_has_contract_of(session, allocation_id, own)):
        raise NotFound(f"no allocation {allocation_id}", [FieldError("allocation_id", "unknown allocation")])
    return row


async def create_allocation(
    session: AsyncSession, body: AllocationIn, who: Principal
) -> tuple[AllocationVersionOut, str]:
    if not await repo.region_exists(session, body.region):
        raise _invalid([FieldError("region", f"unknown КАТО code {body.region}")])
    valid_from = _effective(body, None)
    product, check, setting_version = await check_product(session, body)
    values = _allocation_values(body)
    row = PurchasingAllocation(source_key=f"api:{uuid.uuid4()}", region_code=body.region, **values)
    session.add(row)
    await session.flush()
    version = AllocationVersion(
        allocation_id=row.id,
        version=1,
        product_tenge=product,
        product_check=check.value,
        setting_version=setting_version,
        valid_from=valid_from,
        valid_to=None,
        reason=body.reason,
        changed_by=who.label,
        **values,
    )
    session.add(version)
    await session.flush()
    await session.refresh(version)
    out = _allocation_out(body.region, version)
    await record_change(session, who, "create", "purchasing-allocation", row.id, None, out)
    await record_event(
        session,
        "purchasing_allocation.created",
        "purchasing-allocation",
        row.id,
        out.model_dump(),
        organisation_id=who.organisation_id,
        actor=who.label,
    )
    return out, allocation_etag(row.id, 1)


async def amend_allocation(
    session: AsyncSession, allocation_id: int, body: AllocationTerms, if_match: str | None, who: Principal
) -> tuple[AllocationVersionOut, str]:
    row = await _visible_allocation(session, allocation_id, who)
    history = await repo.allocation_versions(session, allocation_id)
    if not history:
        raise NotFound(f"allocation {allocation_id} has no versions", [FieldError("allocation_id", "no versions")])
    current = history[-1]
    check_if_match(if_match, allocation_etag(allocation_id, current.version))
    valid_from = _effective(body, current.valid_from)
    product, check, setting_version = await check_product(session, body)
    before = _allocation_out(row.region_code, current)
    await close_latest_version(session, AllocationVersion, current.id, valid_from)
    values = _allocation_values(body)
    new = AllocationVersion(
        allocation_id=allocation_id,
        version=current.version + 1,
        product_tenge=product,
        product_check=check.value,
        setting_version=setting_version,
        valid_from=valid_from,
        valid_to=None,
        reason=body.reason,
        changed_by=who.label,
        **values,
    )
    session.add(new)
    await session.flush()
    await session.refresh(new)
    await repo.project(session, PurchasingAllocation, allocation_id, values)
    out = _allocation_out(row.region_code, new)
    await record_change(session, who, "amend", "purchasing-allocation", allocation_id, before, out)
    await record_event(
        session,
        "purchasing_allocation.amended",
        "purchasing-allocation",
        allocation_id,
        {"version": new.version, "reason": body.reason},
        organisation_id=who.organisation_id,
        actor=who.label,
    )
    return out, allocation_etag(allocation_id, new.version)


def _shown(history: Sequence[Any], as_of: date | None, what: str, field: str) -> Any:
    on = as_of or clock.today()
    shown = next((v for v in reversed(history) if is_in_force(v, on)), None)
    if shown is None:
        raise NotFound(f"{what} has no version in force on {on}", [FieldError(field, f"no version in force on {on}")])
    return shown


async def allocation(
    session: AsyncSession, allocation_id: int, as_of: date | None, who: Principal
) -> tuple[AllocationVersionOut, str]:
    row = await _visible_allocation(session, allocation_id, who)
    history = await repo.allocation_versions(session, allocation_id)
    shown = _shown(history, as_of, f"allocation {allocation_id}", "as_of")
    return _allocation_out(row.region_code, shown), allocation_etag(allocation_id, history[-1].version, shown.version)


async def allocation_history(session: AsyncSession, allocation_id: int, who: Principal) -> list[AllocationVersionOut]:
    row = await _visible_allocation(session, allocation_id, who)
    return [_allocation_out(row.region_code, v) for v in await repo.allocation_versions(session, allocation_id)]


# --- contracts -----------------------------------------------------------------------------------------------------


def contract_version_out(c: PurchaseContract, v: ContractVersion) -> ContractVersionOut:
    return ContractVersionOut(
        id=c.id,
        version=v.version,
        provider_id=c.provider_id,
        region=c.region_code,
        service_kind=c.service_kind,
        number=v.number,
        signed_on=v.signed_on,
        allocation_id=v.allocation_id,
        period_start=YearMonth.of(v.period_start),
        period_end=YearMonth.of(v.period_end),
        period_note=v.period_note,
        amount=v.amount,
        amount_unit=v.amount_unit,
        amount_printed=v.amount_printed,
        valid_from=v.valid_from,
        valid_to=v.valid_to,
        reason=v.reason,
        changed_by=v.changed_by,
    )


def _contract_values(terms: ContractTerms) -> dict[str, Any]:
    return dict(
        number=terms.number,
        signed_on=terms.signed_on,
        allocation_id=terms.allocation_id,
        period_start=terms.period_start.first_day,
        period_end=terms.period_end.first_day,
        period_note=terms.period_note,
        amount=terms.amount,
        amount_unit=terms.amount_unit,
        amount_printed=terms.amount_printed,
    )


async def _check_allocation(
    session: AsyncSession, terms: ContractTerms, region: str, kind: str, errors: list[FieldError]
) -> None:
    if terms.allocation_id is None:
        return
    a = await repo.allocation(session, terms.allocation_id)
    if a is None:
        errors.append(FieldError("allocation_id", f"unknown allocation {terms.allocation_id}"))
    elif (a.region_code, a.service_kind) != (region, kind):
        errors.append(
            FieldError(
                "allocation_id", f"allocation {a.id} is for {a.service_kind} in {a.region_code}, not {kind} in {region}"
            )
        )


async def create_contract(session: AsyncSession, body: ContractIn, who: Principal) -> tuple[ContractVersionOut, str]:
    errors: list[FieldError] = []
    if await repo.provider(session, body.provider_id) is None:
        errors.append(FieldError("provider_id", f"no provider organisation {body.provider_id}"))
    if not await repo.region_exists(session, body.region):
        errors.append(FieldError("region", f"unknown КАТО code {body.region}"))
    await _check_allocation(session, body, body.region, body.service_kind, errors)
    if errors:
        raise _invalid(errors)
    valid_from = _effective(body, None)
    values = _contract_values(body)
    row = PurchaseContract(
        source_key=f"api:{uuid.uuid4()}",
        provider_id=body.provider_id,
        purchaser_id=who.organisation_id,
        region_code=body.region,
        service_kind=body.service_kind,
        **values,
    )
    session.add(row)
    await session.flush()
    version = ContractVersion(
        contract_id=row.id,
        version=1,
        valid_from=valid_from,
        valid_to=None,
        reason=body.reason,
        changed_by=who.label,
        **values,
    )
    session.add(version)
    await session.flush()
    await session.refresh(version)
    out = contract_version_out(row, version)
    await record_change(session, who, "create", "purchase-contract", row.id, None, out)
    await record_event(
        session,
        "purchase_contract.created",
        "purchase-contract",
        row.id,
        out.model_dump(),
        organisation_id=body.provider_id,
        actor=who.label,
    )
    return out, contract_etag(row.id, 1)


def contract_etag(contract_id: int, latest: int, shown: int | str | None = None) -> str:
    return etag(f"contract-{contract_id}", latest, shown)


async def amend_contract(
    session: AsyncSession, contract_id: int, body: ContractTerms, if_match: str | None, who: Principal
) -> tuple[ContractVersionOut, str]:
    row = await repo.contract(session, contract_id)
    if row is None:
        raise NotFound(f"no contract {contract_id}", [FieldError("contract_id", "unknown contract")])
    history = await repo.contract_versions(session, contract_id)
    if not history:
        raise NotFound(f"contract {contract_id} has no versions", [FieldError("contract_id", "no versions")])
    current = history[-1]
    check_if_match(if_match, contract_etag(contract_id, current.version))
    valid_from = _effective(body, current.valid_from)
    errors: list[FieldError] = []
    await _check_allocation(session, body, row.region_code, row.service_kind, errors)
    first, last = await repo.invoiced_span(session, contract_id)
    if first is not None and body.period_start.first_day > first:
        errors.append(FieldError("period_start", f"invoices reach back to {YearMonth.of(first)}"))
    if last is not None and body.period_end.first_day < last:
        errors.append(FieldError("period_end", f"invoices reach {YearMonth.of(last)}"))
    accepted = await repo.accepted_total(session, contract_id)
    if amount_tenge(body.amount, body.amount_unit) < accepted:
        errors.append(FieldError("amount", f"below the {accepted} tenge already accepted on the contract"))
    if errors:
        raise _invalid(errors)
    before = contract_version_out(row, current)
    await close_latest_version(session, ContractVersion, current.id, valid_from)
    values = _contract_values(body)
    new = ContractVersion(
        contract_id=contract_id,
        version=current.version + 1,
        valid_from=valid_from,
        valid_to=None,
        reason=body.reason,
        changed_by=who.label,
        **values,
    )
    session.add(new)
    await session.flush()
    await session.refresh(new)
    await repo.project(session, PurchaseContract, contract_id, values)
    out = contract_version_out(row, new)
    await record_change(session, who, "amend", "purchase-contract", contract_id, before, out)
    await record_event(
        session,
        "purchase_contract.amended",
        "purchase-contract",
        contract_id,
        {"version": new.version, "reason": body.reason},
        organisation_id=row.provider_id,
        actor=who.label,
    )
    return out, contract_etag(contract_id, new.version)


async def contract_history(session: AsyncSession, contract_id: int, who: Principal) -> list[ContractVersionOut]:
    row = await repo.contract(session, contract_id)
    own = provider_scope(who)
    if row is None or (own is not None and row.provider_id != own):
        raise NotFound(f"no contract {contract_id}", [FieldError("contract_id", "unknown contract")])
    return [contract_version_out(row, v) for v in await repo.contract_versions(session, contract_id)]


async def contract_versions(session: AsyncSession, contract_id: int) -> Sequence[ContractVersion]:
    return await repo.contract_versions(session, contract_id)
