"""HTTP endpoints of the scoring service: decisions, the HTMC list over time, moves to specialised care."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.common.bounds import CalendarDate
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination
from services.scoring.decisions import service
from services.scoring.decisions.schemas import CandidateOut, DecisionIn, DecisionOut, ListEntryOut, MoveIn
from services.scoring.http import (
    ERRORS,
    UPDATE_ERRORS,
    ApplicationId,
    Commission,
    IfMatch,
    OptionalId,
    Reader,
    TechnologyId,
)

router = APIRouter(prefix="/api/v1")


@router.post(
    "/applications/{application_id}/decision",
    tags=["decisions"],
    operation_id="decide_application",
    status_code=201,
    summary="Record the commission's decision (include or refuse) with its document",
    description="The score is classified by the threshold in force on `decided_on`, which the decision records. "
    "If-Match (the application's ETag) is required: 428 without it, 412 when it is stale.",
    response_model=DecisionOut,
    responses=UPDATE_ERRORS,
)
async def decide_application(
    session: SessionDep, who: Commission, application_id: ApplicationId, body: DecisionIn, if_match: IfMatch = None
) -> DecisionOut:
    return DecisionOut.model_validate(await service.decide(session, application_id, body, if_match, who))


@router.get(
    "/htmc-list",
    tags=["list"],
    operation_id="htmc_list_at",
    summary="The HTMC list in force on a date (public)",
    description="Public, without a token: the list of technologies provided as HTMC is a published order of the "
    "ministry. The decisions behind it, with their scores, are not.",
    response_model=list[ListEntryOut],
)
async def htmc_list_at(session: SessionDep, as_of: Annotated[CalendarDate, Query()]) -> list[ListEntryOut]:
    return await service.list_at(session, as_of)


@router.get(
    "/htmc-list/history",
    tags=["list"],
    operation_id="htmc_list_history",
    summary="Every listing and removal, with validity dates (public)",
    response_model=list[ListEntryOut],
)
async def htmc_list_history(session: SessionDep, technology_id: OptionalId = None) -> list[ListEntryOut]:
    return await service.list_history(session, technology_id)


@router.get(
    "/htmc-list/move-candidates",
    tags=["list"],
    operation_id="move_candidates",
    summary="Listed technologies whose score on a date falls below the threshold (ageing)",
    response_model=list[CandidateOut],
    responses=ERRORS,
)
async def move_candidates(
    session: SessionDep, _: Reader, as_of: Annotated[CalendarDate, Query()]
) -> list[CandidateOut]:
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
async def move_to_specialised(
    session: SessionDep, who: Commission, technology_id: TechnologyId, body: MoveIn
) -> DecisionOut:
    return DecisionOut.model_validate(await service.move_to_specialised(session, technology_id, body, who))


@router.get(
    "/decisions",
    tags=["decisions"],
    operation_id="list_decisions",
    summary="Decisions, oldest first",
    response_model=Paginated[DecisionOut],
)
async def list_decisions(
    session: SessionDep, _: Reader, page: Pagination, technology_id: OptionalId = None
) -> Paginated[DecisionOut]:
    rows, total = await service.list_decisions(session, technology_id, page.limit, page.offset)
    return Paginated(
        items=[DecisionOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )
