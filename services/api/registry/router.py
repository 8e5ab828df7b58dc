"""HTTP routes of the plan registry under /api/v1."""

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel

from services.api.access import ADMIN
from services.api.registry import repository, service
from services.api.registry.schemas import (
    CompletionFormOut,
    DataQualityOut,
    DirectionOut,
    DocumentCreate,
    DocumentDetail,
    DocumentOut,
    DocumentWrite,
    FinancingSummary,
    IndicatorDetail,
    IndicatorOut,
    MeasureDetail,
    MeasurePage,
    MeasureWrite,
    OrganisationOut,
)
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.bounds import CalendarDate, Int32Id
from services.common.concurrency import content_etag, not_modified
from services.common.db import ReadPoolDep, SessionDep, driver_connection
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.reference import OrganisationKind
from services.common.models.registry import DesiredDirection, FundingNote, FundingSource
from services.common.pagination import Paginated, Pagination

router = APIRouter(prefix="/api/v1")

AsOf = Annotated[
    CalendarDate | None,
    Query(description="Read the registry as it stood on this date (default: today).", examples=["2021-06-30"]),
]
IfMatch = Annotated[
    str | None,
    Header(description="The ETag of the latest version, from a read of any date or from the last write (required)."),
]
Admin = Annotated[Principal, ADMIN]
DocumentSlug = Annotated[str, Path(description="Document slug.", examples=["cancer-plan-2018-2022"])]
PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: PROBLEM,
    409: PROBLEM,
    412: PROBLEM,
    413: PROBLEM,
    422: PROBLEM,
    428: PROBLEM,
}


def _today() -> date:
    return date.today()


def _model(model: BaseModel, etag: str, status_code: int = 200, **headers: str) -> Response:
    return Response(
        model.model_dump_json(),
        media_type="application/json",
        status_code=status_code,
        headers={"ETag": etag, **headers},
    )


def _conditional(request: Request, model: BaseModel, etag: str) -> Response:
    """304 when the client already holds this ETag, else the resource with its ETag."""
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return _model(model, etag)


def _json(body: str, etag: str | None = None, status_code: int = 200) -> Response:
    headers = {"ETag": etag} if etag else None
    return Response(body.encode(), media_type="application/json", headers=headers, status_code=status_code)


class DocumentSort(StrEnum):
    slug = "slug"
    slug_desc = "-slug"
    adopted_on = "adopted_on"
    adopted_on_desc = "-adopted_on"


class MeasureSort(StrEnum):
    position = "position"
    position_desc = "-position"
    deadline = "deadline"
    deadline_desc = "-deadline"
    title_kk = "title"


class GroupBy(StrEnum):
    year = "year"
    source = "source"


# --- documents ----------------------------------------------------------------------------------------


@router.get(
    "/documents",
    tags=["documents"],
    operation_id="list_documents",
    response_model=Paginated[DocumentOut],
    summary="List plan documents",
)
async def list_documents(
    session: SessionDep,
    page: Pagination,
    as_of: AsOf = None,
    kind: Annotated[str | None, Query(max_length=60, examples=["government_decree"])] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the title (kk/ru).")] = None,
    sort: DocumentSort = DocumentSort.slug,
) -> Paginated[DocumentOut]:
    items, total = await service.list_documents(
        session, as_of or _today(), kind, q, sort.value, page.limit, page.offset
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/documents/{slug}",
    tags=["documents"],
    operation_id="get_document",
    response_model=DocumentDetail,
    responses={**ERRORS, 304: {"description": "Not modified"}},
    summary="A document with its editions",
)
async def get_document(request: Request, session: SessionDep, slug: DocumentSlug, as_of: AsOf = None) -> Response:
    detail, etag = await service.get_document(session, slug, as_of or _today())
    return _conditional(request, detail, etag)


@router.get(
    "/documents/{slug}/history",
    tags=["documents"],
    operation_id="get_document_history",
    response_model=list[DocumentOut],
    responses=ERRORS,
    summary="Every version of a document",
)
async def document_history(session: SessionDep, slug: DocumentSlug) -> list[DocumentOut]:
    return await service.document_history(session, slug)


@router.post(
    "/documents",
    tags=["documents"],
    operation_id="create_document",
    status_code=201,
    response_model=DocumentOut,
    responses=WRITE_ERRORS,
    summary="Register a new document",
)
async def create_document(session: SessionDep, body: DocumentCreate, who: Admin) -> Response:
    out, etag = await service.create_document(session, body, who)
    return _model(out, etag, 201, Location=f"/api/v1/documents/{out.slug}")


@router.put(
    "/documents/{slug}",
    tags=["documents"],
    operation_id="update_document",
    response_model=DocumentOut,
    responses=WRITE_ERRORS,
    summary="Change a document (a new version; the old one stays in the history)",
)
async def update_document(
    session: SessionDep, slug: DocumentSlug, body: DocumentWrite, who: Admin, if_match: IfMatch = None
) -> Response:
    out, etag = await service.update_document(session, slug, body, if_match, who, _today())
    return _model(out, etag)


