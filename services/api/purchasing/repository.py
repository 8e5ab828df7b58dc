"""Queries of purchasing data."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.common.models.guarantee import ContractInvoice, PurchaseContract, PurchasingAllocation
from services.common.models.purchasing import AllocationVersion
from services.common.models.reference import Organisation, OrganisationKind
from services.common.validity import in_force


async def providers(
    session: AsyncSession, region: str | None, limit: int, offset: int
) -> tuple[Sequence[Organisation], int]:
    where = [Organisation.kind == OrganisationKind.provider]
    if region:
        where.append(Organisation.region_code == region)
    total = (await session.execute(select(func.count()).select_from(Organisation).where(*where))).scalar_one()
    items = (
        (
            await session.execute(
                select(Organisation).where(*where).order_by(Organisation.id).limit(limit).offset(offset)
            )
        )
        .scalars()
        .all()
    )
    return items, total


async def allocations(
    session: AsyncSession,
    region: str | None,
    service_kind: str | None,
    year: int | None,
    provider_id: int | None = None,
) -> Sequence[PurchasingAllocation]:
    """Allocations; with `provider_id`, only those its contracts were concluded under."""
    q = select(PurchasingAllocation)
    if provider_id is not None:
        under = select(PurchaseContract.allocation_id).where(PurchaseContract.provider_id == provider_id)
        q = q.where(PurchasingAllocation.id.in_(under))
    if region:
        q = q.where(PurchasingAllocation.region_code == region)
    if service_kind:
        q = q.where(PurchasingAllocation.service_kind == service_kind)
    if year:
        q = q.where(PurchasingAllocation.year == year)
    return (await session.execute(q.order_by(PurchasingAllocation.id))).scalars().all()


async def allocations_as_of(
    session: AsyncSession,
    region: str | None,
    service_kind: str | None,
    year: int | None,
    provider_id: int | None,
    as_of: date,
) -> list[tuple[str, AllocationVersion]]:
    """(region, version in force on `as_of`) of each allocation, filtered on that version's figures."""
    q = select(PurchasingAllocation.region_code, AllocationVersion).join(
        AllocationVersion, AllocationVersion.allocation_id == PurchasingAllocation.id
    )
    q = q.where(in_force(AllocationVersion, as_of))
    if provider_id is not None:
        under = select(PurchaseContract.allocation_id).where(PurchaseContract.provider_id == provider_id)
        q = q.where(PurchasingAllocation.id.in_(under))
    if region:
        q = q.where(PurchasingAllocation.region_code == region)
    if service_kind:
        q = q.where(AllocationVersion.service_kind == service_kind)
    if year:
        q = q.where(AllocationVersion.year == year)
    rows = (await session.execute(q.order_by(PurchasingAllocation.id))).all()
    return [(r[0], r[1]) for r in rows]


def _contracts_query() -> Any:
    invoiced = (
        select(
            ContractInvoice.contract_id,
            func.sum(ContractInvoice.presented).label("presented"),
            func.sum(ContractInvoice.accepted).label("accepted"),
        )
        .where(ContractInvoice.is_current.is_(True))
        .group_by(ContractInvoice.contract_id)
        .subquery()
    )
    purchaser = aliased(Organisation)
    return (
        select(
            PurchaseContract,
            Organisation,
            purchaser.name_kk.label("purchaser_name"),
            func.coalesce(invoiced.c.presented, 0).label("presented"),
            func.coalesce(invoiced.c.accepted, 0).label("accepted"),
        )
        .join(Organisation, Organisation.id == PurchaseContract.provider_id)
        .outerjoin(purchaser, purchaser.id == PurchaseContract.purchaser_id)
        .outerjoin(invoiced, invoiced.c.contract_id == PurchaseContract.id)
    )


async def contracts(
    session: AsyncSession,
    region: str | None,
    service_kind: str | None,
    year: int | None,
    provider_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    conds = []
    if region:
        conds.append(PurchaseContract.region_code == region)
    if service_kind:
        conds.append(PurchaseContract.service_kind == service_kind)
    if year:
        conds.append(func.extract("year", PurchaseContract.period_start) <= year)
        conds.append(func.extract("year", PurchaseContract.period_end) >= year)
    if provider_id:
        conds.append(PurchaseContract.provider_id == provider_id)
    where = and_(True, *conds)
    total = (await session.execute(select(func.count()).select_from(PurchaseContract).where(where))).scalar_one()
    rows = (
        await session.execute(_contracts_query().where(where).order_by(PurchaseContract.id).limit(limit).offset(offset))
    ).all()
    return list(rows), total


async def contract(session: AsyncSession, contract_id: int) -> Row[Any] | None:
    return (await session.execute(_contracts_query().where(PurchaseContract.id == contract_id))).first()


async def invoices(session: AsyncSession, contract_id: int, history: bool = False) -> Sequence[ContractInvoice]:
    """The current invoices of a contract (every version, oldest first per month, with history=True)."""
    q = select(ContractInvoice).where(ContractInvoice.contract_id == contract_id)
    if not history:
        q = q.where(ContractInvoice.is_current.is_(True))
    # Bulk uploads write invoices with set-based SQL: read the rows as stored, not as the session last saw them.
    q = q.order_by(ContractInvoice.period_start, ContractInvoice.version).execution_options(populate_existing=True)
    return (await session.execute(q)).scalars().all()
