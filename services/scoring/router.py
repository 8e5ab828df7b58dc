"""HTTP endpoints of the scoring service."""

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import ValidationError
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.common.concurrency import not_modified
from services.common.db import SessionDep, StreamSessionDep
from services.common.errors import DomainError, FieldError, NotFound, ValidationFailed
from services.common.models.scoring import BatchJob
from services.common.pagination import Paginated, Pagination
from services.scoring import repository as repo
from services.scoring import service, tasks
from services.scoring.schemas import (
    ApplicationIn,
    ApplicationOut,
    AssignmentIn,
    AssignmentOut,
    CandidateOut,
    CriteriaVersionIn,
    CriteriaVersionOut,
    DecisionIn,
    DecisionOut,
    DecisionRuleIn,
    DecisionRuleOut,
    ExpertScoreIn,
    ExpertScoreOut,
    ExplanationOut,
    FirstUseIn,
    FirstUseOut,
    JobOut,
    ListEntryOut,
    MoveIn,
    PanelOut,
    RobustnessItem,
    ScenarioIn,
    ScenarioOut,
    ScoreCardIn,
    TechnologyIn,
    TechnologyOut,
    TechnologyPatch,
    WhatIfIn,
    WhatIfOut,
)

router = APIRouter()
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag of the resource being changed.")]
# Ids are Postgres `integer`s: a larger number is refused (422) rather than failing in the driver.
MAX_ID = 2_147_483_647
VersionId = Annotated[int, Path(ge=1, le=MAX_ID)]
TechnologyId = Annotated[int, Path(ge=1, le=MAX_ID)]
ApplicationId = Annotated[int, Path(ge=1, le=MAX_ID)]
ScenarioId = Annotated[int, Path(ge=1, le=MAX_ID)]
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
NDJSON = "application/x-ndjson"
PROBLEM = {"model": dict[str, Any], "description": "Problem details (application/problem+json)"}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 409: PROBLEM, 422: PROBLEM}
UPDATE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 412: PROBLEM, 428: PROBLEM}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    304: {"description": "Not Modified: If-None-Match names the current ETag (or is `*`); empty body, same ETag"},
}


def _unchanged(request: Request, etag: str) -> Response | None:
    """The 304 answer when the client already holds this ETag, else None (build the resource).

    Checked before the body is built, so a revalidation costs one lookup."""
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return None


# ------------------------------------------------------------------------------------------------ criteria


