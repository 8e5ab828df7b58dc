"""HTTP endpoints of the scoring service: JSON Lines scoring, streamed or as a queued job."""

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request, Response
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.common.db import SessionDep
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.scoring import BatchJob
from services.scoring import tasks
from services.scoring.batch import service
from services.scoring.batch.schemas import JobOut
from services.scoring.batch.service import score_raw_line
from services.scoring.http import ERRORS, NDJSON, JobId

router = APIRouter()


class _Stream(StreamingResponse):
    """Streams without listening for a disconnect, so the handler can keep reading the request body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)


def _lines(request: Request) -> AsyncIterator[bytes]:
    return tasks.lines_of(request.stream())


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
    tasks.enqueue(session, getattr(request.app.state, "redis", None), job.id)  # sent once the row is committed
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
async def get_batch_results(session: SessionDep, job_id: JobId) -> Response:
    job = await session.get(BatchJob, job_id)
    if job is None:
        raise NotFound(f"batch job {job_id} does not exist")

    async def body() -> AsyncIterator[bytes]:
        async for outputs in tasks.result_chunks(session, job_id):
            if outputs:
                yield b"".join(orjson.dumps(output) + b"\n" for output in outputs)

    # The session stays open until the response is sent (the dependency's exit runs after it).
    return StreamingResponse(body(), media_type=NDJSON)