@router.get(
    "/documents/{slug}/directions",
    tags=["directions"],
    operation_id="list_directions",
    response_model=list[DirectionOut],
    responses=ERRORS,
    summary="Directions and sections of a document",
)
async def list_directions(session: SessionDep, slug: DocumentSlug, as_of: AsOf = None) -> list[DirectionOut]:
    return await service.list_directions(session, slug, as_of or _today())


@router.get(
    "/documents/{slug}/financing",
    tags=["documents"],
    operation_id="get_financing_summary",
    response_model=FinancingSummary,
    responses=ERRORS,
    summary="Planned financing by year or by source, beside the document's own printed totals",
)
async def financing(
    session: SessionDep, slug: DocumentSlug, group_by: GroupBy = GroupBy.year, as_of: AsOf = None
) -> FinancingSummary:
    return await service.financing_summary(session, slug, group_by.value, as_of or _today())


# --- measures -----------------------------------------------------------------------------------------


@router.get(
    "/measures",
    tags=["measures"],
    operation_id="list_measures",
    response_model=MeasurePage,
    responses={422: PROBLEM},
    summary="List, filter, sort and page measures",
)
async def list_measures(
    db: ReadPoolDep,
    page: Pagination,
    as_of: AsOf = None,
    document: Annotated[str | None, Query(max_length=120, examples=["health-concept-2022-2029"])] = None,
    direction: Annotated[str | None, Query(max_length=20, examples=["I"])] = None,
    section: Annotated[str | None, Query(max_length=20)] = None,
    executor: Annotated[str | None, Query(max_length=120, description="Organisation code.", examples=["ДСМ"])] = None,
    lead_only: Annotated[bool, Query(description="With `executor`: only where it is the lead executor.")] = False,
    by_agreement: Annotated[bool | None, Query(description="Executors taking part by agreement.")] = None,
    source: FundingSource | None = None,
    funding_note: FundingNote | None = None,
    year: Annotated[int | None, Query(ge=1991, le=2100, description="Has planned financing in this year.")] = None,
    due_from: Annotated[CalendarDate | None, Query(description="Has a due date on or after this date.")] = None,
    due_to: Annotated[CalendarDate | None, Query(description="Has a due date on or before this date.")] = None,
    indicator: Annotated[Int32Id | None, Query(description="Filed under this target indicator number.")] = None,
    completion_form: Annotated[str | None, Query(max_length=80)] = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=200, description="Text in title or sub-items (kk/ru).")
    ] = None,
    sort: MeasureSort = MeasureSort.position,
) -> Response:
    if due_from and due_to and due_to < due_from:
        raise ValidationFailed("due_to is before due_from", [FieldError("due_to", "must not be before due_from")])
    flt = repository.MeasureFilter(
        as_of=as_of or _today(),
        document=document,
        direction=direction,
        section=section,
        executor=executor,
        lead_only=lead_only,
        by_agreement=by_agreement,
        source=source.value if source else None,
        funding_note=funding_note.value if funding_note else None,
        year=year,
        due_from=due_from,
        due_to=due_to,
        indicator=indicator,
        completion_form=completion_form,
        q=q,
        sort=sort.value,
    )
    return _json(await repository.list_measures_json(db, flt, page.limit, page.offset))


@router.get(
    "/measures/{measure_id}",
    tags=["measures"],
    operation_id="get_measure",
    response_model=MeasureDetail,
    responses={**ERRORS, 304: {"description": "Not modified"}},
    summary="A measure in full",
)
async def get_measure(
    request: Request, db: ReadPoolDep, measure_id: Annotated[Int32Id, Path()], as_of: AsOf = None
) -> Response:
    when = as_of or _today()
    read = await repository.get_measure_json(db, measure_id, when)
    if read is None:
        raise NotFound(
            f"no measure {measure_id} in force on {when}", [FieldError("measure_id", "unknown or not in force")]
        )
    etag = service.measure_etag(measure_id, read.latest, read.shown)
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return _json(read.body, etag)


@router.get(
    "/measures/{measure_id}/history",
    tags=["measures"],
    operation_id="get_measure_history",
    response_model=list[MeasureDetail],
    responses=ERRORS,
    summary="Every version of a measure",
)
async def measure_history(db: ReadPoolDep, measure_id: Annotated[Int32Id, Path()]) -> Response:
    body = await repository.measure_history_json(db, measure_id)
    if body is None:
        raise NotFound(f"no measure {measure_id}", [FieldError("measure_id", "unknown")])
    return _json(body)


