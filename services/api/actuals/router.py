"""HTTP routes of actuals: the streamed bulk upload of executed volumes, and planned against executed."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.api.access import (
    BATCH_READ,
    BULK_UPLOAD,
    REGIONAL_READ,
    AccountQ,
    account_of,
    audit_batch,
    batch_account,
    region_scope,
)
from services.api.actuals import service
from services.api.actuals.schemas import BatchResult, ExecutedVolumeOut, PlannedVsExecutedOut
from services.api.bulk.http import BatchId, BatchIdPath, ContentType, Mode, upload_body
from services.api.guarantee.http import ERRORS, WRITE_ERRORS
from services.common.auth import Principal
from services.common.db import SessionDep
from services.common.models.guarantee import BatchMode
from services.common.pagination import Paginated, Pagination
from services.common.quota import RATE_LIMITED, upload_stream

BULK_PREFIX = "/api/v1/bulk/"

router = APIRouter(prefix="/api/v1")

RegionQ = Annotated[str | None, Query(pattern=r"^\d{9}$", examples=["710000000"])]
ProfileQ = Annotated[str | None, Query(max_length=60, examples=["cardiology"])]

UPLOAD_DOC = """Stream a CSV (`text/csv`, header line required) or JSON Lines (`application/x-ndjson`) body of executed
volumes: `region` (КАТО), `profile`, `month` (YYYY-MM), `treated_cases`, `children_cases`, `rural_cases`,
`bed_days`, optional `children_bed_days`, `rural_bed_days` and `provider` (organisation code).

* `mode=all_or_nothing`: any refused row refuses the upload (422 listing each row's errors) and nothing is stored.
* `mode=per_row`: valid rows are kept; the answer lists kept lines and every refused line with its reasons.
* The same `batch_id` sent again changes nothing and answers `duplicate: true`; other content under a used id
  is a 409. A correction is a new batch: changed figures become a new version, the old one stays in the history.
* Line numbers in the answer are the file's (the header is line 1 when nothing precedes it); blank lines count.
"""


@router.post(
    f"{BULK_PREFIX.removeprefix('/api/v1')}executed-volumes",
    tags=["actuals"],
    operation_id="upload_executed_volumes",
    response_model=BatchResult,
    responses={**WRITE_ERRORS, **RATE_LIMITED},
    summary="Bulk upload of executed volumes (streamed CSV or JSON Lines)",
    description=UPLOAD_DOC,
    openapi_extra=upload_body(
        "region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
        "710000000,cardiology,2026-01,812,20,0,6450\n"
    ),
)
async def upload_executed_volumes(
    request: Request,
    session: SessionDep,
    batch_id: BatchId,
    who: Annotated[Principal, BULK_UPLOAD],
    mode: Mode = BatchMode.all_or_nothing,
    content_type: ContentType = None,
) -> BatchResult:
    result = await service.ingest_executed_volumes(
        session,
        account=account_of(who),
        batch_id=batch_id,
        mode=mode,
        content_type=content_type,
        stream=await upload_stream(request, session, who),
    )
    await audit_batch(session, who, result)
    return result


@router.get(
    "/actuals/batches/{batch_id}",
    tags=["actuals"],
    operation_id="get_ingest_batch",
    response_model=BatchResult,
    responses=ERRORS,
    summary="The outcome of an upload",
)
async def get_batch(
    session: SessionDep,
    batch_id: BatchIdPath,
    who: Annotated[Principal, BATCH_READ],
    account: Annotated[str | None, AccountQ] = None,
) -> BatchResult:
    return await service.batch(session, batch_account(who, account, batch_id), batch_id)


@router.get(
    "/executed-volumes",
    tags=["actuals"],
    operation_id="list_executed_volumes",
    response_model=Paginated[ExecutedVolumeOut],
    responses=ERRORS,
    summary="Executed volumes (current figures, or every version with history=true)",
)
async def list_executed(
    session: SessionDep,
    page: Pagination,
    who: Annotated[Principal, REGIONAL_READ],
    region: RegionQ = None,
    profile: ProfileQ = None,
    period_from: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$")] = None,
    period_to: Annotated[str | None, Query(alias="to", pattern=r"^\d{4}-\d{2}$")] = None,
    history: bool = False,
) -> Paginated[ExecutedVolumeOut]:
    region, visible = region_scope(who, region)
    if not visible:
        return Paginated(items=[], total=0, limit=page.limit, offset=page.offset)
    items, total = await service.executed(
        session,
        region=region,
        profile=profile,
        period_from=period_from,
        period_to=period_to,
        history=history,
        limit=page.limit,
        offset=page.offset,
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/planned-vs-executed",
    tags=["actuals"],
    operation_id="get_planned_vs_executed",
    response_model=Paginated[PlannedVsExecutedOut],
    responses=ERRORS,
    summary="Annex 1 ceiling against executed cases per region × profile for a period within a year",
)
async def planned_vs_executed(
    session: SessionDep,
    page: Pagination,
    period_from: Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}$", examples=["2026-01"])],
    period_to: Annotated[str, Query(alias="to", pattern=r"^\d{4}-\d{2}$", examples=["2026-06"])],
    who: Annotated[Principal, REGIONAL_READ],
    region: RegionQ = None,
    profile: ProfileQ = None,
    over_ceiling: Annotated[bool, Query(description="Only the rows over their ceiling.")] = False,
) -> Paginated[PlannedVsExecutedOut]:
    region, visible = region_scope(who, region)
    if not visible:
        return Paginated(items=[], total=0, limit=page.limit, offset=page.offset)
    items, total = await service.planned_vs_executed(
        session,
        period_from=period_from,
        period_to=period_to,
        region=region,
        profile=profile,
        over_only=over_ceiling,
        limit=page.limit,
        offset=page.offset,
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)
