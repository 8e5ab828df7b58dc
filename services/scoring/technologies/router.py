"""HTTP endpoints of the scoring service: medical technologies and their first use in the world."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.bounds import CalendarDate
from services.common.db import SessionDep
from services.common.pagination import Paginated, Pagination
from services.scoring import etags
from services.scoring.http import (
    ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    IfMatch,
    Reader,
    TechnologyId,
    TechnologyWriter,
    not_modified_response,
)
from services.scoring.technologies import service
from services.scoring.technologies.schemas import FirstUseIn, FirstUseOut, TechnologyIn, TechnologyOut, TechnologyPatch

router = APIRouter(prefix="/api/v1")


@router.post(
    "/technologies",
    tags=["technologies"],
    operation_id="create_technology",
    status_code=201,
    summary="Register a medical technology",
    response_model=TechnologyOut,
    responses=ERRORS,
)
async def create_technology(
    session: SessionDep, who: TechnologyWriter, body: TechnologyIn, response: Response
) -> TechnologyOut:
    tech = await service.create_technology(session, body, who)
    response.headers["ETag"] = etags.etag("technology", tech.id, tech.row_version)
    return await service.technology_out(session, tech)


@router.get(
    "/technologies",
    tags=["technologies"],
    operation_id="list_technologies",
    summary="Technologies by code",
    response_model=Paginated[TechnologyOut],
)
async def list_technologies(session: SessionDep, _: Reader, page: Pagination) -> Paginated[TechnologyOut]:
    rows, total = await service.list_technologies(session, page.limit, page.offset)
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
    session: SessionDep, _: Reader, technology_id: TechnologyId, request: Request, response: Response
) -> TechnologyOut | Response:
    tech = await service.get_technology(session, technology_id)
    etag = etags.etag("technology", tech.id, tech.row_version)
    if unchanged := not_modified_response(request, etag):
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
    who: TechnologyWriter,
    technology_id: TechnologyId,
    body: TechnologyPatch,
    response: Response,
    if_match: IfMatch = None,
) -> TechnologyOut:
    tech = await service.patch_technology(session, technology_id, body, if_match, who)
    response.headers["ETag"] = etags.etag("technology", tech.id, tech.row_version)
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
    session: SessionDep,
    who: TechnologyWriter,
    technology_id: TechnologyId,
    body: FirstUseIn,
    response: Response,
    if_match: IfMatch = None,
) -> TechnologyOut:
    tech = await service.set_first_use(session, technology_id, body, if_match, who)
    response.headers["ETag"] = etags.etag("technology", tech.id, tech.row_version)
    return await service.technology_out(session, tech)


@router.get(
    "/technologies/{technology_id}/first-uses",
    tags=["technologies"],
    operation_id="list_first_uses",
    summary="Every value of the technology's first use: as registered, then each correction with its basis",
    response_model=list[FirstUseOut],
    responses=ERRORS,
)
async def list_first_uses(session: SessionDep, _: Reader, technology_id: TechnologyId) -> list[FirstUseOut]:
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
    session: SessionDep,
    _: Reader,
    technology_id: TechnologyId,
    on: Annotated[CalendarDate, Query(description="The date.")],
) -> FirstUseOut:
    return FirstUseOut.model_validate(await service.first_use_row_on(session, technology_id, on))
