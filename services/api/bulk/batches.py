"""The bookkeeping of an upload around its domain checks: a batch id sent again, the verdict on the checked rows
(all-or-nothing or per row), the answer's shared fields, and two requests taking in the same batch id at once."""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.bulk import staging
from services.api.bulk.schemas import BatchResultBase, BatchStatus, RefusedRow, RowError
from services.api.bulk.stream import Digest
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import BatchKind, BatchMode

MAX_REFUSED_LISTED = 10_000
MAX_ERRORS_IN_PROBLEM = 1_000

R = TypeVar("R", bound=BatchResultBase)


def refused_rows(records: list[Any]) -> list[RefusedRow]:
    """Refused rows from checked-table records (line_no, errors as "field|reason")."""
    out = []
    for r in records:
        errors = []
        for e in r["errors"]:
            field, _, reason = e.partition("|")
            errors.append(RowError(field=field, reason=reason))
        out.append(RefusedRow(line=r["line_no"], errors=errors))
    return out


async def replay(
    model: type[R],
    stream: AsyncIterator[bytes],
    *,
    batch_id: str,
    content_sha256: str,
    result: dict[str, Any],
    received_at: datetime | None = None,
) -> R:
    """The answer to a batch id sent again: the stored answer marked duplicate when the body is the same
    (with `received_at` when given), a 409 when it is not."""
    digest = Digest()
    async for chunk in stream:
        digest.update(chunk)
    if digest.hexdigest() != content_sha256:
        raise Conflict(
            f"batch {batch_id} was already taken in with different content; a correction is sent as a new batch id",
            [FieldError("batch_id", "already used for other content")],
        )
    update: dict[str, Any] = {"duplicate": True}
    if received_at is not None:
        update["received_at"] = received_at
    return model.model_validate(result).model_copy(update=update)


async def received(session: AsyncSession, record: Any, result: R) -> R:
    """The answer once the batch's `record` is stored, with the time the database gave it."""
    await session.refresh(record, ["received_at"])
    return result.model_copy(update={"received_at": record.received_at})


async def find(session: AsyncSession, record_type: type[Any], account: str, batch_id: str) -> Any:
    """The batch (a `record_type` row) an account sent under `batch_id`, or None: batch ids are per account."""
    return await session.scalar(
        select(record_type).where(record_type.account == account, record_type.batch_id == batch_id)
    )


async def stored(
    session: AsyncSession, record_type: type[Any], model: type[R], account: str, batch_id: str, not_found: str
) -> R:
    """The stored answer of an account's batch (a `record_type` row), with the time it was received; `not_found` is
    the 404's detail."""
    existing = await find(session, record_type, account, batch_id)
    if existing is None:
        raise NotFound(not_found, [FieldError("batch_id", "unknown batch")])
    return model.model_validate(existing.result).model_copy(update={"received_at": existing.received_at})


@dataclass(frozen=True)
class Verdict:
    total: int
    bad: int
    status: BatchStatus
    kept: list[list[int]]
    refused: list[RefusedRow]

    def fields(self, digest: Digest) -> dict[str, Any]:
        """The answer's fields that do not depend on the upload's domain."""
        return {
            "status": self.status,
            "rows_total": self.total,
            "rows_accepted": self.total - self.bad,
            "rows_rejected": self.bad,
            "kept_lines": self.kept,
            "refused": self.refused,
            "refused_truncated": self.bad > len(self.refused),
            "bytes": digest.bytes,
            "content_sha256": digest.hexdigest(),
        }


async def judge(
    conn: asyncpg.Connection, checked: str, mode: BatchMode, total: int, bad: int, span: tuple[int, int] | None = None
) -> Verdict:
    """The verdict on the checked rows of an upload: a 422 when there is no data row, or when a row is refused in
    all-or-nothing mode (listing each refused row's errors); otherwise the kept and refused lines. `span`, the
    first and last line numbers when known, spares the search for kept ranges of an upload that has no gap."""
    if total == 0:
        raise ValidationFailed(
            "the upload holds no data rows; nothing was stored", [FieldError("body", "no data rows")]
        )
    if bad and mode == BatchMode.all_or_nothing:
        listed = refused_rows(await staging.refused(conn, checked, MAX_ERRORS_IN_PROBLEM))
        errors = [FieldError(f"line[{r.line}].{e.field}", e.reason, line=r.line) for r in listed for e in r.errors]
        raise ValidationFailed(
            f"{bad} of {total} rows refused; in all-or-nothing mode nothing was stored",
            errors,
            rows_total=total,
            rows_rejected=bad,
        )
    refused = refused_rows(await staging.refused(conn, checked, MAX_REFUSED_LISTED)) if bad else []
    if bad == 0 and span is not None and span[1] - span[0] + 1 == total:
        kept = [[span[0], span[1]]]  # every line from the first to the last was kept
    else:
        kept = [[r["first"], r["last"]] for r in await staging.kept_lines(conn, checked)] if bad < total else []
    status = (
        BatchStatus.accepted if bad == 0 else BatchStatus.rejected if bad == total else BatchStatus.partially_accepted
    )
    return Verdict(total=total, bad=bad, status=status, kept=kept, refused=refused)


async def take_turn(session: AsyncSession, kind: BatchKind | str) -> None:
    """Uploads of one kind run one at a time: a transaction-level advisory lock keyed by the kind, taken before the
    upload looks for its batch id (executed volumes: once their body is in). So a key has one current row (no two
    uploads look for current rows at once), and a batch id sent twice at once is answered, the second time, as a
    batch sent again."""
    conn = await staging.driver(session)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"bulk upload: {kind}")


@contextmanager
def one_taker(batch_id: str, constraint: str) -> Iterator[None]:
    """A second request inserting the same batch id (its primary key `constraint`) is a 409."""
    try:
        yield
    except IntegrityError as exc:
        if constraint in str(exc.orig):
            raise Conflict(
                f"batch {batch_id} is being taken in by another request",
                [FieldError("batch_id", "taken in concurrently")],
            ) from exc
        raise
