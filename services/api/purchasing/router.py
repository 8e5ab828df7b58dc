"""HTTP routes of purchasing under /api/v1 (amounts in tenge with tiyn unless a field says otherwise)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.api.guarantee.http import ERRORS, WRITE_ERRORS, single
from services.api.purchasing import service
from services.api.purchasing.schemas import (
    AllocationOut,
    ContractOut,
    ContractStatusOut,
    InvoiceIn,
    InvoiceOut,
    ProviderOut,
    PurchasingSummaryOut,
)
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination

router = APIRouter(prefix="/api/v1")

RegionQ = Annotated[str | None, Query(pattern=r"^\d{9}$", examples=["710000000"])]
KindQ = Annotated[str | None, Query(max_length=60, examples=["palliative_care"])]
YearQ = Annotated[int | None, Query(ge=1991, le=2100, examples=[2022])]
ContractId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("/providers", tags=["purchasing"], operation_id="list_providers", response_model=Paginated[ProviderOut],
            summary="Provider organisations")
async def list_providers(session: SessionDep, page: Pagination, region: RegionQ = None) -> Paginated[ProviderOut]:
    items, total = await service.providers(session, region, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/purchasing/allocations", tags=["purchasing"], operation_id="list_purchasing_allocations",
            response_model=list[AllocationOut], summary="Purchasing-plan allocations (amount in its stated unit)")
async def list_allocations(session: SessionDep, region: RegionQ = None, service_kind: KindQ = None,
                           year: YearQ = None) -> list[AllocationOut]:
    return await service.allocations(session, region, service_kind, year)


@router.get("/purchasing/summary", tags=["purchasing"], operation_id="get_purchasing_summary",
            response_model=PurchasingSummaryOut, responses=ERRORS,
            summary="Allocated, contracted, presented, accepted and remaining for a region, service kind and year")
async def get_summary(session: SessionDep,
                      region: Annotated[str, Query(pattern=r"^\d{9}$", examples=["710000000"])],
                      service_kind: Annotated[str, Query(max_length=60, examples=["palliative_care"])],
                      year: Annotated[int, Query(ge=1991, le=2100, examples=[2022])]) -> PurchasingSummaryOut:
    return await service.summary(session, region, service_kind, year)


@router.get("/contracts", tags=["purchasing"], operation_id="list_contracts", response_model=Paginated[ContractOut],
            summary="Purchase contracts with presented, accepted and remaining amounts")
async def list_contracts(session: SessionDep, page: Pagination, region: RegionQ = None, service_kind: KindQ = None,
                         year: YearQ = None,
                         provider: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
                         ) -> Paginated[ContractOut]:
    items, total = await service.contracts(session, region, service_kind, year, provider, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/contracts/{contract_id}", tags=["purchasing"], operation_id="get_contract_status",
            response_model=ContractStatusOut, responses=ERRORS,
            summary="A contract with its invoices, balance and run-rate forecast (ETag)")
async def get_contract(request: Request, session: SessionDep, contract_id: ContractId) -> Response:
    return single(request, await service.contract_status(session, contract_id))


@router.post("/contracts/{contract_id}/invoices", tags=["purchasing"], operation_id="add_contract_invoice",
             status_code=201, response_model=InvoiceOut, responses=WRITE_ERRORS,
             summary="Record a monthly invoice: presented, accepted, and the deduction's reason")
async def add_invoice(session: SessionDep, contract_id: ContractId, body: InvoiceIn) -> InvoiceOut:
    return await service.add_invoice(session, contract_id, body)
