"""Attachments: a streamed upload checked as it passes (its size against ATTACHMENT_MAX_BYTES, its first bytes against
the declared media type), kept by the configured store, recorded with its checksum and audited; read back by the
uploading organisation, the ministry roles and the auditor (404 for anyone else, as for a file that does not exist)."""

from collections.abc import AsyncIterator
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect

from services.api.access import READERS
from services.api.attachments import sniff
from services.api.attachments.schemas import AttachmentOut
from services.api.attachments.store import store_for_writing, store_named
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.errors import DomainError, FieldError, NotFound, PayloadTooLarge
from services.common.models.attachments import Attachment
from services.common.settings import get_settings

RESOURCE = "attachment"


class UnsupportedMediaType(DomainError):
    status_code = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class UploadCutOff(DomainError):
    """The client went away before the whole body came: nothing was stored."""

    status_code = 400
    title = "Upload cut off"
    type_slug = "upload-cut-off"


def media_type_of(content_type: str | None) -> str:
    """The declared media type (parameters left out), if the allowlist has it; 415 before the body is read if not."""
    media = (content_type or "").split(";")[0].strip().lower()
    allowed = get_settings().attachment_types
    if media not in allowed or not sniff.known(media):
        raise UnsupportedMediaType(
            f"content type {media or '(none)'} is not accepted for an attachment: send one of {', '.join(allowed)}",
            [FieldError("content-type", "not an accepted attachment type")],
            accepted=list(allowed),
        )
    return media


def too_large(cap: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the attachment is larger than {cap} bytes (the limit set by ATTACHMENT_MAX_BYTES); nothing was stored",
        [FieldError("body", f"larger than {cap} bytes", limit_bytes=cap)],
        limit_bytes=cap,
    )


async def checked(body: AsyncIterator[bytes], media_type: str, cap: int) -> AsyncIterator[bytes]:
    """The body passed on as it comes, refused (413) the moment it passes `cap` and (415) once its first bytes show it
    is not `media_type`. The first HEAD_BYTES are held back until they can be looked at."""
    size = 0
    head = bytearray()
    sniffed = False
    try:
        async for chunk in body:
            size += len(chunk)
            if size > cap:
                raise too_large(cap)
            if sniffed:
                yield chunk
                continue
            head += chunk
            if len(head) >= sniff.HEAD_BYTES:
                _sniff(bytes(head), media_type)
                sniffed = True
                yield bytes(head)
                head.clear()
    except ClientDisconnect as exc:
        raise UploadCutOff(
            "the client went away before the whole body came; nothing was stored", [FieldError("body", "cut off")]
        ) from exc
    if not sniffed:
        _sniff(bytes(head), media_type)
        yield bytes(head)


def _sniff(head: bytes, media_type: str) -> None:
    if not sniff.agrees(media_type, head):
        raise UnsupportedMediaType(
            f"the file's content is not {media_type}: its first bytes say otherwise; nothing was stored",
            [FieldError("body", f"not {media_type} by its content")],
        )


async def upload(
    session: AsyncSession,
    who: Principal,
    body: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: str | None,
    filename: str,
) -> AttachmentOut:
    media_type = media_type_of(content_type)
    cap = get_settings().attachment_max_bytes
    if content_length is not None and content_length.isdigit() and int(content_length) > cap:
        raise too_large(cap)
    store = store_for_writing(session)
    stored = await store.put(checked(body, media_type, cap))
    row = Attachment(
        sha256=stored.sha256,
        size=stored.size,
        media_type=media_type,
        filename=filename,
        organisation_id=who.organisation_id,
        created_by=who.label,
        store=store.name,
        key=stored.key,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    out = AttachmentOut.model_validate(row)
    await record_change(session, who, "create", RESOURCE, row.id, None, out)
    return out


def _may_read(who: Principal, organisation_id: int | None) -> bool:
    """The ministry roles and the auditor read any attachment; anyone else their own organisation's."""
    return who.has(*READERS) or (organisation_id is not None and organisation_id == who.organisation_id)


async def readable(session: AsyncSession, who: Principal, attachment_id: int) -> Attachment:
    """The attachment, when `who` may read it. Otherwise 404, as for one that does not exist."""
    row = await session.get(Attachment, attachment_id)
    if row is None or not _may_read(who, row.organisation_id):
        raise NotFound(f"no attachment {attachment_id}", [FieldError("attachment_id", "unknown attachment")])
    return row


async def readable_ids(session: AsyncSession, who: Principal, ids: list[int]) -> set[int]:
    """Those of `ids` that `who` may read (as `readable`), in one query."""
    if not ids:
        return set()
    rows = await session.execute(select(Attachment.id, Attachment.organisation_id).where(Attachment.id.in_(ids)))
    return {row.id for row in rows if _may_read(who, row.organisation_id)}


def content(session: AsyncSession, row: Attachment) -> AsyncIterator[bytes]:
    return store_named(row.store, session).open(row.key)


def attachment_etag(row: Attachment) -> str:
    return f'"{row.sha256}"'


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266, RFC 5987's `filename*`)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