@router.get(
    "/criteria-versions",
    tags=["criteria"],
    operation_id="list_criteria_versions",
    summary="Criteria versions with their dates in force",
    response_model=Paginated[CriteriaVersionOut],
)
async def list_criteria_versions(session: SessionDep, page: Pagination) -> Paginated[CriteriaVersionOut]:
    rows, total = await repo.list_versions(session, page.limit, page.offset)
    return Paginated(
        items=[await service.version_out(session, r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/criteria-versions/in-force",
    tags=["criteria"],
    operation_id="criteria_version_in_force",
    summary="The criteria version in force on a date",
    response_model=CriteriaVersionOut,
    responses=READ_ERRORS,
)
async def criteria_version_in_force(
    session: SessionDep, request: Request, response: Response, on: Annotated[date, Query(description="The date.")]
) -> CriteriaVersionOut | Response:
    version = await repo.version_in_force(session, on)
    if version is None:
        raise NotFound(f"no criteria version is in force on {on}", [FieldError("on", "none in force")])
    etag = service.etag("criteria-version", version.id, version.row_version)
    if unchanged := _unchanged(request, etag):
        return unchanged
    response.headers["ETag"] = etag
    return await service.version_out(session, version)


@router.get(
    "/criteria-versions/{version_id}",
    tags=["criteria"],
    operation_id="get_criteria_version",
    summary="One criteria version: criteria, weights, scales, age bands, threshold",
    response_model=CriteriaVersionOut,
    responses=READ_ERRORS,
)
async def get_criteria_version(
    session: SessionDep, version_id: VersionId, request: Request, response: Response
) -> CriteriaVersionOut | Response:
    version = await repo.get_version(session, version_id)
    etag = service.etag("criteria-version", version.id, version.row_version)
    if unchanged := _unchanged(request, etag):
        return unchanged
    response.headers["ETag"] = etag
    return await service.version_out(session, version)


@router.post(
    "/criteria-versions",
    tags=["criteria"],
    operation_id="create_criteria_version",
    status_code=201,
    summary="Add a criteria version (weights must sum to 1, scales monotone)",
    response_model=CriteriaVersionOut,
    responses=ERRORS,
)
async def create_criteria_version(
    session: SessionDep, body: CriteriaVersionIn, response: Response
) -> CriteriaVersionOut:
    version = await service.create_criteria_version(session, body)
    response.headers["ETag"] = service.etag("criteria-version", version.id, version.row_version)
    return await service.version_out(session, version)


@router.put(
    "/criteria-versions/{version_id}/decision-rule",
    tags=["criteria"],
    operation_id="set_decision_rule",
    summary="Set the threshold and the experts' combination rule (a new entry of the rule's history)",
    description="Records a new setting (threshold, combination rule, trim share) with its basis, who set it and "
    "the date it applies from (`effective_from`, default the version's first day). Nothing is overwritten: "
    "every setting stays in `GET /criteria-versions/{version_id}/decision-rules`, and a classification on a "
    "date uses the rule in force that day. If-Match (the version's ETag) is required.",
    response_model=CriteriaVersionOut,
    responses=UPDATE_ERRORS,
)
async def set_decision_rule(
    session: SessionDep, version_id: VersionId, body: DecisionRuleIn, response: Response, if_match: IfMatch = None
) -> CriteriaVersionOut:
    version = await service.set_decision_rule(session, version_id, body, if_match)
    response.headers["ETag"] = service.etag("criteria-version", version.id, version.row_version)
    return await service.version_out(session, version)


@router.get(
    "/criteria-versions/{version_id}/decision-rules",
    tags=["criteria"],
    operation_id="list_decision_rules",
    summary="Every setting of the version's decision rule, with who set it, when, its basis and effective date",
    response_model=list[DecisionRuleOut],
    responses=ERRORS,
)
async def list_decision_rules(session: SessionDep, version_id: VersionId) -> list[DecisionRuleOut]:
    return [DecisionRuleOut.model_validate(r) for r in await service.decision_rule_history(session, version_id)]


@router.get(
    "/criteria-versions/{version_id}/decision-rule",
    tags=["criteria"],
    operation_id="decision_rule_in_force",
    summary="The decision rule of the version in force on a date (404 when none is)",
    response_model=DecisionRuleOut,
    responses=ERRORS,
)
async def decision_rule_in_force(
    session: SessionDep, version_id: VersionId, on: Annotated[date, Query(description="The date.")]
) -> DecisionRuleOut:
    return DecisionRuleOut.model_validate(await service.decision_rule_on(session, version_id, on))


# ------------------------------------------------------------------------------------------------ technologies


@router.post(
    "/technologies",
    tags=["technologies"],
    operation_id="create_technology",
    status_code=201,
    summary="Register a medical technology",
    response_model=TechnologyOut,
    responses=ERRORS,
)
async def create_technology(session: SessionDep, body: TechnologyIn, response: Response) -> TechnologyOut:
    tech = await service.create_technology(session, body)
    response.headers["ETag"] = service.etag("technology", tech.id, tech.row_version)
    return await service.technology_out(session, tech)


@router.get(
    "/technologies",
    tags=["technologies"],
    operation_id="list_technologies",
    summary="Technologies by code",
    response_model=Paginated[TechnologyOut],
)
async def list_technologies(session: SessionDep, page: Pagination) -> Paginated[TechnologyOut]:
    rows, total = await repo.list_technologies(session, page.limit, page.offset)
    return Paginated(
        items=await service.technology_outs(session, rows), total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/technologies/{technology_id}",
    tags=["technologies"],
    operation_id="get_technology",
    summary="One technology",
    response_model=TechnologyOut,
    responses=READ_ERRORS,
)
async def get_technology(
    session: SessionDep, technology_id: TechnologyId, request: Request, response: Response
) -> TechnologyOut | Response:
    tech = await repo.get_technology(session, technology_id)
    etag = service.etag("technology", tech.id, tech.row_version)
    if unchanged := _unchanged(request, etag):
        return unchanged
    response.headers["ETag"] = etag
    return await service.technology_out(session, tech)


@router.patch(
    "/technologies/{technology_id}",
    tags=["technologies"],
    operation_id="update_technology",
    summary="Correct a technology's facts (If-Match required)",
    description="The first use in the world is not changed here (422 naming the field): it is history, corrected "
    "through `PUT /technologies/{technology_id}/first-use`.",
    response_model=TechnologyOut,
    responses=UPDATE_ERRORS,
)
async def update_technology(
    session: SessionDep,
    technology_id: TechnologyId,
    body: TechnologyPatch,
    response: Response,
    if_match: IfMatch = None,
) -> TechnologyOut:
    tech = await service.patch_technology(session, technology_id, body, if_match)
    response.headers["ETag"] = service.etag("technology", tech.id, tech.row_version)
    return await service.technology_out(session, tech)


@router.put(
    "/technologies/{technology_id}/first-use",
    tags=["technologies"],
    operation_id="correct_first_use",
    summary="Correct the technology's first use in the world (a new entry of its history)",
    description="Records the corrected first use with its basis and who made it, in force from the day it is "
    "recorded (UTC). Nothing is overwritten: every value stays in "
    "`GET /technologies/{technology_id}/first-uses`, and scoring as of an earlier date still counts the age from "
    "the value in force that day. If-Match (the technology's ETag) is required.",
    response_model=TechnologyOut,
    responses=UPDATE_ERRORS,
)
async def correct_first_use(
    session: SessionDep, technology_id: TechnologyId, body: FirstUseIn, response: Response, if_match: IfMatch = None
) -> TechnologyOut:
    tech = await service.set_first_use(session, technology_id, body, if_match)
    response.headers["ETag"] = service.etag("technology", tech.id, tech.row_version)
    return await service.technology_out(session, tech)


@router.get(
    "/technologies/{technology_id}/first-uses",
    tags=["technologies"],
    operation_id="list_first_uses",
    summary="Every value of the technology's first use: as registered, then each correction with its basis",
    response_model=list[FirstUseOut],
    responses=ERRORS,
)
async def list_first_uses(session: SessionDep, technology_id: TechnologyId) -> list[FirstUseOut]:
    return [FirstUseOut.model_validate(r) for r in await service.first_use_history(session, technology_id)]


@router.get(
    "/technologies/{technology_id}/first-use",
    tags=["technologies"],
    operation_id="first_use_in_force",
    summary="The technology's first use in force on a date (the one its age on that date is counted from)",
    response_model=FirstUseOut,
    responses=ERRORS,
)
async def first_use_in_force(
    session: SessionDep, technology_id: TechnologyId, on: Annotated[date, Query(description="The date.")]
) -> FirstUseOut:
    return FirstUseOut.model_validate(await service.first_use_row_on(session, technology_id, on))


# ------------------------------------------------------------------------------------------------ applications


@router.post(
    "/applications",
    tags=["applications"],
    operation_id="create_application",
    status_code=201,
    summary="Submit an application to include a technology in the HTMC list",
    response_model=ApplicationOut,
    responses=ERRORS,
)
async def create_application(session: SessionDep, body: ApplicationIn, response: Response) -> ApplicationOut:
    app = await service.create_application(session, body)
    response.headers["ETag"] = service.etag("application", app.id, app.row_version)
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
    page: Pagination,
    status: Annotated[Literal["submitted", "under_review", "scored", "decided"] | None, Query()] = None,
    technology_id: OptionalId = None,
) -> Paginated[ApplicationOut]:
    rows, total = await repo.list_applications(session, status, technology_id, page.limit, page.offset)
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
    session: SessionDep, application_id: ApplicationId, request: Request, response: Response
) -> ApplicationOut | Response:
    app = await repo.get_application(session, application_id)
    etag = service.etag("application", app.id, app.row_version)
    if unchanged := _unchanged(request, etag):
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
async def assign_expert(session: SessionDep, application_id: ApplicationId, body: AssignmentIn) -> AssignmentOut:
    return AssignmentOut.model_validate(await service.assign_expert(session, application_id, body))


