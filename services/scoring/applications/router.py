"""HTTP endpoints of the scoring service: applications, their experts, expert and panel scores, explanations."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from services.common.bounds import CalendarDate
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination
from services.scoring import etags
from services.scoring.applications import service
from services.scoring.applications.schemas import (
    ApplicationIn,
    ApplicationOut,
    AssignmentIn,
    AssignmentOut,
    ExpertScoreIn,
    ExpertScoreOut,
    ExplanationOut,
    PanelOut,
    ScoreCardIn,
)
from services.scoring.http import (
    ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    ApplicationId,
    Commission,
    Expert,
    IfMatch,
    OptionalId,
    Reader,
    Secretary,
    not_modified_response,
)

router = APIRouter(prefix="/api/v1")


@router.post(
    "/applications",
    tags=["applications"],
    operation_id="create_application",
    status_code=201,
    summary="Submit an application to include a technology in the HTMC list",
    response_model=ApplicationOut,
    responses=ERRORS,
)
async def create_application(
    session: SessionDep, who: Secretary, body: ApplicationIn, response: Response
) -> ApplicationOut:
    app = await service.create_application(session, body, who)
    response.headers["ETag"] = etags.etag("application", app.id, app.row_version)
    return ApplicationOut.model_validate(app)


@router.get(
    "/applications",
    tags=["applications"],
    operation_id="list_applications",
    summary="Applications, newest first, optionally by status or technology",
    response_model=Paginated[ApplicationOut],
)
async def list_applications(
    session: SessionDep,
    _: Reader,
    page: Pagination,
    status: Annotated[Literal["submitted", "under_review", "scored", "decided"] | None, Query()] = None,
    technology_id: OptionalId = None,
) -> Paginated[ApplicationOut]:
    rows, total = await service.list_applications(session, status, technology_id, page.limit, page.offset)
    return Paginated(
        items=[ApplicationOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/applications/{application_id}",
    tags=["applications"],
    operation_id="get_application",
    summary="One application with its status and panel score",
    response_model=ApplicationOut,
    responses=READ_ERRORS,
)
async def get_application(
    session: SessionDep, _: Reader, application_id: ApplicationId, request: Request, response: Response
) -> ApplicationOut | Response:
    app = await service.get_application(session, application_id)
    etag = etags.etag("application", app.id, app.row_version)
    if unchanged := not_modified_response(request, etag):
        return unchanged
    response.headers["ETag"] = etag
    return ApplicationOut.model_validate(app)


@router.post(
    "/applications/{application_id}/experts",
    tags=["assessment"],
    operation_id="assign_expert",
    status_code=201,
    summary="Assign an expert (a declared conflict of interest recuses them)",
    response_model=AssignmentOut,
    responses=ERRORS,
)
async def assign_expert(
    session: SessionDep, who: Secretary, application_id: ApplicationId, body: AssignmentIn
) -> AssignmentOut:
    return AssignmentOut.model_validate(await service.assign_expert(session, application_id, body, who))


@router.get(
    "/applications/{application_id}/experts",
    tags=["assessment"],
    operation_id="list_experts",
    summary="Assigned experts and their conflicts of interest",
    response_model=list[AssignmentOut],
    responses=ERRORS,
)
async def list_experts(session: SessionDep, _: Reader, application_id: ApplicationId) -> list[AssignmentOut]:
    return [AssignmentOut.model_validate(a) for a in await service.list_experts(session, application_id)]


@router.post(
    "/applications/{application_id}/experts/{expert_code}/conflict",
    tags=["assessment"],
    operation_id="declare_conflict",
    summary="Declare a conflict of interest: the expert is recused (If-Match: the application's ETag)",
    response_model=AssignmentOut,
    responses=UPDATE_ERRORS,
)
async def declare_conflict(
    session: SessionDep,
    who: Secretary,
    application_id: ApplicationId,
    expert_code: Annotated[str, Path(min_length=1, max_length=120)],
    statement: Annotated[str, Query(min_length=1, max_length=10_000, pattern=r"^[^\x00]*$")],
    response: Response,
    if_match: IfMatch = None,
) -> AssignmentOut:
    assignment, app = await service.declare_conflict(session, application_id, expert_code, statement, if_match, who)
    response.headers["ETag"] = etags.etag("application", app.id, app.row_version)
    return AssignmentOut.model_validate(assignment)


@router.post(
    "/applications/{application_id}/expert-scores",
    tags=["assessment"],
    operation_id="submit_expert_score",
    status_code=201,
    summary="An expert's level per criterion, each with a written reason",
    description="The expert of the token scores an application they are assigned to: 404 for one they are not "
    "assigned to (as if it did not exist), 403 for one they are recused from.",
    response_model=ExpertScoreOut,
    responses=ERRORS,
)
async def submit_expert_score(
    session: SessionDep, who: Expert, application_id: ApplicationId, body: ExpertScoreIn
) -> ExpertScoreOut:
    return await service.submit_expert_score(session, application_id, body, who)


@router.get(
    "/applications/{application_id}/expert-scores",
    tags=["assessment"],
    operation_id="list_expert_scores",
    summary="The non-recused experts' scores",
    response_model=list[ExpertScoreOut],
    responses=ERRORS,
)
async def list_expert_scores(session: SessionDep, _: Reader, application_id: ApplicationId) -> list[ExpertScoreOut]:
    return await service.list_expert_scores(session, application_id)


@router.post(
    "/applications/{application_id}/panel-score",
    tags=["assessment"],
    operation_id="score_panel",
    summary="Combine the experts' scores by the version's rule in force on the assessment date (once)",
    description="If-Match (the application's ETag) is required: 428 without it, 412 when it is stale.",
    response_model=PanelOut,
    responses=UPDATE_ERRORS,
)
async def score_panel(
    session: SessionDep, who: Commission, application_id: ApplicationId, if_match: IfMatch = None
) -> PanelOut:
    return await service.score_panel(session, application_id, if_match, who)


@router.get(
    "/applications/{application_id}/panel-score",
    tags=["assessment"],
    operation_id="get_panel_score",
    summary="The panel's score, spread and classification",
    response_model=PanelOut,
    responses=ERRORS,
)
async def get_panel_score(session: SessionDep, _: Reader, application_id: ApplicationId) -> PanelOut:
    return await service.panel_of(session, application_id)


@router.get(
    "/applications/{application_id}/explanation",
    tags=["explanation"],
    operation_id="explain_application",
    summary="Each criterion's level, weight and contribution; the distance to the threshold; the "
    "smallest level and weight changes that flip the decision",
    response_model=ExplanationOut,
    responses=ERRORS,
)
async def explain_application(
    session: SessionDep,
    _: Reader,
    application_id: ApplicationId,
    as_of: Annotated[CalendarDate | None, Query(description="Rescore as of this date (age and version then).")] = None,
) -> ExplanationOut:
    return await service.explain_application(session, application_id, as_of)


@router.post(
    "/score/explain",
    tags=["explanation"],
    operation_id="explain_score_card",
    summary="Score and explain ad-hoc levels (nothing saved)",
    response_model=ExplanationOut,
    responses=ERRORS,
)
async def explain_score_card(session: SessionDep, _: Reader, body: ScoreCardIn) -> ExplanationOut:
    return await service.explain_card(session, body)
