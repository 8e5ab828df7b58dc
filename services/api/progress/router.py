"""Progress reports and their review, the views of what is due, the reporting rules and the calendar."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response

from services.api.access import MINISTRY, READERS
from services.api.progress import rules, service, views
from services.api.progress.schemas import (
    CalendarDayOut,
    CalendarDayWrite,
    DashboardOut,
    DeadlineEventsOut,
    DueOut,
    InboxOut,
    LockOut,
    ProgressReportCreate,
    ProgressReportOut,
    ProgressReportWrite,
    ReasonBody,
    ReportingRuleOut,
    ReportingRuleWrite,
    ReturnBody,
)
from services.common import clock
from services.common.auth import Principal, Role, allow
from services.common.bounds import CalendarDate, Int32Id, ShortText
from services.common.concurrency import not_modified, tagged
from services.common.db import ReadPoolDep, SessionDep
from services.common.pagination import Paginated, Pagination
from services.common.review import ReviewAction, ReviewState

router = APIRouter(prefix="/api/v1")
TAG = "progress"

Reader = Annotated[Principal, allow(*READERS, Role.executor)]
Executor = Annotated[Principal, allow(Role.executor)]
Reviewer = Annotated[Principal, allow(Role.ministry_reviewer, Role.executor)]
Ministry = Annotated[Principal, allow(*MINISTRY)]
MinistryRead = Annotated[Principal, allow(*READERS)]
Admin = Annotated[Principal, allow(Role.ministry_admin)]
ReportId = Annotated[Int32Id, Path(description="The progress report's id.")]
RuleId = Annotated[Int32Id, Path(description="The id of any version of the reporting rule.")]
IfMatch = Annotated[str | None, Header(description="The report's current ETag (required).")]
On = Annotated[CalendarDate | None, Query(description="The Almaty date to look from (default: today).")]
DocumentQ = Annotated[ShortText | None, Query(description="A document's slug or id.")]
Year = Annotated[int, Path(ge=2000, le=2100, description="The reporting year.")]
YearQ = Annotated[int | None, Query(ge=2000, le=2100, description="The reporting year.")]

PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}
READ_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 428: PROBLEM}
REFUSALS = (
    "Refusals carry a stable `code`: submitted, accepted, not_submitted, under_review, period_locked, "
    "not_your_organisation, not_your_role, reason_required, validation_failed."
)


def _answer(out: ProgressReportOut, status_code: int = 200, **headers: str) -> Response:
    return tagged(out, service.report_etag(out.id, out.version), status_code, **headers)


# --- views -----------------------------------------------------------------------------------------------


@router.get(
    "/progress/due",
    tags=[TAG],
    operation_id="progress_due",
    response_model=DueOut,
    responses=READ_ERRORS,
    summary="What is due on an Almaty date, from whom, and what is overdue (an executor: its own)",
)
async def progress_due(
    who: Reader,
    session: SessionDep,
    page: Pagination,
    on: On = None,
    document: DocumentQ = None,
    organisation: Annotated[Int32Id | None, Query(description="An executor organisation's id.")] = None,
) -> DueOut:
    return await views.due(session, who, on or clock.today(), document, organisation, page)


@router.get(
    "/progress/inbox",
    tags=[TAG],
    operation_id="progress_inbox",
    response_model=InboxOut,
    responses=READ_ERRORS,
    summary="The calling executor's inbox: its expected reports, due dates, states, and its co-executors' parts",
)
async def progress_inbox(
    who: Executor,
    db: ReadPoolDep,
    page: Pagination,
    on: On = None,
    document: DocumentQ = None,
    period: YearQ = None,
) -> Response:
    body = await views.inbox(db, who, on or clock.today(), document, period, page)
    return Response(body.encode(), media_type="application/json")


@router.get(
    "/progress/dashboard",
    tags=[TAG],
    operation_id="progress_dashboard",
    response_model=DashboardOut,
    responses=READ_ERRORS,
    summary="The ministry's dashboard of a document's reporting year: counts by executor and by direction",
)
async def progress_dashboard(
    who: MinistryRead,
    session: SessionDep,
    document: Annotated[ShortText, Query(description="A document's slug or id.")],
    period: Annotated[int, Query(ge=2000, le=2100, description="The reporting year.")],
    on: On = None,
) -> DashboardOut:
    return await views.dashboard(session, document, period, on or clock.today())


@router.post(
    "/progress/deadline-events",
    tags=[TAG],
    operation_id="progress_deadline_events",
    response_model=DeadlineEventsOut,
    summary="Record upcoming and passed deadlines as outbox events (idempotent: each once per report and due date)",
)
async def progress_deadline_events(
    who: Ministry,
    session: SessionDep,
    on: On = None,
    within_days: Annotated[int, Query(ge=1, le=366, description="The window, in days.")] = 14,
) -> DeadlineEventsOut:
    return await views.deadline_events(session, on or clock.today(), within_days)


@router.post(
    "/progress/periods/{document_id}/{year}/lock",
    tags=[TAG],
    operation_id="lock_reporting_period",
    status_code=201,
    response_model=LockOut,
    responses={404: PROBLEM, 409: PROBLEM},
    summary="Lock a document's reporting year once consolidated: nothing in it changes state any more",
    description=REFUSALS,
)
async def lock_reporting_period(
    who: Ministry,
    session: SessionDep,
    document_id: Annotated[str, Path(max_length=120, description="The document's slug or id.")],
    year: Year,
    reason: Annotated[ShortText | None, Query(description="Why (recorded).")] = None,
) -> LockOut:
    return await views.lock_period(session, who, document_id, year, reason)


# --- reports ---------------------------------------------------------------------------------------------


@router.post(
    "/progress-reports",
    tags=[TAG],
    operation_id="create_progress_report",
    status_code=201,
    response_model=ProgressReportOut,
    responses={409: PROBLEM},
    summary="Open a draft progress report for a measure, a reporting year and the caller's organisation",
    description=REFUSALS,
)
async def create_progress_report(who: Executor, session: SessionDep, body: ProgressReportCreate) -> Response:
    out = await service.create_report(session, who, body)
    return _answer(out, 201, Location=f"/api/v1/progress-reports/{out.id}")


@router.get(
    "/progress-reports",
    tags=[TAG],
    operation_id="list_progress_reports",
    response_model=Paginated[ProgressReportOut],
    responses=READ_ERRORS,
    summary="Progress reports (an executor: its organisation's, and its co-executors' parts as a lead)",
)
async def list_progress_reports(
    who: Reader,
    session: SessionDep,
    page: Pagination,
    document: DocumentQ = None,
    period: YearQ = None,
    organisation: Int32Id | None = None,
    state: ReviewState | None = None,
    measure: Int32Id | None = None,
) -> Paginated[ProgressReportOut]:
    ids, total = await views.list_reports(
        session, who, page, document=document, period=period, organisation=organisation, state=state, measure=measure
    )
    items = [await service.get_report(session, who, i) for i in ids]
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/progress-reports/{report_id}",
    tags=[TAG],
    operation_id="get_progress_report",
    response_model=ProgressReportOut,
    responses={**READ_ERRORS, 304: {"description": "Not modified"}},
    summary="A progress report's current version (with its co-executors' parts, for a lead)",
)
async def get_progress_report(who: Reader, session: SessionDep, request: Request, report_id: ReportId) -> Response:
    out = await service.get_report(session, who, report_id)
    tag = service.report_etag(out.id, out.version)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _answer(out)


@router.put(
    "/progress-reports/{report_id}",
    tags=[TAG],
    operation_id="update_progress_report",
    response_model=ProgressReportOut,
    responses=WRITE_ERRORS,
    summary="Edit a draft or returned report (a new version)",
    description=REFUSALS,
)
async def update_progress_report(
    who: Executor, session: SessionDep, report_id: ReportId, body: ProgressReportWrite, if_match: IfMatch = None
) -> Response:
    return _answer(await service.edit_report(session, who, report_id, if_match, body))


@router.post(
    "/progress-reports/{report_id}/submit",
    tags=[TAG],
    operation_id="submit_progress_report",
    response_model=ProgressReportOut,
    responses=WRITE_ERRORS,
    summary="Submit for review: runs the validation rules; after the due date the report is marked late",
    description=REFUSALS,
)
async def submit_progress_report(
    who: Executor, session: SessionDep, report_id: ReportId, if_match: IfMatch = None
) -> Response:
    return _answer(await service.submit_report(session, who, report_id, if_match))


@router.post(
    "/progress-reports/{report_id}/return",
    tags=[TAG],
    operation_id="return_progress_report",
    response_model=ProgressReportOut,
    responses=WRITE_ERRORS,
    summary="Return a submitted report with a reason (the ministry; the lead for a co-executor's part)",
    description=REFUSALS,
)
async def return_progress_report(
    who: Reviewer, session: SessionDep, report_id: ReportId, body: ReturnBody, if_match: IfMatch = None
) -> Response:
    out = await service.review_report(session, who, report_id, if_match, ReviewAction.return_, body.reason)
    return _answer(out)


@router.post(
    "/progress-reports/{report_id}/accept",
    tags=[TAG],
    operation_id="accept_progress_report",
    response_model=ProgressReportOut,
    responses=WRITE_ERRORS,
    summary="Accept a submitted report (the ministry; the lead for a co-executor's part)",
    description=REFUSALS,
)
async def accept_progress_report(
    who: Reviewer,
    session: SessionDep,
    report_id: ReportId,
    if_match: IfMatch = None,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> Response:
    reason = body.reason if body else None
    return _answer(await service.review_report(session, who, report_id, if_match, ReviewAction.accept, reason))


@router.post(
    "/progress-reports/{report_id}/correct",
    tags=[TAG],
    operation_id="correct_progress_report",
    response_model=ProgressReportOut,
    responses=WRITE_ERRORS,
    summary="Open a correction of an accepted report: a new revision as a draft; the accepted version is kept",
    description=REFUSALS,
)
async def correct_progress_report(
    who: Executor,
    session: SessionDep,
    report_id: ReportId,
    if_match: IfMatch = None,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> Response:
    reason = body.reason if body else None
    return _answer(await service.correct_report(session, who, report_id, if_match, reason))


@router.get(
    "/progress-reports/{report_id}/history",
    tags=[TAG],
    operation_id="progress_report_history",
    response_model=list[ProgressReportOut],
    responses=READ_ERRORS,
    summary="Every version of a progress report, oldest first: who, when, why, and what it held",
)
async def progress_report_history(who: Reader, session: SessionDep, report_id: ReportId) -> list[ProgressReportOut]:
    return await service.history(session, who, report_id)


# --- rules and calendar ----------------------------------------------------------------------------------


@router.get(
    "/progress/rules",
    tags=[TAG],
    operation_id="list_reporting_rules",
    response_model=list[ReportingRuleOut],
    summary="The reporting rules (in force today, or on `as_of`): who reports to whom by when, and on what basis",
)
async def list_reporting_rules(
    who: Reader, session: SessionDep, document: DocumentQ = None, as_of: CalendarDate | None = None
) -> list[ReportingRuleOut]:
    return await rules.list_rules(session, document, as_of or clock.today())


@router.get(
    "/progress/rules/{rule_id}",
    tags=[TAG],
    operation_id="get_reporting_rule",
    response_model=ReportingRuleOut,
    responses=READ_ERRORS,
    summary="A reporting rule's version in force",
)
async def get_reporting_rule(who: Reader, session: SessionDep, rule_id: RuleId) -> Response:
    out = await rules.get_rule(session, rule_id)
    return Response(out.model_dump_json(), media_type="application/json", headers={"ETag": rules.rule_etag(out)})


@router.get(
    "/progress/rules/{rule_id}/history",
    tags=[TAG],
    operation_id="reporting_rule_history",
    response_model=list[ReportingRuleOut],
    responses=READ_ERRORS,
    summary="Every version of a reporting rule",
)
async def reporting_rule_history(who: Reader, session: SessionDep, rule_id: RuleId) -> list[ReportingRuleOut]:
    return await rules.history(session, rule_id)


@router.put(
    "/progress/rules/{rule_id}",
    tags=[TAG],
    operation_id="change_reporting_rule",
    response_model=ReportingRuleOut,
    responses=WRITE_ERRORS,
    summary="A new version of a reporting rule from a date (an order changed it); due dates follow",
)
async def change_reporting_rule(
    who: Admin, session: SessionDep, rule_id: RuleId, body: ReportingRuleWrite, if_match: IfMatch = None
) -> Response:
    out = await rules.change_rule(session, who, rule_id, if_match, body)
    return Response(out.model_dump_json(), media_type="application/json", headers={"ETag": rules.rule_etag(out)})


@router.get(
    "/progress/calendar",
    tags=[TAG],
    operation_id="list_calendar_days",
    response_model=list[CalendarDayOut],
    summary="A year's holidays, days off and transferred working days (every other weekday is a working day)",
)
async def list_calendar_days(
    who: Reader, session: SessionDep, year: Annotated[int, Query(ge=2000, le=2100)]
) -> list[CalendarDayOut]:
    return await rules.calendar_days(session, year)


@router.post(
    "/progress/calendar",
    tags=[TAG],
    operation_id="set_calendar_day",
    response_model=CalendarDayOut,
    summary="Add or change a day of the calendar (a holiday, a transferred day off or working day); due dates follow",
)
async def set_calendar_day(who: Admin, session: SessionDep, body: CalendarDayWrite) -> CalendarDayOut:
    return await rules.set_calendar_day(session, who, body)