@router.get(
    "/applications/{application_id}/experts",
    tags=["assessment"],
    operation_id="list_experts",
    summary="Assigned experts and their conflicts of interest",
    response_model=list[AssignmentOut],
    responses=ERRORS,
)
async def list_experts(session: SessionDep, application_id: ApplicationId) -> list[AssignmentOut]:
    await repo.get_application(session, application_id)
    return [AssignmentOut.model_validate(a) for a in await repo.assignments(session, application_id)]


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
    application_id: ApplicationId,
    expert_code: Annotated[str, Path(min_length=1, max_length=120)],
    statement: Annotated[str, Query(min_length=1, max_length=10_000, pattern=r"^[^\x00]*$")],
    response: Response,
    if_match: IfMatch = None,
) -> AssignmentOut:
    assignment, app = await service.declare_conflict(session, application_id, expert_code, statement, if_match)
    response.headers["ETag"] = service.etag("application", app.id, app.row_version)
    return AssignmentOut.model_validate(assignment)


@router.post(
    "/applications/{application_id}/expert-scores",
    tags=["assessment"],
    operation_id="submit_expert_score",
    status_code=201,
    summary="An expert's level per criterion, each with a written reason",
    response_model=ExpertScoreOut,
    responses=ERRORS,
)
async def submit_expert_score(
    session: SessionDep, application_id: ApplicationId, body: ExpertScoreIn
) -> ExpertScoreOut:
    return await service.submit_expert_score(session, application_id, body)


