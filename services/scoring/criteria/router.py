"""HTTP endpoints of the scoring service: criteria versions and their decision rules."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.bounds import CalendarDate
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination
from services.scoring import etags
from services.scoring.criteria import service
from services.scoring.criteria.schemas import CriteriaVersionIn, CriteriaVersionOut, DecisionRuleIn, DecisionRuleOut
from services.scoring.http import (
    ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    CriteriaReader,
    IfMatch,
    MinistryAdmin,
    VersionId,
    not_modified_response,
)

router = APIRouter(prefix="/api/v1")


@router.get(
    "/criteria-versions",
    tags=["criteria"],
    operation_id="list_criteria_versions",
    summary="Criteria versions with their dates in force",
    response_model=Paginated[CriteriaVersionOut],
)
async def list_criteria_versions(
    session: SessionDep, _: CriteriaReader, page: Pagination
) -> Paginated[CriteriaVersionOut]:
    rows, total = await service.list_versions(session, page.limit, page.offset)
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
    session: SessionDep,
    _: CriteriaReader,
    request: Request,
    response: Response,
    on: Annotated[CalendarDate, Query(description="The date.")],
) -> CriteriaVersionOut | Response:
    version = await service.version_in_force(session, on)
    etag = etags.etag("criteria-version", version.id, version.row_version)
    if unchanged := not_modified_response(request, etag):
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
    session: SessionDep, _: CriteriaReader, version_id: VersionId, request: Request, response: Response
) -> CriteriaVersionOut | Response:
    version = await service.get_version(session, version_id)
    etag = etags.etag("criteria-version", version.id, version.row_version)
    if unchanged := not_modified_response(request, etag):
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
    session: SessionDep, who: MinistryAdmin, body: CriteriaVersionIn, response: Response
) -> CriteriaVersionOut:
    version = await service.create_criteria_version(session, body, who)
    response.headers["ETag"] = etags.etag("criteria-version", version.id, version.row_version)
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
    session: SessionDep,
    who: MinistryAdmin,
    version_id: VersionId,
    body: DecisionRuleIn,
    response: Response,
    if_match: IfMatch = None,
) -> CriteriaVersionOut:
    version = await service.set_decision_rule(session, version_id, body, if_match, who)
    response.headers["ETag"] = etags.etag("criteria-version", version.id, version.row_version)
    return await service.version_out(session, version)


@router.get(
    "/criteria-versions/{version_id}/decision-rules",
    tags=["criteria"],
    operation_id="list_decision_rules",
    summary="Every setting of the version's decision rule, with who set it, when, its basis and effective date",
    response_model=list[DecisionRuleOut],
    responses=ERRORS,
)
async def list_decision_rules(session: SessionDep, _: CriteriaReader, version_id: VersionId) -> list[DecisionRuleOut]:
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
    session: SessionDep,
    _: CriteriaReader,
    version_id: VersionId,
    on: Annotated[CalendarDate, Query(description="The date.")],
) -> DecisionRuleOut:
    return DecisionRuleOut.model_validate(await service.decision_rule_on(session, version_id, on))
