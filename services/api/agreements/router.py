"""HTTP routes of the agreements on implementing the Guarantee Programme (seed 002, items 80–81) under /api/v1."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel

from services.api.access import ADMIN, MINISTRY, READERS
from services.api.agreements import service
from services.api.agreements.schemas import (
    AgreementIn,
    AgreementOut,
    FormIn,
    FormOut,
    FormVersionIn,
    InformationEdit,
    InformationIn,
    InformationOut,
    RegionInformationOut,
    ReturnIn,
    SignatureIn,
    TargetsIn,
)
from services.api.guarantee.http import ERRORS, PROBLEM, SINGLE, WRITE_ERRORS, single
from services.common import clock
from services.common.auth import Principal, Role, allow
from services.common.bounds import CalendarDate, Int32Id
from services.common.concurrency import tagged
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination

router = APIRouter(prefix="/api/v1", tags=["agreements"])

# Who calls what: the ministry administrator keeps the form and makes agreements; the Ministry (its administrator),
# the akimat and the Fund sign; the akimat files its information; the ministry roles review it. The ministry
# roles, the auditor and the Fund read every agreement, an akimat its own region's.
READ: Any = allow(*READERS, Role.akimat, Role.fund)
SIGN: Any = allow(Role.ministry_admin, Role.akimat, Role.fund)
FILE: Any = allow(Role.akimat)
REVIEW: Any = allow(*MINISTRY)
REPORT: Any = allow(*READERS)

CONDITIONAL: dict[int | str, dict[str, Any]] = {**WRITE_ERRORS, 412: PROBLEM, 428: PROBLEM}
REVIEW_ERRORS: dict[int | str, dict[str, Any]] = {**CONDITIONAL}

FormCode = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_\-]{0,79}$", examples=["guarantee-programme-agreement"])]
AgreementId = Annotated[Int32Id, Path(description="The agreement's id.")]
InformationId = Annotated[Int32Id, Path(description="The information's id.")]
AsOf = Annotated[CalendarDate | None, Query(description="Read as in force on this date (default: today, Almaty).")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The resource's current ETag.")]
YearQ = Annotated[int, Query(ge=2000, le=2100, description="The agreements' year.", examples=[2026])]


def _written(out: BaseModel, tag: str, status: int = 200, location: str | None = None) -> Response:
    return tagged(out, tag, status, **({"Location": location} if location else {}))


# --- the model form ---------------------------------------------------------------------------------


@router.get(
    "/agreement-forms",
    operation_id="list_agreement_forms",
    response_model=list[FormOut],
    responses=ERRORS,
    summary="The model forms of the agreement (item 80) in force on a date",
)
async def list_forms(session: SessionDep, who: Annotated[Principal, READ], as_of: AsOf = None) -> list[FormOut]:
    return await service.forms(session, as_of or clock.today())


FORM_DOC = """Record the model form of the agreement on implementing the Guarantee Programme (seed 002, item 80) as
the Ministry's order approves it: the order's number and date, when it takes effect, its sections, the target
indicators it holds (an item 79 access norm by its code: its threshold and direction are read from the norm in
force, never copied) and the deadlines for the akimats' information.

