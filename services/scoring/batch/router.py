"""HTTP endpoints of the scoring service: JSON Lines scoring, streamed or as a queued job."""

from fastapi import APIRouter, Request, Response
from starlette.responses import StreamingResponse

from services.common.db import SessionDep, StreamSessionDep
from services.common.quota import RATE_LIMITED, upload_stream
from services.scoring.batch import service
from services.scoring.batch.schemas import JobOut
from services.scoring.http import ERRORS, NDJSON, BatchReader, BatchSender, JobId

router = APIRouter(prefix="/api/v1")


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
    responses={
        200: {"content": {NDJSON: {}}, "description": "One result or error object per line, in input order"},
        **RATE_LIMITED,
    },
)
async def batch_score(session: SessionDep, who: BatchSender, request: Request) -> Response:
    results = await service.score_lines(session, await upload_stream(request, session, who))
    # The session stays open until the response is sent (the dependency's exit runs after it).
    return StreamingResponse(results, media_type=NDJSON)


@router.post(
    "/batch/jobs",
    tags=["batch"],
    operation_id="create_batch_job",
    status_code=202,
    summary="Queue a large JSON Lines scoring run on the worker; poll its progress",
    openapi_extra={"requestBody": {"required": True, "content": {NDJSON: {"schema": {"type": "string"}}}}},
    response_model=JobOut,
    responses={**ERRORS, **RATE_LIMITED},
)
async def create_batch_job(session: SessionDep, who: BatchSender, request: Request, response: Response) -> JobOut:
    # Sent to the worker once the row is committed.
    job = await service.create_job(
        session, await upload_stream(request, session, who), getattr(request.app.state, "redis", None), who
    )
    response.headers["Location"] = f"/api/v1/batch/jobs/{job.id}"
    return JobOut.model_validate(job)


@router.get(
    "/batch/jobs/{job_id}",
    tags=["batch"],
    operation_id="get_batch_job",
    summary="A batch job's status and progress",
    response_model=JobOut,
    responses=ERRORS,
)
async def get_batch_job(session: SessionDep, who: BatchReader, job_id: JobId) -> JobOut:
    return JobOut.model_validate(await service.get_job(session, job_id, who))


@router.get(
    "/batch/jobs/{job_id}/results",
    tags=["batch"],
    operation_id="get_batch_results",
    summary="A job's results as JSON Lines (streamed)",
    description="One result or error object per scored line, in input-line order, streamed as it is read from "
    "the database (a chunk of lines at a time). While the job runs, the lines scored so far.",
    responses={200: {"content": {NDJSON: {}}, "description": "One result or error object per line"}, **ERRORS},
)
async def get_batch_results(session: StreamSessionDep, who: BatchReader, job_id: JobId) -> Response:
    results = await service.job_results(session, job_id, who)
    # A read-only route: its session stays open until the response is sent.
    return StreamingResponse(results, media_type=NDJSON)
