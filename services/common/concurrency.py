"""ETags and conditional requests, the same for every service.

One ETag shape, `"{resource}.v{latest}.v{shown}"`: the resource (`measure-12`), the latest version recorded
for it and the version the response shows (the one in force on the request's `as_of`). The two differ when
the latest version takes effect later than the day read: `"measure-12.v3.v2"` is version 2 shown while
version 3 waits for its date.

- A write requires `If-Match` (428 without it). It is compared strongly on the resource and the latest
  version only: any read of the resource's current state, whatever day it showed, is good for the next
  write; a weak tag (`W/...`) never matches. A stale one answers 412 with the current ETag.
- A read answers 304 when `If-None-Match` names the whole tag (the same version shown).
- The database guards the version, not Python: a write closes the version it read with a guarded UPDATE
  (`close_latest_version`), so of two writers holding the same ETag exactly one wins and the other gets 412.

A resource that keeps no version history (a region) uses a digest of what it
shows as its version (`content_etag`); such resources are read-only here.
"""

import hashlib
from datetime import date
from typing import Any, NoReturn, TypeVar, cast

import orjson
from pydantic import BaseModel
from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from starlette.requests import Request
from starlette.responses import Response

from services.common.errors import FieldError, PreconditionFailed, PreconditionRequired

M = TypeVar("M")


def etag(resource: str, latest: int | str, shown: int | str | None = None) -> str:
    """The ETag of `resource` whose latest recorded version is `latest`, showing `shown` (default: the latest)."""
    return f'"{resource}.v{latest}.v{latest if shown is None else shown}"'


def content_etag(resource: str, payload: Any) -> str:
    """The ETag of a resource without a version history: a digest of what it shows stands for its version."""
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    digest = hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
    return etag(resource, digest)


def _latest_part(tag: str) -> str:
    """`"measure-12.v3.v2"` → `"measure-12.v3`: the resource and its latest version (the shown part cut off)."""
    return tag.rsplit(".v", 1)[0]


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match_holds(if_match: str, current: str) -> bool:
    """RFC 9110 strong comparison of each listed tag against the current one, on resource and latest version."""
    for tag in _tags(if_match):
        if tag == "*":
            return True
        if not tag.startswith("W/") and _latest_part(tag) == _latest_part(current):
            return True
    return False


def check_if_match(if_match: str | None, current: str) -> None:
    """428 without If-Match, 412 when it does not name the latest version of the resource `current` tags."""
    if if_match is None:
        raise PreconditionRequired(
            "this write needs an If-Match header with the resource's current ETag", [FieldError("If-Match", "missing")]
        )
    if not if_match_holds(if_match, current):
        stale(current)


def stale(current: str | None) -> NoReturn:
    """Answer 412: the resource changed since the client read it (`current` is its ETag now, when known)."""
    reason = f"stale: the current ETag is {current}" if current else "stale: the resource changed meanwhile"
    raise PreconditionFailed(
        "the resource has changed since it was read; read it again and retry",
        [FieldError("If-Match", reason)],
        **({"current_etag": current} if current else {}),
    )


def tagged(payload: BaseModel, tag: str, status_code: int = 200, **headers: str) -> Response:
    """A resource as JSON with its ETag (and e.g. a Location): the one way a versioned resource is answered."""
    return Response(
        payload.model_dump_json(),
        media_type="application/json",
        status_code=status_code,
        headers={"ETag": tag, **headers},
    )


def not_modified(request: Request, tag: str) -> bool:
    """True when the client's If-None-Match names this whole tag (weak comparison), or is `*`."""
    header = request.headers.get("if-none-match", "")
    return header.strip() == "*" or tag in (t.removeprefix("W/") for t in _tags(header))


async def close_latest_version(session: AsyncSession, model: type[M], row_id: int, closes_on: date) -> None:
    """Close the version row `row_id` (the latest, as read) on `closes_on`, guarded by the database.

    `UPDATE ... SET valid_to = :closes_on WHERE id = :row_id AND valid_to IS NULL`: a concurrent writer that
    closed it first has committed (this statement waits for its row lock, then finds the row closed), so no row
    is updated and the write answers 412. `model` has `id` and `valid_to` columns.
    """
    # A Core UPDATE: the ORM's bulk-update machinery cost a write more than the UPDATE itself.
    table: Any = cast(Any, model).__table__
    guard: ColumnElement[bool] = (table.c.id == row_id) & table.c.valid_to.is_(None)
    closed = await session.execute(update(table).where(guard).values(valid_to=closes_on).returning(table.c.id))
    if closed.first() is None:
        stale(None)
    # The session's copy of the row, where it holds one, as the UPDATE left it (a Core statement does not touch it).
    held = session.identity_map.get(identity_key(model, row_id))
    if held is not None:
        set_committed_value(held, "valid_to", closes_on)


async def add_version(session: AsyncSession, row: Any) -> None:
    """Insert `row`, the next version of a resource, guarded by the database like `close_latest_version`.

    The first stored version (the ETag read showed version 0, nothing to close) has no row to lock: two writers
    holding that ETag both get as far as the insert, and the unique key on the version (or on the one open version)
    refuses the second. That writer read a stale version: 412, as when it finds the latest version closed.
    """
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == "23505":  # unique_violation
            stale(None)
        raise
