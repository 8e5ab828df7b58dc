"""The byte cap and the rate limit of an uploading account, on every bulk upload route of both services.

    stream = await upload_stream(request, session, who)   # 413 / 429 problem+json, or the body to read

Each account's limits are fields of its membership (versioned like the rest of it, set by the ministry
administrator): `upload_max_bytes` (null: BULK_MAX_UPLOAD_BYTES) and `uploads_per_hour` (null:
BULK_UPLOADS_PER_HOUR). They are read at every upload, so a change holds from the next one.

* Bytes: a declared Content-Length over the cap is refused before the body is read; a chunked body is counted as it
  is read and refused (PayloadTooLarge, which rolls the request's transaction back) the moment it passes the cap.
* Rate: a sliding window of one hour in Redis (a sorted set per account, the uploads' start times, trimmed and
  counted in one Lua script on Redis's clock), so it holds across processes and restarts. An upload over the rate is
  refused with 429 and Retry-After (when the oldest upload in the window leaves it) before its body is read. Every
  admitted upload counts, whatever its outcome. When Redis does not answer the upload is admitted (logged): the
  limit is for fairness between accounts; identity, roles, the byte cap and the audit do not depend on it.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import DomainError, FieldError, PayloadTooLarge
from services.common.models.identity import MembershipVersion
from services.common.settings import get_settings

log = logging.getLogger(__name__)

WINDOW_MS = 3_600_000
RATE_CHECK_TIMEOUT_S = 2.0

# KEYS[1] the account's window; ARGV: window (ms), limit, a unique member. Returns {1, 0} admitted, or {0, ms} refused
# with the milliseconds until the oldest upload leaves the window.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
"""

# Responses every bulk upload route documents (beside the generic ones of services/common/contract.py).
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "The account has sent as many uploads as its rate allows in the last hour; nothing was stored",
        "headers": {
            "Retry-After": {"description": "Seconds until the account may upload again", "schema": {"type": "integer"}}
        },
    }
}


class TooManyUploads(DomainError):
    status_code = 429
    title = "Too many requests"
    type_slug = "too-many-requests"

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, [FieldError("Authorization", "upload rate exceeded")], **extra)
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    bytes_from: str  # where the cap comes from, as the 413 names it
    per_hour: int
    rate_from: str


async def upload_limits(session: AsyncSession, who: Principal) -> UploadLimits:
    """The account's limits: its membership's current version, else the settings' defaults."""
    settings = get_settings()
    row = (
        await session.execute(
            select(MembershipVersion.upload_max_bytes, MembershipVersion.uploads_per_hour).where(
                MembershipVersion.membership_id == who.membership_id, MembershipVersion.valid_to.is_(None)
            )
        )
    ).first()
    max_bytes, per_hour = row if row is not None else (None, None)
    return UploadLimits(
        max_bytes=settings.bulk_max_upload_bytes if max_bytes is None else max_bytes,
        bytes_from="BULK_MAX_UPLOAD_BYTES" if max_bytes is None else "the account's upload_max_bytes",
        per_hour=settings.bulk_uploads_per_hour if per_hour is None else per_hour,
        rate_from="BULK_UPLOADS_PER_HOUR" if per_hour is None else "the account's uploads_per_hour",
    )


def _too_large(limits: UploadLimits) -> PayloadTooLarge:
    cap = limits.max_bytes
    return PayloadTooLarge(
        f"the upload is larger than {cap} bytes (the limit set by {limits.bytes_from}); nothing was stored",
        [FieldError("body", f"larger than {cap} bytes", limit_bytes=cap)],
        limit_bytes=cap,
    )


def rate_key(who: Principal) -> str:
    return f"{get_settings().upload_rate_key_prefix}:{who.issuer}:{who.subject}"


async def _admit(request: Request, who: Principal, limits: UploadLimits) -> None:
    redis = getattr(request.app.state, "redis", None)
    try:
        if redis is None:
            raise RedisError("no Redis connection")
        async with asyncio.timeout(RATE_CHECK_TIMEOUT_S):  # a Redis that hangs is one that does not answer
            admitted, wait_ms = await redis.eval(
                _SLIDING_WINDOW, 1, rate_key(who), WINDOW_MS, limits.per_hour, uuid.uuid4().hex
            )
    except (RedisError, OSError) as exc:  # OSError: TimeoutError too
        log.warning("upload rate of %s not checked (Redis: %s); admitted", who.label, exc)
        return
    if not admitted:
        retry_after = max(1, -(-int(wait_ms) // 1000))
        raise TooManyUploads(
            f"{who.label} has sent {limits.per_hour} uploads in the last hour (the limit set by {limits.rate_from}); "
            f"nothing was stored: try again in {retry_after} s",
            retry_after,
            limit_per_hour=limits.per_hour,
            retry_after_s=retry_after,
        )


async def upload_stream(request: Request, session: AsyncSession, who: Principal) -> AsyncIterator[bytes]:
    """The request's body for a bulk upload by `who`, within the account's byte cap and rate (see the module)."""
    limits = await upload_limits(session, who)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(limits)
    await _admit(request, who, limits)
    return _capped(request.stream(), limits)


async def _capped(body: AsyncIterator[bytes], limits: UploadLimits) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        if seen > limits.max_bytes:
            raise _too_large(limits)
        yield chunk
