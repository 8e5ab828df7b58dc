"""Queries of the versioned purchasing terms: allocation and contract versions, the ministry's settings."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.guarantee import ContractInvoice, PurchaseContract, PurchasingAllocation
from services.common.models.purchasing import AllocationVersion, ContractVersion, InvoiceFiling, PurchasingSetting
from services.common.models.reference import Organisation, OrganisationKind, Region
from services.common.validity import in_force


async def setting_in_force(session: AsyncSession, on: date) -> PurchasingSetting | None:
    q = select(PurchasingSetting).where(in_force(PurchasingSetting, on))
    return (await session.execute(q.order_by(PurchasingSetting.version.desc()).limit(1))).scalar_one_or_none()


async def latest_setting(session: AsyncSession) -> PurchasingSetting | None:
    q = select(PurchasingSetting).order_by(PurchasingSetting.version.desc()).limit(1)
    return (await session.execute(q)).scalar_one_or_none()


async def region_exists(session: AsyncSession, code: str) -> bool:
    return (await session.execute(select(Region.kato_code).where(Region.kato_code == code))).first() is not None


async def provider(session: AsyncSession, organisation_id: int) -> Organisation | None:
    q = select(Organisation).where(Organisation.id == organisation_id, Organisation.kind == OrganisationKind.provider)
    return (await session.execute(q)).scalar_one_or_none()


async def allocation(session: AsyncSession, allocation_id: int) -> PurchasingAllocation | None:
    q = select(PurchasingAllocation).where(PurchasingAllocation.id == allocation_id)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()


async def contract(session: AsyncSession, contract_id: int) -> PurchaseContract | None:
    q = select(PurchaseContract).where(PurchaseContract.id == contract_id)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()


async def versions(session: AsyncSession, model: Any, key: Any, key_id: int) -> Sequence[Any]:
    """Every version of an allocation or a contract, oldest first."""
    q = select(model).where(key == key_id).order_by(model.version)
    return (await session.execute(q.execution_options(populate_existing=True))).scalars().all()


async def allocation_versions(session: AsyncSession, allocation_id: int) -> Sequence[AllocationVersion]:
    return await versions(session, AllocationVersion, AllocationVersion.allocation_id, allocation_id)


async def contract_versions(session: AsyncSession, contract_id: int) -> Sequence[ContractVersion]:
    return await versions(session, ContractVersion, ContractVersion.contract_id, contract_id)


async def allocation_has_contract_of(session: AsyncSession, allocation_id: int, provider_id: int) -> bool:
    q = select(PurchaseContract.id).where(
        PurchaseContract.allocation_id == allocation_id, PurchaseContract.provider_id == provider_id
    )
    return (await session.execute(q.limit(1))).first() is not None


async def accepted_total(session: AsyncSession, contract_id: int) -> Decimal:
    q = select(func.coalesce(func.sum(ContractInvoice.accepted), 0)).where(
        ContractInvoice.contract_id == contract_id, ContractInvoice.is_current.is_(True)
    )
    return Decimal((await session.execute(q)).scalar_one())


async def invoiced_span(session: AsyncSession, contract_id: int) -> tuple[date | None, date | None]:
    """The first and last month any invoice of the contract covers (recorded or presented)."""
    recorded = (
        await session.execute(
            select(func.min(ContractInvoice.period_start), func.max(ContractInvoice.period_end)).where(
                ContractInvoice.contract_id == contract_id
            )
        )
    ).one()
    presented = (
        await session.execute(
            select(func.min(InvoiceFiling.month), func.max(InvoiceFiling.month)).where(
                InvoiceFiling.contract_id == contract_id
            )
        )
    ).one()
    firsts = [d for d in (recorded[0], presented[0]) if d is not None]
    lasts = [d for d in (recorded[1], presented[1]) if d is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


async def project(session: AsyncSession, model: Any, row_id: int, values: dict[str, Any]) -> None:
    """Write the latest version's figures on the allocation or contract row the rest of the service reads."""
    await session.execute(update(model).where(model.id == row_id).values(**values))
