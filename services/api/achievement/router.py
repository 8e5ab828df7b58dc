"""HTTP routes of indicator actuals and achievement.

Public (no token): the achievement of every indicator in a year, an indicator's trajectory, its rule and the
rule's history. They show accepted actuals only (the Concept is published; drafts are not). A filing with its
drafts: the ministry roles, the auditor and the responsible organisation's members.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from services.api.access import (
    BATCH_READ,
    BULK_UPLOAD,
    MINISTRY,
    READERS,
    AccountQ,
    account_of,
    audit_batch,
    batch_account,
)
from services.api.achievement import ingest, service
from services.api.achievement.schemas import (
    ActualOut,
    ActualWrite,
    AnswerOut,
    FilingOut,
    IndicatorActualBatchResult,
    ReviewWrite,
    RuleOut,
    RuleWrite,
    TrajectoryOut,
)
from services.api.bulk.http import BatchId, BatchIdPath, ContentType, Mode, upload_body
from services.common import clock
from services.common.auth import Principal, Role, allow
from services.common.bounds import CalendarDate, Int32Id
from services.common.concurrency import not_modified, tagged
from services.common.db import SessionDep
from services.common.errors import FieldError, NotFound
from services.common.models.guarantee import BatchMode
from services.common.quota import RATE_LIMITED, upload_stream

router = APIRouter(prefix="/api/v1")

PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM}
SINGLE: dict[int | str, dict[str, Any]] = {**ERRORS, 304: {"description": "Not modified"}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: PROBLEM,
    409: PROBLEM,
    412: PROBLEM,
    413: PROBLEM,
    422: PROBLEM,
    428: PROBLEM,
}
BULK_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 409: PROBLEM, 413: PROBLEM, 415: PROBLEM, 422: PROBLEM}

CONCEPT = "health-concept-2022-2029"

AsOf = Annotated[
    CalendarDate | None,
    Query(description="The rules and accepted actuals as they stood on this date (default: today)."),
]
IfMatch = Annotated[str | None, Header(description="The ETag of the latest version (required once one exists).")]
IndicatorId = Annotated[Int32Id, Path(description="The indicator's id (as in /indicators).")]
YearPath = Annotated[int, Path(ge=1991, le=2100, description="The year the actual is for.")]
DocumentQ = Annotated[str, Query(max_length=120, description="Document slug.", examples=[CONCEPT])]

ADMIN: Any = allow(Role.ministry_admin)
FILER: Any = allow(Role.executor)
REVIEWER: Any = allow(*MINISTRY)
FILING_READ: Any = allow(*READERS, Role.executor)


# --- achievement (public) -------------------------------------------------------------------------------


@router.get(
    "/achievement",
    tags=["achievement"],
    operation_id="list_achievement",
    response_model=list[AnswerOut],
    responses=ERRORS,
    summary="Every target indicator of a document in one year: target as printed, accepted actual, outcome, why",
)
async def list_achievement(
    session: SessionDep,
    year: Annotated[int, Query(ge=1991, le=2100, examples=[2026])],
    document: DocumentQ = CONCEPT,
    as_of: AsOf = None,
) -> list[AnswerOut]:
    return await service.achievement_for_year(session, document, year, as_of or clock.today())


@router.get(
    "/indicators/{indicator_id}/achievement",
    tags=["achievement"],
    operation_id="get_indicator_trajectory",
    response_model=TrajectoryOut,
    responses=ERRORS,
    summary="An indicator's trajectory: every year's targets, accepted actual and outcome, and the trend",
)
async def trajectory(session: SessionDep, indicator_id: IndicatorId, as_of: AsOf = None) -> TrajectoryOut:
    return await service.trajectory(session, indicator_id, as_of or clock.today())


@router.get(
    "/indicators/{indicator_id}/rule",
    tags=["achievement"],
    operation_id="get_indicator_rule",
    response_model=RuleOut,
    responses=SINGLE,
    summary="The rule an indicator is judged by on a date (version 0: the document's own)",
)
async def get_rule(request: Request, session: SessionDep, indicator_id: IndicatorId, as_of: AsOf = None) -> Response:
    out, tag = await service.get_rule(session, indicator_id, as_of or clock.today())
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return tagged(out, tag)


@router.get(
    "/indicators/{indicator_id}/rule/history",
    tags=["achievement"],
    operation_id="get_indicator_rule_history",
    response_model=list[RuleOut],
    responses=ERRORS,
    summary="Every version of an indicator's rule, the document's own first",
)
async def rule_history(session: SessionDep, indicator_id: IndicatorId) -> list[RuleOut]:
    return await service.rule_history(session, indicator_id)


@router.put(
    "/indicators/{indicator_id}/rule",
    tags=["achievement"],
    operation_id="update_indicator_rule",
    response_model=RuleOut,
    responses=WRITE_ERRORS,
    summary="Change an indicator's rule (a new version from `effective_from`, with its basis; the old one stays)",
)
async def put_rule(
    session: SessionDep,
    indicator_id: IndicatorId,
    body: RuleWrite,
    who: Annotated[Principal, ADMIN],
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.put_rule(session, indicator_id, body, if_match, who)
    return tagged(out, tag)


# --- actuals ---------------------------------------------------------------------------------------------


@router.get(
    "/indicators/{indicator_id}/actuals/{year}",
    tags=["indicator-actuals"],
    operation_id="get_indicator_actual",
    response_model=FilingOut,
    responses=ERRORS,
    summary="An indicator's actual for a year with its drafts, review state and every version",
)
async def get_actual(
    session: SessionDep, indicator_id: IndicatorId, year: YearPath, who: Annotated[Principal, FILING_READ]
) -> Response:
    out, tag = await service.filing(session, indicator_id, year, who)
    return tagged(out, tag)


@router.put(
    "/indicators/{indicator_id}/actuals/{year}",
    tags=["indicator-actuals"],
    operation_id="put_indicator_actual",
    response_model=ActualOut,
    responses={**WRITE_ERRORS, 201: {"description": "The first version", "model": ActualOut}},
    summary="Enter or correct an indicator's actual (the responsible organisation): a value, a ratio or no data",
)
async def put_actual(
    session: SessionDep,
    indicator_id: IndicatorId,
    year: YearPath,
    body: ActualWrite,
    who: Annotated[Principal, FILER],
    if_match: IfMatch = None,
) -> Response:
    out, tag, created = await service.enter_actual(session, indicator_id, year, body, if_match, who)
    return tagged(out, tag, 201 if created else 200)


@router.post(
    "/indicators/{indicator_id}/actuals/{year}/submit",
    tags=["indicator-actuals"],
    operation_id="submit_indicator_actual",
    response_model=ActualOut,
    responses=WRITE_ERRORS,
    summary="Submit a draft or returned actual for review",
)
async def submit_actual(
    session: SessionDep,
    indicator_id: IndicatorId,
    year: YearPath,
    who: Annotated[Principal, FILER],
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.submit(session, indicator_id, year, if_match, who)
    return tagged(out, tag)


@router.post(
    "/indicators/{indicator_id}/actuals/{year}/review",
    tags=["indicator-actuals"],
    operation_id="review_indicator_actual",
    response_model=ActualOut,
    responses=WRITE_ERRORS,
    summary="Accept a submitted actual (it counts from today) or return it with a reason",
)
async def review_actual(
    session: SessionDep,
    indicator_id: IndicatorId,
    year: YearPath,
    body: ReviewWrite,
    who: Annotated[Principal, REVIEWER],
    if_match: IfMatch = None,
) -> Response:
    out, tag = await service.review(session, indicator_id, year, body, if_match, who)
    return tagged(out, tag)


UPLOAD_DOC = """Stream a CSV (`text/csv`, header line with `indicator,year` and `value` and/or `no_data_reason`) or
JSON Lines (`application/x-ndjson`) body of indicator actuals from official statistics:

* `indicator`, the indicator's number in the document (`document`, default the Concept); `year`, within the
  document's years;
* `value`, a figure not below zero with up to four decimals (`"19.5"`), or a ratio (`"2.2:1"`); or, when there is
  no figure, `no_data_reason`.

`source` (required) is stored on every row the upload adds. Each kept row is the next version of its indicator and
year: `submitted` where the indicator's rule wants review (the ministry accepts or returns it), `accepted`
otherwise. A row equal to the current version is unchanged.

* `mode=all_or_nothing`: any refused row refuses the upload (422 listing each row's errors) and nothing is stored.
* `mode=per_row`: valid rows are kept; the answer lists kept lines and every refused line with field and reason.
* The same `batch_id` sent again changes nothing and answers `duplicate: true`; other content under a used id
  is a 409.
"""

Source = Annotated[
    str,
    Query(min_length=1, max_length=200, description="Where the values come from.", examples=["ҚР ҰСБ, 2026"]),
]


@router.post(
    "/bulk/indicator-actuals",
    tags=["indicator-actuals"],
    operation_id="upload_indicator_actuals",
    response_model=IndicatorActualBatchResult,
    responses={**BULK_ERRORS, **RATE_LIMITED},
    summary="Bulk upload of indicator actuals from official statistics (streamed CSV or JSON Lines)",
    description=UPLOAD_DOC,
    openapi_extra=upload_body("indicator,year,value,no_data_reason\n3,2026,33.5,\n68,2026,1.8:1,\n"),
)
async def upload_actuals(
    request: Request,
    session: SessionDep,
    batch_id: BatchId,
    source: Source,
    who: Annotated[Principal, BULK_UPLOAD],
    mode: Mode = BatchMode.all_or_nothing,
    document: DocumentQ = CONCEPT,
    content_type: ContentType = None,
) -> IndicatorActualBatchResult:
    doc = await service.repo.document_id(session, document)
    if doc is None:
        raise NotFound(f"no document {document}", [FieldError("document", "unknown document")])
    result = await ingest.ingest(
        session,
        document_id=doc,
        account=account_of(who),
        batch_id=batch_id,
        mode=mode,
        source=source,
        today=clock.today(),
        content_type=content_type,
        stream=await upload_stream(request, session, who),
    )
    await audit_batch(session, who, result)
    return result


@router.get(
    "/indicator-actuals/batches/{batch_id}",
    tags=["indicator-actuals"],
    operation_id="get_indicator_actuals_batch",
    response_model=IndicatorActualBatchResult,
    responses=ERRORS,
    summary="The outcome of a bulk upload of indicator actuals",
)
async def get_batch(
    session: SessionDep,
    batch_id: BatchIdPath,
    who: Annotated[Principal, BATCH_READ],
    account: Annotated[str | None, AccountQ] = None,
) -> IndicatorActualBatchResult:
    return await ingest.batch(session, batch_account(who, account, batch_id), batch_id)