The decree names the deadlines but sets none: each deadline is marked `in_decree: false` with the basis "set by the
ministry, not in the decree". Without `deadlines` the form gets the ministry's defaults: each quarter by the 10th of
the month after it (Q4 by 10 January of the next year), the year by 1 March of the next year."""


@router.post(
    "/agreement-forms",
    operation_id="create_agreement_form",
    status_code=201,
    response_model=FormOut,
    responses=WRITE_ERRORS,
    summary="Record a model form of the agreement (its first version)",
    description=FORM_DOC,
)
async def create_form(session: SessionDep, body: FormIn, who: Annotated[Principal, ADMIN]) -> Response:
    out, tag = await service.create_form(session, body, who)
    return _written(out, tag, 201, f"/api/v1/agreement-forms/{out.code}?as_of={out.valid_from}")


@router.get(
    "/agreement-forms/{code}",
    operation_id="get_agreement_form",
    response_model=FormOut,
    responses=SINGLE,
    summary="A model form as in force on a date (ETag)",
)
async def get_form(
    request: Request, session: SessionDep, code: FormCode, who: Annotated[Principal, READ], as_of: AsOf = None
) -> Response:
    out, tag = await service.form(session, code, as_of or clock.today())
    return single(request, out, tag)


@router.get(
    "/agreement-forms/{code}/history",
    operation_id="get_agreement_form_history",
    response_model=list[FormOut],
    responses=ERRORS,
    summary="Every version of a model form",
)
async def form_history(session: SessionDep, code: FormCode, who: Annotated[Principal, READ]) -> list[FormOut]:
    return await service.form_history(session, code)


@router.post(
    "/agreement-forms/{code}/versions",
    operation_id="create_agreement_form_version",
    status_code=201,
    response_model=FormOut,
    responses=CONDITIONAL,
    summary="Record a new version of a model form (a new order; closes the latest; If-Match required)",
    description="The latest version is closed on the new one's `valid_from`, never overwritten; agreements made on "
    "it keep it. Send `If-Match` with an ETag of the form (428 without, 412 when stale).",
)
async def create_form_version(
    session: SessionDep, code: FormCode, body: FormVersionIn, who: Annotated[Principal, ADMIN], if_match: IfMatch = None
) -> Response:
    out, tag = await service.record_form_version(session, code, body, if_match, who)
    return _written(out, tag, 201, f"/api/v1/agreement-forms/{code}?as_of={out.valid_from}")


# --- agreements -------------------------------------------------------------------------------------


@router.get(
    "/agreements/information-by-region",
    operation_id="list_agreement_information_by_region",
    response_model=list[RegionInformationOut],
    responses=ERRORS,
    summary="Item 81: per region, its agreement of the year and the periods of information accepted",
    description="What the Ministry's annual report (due to the Government by 1 April of the next year) is built "
    "from: every region, its agreement (if any), the periods its form sets deadlines for, which of them have "
    "accepted information, which await review, which are missing.",
)
async def information_by_region(
    session: SessionDep, year: YearQ, who: Annotated[Principal, REPORT]
) -> list[RegionInformationOut]:
    return await service.annual_information(session, year)


@router.post(
    "/agreements",
    operation_id="create_agreement",
    status_code=201,
    response_model=AgreementOut,
    responses=WRITE_ERRORS,
    summary="Make a region's agreement for a year on the model form in force (one per region and year)",
)
async def create_agreement(session: SessionDep, body: AgreementIn, who: Annotated[Principal, ADMIN]) -> Response:
    out, tag = await service.create_agreement(session, body, who)
    return _written(out, tag, 201, f"/api/v1/agreements/{out.id}")


@router.get(
    "/agreements",
    operation_id="list_agreements",
    response_model=Paginated[AgreementOut],
    responses=ERRORS,
    summary="Agreements (an akimat sees its own region's)",
)
async def list_agreements(
    session: SessionDep,
    page: Pagination,
    who: Annotated[Principal, READ],
    region: Annotated[str | None, Query(pattern=r"^\d{9}$", description="КАТО code of the region.")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Paginated[AgreementOut]:
    items, total = await service.agreements(session, who, region, year, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/agreements/{agreement_id}",
    operation_id="get_agreement",
    response_model=AgreementOut,
    responses=SINGLE,
    summary="One agreement: parties' signatures, targets, state (ETag)",
)
async def get_agreement(
    request: Request, session: SessionDep, agreement_id: AgreementId, who: Annotated[Principal, READ]
) -> Response:
    out, tag = await service.agreement(session, who, agreement_id)
    return single(request, out, tag)


@router.put(
    "/agreements/{agreement_id}/targets",
    operation_id="set_agreement_targets",
    response_model=AgreementOut,
    responses=CONDITIONAL,
    summary="Set the agreement's targets before any party signs (If-Match required)",
    description="Targets not given default to the access norm's threshold in force on 31 December of the year; "
    "an indicator the form names itself needs one. Once a party has signed, 409.",
)
async def set_targets(
    session: SessionDep,
    agreement_id: AgreementId,
    body: TargetsIn,
    who: Annotated[Principal, ADMIN],
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.set_targets(session, who, agreement_id, body.targets, if_match)
    return _written(out, tag)


@router.post(
    "/agreements/{agreement_id}/signatures",
    operation_id="sign_agreement",
    response_model=AgreementOut,
    responses=CONDITIONAL,
    summary="Sign the agreement for the caller's party (Ministry, akimat, Fund; If-Match required)",
    description="The ministry administrator signs for the Ministry, the region's akimat for the akimat, the Fund "
    "for the Fund; the date defaults to today (Almaty). Signed by all three, the agreement's state is `signed`.",
)
async def sign_agreement(
    session: SessionDep,
    agreement_id: AgreementId,
    who: Annotated[Principal, SIGN],
    body: SignatureIn | None = None,
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.sign(session, who, agreement_id, body.signed_on if body else None, if_match)
    return _written(out, tag)


# --- the akimat's information -----------------------------------------------------------------------

INFORMATION_DOC = """The akimat files its information against its signed agreement for a period its form sets a
deadline for (`Q1`–`Q4`, `year`): a figure per target indicator and a narrative in Kazakh and Russian. It goes
through the one review cycle: draft → submitted → accepted, or returned with a reason → resubmitted. Submitted
after the deadline (an Almaty date) it is marked `late`, not refused. Refusals carry a stable `code`."""


@router.post(
    "/agreements/{agreement_id}/information",
    operation_id="create_agreement_information",
    status_code=201,
    response_model=InformationOut,
    responses=WRITE_ERRORS,
    summary="File the akimat's information for a period (a draft)",
    description=INFORMATION_DOC,
)
async def create_information(
    session: SessionDep, agreement_id: AgreementId, body: InformationIn, who: Annotated[Principal, FILE]
) -> Response:
    out, tag = await service.create_information(session, who, agreement_id, body)
    return _written(out, tag, 201, f"/api/v1/agreement-information/{out.id}")


@router.get(
    "/agreements/{agreement_id}/information",
    operation_id="list_agreement_information",
    response_model=list[InformationOut],
    responses=ERRORS,
    summary="The akimat's information against an agreement, every period and revision",
)
async def list_information(
    session: SessionDep, agreement_id: AgreementId, who: Annotated[Principal, READ]
) -> list[InformationOut]:
    return await service.information_list(session, who, agreement_id)


@router.get(
    "/agreement-information/{information_id}",
    operation_id="get_agreement_information",
    response_model=InformationOut,
    responses=SINGLE,
    summary="One piece of information, its state and the actions allowed (ETag)",
)
async def get_information(
    request: Request, session: SessionDep, information_id: InformationId, who: Annotated[Principal, READ]
) -> Response:
    out, tag = await service.information(session, who, information_id)
    return single(request, out, tag)


@router.put(
    "/agreement-information/{information_id}",
    operation_id="edit_agreement_information",
    response_model=InformationOut,
    responses=CONDITIONAL,
    summary="Edit a draft or returned information's figures and narrative (If-Match required)",
)
async def edit_information(
    session: SessionDep,
    information_id: InformationId,
    body: InformationEdit,
    who: Annotated[Principal, FILE],
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.edit_information(session, who, information_id, body, if_match)
    return _written(out, tag)


@router.post(
    "/agreement-information/{information_id}/submit",
    operation_id="submit_agreement_information",
    response_model=InformationOut,
    responses=REVIEW_ERRORS,
    summary="Submit (or resubmit) the information for review; late after the deadline (If-Match required)",
)
async def submit_information(
    session: SessionDep, information_id: InformationId, who: Annotated[Principal, FILE], if_match: IfMatch = None
) -> Response:
    out, tag = await service.submit(session, who, information_id, if_match)
    return _written(out, tag)


@router.post(
    "/agreement-information/{information_id}/accept",
    operation_id="accept_agreement_information",
    response_model=InformationOut,
    responses=REVIEW_ERRORS,
    summary="Accept submitted information (If-Match required; of two reviewers one wins, the other gets 412)",
)
async def accept_information(
    session: SessionDep, information_id: InformationId, who: Annotated[Principal, REVIEW], if_match: IfMatch = None
) -> Response:
    out, tag = await service.accept(session, who, information_id, if_match)
    return _written(out, tag)


@router.post(
    "/agreement-information/{information_id}/return",
    operation_id="return_agreement_information",
    response_model=InformationOut,
    responses=REVIEW_ERRORS,
    summary="Return submitted information with a reason (If-Match required)",
)
async def return_information(
    session: SessionDep,
    information_id: InformationId,
    body: ReturnIn,
    who: Annotated[Principal, REVIEW],
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.return_(session, who, information_id, body.reason, if_match)
    return _written(out, tag)


@router.post(
    "/agreement-information/{information_id}/correct",
    operation_id="correct_agreement_information",
    status_code=201,
    response_model=InformationOut,
    responses=REVIEW_ERRORS,
    summary="Correct accepted information: its next revision, opened as a draft (If-Match required)",
)
async def correct_information(
    session: SessionDep, information_id: InformationId, who: Annotated[Principal, FILE], if_match: IfMatch = None
) -> Response:
    out, tag = await service.correct(session, who, information_id, if_match)
    return _written(out, tag, 201, f"/api/v1/agreement-information/{out.id}")