@router.get(
    "/applications/{application_id}/expert-scores",
    tags=["assessment"],
    operation_id="list_expert_scores",
    summary="The non-recused experts' scores",
    response_model=list[ExpertScoreOut],
    responses=ERRORS,
)
async def list_expert_scores(session: SessionDep, application_id: ApplicationId) -> list[ExpertScoreOut]:
    return await service.list_expert_scores(session, application_id)


@router.post(
    "/applications/{application_id}/panel-score",
    tags=["assessment"],
    operation_id="score_panel",
    summary="Combine the experts' scores by the version's rule in force on the assessment date (once)",
    description="An If-Match with the application's ETag, when given, must be current (412 otherwise).",
    response_model=PanelOut,
    responses=UPDATE_ERRORS,
)
async def score_panel(session: SessionDep, application_id: ApplicationId, if_match: IfMatch = None) -> PanelOut:
    return await service.score_panel(session, application_id, if_match)


@router.get(
    "/applications/{application_id}/panel-score",
    tags=["assessment"],
    operation_id="get_panel_score",
    summary="The panel's score, spread and classification",
    response_model=PanelOut,
    responses=ERRORS,
)
async def get_panel_score(session: SessionDep, application_id: ApplicationId) -> PanelOut:
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
    application_id: ApplicationId,
    as_of: Annotated[date | None, Query(description="Rescore as of this date (age and version then).")] = None,
) -> ExplanationOut:
    return await service.explain_application(session, application_id, as_of)


@router.post(
    "/applications/{application_id}/decision",
    tags=["decisions"],
    operation_id="decide_application",
    status_code=201,
    summary="Record the commission's decision (include or refuse) with its document",
    description="The score is classified by the threshold in force on `decided_on`, which the decision records. "
    "An If-Match with the application's ETag, when given, must be current (412 otherwise).",
    response_model=DecisionOut,
    responses=UPDATE_ERRORS,
)
async def decide_application(
    session: SessionDep, application_id: ApplicationId, body: DecisionIn, if_match: IfMatch = None
) -> DecisionOut:
    return DecisionOut.model_validate(await service.decide(session, application_id, body, if_match))


@router.post(
    "/score/explain",
    tags=["explanation"],
    operation_id="explain_score_card",
    summary="Score and explain ad-hoc levels (nothing saved)",
    response_model=ExplanationOut,
    responses=ERRORS,
)
async def explain_score_card(session: SessionDep, body: ScoreCardIn) -> ExplanationOut:
    return await service.explain_card(session, body)


# ------------------------------------------------------------------------------------------------ the list


@router.get(
    "/htmc-list",
    tags=["list"],
    operation_id="htmc_list_at",
    summary="The HTMC list in force on a date",
    response_model=list[ListEntryOut],
)
async def htmc_list_at(session: SessionDep, as_of: Annotated[date, Query()]) -> list[ListEntryOut]:
    return [_entry(e, t) for e, t in await repo.list_at(session, as_of)]


@router.get(
    "/htmc-list/history",
    tags=["list"],
    operation_id="htmc_list_history",
    summary="Every listing and removal, with validity dates",
    response_model=list[ListEntryOut],
)
async def htmc_list_history(session: SessionDep, technology_id: OptionalId = None) -> list[ListEntryOut]:
    return [_entry(e, t) for e, t in await repo.list_history(session, technology_id)]


def _entry(e: Any, t: Any) -> ListEntryOut:
    return ListEntryOut(
        technology_id=t.id,
        technology_code=t.code,
        name_kk=t.name_kk,
        application_id=e.application_id,
        valid_from=e.valid_from,
        valid_to=e.valid_to,
        included_by=e.included_by_id,
        removed_by=e.removed_by_id,
    )


