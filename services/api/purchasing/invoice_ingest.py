"""Bulk upload of contract invoices (CSV or JSON Lines, streamed).

As the executed-volume upload: the body is parsed line by line, copied in bounded batches into a temporary
staging table with asyncpg COPY, validated set-based in SQL and applied with one UPDATE and one INSERT…SELECT,
all inside a savepoint, so a refused all-or-nothing upload (or any failure) leaves nothing behind. The request
dependency owns the transaction and commits.

A correction of a month already invoiced is a new version of that invoice; the old row stays (not current,
`superseded_by_batch`). A month covered by an aggregate invoice (several months in one figure, as seed 003 gives)
is refused: a monthly row cannot say which part of the aggregate it corrects.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.actuals.parsing import Digest
from services.api.purchasing import invoice_parsing as parsing
from services.api.purchasing import invoice_repository as repo
from services.api.purchasing.schemas import BatchStatus, InvoiceBatchResult, RefusedRow, RowError
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import BatchMode
from services.common.models.purchasing import InvoiceBatch

MAX_REFUSED_LISTED = 10_000
MAX_ERRORS_IN_PROBLEM = 1_000


async def _driver(session: AsyncSession) -> Any:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _refused(records: list[Any]) -> list[RefusedRow]:
    out = []
    for r in records:
        errors = []
        for e in r["errors"]:
            field, _, reason = e.partition("|")
            errors.append(RowError(field=field, reason=reason))
        out.append(RefusedRow(line=r["line_no"], errors=errors))
    return out


async def _replay(existing: InvoiceBatch, stream: AsyncIterator[bytes]) -> InvoiceBatchResult:
    digest = Digest()
    async for chunk in stream:
        digest.update(chunk)
    if digest.hexdigest() != existing.content_sha256:
        raise Conflict(f"batch {existing.batch_id} was already taken in with different content; a correction is "
                       f"sent as a new batch id", [FieldError("batch_id", "already used for other content")])
    result = InvoiceBatchResult.model_validate(existing.result)
    return result.model_copy(update={"duplicate": True, "received_at": existing.received_at})


async def ingest_invoices(session: AsyncSession, *, batch_id: str, mode: BatchMode, content_type: str | None,
                          stream: AsyncIterator[bytes]) -> InvoiceBatchResult:
    parse = parsing.parser_for(content_type)
    existing = await session.get(InvoiceBatch, batch_id)
    if existing is not None:
        return await _replay(existing, stream)
    suffix = uuid.uuid4().hex[:12]
    stage, checked = f"inv_stage_{suffix}", f"inv_checked_{suffix}"
    digest = Digest()
    try:
        async with session.begin_nested():
            conn = await _driver(session)
            await repo.create_stage(conn, stage)
            async for rows in parse(stream, digest):
                await repo.copy_rows(conn, stage, rows)
            total, bad = await repo.check(conn, stage, checked)
            if total == 0:
                raise ValidationFailed("the upload holds no data rows; nothing was stored",
                                       [FieldError("body", "no data rows")])
            if bad and mode == BatchMode.all_or_nothing:
                refused = _refused(await repo.refused(conn, checked, MAX_ERRORS_IN_PROBLEM))
                errors = [FieldError(f"line[{r.line}].{e.field}", e.reason, line=r.line)
                          for r in refused for e in r.errors]
                raise ValidationFailed(
                    f"{bad} of {total} rows refused; in all-or-nothing mode nothing was stored", errors,
                    rows_total=total, rows_rejected=bad)
            refused = _refused(await repo.refused(conn, checked, MAX_REFUSED_LISTED)) if bad else []
            kept = [[r["first"], r["last"]] for r in await repo.kept_lines(conn, checked)] if bad < total else []
            batch = InvoiceBatch(batch_id=batch_id, mode=mode, content_type=(content_type or "").split(";")[0],
                                 content_sha256=digest.hexdigest(), rows_total=total, rows_accepted=total - bad,
                                 rows_rejected=bad, rows_new=0, rows_new_version=0, rows_unchanged=0, result={})
            session.add(batch)
            await session.flush()
            fresh, corrected, unchanged = await repo.apply(conn, checked, batch_id)
            status = (BatchStatus.accepted if bad == 0 else
                      BatchStatus.rejected if bad == total else BatchStatus.partially_accepted)
            result = InvoiceBatchResult(
                batch_id=batch_id, mode=mode, status=status, rows_total=total, rows_accepted=total - bad,
                rows_new=fresh, rows_new_version=corrected, rows_unchanged=unchanged, rows_rejected=bad,
                kept_lines=kept, refused=refused, refused_truncated=bad > len(refused), bytes=digest.bytes,
                content_sha256=digest.hexdigest())
            batch.rows_new, batch.rows_new_version, batch.rows_unchanged = fresh, corrected, unchanged
            batch.result = orjson.loads(result.model_dump_json())
            await session.flush()
            await repo.drop(conn, stage, checked)
    except IntegrityError as exc:
        if "pk_invoice_batch" in str(exc.orig):
            raise Conflict(f"batch {batch_id} is being taken in by another request",
                           [FieldError("batch_id", "taken in concurrently")]) from exc
        raise
    await session.refresh(batch, ["received_at"])
    return result.model_copy(update={"received_at": batch.received_at})


async def batch(session: AsyncSession, batch_id: str) -> InvoiceBatchResult:
    existing = await session.get(InvoiceBatch, batch_id)
    if existing is None:
        raise NotFound(f"no invoice batch {batch_id}", [FieldError("batch_id", "unknown batch")])
    return InvoiceBatchResult.model_validate(existing.result).model_copy(
        update={"received_at": existing.received_at})
