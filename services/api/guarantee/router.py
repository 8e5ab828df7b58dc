"""HTTP routes of the Guarantee Programme under /api/v1."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from services.api.access import (
    ADMIN,
    BATCH_READ,
    BULK_UPLOAD,
    REGIONAL_READ,
    AccountQ,
    account_of,
    audit_batch,
    batch_account,
    region_scope,
)
from services.api.bulk.http import BatchId, BatchIdPath, ContentType, Mode, upload_body
from services.api.guarantee import service, statistic_ingest
from services.api.guarantee.http import ERRORS, PROBLEM, SINGLE, WRITE_ERRORS, single
from services.api.guarantee.schemas import (
    AccessNormOut,
    CeilingColumn,
    CeilingVolumeOut,
    DataQualityOut,
    NormEvaluationOut,
    NormVersionIn,
    PaymentMethodOut,
    ProfileOut,
    RegionOut,
    StatisticBatchResult,
    StatisticCode,
    StatisticOut,
    StatisticsUpload,
    StatisticsUploadResult,
)
from services.common.auth import Principal
from services.common.bounds import CalendarDate
from services.common.concurrency import content_etag
from services.common.db import SessionDep
from services.common.models.guarantee import BatchMode
from services.common.pagination import Paginated, Pagination
from services.common.quota import RATE_LIMITED, upload_stream

router = APIRouter(prefix="/api/v1")

Kato = Annotated[str, Path(pattern=r"^\d{9}$", description="КАТО code of the region.", examples=["710000000"])]
RegionQ = Annotated[
    str | None, Query(pattern=r"^\d{9}$", description="КАТО code of the region.", examples=["710000000"])
]
ProfileQ = Annotated[
    str | None,
    Query(
        max_length=60,
        description="Clinical profile code, or all_profiles for the region total row.",
        examples=["cardiology"],
    ),
]
AsOf = Annotated[CalendarDate | None, Query(description="Read as in force on this date (default: today).")]
Year = Annotated[int, Query(ge=1991, le=2100, description="Calendar year.", examples=[2026])]


def _today() -> date:
    return date.today()


# --- vocabularies -------------------------------------------------------------------------------------


@router.get(
    "/regions",
    tags=["regions"],
    operation_id="list_regions",
    response_model=list[RegionOut],
    summary="The 17 oblasts and the cities of Astana, Almaty and Shymkent",
)
async def list_regions(session: SessionDep) -> list[RegionOut]:
    return await service.regions(session)


@router.get(
    "/regions/{kato_code}",
    tags=["regions"],
    operation_id="get_region",
    response_model=RegionOut,
    responses=SINGLE,
    summary="One region (ETag)",
)
async def get_region(request: Request, session: SessionDep, kato_code: Kato) -> Response:
    out = await service.region(session, kato_code)
    return single(request, out, content_etag(f"region-{kato_code}", out))


@router.get(
    "/clinical-profiles",
    tags=["clinical-profiles"],
    operation_id="list_clinical_profiles",
    response_model=list[ProfileOut],
    summary="The 35 bed profiles of Annex 1",
)
async def list_profiles(session: SessionDep) -> list[ProfileOut]:
    return await service.profiles(session)


@router.get(
    "/clinical-profiles/{code}",
    tags=["clinical-profiles"],
    operation_id="get_clinical_profile",
    response_model=ProfileOut,
    responses=SINGLE,
    summary="One clinical profile (ETag)",
)
async def get_profile(
    request: Request, session: SessionDep, code: Annotated[str, Path(max_length=60, examples=["cardiology"])]
) -> Response:
    out = await service.profile(session, code)
    return single(request, out, content_etag(f"profile-{code}", out))


# --- Annex 1 ------------------------------------------------------------------------------------------


@router.get(
    "/ceiling-volumes",
    tags=["ceiling-volumes"],
    operation_id="list_ceiling_volumes",
    response_model=Paginated[CeilingVolumeOut],
    responses=ERRORS,
    summary="Annex 1: ceiling volumes of 24-hour inpatient care (planned cases) per region × profile",
)
async def list_ceiling_volumes(
    session: SessionDep,
    page: Pagination,
    region: RegionQ = None,
    profile: ProfileQ = None,
    column: Annotated[list[CeilingColumn] | None, Query(description="Columns to return (default: all).")] = None,
    include_totals: Annotated[bool, Query(description="Include each region's 'all profiles' row.")] = True,
    as_of: AsOf = None,
) -> Paginated[CeilingVolumeOut]:
    items, total = await service.ceiling_volumes(
        session,
        region=region,
        profile=profile,
        columns=column,
        include_totals=include_totals,
        as_of=as_of or _today(),
        limit=page.limit,
        offset=page.offset,
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/ceiling-volumes/{kato_code}/{profile}",
    tags=["ceiling-volumes"],
    operation_id="get_ceiling_volume",
    response_model=CeilingVolumeOut,
    responses=SINGLE,
    summary="One Annex 1 row (ETag)",
)
async def get_ceiling_volume(
    request: Request,
    session: SessionDep,
    kato_code: Kato,
    profile: Annotated[str, Path(max_length=60, examples=["cardiology"])],
    as_of: AsOf = None,
) -> Response:
    items, _ = await service.ceiling_volumes(
        session,
        region=kato_code,
        profile=profile,
        columns=None,
        include_totals=True,
        as_of=as_of or _today(),
        limit=1,
        offset=0,
    )
    return single(request, items[0], content_etag(f"ceiling-volume-{kato_code}-{profile}", items[0]))


@router.get(
    "/guarantee-programme/data-quality",
    tags=["ceiling-volumes"],
    operation_id="list_guarantee_data_quality",
    response_model=Paginated[DataQualityOut],
    summary="Rows of seed 002 whose parts contradict their totals, with the figures (never corrected)",
)
async def data_quality(
    session: SessionDep,
    page: Pagination,
    rule: Annotated[str | None, Query(max_length=80, examples=["part_exceeds_whole"])] = None,
    region: RegionQ = None,
) -> Paginated[DataQualityOut]:
    items, total = await service.data_quality(session, rule, region, page.limit, page.offset)
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/payment-methods",
    tags=["payment-methods"],
    operation_id="list_payment_methods",
    response_model=list[PaymentMethodOut],
    summary="Annex 2: payment methods per type of care",
)
async def list_payment_methods(session: SessionDep) -> list[PaymentMethodOut]:
    return await service.payment_methods(session)


# --- access norms -------------------------------------------------------------------------------------


@router.get(
    "/access-norms",
    tags=["access-norms"],
    operation_id="list_access_norms",
    response_model=list[AccessNormOut],
    summary="Access criteria (chapter 6, item 79) in force on a date",
)
async def list_norms(session: SessionDep, as_of: AsOf = None) -> list[AccessNormOut]:
    return await service.norms(session, as_of or _today())


@router.get(
    "/access-norms/evaluation",
    tags=["access-norms"],
    operation_id="evaluate_access_norms",
    response_model=list[NormEvaluationOut],
    responses=ERRORS,
    summary="Each region's value against each norm for a year: met or not, and the gap",
    description="Each norm is evaluated with its version in force on 31 December of the year (or on "
    "`as_of` when given); `norm_version` says which. Beside it, `akimat_information` is the figure of the region's "
    "latest accepted information against its agreement (item 80) for that norm, with its provenance; it is the "
    "value (`value_source`) where the reference statistics are missing or synthetic.",
)
async def evaluate_norms(
    session: SessionDep,
    year: Year,
    region: RegionQ = None,
    norm: Annotated[str | None, Query(max_length=80)] = None,
    as_of: AsOf = None,
) -> list[NormEvaluationOut]:
    return await service.evaluate(session, year, region, norm, as_of)


@router.get(
    "/access-norms/{code}",
    tags=["access-norms"],
    operation_id="get_access_norm",
    response_model=AccessNormOut,
    responses=SINGLE,
    summary="One access norm as in force (ETag)",
)
async def get_norm(
    request: Request, session: SessionDep, code: Annotated[str, Path(max_length=80)], as_of: AsOf = None
) -> Response:
    out, etag = await service.norm(session, code, as_of or _today())
    return single(request, out, etag)


@router.get(
    "/access-norms/{code}/history",
    tags=["access-norms"],
    operation_id="get_access_norm_history",
    response_model=list[AccessNormOut],
    responses=ERRORS,
    summary="Every version of an access norm",
)
async def norm_history(session: SessionDep, code: Annotated[str, Path(max_length=80)]) -> list[AccessNormOut]:
    return await service.norm_history(session, code)


VERSION_DOC = """Record a new version of an access norm (an amended act): threshold or range, comparator, population
base, unit, the act and its date, and the date it takes effect. The latest version is closed on that date (its
`valid_to`), never overwritten; both stay in `/access-norms/{code}/history`, and the evaluation of a year uses the
version in force then.