@router.get(
    "/htmc-list/move-candidates",
    tags=["list"],
    operation_id="move_candidates",
    summary="Listed technologies whose score on a date falls below the threshold (ageing)",
    response_model=list[CandidateOut],
    responses=ERRORS,
)
async def move_candidates(session: SessionDep, as_of: Annotated[date, Query()]) -> list[CandidateOut]:
    return await service.list_candidates(session, as_of)


@router.post(
    "/technologies/{technology_id}/move-to-specialised",
    tags=["list"],
    operation_id="move_to_specialised",
    status_code=201,
    summary="Decide a listed technology moves to specialised care (ММК), with its document",
    response_model=DecisionOut,
    responses=ERRORS,
)
async def move_to_specialised(session: SessionDep, technology_id: TechnologyId, body: MoveIn) -> DecisionOut:
    return DecisionOut.model_validate(await service.move_to_specialised(session, technology_id, body))


@router.get(
    "/decisions",
    tags=["decisions"],
    operation_id="list_decisions",
    summary="Decisions, oldest first",
    response_model=Paginated[DecisionOut],
)
async def list_decisions(
    session: SessionDep, page: Pagination, technology_id: OptionalId = None
) -> Paginated[DecisionOut]:
    rows, total = await repo.decisions(session, technology_id, page.limit, page.offset)
    return Paginated(
        items=[DecisionOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


# ------------------------------------------------------------------------------------------------ what-if


@router.get(
    "/robustness",
    tags=["what-if"],
    operation_id="decision_robustness",
    summary="Per decision: the smallest single weight or level change that flips it; experts' disagreement",
    response_model=list[RobustnessItem],
    responses=ERRORS,
)
async def decision_robustness(session: SessionDep, as_of: Annotated[date, Query()]) -> list[RobustnessItem]:
    return await service.robustness(session, as_of)


@router.post(
    "/what-if",
    tags=["what-if"],
    operation_id="what_if",
    summary="Rescore every decided technology under another version or weights (nothing saved)",
    response_model=WhatIfOut,
    responses=ERRORS,
)
async def what_if(session: SessionDep, body: WhatIfIn) -> WhatIfOut:
    return await service.what_if(session, body)


@router.post(
    "/scenarios",
    tags=["what-if"],
    operation_id="save_scenario",
    status_code=201,
    summary="The same what-if, saved for the commission",
    response_model=ScenarioOut,
    responses=ERRORS,
)
async def save_scenario(session: SessionDep, body: ScenarioIn) -> ScenarioOut:
    data = WhatIfIn.model_validate(body.model_dump(exclude={"name", "created_by"}))
    scenario = await service.save_scenario(session, body.name, body.created_by, data)
    return ScenarioOut(
        id=scenario.id,
        name=scenario.name,
        created_at=scenario.created_at,
        created_by=scenario.created_by,
        result=WhatIfOut.model_validate(scenario.result),
    )


@router.get(
    "/scenarios/{scenario_id}",
    tags=["what-if"],
    operation_id="get_scenario",
    summary="A saved scenario",
    response_model=ScenarioOut,
    responses=READ_ERRORS,
)
async def get_scenario(
    session: SessionDep, scenario_id: ScenarioId, request: Request, response: Response
) -> ScenarioOut | Response:
    scenario = await service.get_scenario(session, scenario_id)
    etag = service.etag("scenario", scenario.id, 1)  # a saved scenario is never changed
    if unchanged := _unchanged(request, etag):
        return unchanged
    response.headers["ETag"] = etag
    return ScenarioOut(
        id=scenario.id,
        name=scenario.name,
        created_at=scenario.created_at,
        created_by=scenario.created_by,
        result=WhatIfOut.model_validate(scenario.result),
    )


# ------------------------------------------------------------------------------------------------ batch


class _Stream(StreamingResponse):
    """Streams without listening for a disconnect, so the handler can keep reading the request body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)


def _lines(request: Request) -> AsyncIterator[bytes]:
    return tasks.lines_of(request.stream())


def error_line(line_no: int, ref: Any, errors: Sequence[Mapping[str, Any]], detail: str) -> dict[str, Any]:
    return {"line": line_no, "ref": ref, "error": {"detail": detail, "errors": list(errors)}}


def score_raw_line(cache: service.VersionCache, line_no: int, raw: bytes) -> dict[str, Any]:
    ref = None
    if raw is tasks.OVERLONG:
        reason = f"longer than {tasks.MAX_LINE_BYTES} bytes"
        return error_line(line_no, None, [FieldError("line", reason)], "line too long")
    try:
        data = orjson.loads(raw)
        if isinstance(data, dict):
            ref = data.get("ref")
            if not isinstance(ref, str | int) or isinstance(ref, bool):
                ref = None
        card = ScoreCardIn.model_validate(data)
        return {"line": line_no, **service.score_line(cache, card)}
    except orjson.JSONDecodeError as exc:
        return error_line(line_no, ref, [FieldError("line", f"malformed JSON: {exc}")], "malformed JSON")
    except ValidationError as exc:
        errs = [FieldError(".".join(str(p) for p in e["loc"]) or "line", e["msg"]) for e in exc.errors()]
        return error_line(line_no, ref, errs, "invalid line")
    except DomainError as exc:
        return error_line(line_no, ref, exc.errors, exc.detail)


@router.post(
    "/batch/score",
    tags=["batch"],
    operation_id="batch_score",
    summary="Score many technologies: JSON Lines in, JSON Lines out (streamed, nothing saved)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {
                    "schema": {"type": "string", "description": "One ScoreCardIn JSON object per line"},
                    "example": '{"ref":"a","first_used_world_year":2012,"as_of":"2026-06-01",'
                    '"levels":{"resource_intensity":"10","uniqueness":"7.5","complexity":"10"}}\n',
                }
            },
        }
    },
    responses={200: {"content": {NDJSON: {}}, "description": "One result or error object per line, in input order"}},
)
async def batch_score(session: SessionDep, request: Request) -> Response:
    cache = await service.VersionCache.load(session)
    lines = _lines(request)
    # Read up to the first non-blank line before answering, so an empty body is refused with a problem (422).
    first_no = 0
    first: bytes | None = None
    async for raw in lines:
        first_no += 1
        if raw is tasks.OVERLONG or raw.strip():
            first = raw
            break
    if first is None:
        raise ValidationFailed("the body has no lines", [FieldError("body", "empty: one JSON object per line")])

    async def body() -> AsyncIterator[bytes]:
        assert first is not None
        out: list[bytes] = [orjson.dumps(score_raw_line(cache, first_no, first)) + b"\n"]
        line_no = first_no
        async for raw in lines:
            line_no += 1
            if raw is not tasks.OVERLONG and not raw.strip():
                continue
            out.append(orjson.dumps(score_raw_line(cache, line_no, raw)) + b"\n")
            if len(out) >= 500:
                yield b"".join(out)
                out.clear()
        if out:
            yield b"".join(out)

    return _Stream(body(), media_type=NDJSON)


@router.post(
    "/batch/jobs",
    tags=["batch"],
    operation_id="create_batch_job",
    status_code=202,
    summary="Queue a large JSON Lines scoring run on the worker; poll its progress",
    openapi_extra={"requestBody": {"required": True, "content": {NDJSON: {"schema": {"type": "string"}}}}},
    response_model=JobOut,
    responses=ERRORS,
)
async def create_batch_job(session: SessionDep, request: Request, response: Response) -> JobOut:
    job = await tasks.create_job(session, _lines(request))
    response.headers["Location"] = f"/batch/jobs/{job.id}"
    tasks.enqueue(session, getattr(request.app.state, "redis", None), job)  # sent once the row is committed
    return JobOut.model_validate(job)


@router.get(
    "/batch/jobs/{job_id}",
    tags=["batch"],
    operation_id="get_batch_job",
    summary="A batch job's status and progress",
    response_model=JobOut,
    responses=ERRORS,
)
async def get_batch_job(session: SessionDep, job_id: JobId) -> JobOut:
    job = await session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"batch job {job_id} does not exist")
    return JobOut.model_validate(job)


@router.get(
    "/batch/jobs/{job_id}/results",
    tags=["batch"],
    operation_id="get_batch_results",
    summary="A job's results as JSON Lines (streamed)",
    description="One result or error object per scored line, in input-line order, streamed as it is read from "
    "the database (a chunk of lines at a time). While the job runs, the lines scored so far.",
    responses={200: {"content": {NDJSON: {}}, "description": "One result or error object per line"}, **ERRORS},
)
async def get_batch_results(session: StreamSessionDep, job_id: JobId) -> Response:
    job = await session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"batch job {job_id} does not exist")

    async def body() -> AsyncIterator[bytes]:
        async for outputs in tasks.result_chunks(session, job_id):
            if outputs:
                yield b"".join(orjson.dumps(output) + b"\n" for output in outputs)

    # A read-only route: its session stays open until the response is sent.
    return StreamingResponse(body(), media_type=NDJSON)
