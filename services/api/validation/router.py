"""Validation rules: read by the ministry roles, the auditor and the executors (what their reports are checked
against); created and changed by the ministry administrator; a dry run of the rules against posted figures."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from services.api.access import MINISTRY, READERS
from services.api.validation import service
from services.api.validation.schemas import CheckRequest, CheckResult, RuleCreate, RuleOut, RuleWrite
from services.common.auth import Principal, Role, allow
from services.common.bounds import CalendarDate, Int32Id
from services.common.concurrency import not_modified, tagged
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination

router = APIRouter(prefix="/api/v1", tags=["validation-rules"])

Admin = Annotated[Principal, allow(Role.ministry_admin)]
Reader = Annotated[Principal, allow(*READERS, Role.executor)]
Checker = Annotated[Principal, allow(*MINISTRY, Role.executor, Role.akimat)]
RuleId = Annotated[Int32Id, Path(description="The rule's id.")]
AsOf = Annotated[CalendarDate | None, Query(description="The day whose rules to show (default: today, Almaty).")]
IfMatch = Annotated[str | None, Header(description="The rule's current ETag (required).")]
PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}


def _answer(out: RuleOut, status_code: int = 200, **headers: str) -> Response:
    return tagged(out, service.rule_etag(out), status_code, **headers)


@router.get(
    "/validation-rules",
    operation_id="list_validation_rules",
    response_model=Paginated[RuleOut],
    summary="The validation rules in force on a day (a document's own and every document's), by code",
)
async def list_validation_rules(
    who: Reader,
    session: SessionDep,
    page: Pagination,
    as_of: AsOf = None,
    document: Annotated[Int32Id | None, Query(description="Only the rules checking this document's reports.")] = None,
    include_disabled: Annotated[bool, Query(description="Also the rules switched off on that day.")] = False,
) -> Paginated[RuleOut]:
    items, total = await service.list_rules(
        session, page, as_of=as_of, document_id=document, include_disabled=include_disabled
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/validation-rules",
    operation_id="create_validation_rule",
    status_code=201,
    response_model=RuleOut,
    responses={409: PROBLEM},
    summary="Create a validation rule (its version 1); an expression that does not parse is refused 422 with the "
    "field and the position",
)
async def create_validation_rule(who: Admin, session: SessionDep, body: RuleCreate) -> Response:
    out = await service.create_rule(session, who, body)
    return _answer(out, 201, Location=f"/api/v1/validation-rules/{out.id}")


@router.post(
    "/validation-rules/check",
    operation_id="check_validation_rules",
    response_model=CheckResult,
    responses={404: PROBLEM},
    summary="Run the rules in force for a document against posted figures (what a submission does), without "
    "storing anything",
)
async def check_validation_rules(who: Checker, session: SessionDep, body: CheckRequest) -> CheckResult:
    return await service.check(session, body)


@router.get(
    "/validation-rules/{rule_id}",
    operation_id="get_validation_rule",
    response_model=RuleOut,
    responses={404: PROBLEM, 304: {"description": "Not modified"}},
    summary="A rule's version in force on a day (else its latest)",
)
async def get_validation_rule(
    who: Reader, session: SessionDep, request: Request, rule_id: RuleId, as_of: AsOf = None
) -> Response:
    out = await service.get_rule(session, rule_id, as_of)
    tag = service.rule_etag(out)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _answer(out)


@router.put(
    "/validation-rules/{rule_id}",
    operation_id="update_validation_rule",
    response_model=RuleOut,
    responses={404: PROBLEM, 412: PROBLEM, 428: PROBLEM},
    summary="Change a rule: a new version from valid_from (the latest one closes that day)",
)
async def update_validation_rule(
    who: Admin, session: SessionDep, rule_id: RuleId, body: RuleWrite, if_match: IfMatch = None
) -> Response:
    return _answer(await service.update_rule(session, who, rule_id, if_match, body))


@router.get(
    "/validation-rules/{rule_id}/history",
    operation_id="validation_rule_history",
    response_model=list[RuleOut],
    responses={404: PROBLEM},
    summary="Every version of a rule, oldest first",
)
async def validation_rule_history(who: Reader, session: SessionDep, rule_id: RuleId) -> list[RuleOut]:
    return await service.history(session, rule_id)
