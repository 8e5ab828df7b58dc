"""Report requests: recorded with the request, run by the report worker, read back by id."""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.api.access import REPORT_READ, REPORT_REQUEST
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.bounds import CalendarDate, TextCheck
from services.common.db import SessionDep
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.jobs import REPORT, send_after_commit
from services.common.models.registry import Document
from services.common.models.reports import JobStatus, ReportJob

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}


class AnnualPlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: Annotated[str, TextCheck] = Field(max_length=120, examples=["health-concept-2022-2029"])
    year: int = Field(ge=1991, le=2100, examples=[2027])
    as_of: CalendarDate | None = Field(default=None, description="The plan as it stood on this date (default: today).")


class ReportJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: str
    params: dict[str, Any]
    status: JobStatus
    requested_by: str
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(description="The report, once status is done.")


@router.post(
    "/annual-plan",
    operation_id="request_annual_plan_report",
    status_code=202,
    response_model=ReportJobOut,
    responses={404: PROBLEM, 422: PROBLEM},
    summary="Request the annual plan report of a document (measures due, executors, financing, targets)",
)
async def request_annual_plan(
    request: Request,
    session: SessionDep,
    body: AnnualPlanRequest,
    who: Annotated[Principal, REPORT_REQUEST],
) -> Response:
    doc = await session.scalar(select(Document.id).where(Document.slug == body.document))
    if doc is None:
        raise NotFound(f"no document '{body.document}'", [FieldError("document", "unknown slug")])
    as_of = body.as_of or date.today()
    if as_of > date.today():
        raise ValidationFailed("as_of is in the future", [FieldError("as_of", "must not be after today")])
    job = ReportJob(
        kind="annual_plan",
        params={"document": body.document, "year": body.year, "as_of": as_of.isoformat()},
        requested_by=who.label,
    )
    session.add(job)
    await session.flush()
    await record_change(session, who, "request", "report", str(job.id), None, {"kind": job.kind, "params": job.params})
    send_after_commit(session, getattr(request.app.state, "redis", None), REPORT, job.id, job.attempts)
    out = ReportJobOut.model_validate(job)
    return Response(
        out.model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers={"Location": f"/api/v1/reports/{job.id}"},
    )


@router.get(
    "/{job_id}",
    operation_id="get_report",
    response_model=ReportJobOut,
    responses={404: PROBLEM},
    summary="A report request: its status and, once done, the report",
)
async def get_report(
    session: SessionDep, job_id: Annotated[UUID, Path()], who: Annotated[Principal, REPORT_READ]
) -> ReportJobOut:
    job = await session.get(ReportJob, job_id)
    if job is None:
        raise NotFound(f"no report {job_id}", [FieldError("job_id", "unknown")])
    return ReportJobOut.model_validate(job)
