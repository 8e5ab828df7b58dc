"""Attachments: POST a file as the raw body (streamed), GET it back by id."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.api.access import MINISTRY, READERS
from services.api.attachments import service
from services.api.attachments.schemas import AttachmentOut
from services.common.auth import Principal, Role, allow
from services.common.bounds import TextCheck
from services.common.concurrency import not_modified
from services.common.db import SessionDep, StreamSessionDep
from services.common.settings import get_settings

ATTACHMENTS_PREFIX = "/api/v1/attachments"

router = APIRouter(prefix="/api/v1", tags=["attachments"])

Uploader = Annotated[Principal, allow(*MINISTRY, Role.executor, Role.akimat)]
Reader = Annotated[Principal, allow(*READERS, Role.executor, Role.akimat)]
AttachmentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The attachment's id.")]
Filename = Annotated[
    str,
    Query(
        min_length=1,
        max_length=255,
        pattern=r"^[^/\\\x00-\x1f\x7f]+$",
        description="The file's name (UTF-8, percent-encoded in the URL), without a folder.",
        examples=["Есеп 2026.pdf"],
    ),
    TextCheck,
]
PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}

UPLOAD_DOC = """Send the file itself as the body (streamed, never held whole in memory), its media type as
`Content-Type` and its name as `filename`. Accepted: the types of ATTACHMENT_MEDIA_TYPES (PDF, PNG, JPEG, DOCX, XLSX,
ODT, ODS by default), each checked against the file's own first bytes (415 when they disagree); at most
ATTACHMENT_MAX_BYTES (413). The answer carries the SHA-256 of what was stored: compare it with your own.
"""


def _upload_body() -> dict[str, Any]:
    types = get_settings().attachment_types
    return {
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in types},
        }
    }


@router.post(
    "/attachments",
    operation_id="upload_attachment",
    status_code=201,
    response_model=AttachmentOut,
    responses={
        400: PROBLEM,
        413: {**PROBLEM, "description": "Larger than ATTACHMENT_MAX_BYTES; nothing was stored"},
        415: {**PROBLEM, "description": "Not an accepted type, or the content is not what Content-Type says"},
    },
    summary="Upload an attachment (the raw file as the body)",
    description=UPLOAD_DOC,
    openapi_extra=_upload_body(),
)
async def upload_attachment(
    request: Request,
    who: Uploader,
    session: SessionDep,
    filename: Filename,
    content_type: Annotated[str | None, Header()] = None,
) -> Response:
    out = await service.upload(
        session,
        who,
        request.stream(),
        content_type=content_type,
        content_length=request.headers.get("content-length"),
        filename=filename,
    )
    return Response(
        out.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"{ATTACHMENTS_PREFIX}/{out.id}", "ETag": f'"{out.sha256}"'},
    )


@router.get(
    "/attachments/{attachment_id}/meta",
    operation_id="get_attachment_meta",
    response_model=AttachmentOut,
    responses={404: PROBLEM},
    summary="An attachment's description: checksum, size, type, name",
)
async def get_attachment_meta(who: Reader, session: SessionDep, attachment_id: AttachmentId) -> AttachmentOut:
    return AttachmentOut.model_validate(await service.readable(session, who, attachment_id))


@router.get(
    "/attachments/{attachment_id}",
    operation_id="get_attachment",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, as uploaded, with the media type it was uploaded as",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in get_settings().attachment_types},
        },
        304: {"description": "Not modified"},
        404: PROBLEM,
    },
    summary="Download an attachment (ETag: its SHA-256)",
)
async def get_attachment(
    request: Request, who: Reader, session: StreamSessionDep, attachment_id: AttachmentId
) -> Response:
    row = await service.readable(session, who, attachment_id)
    tag = service.attachment_etag(row)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return StreamingResponse(
        service.content(session, row),
        media_type=row.media_type,
        headers={
            "ETag": tag,
            "Content-Length": str(row.size),
            "Content-Disposition": service.content_disposition(row.filename),
            "X-Content-Type-Options": "nosniff",
        },
    )