Send `If-Match` with an ETag of the norm: every `GET /access-norms/{code}` names the latest version in it, whatever
day it shows (`"access-norm-{code}.v{latest}.v{shown}"`), and so does this write's answer. Without `If-Match` the
answer is 428; when a later version was recorded meanwhile, 412."""


@router.post(
    "/access-norms/{code}/versions",
    tags=["access-norms"],
    operation_id="create_access_norm_version",
    status_code=201,
    response_model=AccessNormOut,
    responses={**WRITE_ERRORS, 412: PROBLEM, 428: PROBLEM},
    summary="Record a new version of an access norm (closes the latest one; If-Match required)",
    description=VERSION_DOC,
)
async def create_norm_version(
    session: SessionDep,
    code: Annotated[str, Path(max_length=80)],
    body: NormVersionIn,
    who: Annotated[Principal, ADMIN],
    if_match: Annotated[str | None, Header(alias="If-Match", description="ETag of the latest version.")] = None,
) -> Response:
    out, etag = await service.record_norm_version(session, code, body, if_match, who)
    return Response(
        out.model_dump_json().encode(),
        status_code=201,
        media_type="application/json",
        headers={"ETag": etag, "Location": f"/api/v1/access-norms/{code}?as_of={out.valid_from}"},
    )


# --- reference statistics -----------------------------------------------------------------------------


@router.post(
    "/reference-statistics",
    tags=["reference-statistics"],
    operation_id="upload_reference_statistics",
    response_model=StatisticsUploadResult,
    responses=WRITE_ERRORS,
    summary="Take in statistics per region and year; a changed value becomes a new version",
)
async def upload_statistics(
    session: SessionDep, body: StatisticsUpload, who: Annotated[Principal, ADMIN]
) -> StatisticsUploadResult:
    return await service.upload_statistics(session, body, who)


@router.get(
    "/reference-statistics",
    tags=["reference-statistics"],
    operation_id="list_reference_statistics",
    response_model=Paginated[StatisticOut],
    summary="Current statistics (rows from the demo set say synthetic: true)",
)
async def list_statistics(
    session: SessionDep,
    page: Pagination,
    who: Annotated[Principal, REGIONAL_READ],
    region: RegionQ = None,
    year: Annotated[int | None, Query(ge=1991, le=2100)] = None,
    code: StatisticCode | None = None,
) -> Paginated[StatisticOut]:
    region, visible = region_scope(who, region)
    if not visible:
        return Paginated(items=[], total=0, limit=page.limit, offset=page.offset)
    items, total = await service.statistics(
        session, region, year, code.value if code else None, page.limit, page.offset
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


# --- bulk reference statistics ------------------------------------------------------------------------

BULK_STATISTICS_DOC = """Stream a CSV (`text/csv`, header line `region,year,code,value` required) or JSON Lines
(`application/x-ndjson`) body of reference statistics, one row per region, year and statistic:

