"""HTTP routes of purchasing written by the Fund under /api/v1: allocations and contracts created and amended (each
change a version), the ministry's purchasing settings, and monthly invoices in two steps (a provider presents, the
Fund accepts in full or in part, or returns). Amounts in tenge with tiyn unless a field says otherwise."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel

from services.api.access import ADMIN, FUND_WRITE, INVOICE_PRESENT, PURCHASING_READ, PURCHASING_TOTALS
from services.api.guarantee.http import ERRORS, PROBLEM, SINGLE, WRITE_ERRORS, single
from services.api.purchasing import filings, terms
from services.api.purchasing.schemas import (
    AcceptIn,
    AllocationIn,
    AllocationTerms,
    AllocationVersionOut,
    ContractIn,
    ContractTerms,
    ContractVersionOut,
    MonthlyInvoiceOut,
    PresentIn,
    ResubmitIn,
    ReturnIn,
    SettingIn,
    SettingOut,
    VocabularyOut,
)
from services.common.auth import Principal
from services.common.bounds import CalendarDate, Int32Id
from services.common.concurrency import tagged
from services.common.db import SessionDep
from services.common.review import ReviewState

router = APIRouter(prefix="/api/v1")

TAG = "purchasing"
INVOICES_TAG = "monthly-invoices"
AsOf = Annotated[CalendarDate | None, Query(description="Read as in force on this date (default: today).")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag of the latest version read.")]
CONDITIONAL = {**WRITE_ERRORS, 412: PROBLEM, 428: PROBLEM}
CREATED = {**WRITE_ERRORS}
AllocationId = Annotated[Int32Id, Path()]
ContractId = Annotated[Int32Id, Path()]
InvoiceId = Annotated[Int32Id, Path()]


def _answer(out: BaseModel, etag: str, status: int = 200, location: str | None = None) -> Response:
    return tagged(out, etag, status, **({"Location": location} if location else {}))


# --- the ministry's purchasing settings ----------------------------------------------------------------------------


@router.get(
    "/purchasing/settings",
    tags=[TAG],
    operation_id="get_purchasing_settings",
    response_model=SettingOut,
    responses=SINGLE,
    summary="The ministry's purchasing settings in force (how an allocation's product mismatch is met; ETag)",
)
async def get_settings(
    request: Request, session: SessionDep, who: Annotated[Principal, PURCHASING_TOTALS], as_of: AsOf = None
) -> Response:
    out, etag = await terms.setting(session, as_of)
    return single(request, out, etag)


@router.post(
    "/purchasing/settings/versions",
    tags=[TAG],
    operation_id="create_purchasing_settings_version",
    status_code=201,
    response_model=SettingOut,
    responses=CONDITIONAL,
    summary="Record a new version of the purchasing settings (If-Match: the settings' ETag, v0 before the first)",
)
async def create_settings_version(
    session: SessionDep, body: SettingIn, who: Annotated[Principal, ADMIN], if_match: IfMatch = None
) -> Response:
    out, etag = await terms.record_setting(session, body, if_match, who)
    return _answer(out, etag, 201, f"/api/v1/purchasing/settings?as_of={out.valid_from}")


# --- allocations ---------------------------------------------------------------------------------------------------


@router.post(
    "/purchasing/allocations",
    tags=[TAG],
    operation_id="create_purchasing_allocation",
    status_code=201,
    response_model=AllocationVersionOut,
    responses=CREATED,
    summary="Record an allocation: beds × bed-days × tariff checked against the amount as the settings say",
)
async def create_allocation(session: SessionDep, body: AllocationIn, who: Annotated[Principal, FUND_WRITE]) -> Response:
    out, etag = await terms.create_allocation(session, body, who)
    return _answer(out, etag, 201, f"/api/v1/purchasing/allocations/{out.id}")


@router.get(
    "/purchasing/allocations/{allocation_id}",
    tags=[TAG],
    operation_id="get_purchasing_allocation",
    response_model=AllocationVersionOut,
    responses=SINGLE,
    summary="An allocation as in force on a day (ETag)",
)
async def get_allocation(
    request: Request,
    session: SessionDep,
    allocation_id: AllocationId,
    who: Annotated[Principal, PURCHASING_READ],
    as_of: AsOf = None,
) -> Response:
    out, etag = await terms.allocation(session, allocation_id, as_of, who)
    return single(request, out, etag)


@router.put(
    "/purchasing/allocations/{allocation_id}",
    tags=[TAG],
    operation_id="amend_purchasing_allocation",
    response_model=AllocationVersionOut,
    responses=CONDITIONAL,
    summary="Amend an allocation: a new version, the current one closed (If-Match required)",
)
async def amend_allocation(
    session: SessionDep,
    allocation_id: AllocationId,
    body: AllocationTerms,
    who: Annotated[Principal, FUND_WRITE],
    if_match: IfMatch = None,
) -> Response:
    out, etag = await terms.amend_allocation(session, allocation_id, body, if_match, who)
    return _answer(out, etag)


@router.get(
    "/purchasing/allocations/{allocation_id}/history",
    tags=[TAG],
    operation_id="get_purchasing_allocation_history",
    response_model=list[AllocationVersionOut],
    responses=ERRORS,
    summary="Every version of an allocation, oldest first",
)
async def allocation_history(
    session: SessionDep, allocation_id: AllocationId, who: Annotated[Principal, PURCHASING_READ]
) -> list[AllocationVersionOut]:
    return await terms.allocation_history(session, allocation_id, who)


# --- contracts -----------------------------------------------------------------------------------------------------


@router.post(
    "/contracts",
    tags=[TAG],
    operation_id="create_contract",
    status_code=201,
    response_model=ContractVersionOut,
    responses=CREATED,
    summary="Record a purchase contract with a provider",
)
async def create_contract(session: SessionDep, body: ContractIn, who: Annotated[Principal, FUND_WRITE]) -> Response:
    out, etag = await terms.create_contract(session, body, who)
    return _answer(out, etag, 201, f"/api/v1/contracts/{out.id}")


@router.put(
    "/contracts/{contract_id}",
    tags=[TAG],
    operation_id="amend_contract",
    response_model=ContractVersionOut,
    responses=CONDITIONAL,
    summary="Amend a contract's terms: a new version, the current one closed (If-Match: the contract's ETag)",
)
async def amend_contract(
    session: SessionDep,
    contract_id: ContractId,
    body: ContractTerms,
    who: Annotated[Principal, FUND_WRITE],
    if_match: IfMatch = None,
) -> Response:
    out, etag = await terms.amend_contract(session, contract_id, body, if_match, who)
    return _answer(out, etag)


@router.get(
    "/contracts/{contract_id}/history",
    tags=[TAG],
    operation_id="get_contract_history",
    response_model=list[ContractVersionOut],
    responses=ERRORS,
    summary="Every version of a contract's terms, oldest first",
)
async def contract_history(
    session: SessionDep, contract_id: ContractId, who: Annotated[Principal, PURCHASING_READ]
) -> list[ContractVersionOut]:
    return await terms.contract_history(session, contract_id, who)


# --- vocabularies --------------------------------------------------------------------------------------------------


@router.get(
    "/purchasing/payment-document-kinds",
    tags=[INVOICES_TAG],
    operation_id="list_payment_document_kinds",
    response_model=list[VocabularyOut],
    summary="The payment documents a month's invoice comes with (required ones marked)",
)
async def payment_document_kinds(
    session: SessionDep, who: Annotated[Principal, PURCHASING_READ]
) -> list[VocabularyOut]:
    return await filings.document_kinds(session)


@router.get(
    "/purchasing/deduction-reasons",
    tags=[INVOICES_TAG],
    operation_id="list_deduction_reasons",
    response_model=list[VocabularyOut],
    summary="The reasons the Fund deducts part of a presented invoice for",
)
async def deduction_reasons(session: SessionDep, who: Annotated[Principal, PURCHASING_READ]) -> list[VocabularyOut]:
    return await filings.deduction_reasons(session)


# --- monthly invoices in two steps ---------------------------------------------------------------------------------


@router.post(
    "/contracts/{contract_id}/monthly-invoices",
    tags=[INVOICES_TAG],
    operation_id="present_monthly_invoice",
    status_code=201,
    response_model=MonthlyInvoiceOut,
    responses=CREATED,
    summary="A provider presents a month's invoice of its own contract with its payment documents",
)
async def present(
    session: SessionDep, contract_id: ContractId, body: PresentIn, who: Annotated[Principal, INVOICE_PRESENT]
) -> Response:
    out, etag = await filings.present(session, contract_id, body, who)
    return _answer(out, etag, 201, f"/api/v1/monthly-invoices/{out.id}")


@router.get(
    "/contracts/{contract_id}/monthly-invoices",
    tags=[INVOICES_TAG],
    operation_id="list_monthly_invoices",
    response_model=list[MonthlyInvoiceOut],
    responses=ERRORS,
    summary="A contract's monthly invoices, presented, accepted or returned",
)
async def list_monthly_invoices(
    session: SessionDep,
    contract_id: ContractId,
    who: Annotated[Principal, PURCHASING_READ],
    state: ReviewState | None = None,
) -> list[MonthlyInvoiceOut]:
    return await filings.of_contract(session, contract_id, state, who)


@router.get(
    "/monthly-invoices/{invoice_id}",
    tags=[INVOICES_TAG],
    operation_id="get_monthly_invoice",
    response_model=MonthlyInvoiceOut,
    responses=SINGLE,
    summary="A monthly invoice with its documents, deductions and state (ETag)",
)
async def get_monthly_invoice(
    request: Request, session: SessionDep, invoice_id: InvoiceId, who: Annotated[Principal, PURCHASING_READ]
) -> Response:
    out, etag = await filings.one(session, invoice_id, who)
    return single(request, out, etag)


@router.post(
    "/monthly-invoices/{invoice_id}/accept",
    tags=[INVOICES_TAG],
    operation_id="accept_monthly_invoice",
    response_model=MonthlyInvoiceOut,
    responses=CONDITIONAL,
    summary="The Fund accepts a presented invoice in full, or in part with a reason for each deduction (If-Match)",
)
async def accept(
    session: SessionDep,
    invoice_id: InvoiceId,
    body: AcceptIn,
    who: Annotated[Principal, FUND_WRITE],
    if_match: IfMatch = None,
) -> Response:
    out, etag = await filings.accept(session, invoice_id, body, if_match, who)
    return _answer(out, etag)


@router.post(
    "/monthly-invoices/{invoice_id}/return",
    tags=[INVOICES_TAG],
    operation_id="return_monthly_invoice",
    response_model=MonthlyInvoiceOut,
    responses=CONDITIONAL,
    summary="The Fund returns a presented invoice to its provider with the reason (If-Match)",
)
async def return_(
    session: SessionDep,
    invoice_id: InvoiceId,
    body: ReturnIn,
    who: Annotated[Principal, FUND_WRITE],
    if_match: IfMatch = None,
) -> Response:
    out, etag = await filings.return_(session, invoice_id, body, if_match, who)
    return _answer(out, etag)


@router.post(
    "/monthly-invoices/{invoice_id}/resubmit",
    tags=[INVOICES_TAG],
    operation_id="resubmit_monthly_invoice",
    response_model=MonthlyInvoiceOut,
    responses=CONDITIONAL,
    summary="The provider presents a returned invoice again (If-Match)",
)
async def resubmit(
    session: SessionDep,
    invoice_id: InvoiceId,
    body: ResubmitIn,
    who: Annotated[Principal, INVOICE_PRESENT],
    if_match: IfMatch = None,
) -> Response:
    out, etag = await filings.resubmit(session, invoice_id, body, if_match, who)
    return _answer(out, etag)
