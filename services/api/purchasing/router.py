"""HTTP routes of purchasing under /api/v1 (amounts in tenge with tiyn unless a field says otherwise)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.api.access import (
    BULK_INVOICES,
    INVOICE_BATCH_READ,
    INVOICE_WRITE,
    PURCHASING_READ,
    PURCHASING_TOTALS,
    AccountQ,
    account_of,
    audit_batch,
    batch_account,
    provider_scope,
)
from services.api.bulk.http import BatchId, BatchIdPath, ContentType, Mode, upload_body
from services.api.guarantee.http import ERRORS, SINGLE, WRITE_ERRORS, single
from services.api.purchasing import invoice_ingest, service
from services.api.purchasing.schemas import (
    AllocationOut,
    ContractOut,
    ContractStatusOut,
    InvoiceBatchResult,
    InvoiceIn,
    InvoiceOut,
    ProviderOut,
    PurchasingSummaryOut,
)
from services.common.auth import Principal
from services.common.bounds import CalendarDate, Int32Id
from services.common.db import SessionDep
from services.common.models.guarantee import BatchMode
from services.common.pagination import Paginated, Pagination
from services.common.quota import RATE_LIMITED, upload_stream

router = APIRouter(prefix="/api/v1")

RegionQ = Annotated[str | None, Query(pattern=r"^\d{9}$", examples=["710000000"])]
KindQ = Annotated[str | None, Query(max_length=60, examples=["palliative_care"])]
YearQ = Annotated[int | None, Query(ge=1991, le=2100, examples=[2022])]
ContractId = Annotated[Int32Id, Path()]


@router.get(
    "/providers",
    tags=["purchasing"],
    operation_id="list_providers",
    response_model=Paginated[ProviderOut],
    summary="Provider organisations",
)
async def list_providers(session: SessionDep, page: Pagination, region: RegionQ = None) -> Paginated[ProviderOut]:
    items, total = await service.providers(session, region, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/purchasing/allocations",
    tags=["purchasing"],
    operation_id="list_purchasing_allocations",
    response_model=list[AllocationOut],
    summary="Purchasing-plan allocations (amount in its stated unit)",
)
async def list_allocations(
    session: SessionDep,
    who: Annotated[Principal, PURCHASING_READ],
    region: RegionQ = None,
    service_kind: KindQ = None,
    year: YearQ = None,
    as_of: Annotated[CalendarDate | None, Query(description="Each as in force on this date (default: today).")] = None,
) -> list[AllocationOut]:
    return await service.allocations(session, region, service_kind, year, provider_scope(who), as_of)


@router.get(
    "/purchasing/summary",
    tags=["purchasing"],
    operation_id="get_purchasing_summary",
    response_model=PurchasingSummaryOut,
    responses=ERRORS,
    summary="Allocated, contracted, presented, accepted and remaining for a region, service kind and year",
)
async def get_summary(
    session: SessionDep,
    who: Annotated[Principal, PURCHASING_TOTALS],
    region: Annotated[str, Query(pattern=r"^\d{9}$", examples=["710000000"])],
    service_kind: Annotated[str, Query(max_length=60, examples=["palliative_care"])],
    year: Annotated[int, Query(ge=1991, le=2100, examples=[2022])],
) -> PurchasingSummaryOut:
    return await service.summary(session, region, service_kind, year)


@router.get(
    "/contracts",
    tags=["purchasing"],
    operation_id="list_contracts",
    response_model=Paginated[ContractOut],
    summary="Purchase contracts with presented, accepted and remaining amounts",
)
async def list_contracts(
    session: SessionDep,
    page: Pagination,
    who: Annotated[Principal, PURCHASING_READ],
    region: RegionQ = None,
    service_kind: KindQ = None,
    year: YearQ = None,
    provider: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Paginated[ContractOut]:
    own = provider_scope(who)
    if own is not None:
        if provider is not None and provider != own:  # another provider's contracts are absent
            return Paginated(items=[], total=0, limit=page.limit, offset=page.offset)
        provider = own
    items, total = await service.contracts(session, region, service_kind, year, provider, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/contracts/{contract_id}",
    tags=["purchasing"],
    operation_id="get_contract_status",
    response_model=ContractStatusOut,
    responses=SINGLE,
    summary="A contract with its terms as in force on a day, its invoices, balance and run-rate forecast (ETag)",
    description='The ETag is `"contract-{id}.v{latest}.v{shown}-{digest}"`: the latest version of the terms, the '
    "one shown on `as_of` and a digest of the invoices' figures. `If-Match` on `PUT /contracts/{id}` compares the "
    "terms version only; `If-None-Match` the whole tag.",
)
async def get_contract(
    request: Request,
    session: SessionDep,
    contract_id: ContractId,
    who: Annotated[Principal, PURCHASING_READ],
    as_of: Annotated[CalendarDate | None, Query(description="Terms as in force on this date (default: today).")] = None,
) -> Response:
    out, etag = await service.contract_status(session, contract_id, provider_scope(who), as_of)
    return single(request, out, etag)


@router.post(
    "/contracts/{contract_id}/invoices",
    tags=["purchasing"],
    operation_id="add_contract_invoice",
    status_code=201,
    response_model=InvoiceOut,
    responses=WRITE_ERRORS,
    summary="The Fund records a month's invoice in one step: presented, accepted, and the deduction's reason",
    description="Kept for the Fund's own figures (its staff and integrations): presented and accepted together, "
    "recorded as both steps of a monthly invoice (`one_step: true`, the deduction under the reason code `other`). "
    "A provider presents its invoice at `POST /contracts/{contract_id}/monthly-invoices` (here: 403 naming that "
    "route); the Fund then accepts or returns it at `/monthly-invoices/{id}/accept` or `/return`.",
)
async def add_invoice(
    session: SessionDep, contract_id: ContractId, body: InvoiceIn, who: Annotated[Principal, INVOICE_WRITE]
) -> InvoiceOut:
    return await service.add_invoice(session, contract_id, body, who)


@router.get(
    "/contracts/{contract_id}/invoices",
    tags=["purchasing"],
    operation_id="list_contract_invoices",
    response_model=list[InvoiceOut],
    responses=ERRORS,
    summary="A contract's invoices (current figures, or every version with history=true)",
)
async def list_invoices(
    session: SessionDep,
    contract_id: ContractId,
    who: Annotated[Principal, PURCHASING_READ],
    history: Annotated[bool, Query(description="Every version, corrected ones too.")] = False,
) -> list[InvoiceOut]:
    return await service.invoices(session, contract_id, history, provider_scope(who))


# --- bulk invoices ------------------------------------------------------------------------------------

BULK_INVOICES_DOC = """Stream a CSV (`text/csv`, header line required) or JSON Lines (`application/x-ndjson`)
body of monthly invoices, one row per contract and month:

* `contract_id` or `contract_number` (one of them; both must then name the same contract),
* `month` (YYYY-MM, within the contract period),
* `presented`, `accepted` and optional `deduction` in tenge, tiyn as decimals: decimal strings such as
  `"27332669.20"` (a JSON number is taken by its printed digits, never through a float),
* `deduction_reason`, required when accepted is less than presented; `deduction`, when given, must equal
  presented − accepted.

* `mode=all_or_nothing`: any refused row refuses the upload (422 listing each row's errors) and nothing is stored.
* `mode=per_row`: valid rows are kept; the answer lists kept lines and every refused line with field and reason.
* The same `batch_id` sent again changes nothing and answers `duplicate: true`; other content under a used id
  is a 409. A correction is a new batch: a month already invoiced gets a new version, the old one stays in the
  history (`/contracts/{id}/invoices?history=true`). A month covered by an aggregate invoice is refused, and so is
  a month a provider has presented (`/monthly-invoices`) that the Fund has not yet accepted: it is decided there.
* Kept for the Fund's integration account and the Fund: these rows are the Fund's accepted figures, presented and
  accepted together (a provider presents at `POST /contracts/{contract_id}/monthly-invoices`).
"""


@router.post(
    "/bulk/invoices",
    tags=["purchasing"],
    operation_id="upload_invoices",
    response_model=InvoiceBatchResult,
    responses={**WRITE_ERRORS, **RATE_LIMITED},
    summary="Bulk upload of monthly invoices (streamed CSV or JSON Lines)",
    description=BULK_INVOICES_DOC,
    openapi_extra=upload_body(
        "contract_id,month,presented,accepted,deduction,deduction_reason\n"
        "5,2022-11,30000000.00,28500000.00,1500000.00,volume monitoring\n"
    ),
)
async def upload_invoices(
    request: Request,
    session: SessionDep,
    batch_id: BatchId,
    who: Annotated[Principal, BULK_INVOICES],
    mode: Mode = BatchMode.all_or_nothing,
    content_type: ContentType = None,
) -> InvoiceBatchResult:
    result = await invoice_ingest.ingest_invoices(
        session,
        account=account_of(who),
        batch_id=batch_id,
        mode=mode,
        content_type=content_type,
        stream=await upload_stream(request, session, who),
    )
    await audit_batch(session, who, result)
    return result


@router.get(
    "/purchasing/invoice-batches/{batch_id}",
    tags=["purchasing"],
    operation_id="get_invoice_batch",
    response_model=InvoiceBatchResult,
    responses=ERRORS,
    summary="The outcome of a bulk invoice upload",
)
async def get_invoice_batch(
    session: SessionDep,
    batch_id: BatchIdPath,
    who: Annotated[Principal, INVOICE_BATCH_READ],
    account: Annotated[str | None, AccountQ] = None,
) -> InvoiceBatchResult:
    return await invoice_ingest.batch(session, batch_account(who, account, batch_id), batch_id)