@router.post(
    "/documents/{slug}/measures",
    tags=["measures"],
    operation_id="create_measure",
    status_code=201,
    response_model=MeasureDetail,
    responses=WRITE_ERRORS,
    summary="Add a measure to a document",
)
async def create_measure(session: SessionDep, slug: DocumentSlug, body: MeasureWrite, who: Admin) -> Response:
    measure_id, etag = await service.create_measure(session, slug, body, who.label, _today())
    await session.flush()
    conn = await driver_connection(session)
    await record_change(session, who, "create", "measure", measure_id, None, await _latest_measure(conn, measure_id))
    out = await repository.get_measure_json(conn, measure_id, body.effective_from or _today())
    return Response(
        (out.body if out else "{}").encode(),
        status_code=201,
        media_type="application/json",
        headers={"ETag": etag, "Location": f"/api/v1/measures/{measure_id}"},
    )


@router.put(
    "/measures/{measure_id}",
    tags=["measures"],
    operation_id="update_measure",
    response_model=MeasureDetail,
    responses=WRITE_ERRORS,
    summary="Change a measure (a new version from `effective_from`; the old one stays in the history)",
)
async def update_measure(
    session: SessionDep,
    measure_id: Annotated[Int32Id, Path()],
    body: MeasureWrite,
    who: Admin,
    if_match: IfMatch = None,
) -> Response:
    conn = await driver_connection(session)
    before = await _latest_measure(conn, measure_id)
    _, etag = await service.update_measure(session, measure_id, body, if_match, who.label, _today())
    await session.flush()
    await record_change(session, who, "update", "measure", measure_id, before, await _latest_measure(conn, measure_id))
    out = await repository.get_measure_json(conn, measure_id, body.effective_from or _today())
    return Response((out.body if out else "{}").encode(), media_type="application/json", headers={"ETag": etag})


async def _latest_measure(conn: Any, measure_id: int) -> Any:
    """The latest version of a measure as the API shows it (None when there is none): what an audit entry holds."""
    history = await repository.measure_history_json(conn, measure_id)
    return orjson.loads(history)[-1] if history else None


# --- indicators ---------------------------------------------------------------------------------------


@router.get(
    "/indicators",
    tags=["indicators"],
    operation_id="list_indicators",
    response_model=Paginated[IndicatorOut],
    summary="Target indicators with their yearly targets",
)
async def list_indicators(
    session: SessionDep,
    page: Pagination,
    as_of: AsOf = None,
    document: Annotated[str | None, Query(max_length=120)] = None,
    direction: Annotated[str | None, Query(max_length=20)] = None,
    desired_direction: DesiredDirection | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
) -> Paginated[IndicatorOut]:
    items, total = await service.list_indicators(
        session,
        as_of or _today(),
        document,
        direction,
        desired_direction.value if desired_direction else None,
        q,
        page.limit,
        page.offset,
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/indicators/{indicator_id}",
    tags=["indicators"],
    operation_id="get_indicator",
    response_model=IndicatorDetail,
    responses={**ERRORS, 304: {"description": "Not modified"}},
    summary="An indicator in full: targets as printed in section 6 and in the action plan, its measures",
)
async def get_indicator(
    request: Request, session: SessionDep, indicator_id: Annotated[Int32Id, Path()], as_of: AsOf = None
) -> Response:
    detail = await service.get_indicator(session, indicator_id, as_of or _today())
    return _conditional(request, detail, content_etag(f"indicator-{detail.id}", detail))


# --- vocabularies, organisations, data quality --------------------------------------------------------


@router.get(
    "/completion-forms",
    tags=["measures"],
    operation_id="list_completion_forms",
    response_model=list[CompletionFormOut],
    summary="The completion forms (what proves a measure done), as the documents word them",
)
async def list_completion_forms(session: SessionDep) -> list[CompletionFormOut]:
    return await service.list_completion_forms(session)


@router.get(
    "/organisations",
    tags=["organisations"],
    operation_id="list_organisations",
    response_model=Paginated[OrganisationOut],
    summary="Executors and other organisations",
)
async def list_organisations(
    session: SessionDep,
    page: Pagination,
    kind: OrganisationKind | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Paginated[OrganisationOut]:
    items, total = await service.list_organisations(session, kind.value if kind else None, q, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/organisations/{code}",
    tags=["organisations"],
    operation_id="get_organisation",
    response_model=OrganisationOut,
    responses=ERRORS,
    summary="One organisation",
)
async def get_organisation(session: SessionDep, code: Annotated[str, Path(max_length=120)]) -> OrganisationOut:
    return await service.get_organisation(session, code)


@router.get(
    "/data-quality",
    tags=["data-quality"],
    operation_id="list_data_quality_issues",
    response_model=Paginated[DataQualityOut],
    summary="Inconsistencies found in the documents (kept as published, never corrected)",
)
async def data_quality(
    session: SessionDep,
    page: Pagination,
    document: Annotated[str | None, Query(max_length=120)] = None,
    rule: Annotated[str | None, Query(max_length=80)] = None,
) -> Paginated[DataQualityOut]:
    items, total = await service.data_quality(session, document, rule, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)