* `region`, the region's КАТО code; `year`, 1991–2100; `code`, a statistic code (as in `/reference-statistics`),
* `value`, a decimal not below zero with up to four decimals: a string such as `"1354556"` or `"8.25"` (a JSON
  number is taken by its printed digits, never through a float).

`source` (required) and `synthetic` are stored on every row the upload adds.

* `mode=all_or_nothing`: any refused row refuses the upload (422 listing each row's errors) and nothing is stored.
* `mode=per_row`: valid rows are kept; the answer lists kept lines and every refused line with field and reason.
* The same `batch_id` sent again changes nothing and answers `duplicate: true`; other content under a used id
  is a 409. A correction is a new batch: a value that differs from the current one becomes a new version, the old
  one stays in the database (not current, naming the batch that superseded it); an equal value is unchanged.
"""

Source = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        description="Where the values come from.",
        examples=["Бюро национальной статистики, 2026"],
    ),
]
Synthetic = Annotated[bool, Query(description="true for made-up values (demonstration, tests).")]


@router.post(
    "/bulk/reference-statistics",
    tags=["reference-statistics"],
    operation_id="upload_reference_statistics_bulk",
    response_model=StatisticBatchResult,
    responses={**WRITE_ERRORS, **RATE_LIMITED},
    summary="Bulk upload of reference statistics (streamed CSV or JSON Lines)",
    description=BULK_STATISTICS_DOC,
    openapi_extra=upload_body(
        "region,year,code,value\n710000000,2026,population,1354556\n710000000,2026,palliative_beds,110\n"
    ),
)
async def upload_statistics_bulk(
    request: Request,
    session: SessionDep,
    batch_id: BatchId,
    source: Source,
    who: Annotated[Principal, BULK_UPLOAD],
    mode: Mode = BatchMode.all_or_nothing,
    synthetic: Synthetic = False,
    content_type: ContentType = None,
) -> StatisticBatchResult:
    result = await statistic_ingest.ingest_statistics(
        session,
        account=account_of(who),
        batch_id=batch_id,
        mode=mode,
        source=source,
        synthetic=synthetic,
        content_type=content_type,
        stream=await upload_stream(request, session, who),
    )
    await audit_batch(session, who, result)
    return result


@router.get(
    "/reference-statistics/batches/{batch_id}",
    tags=["reference-statistics"],
    operation_id="get_reference_statistics_batch",
    response_model=StatisticBatchResult,
    responses=ERRORS,
    summary="The outcome of a bulk upload of reference statistics",
)
async def get_statistics_batch(
    session: SessionDep,
    batch_id: BatchIdPath,
    who: Annotated[Principal, BATCH_READ],
    account: Annotated[str | None, AccountQ] = None,
) -> StatisticBatchResult:
    return await statistic_ingest.batch(session, batch_account(who, account, batch_id), batch_id)
