"""Bulk upload of contract invoices (CSV or JSON Lines, streamed).

As the executed-volume upload, with the bulk toolkit (`services.api.bulk`): the body is parsed line by line,
copied in bounded batches into a temporary staging table with asyncpg COPY, validated set-based in SQL and applied
with one UPDATE and one INSERT…SELECT, all inside a savepoint, so a refused all-or-nothing upload (or any failure)
leaves nothing behind. The request dependency owns the transaction and commits.

A correction of a month already invoiced is a new version of that invoice; the old row stays (not current,
`superseded_by_batch`). A month covered by an aggregate invoice (several months in one figure, as seed 003 gives)
is refused: a monthly row cannot say which part of the aggregate it corrects.
"""

import uuid
from collections.abc import AsyncIterator

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.bulk import batches, staging
from services.api.bulk.stream import Digest, stored_content_type
from services.api.purchasing import invoice_parsing as parsing
from services.api.purchasing import invoice_repository as repo
from services.api.purchasing.schemas import InvoiceBatchResult
from services.common.models.guarantee import BatchMode
from services.common.models.purchasing import InvoiceBatch


async def ingest_invoices(session: AsyncSession, *, batch_id: str, mode: BatchMode, content_type: str | None,
                          stream: AsyncIterator[bytes]) -> InvoiceBatchResult:
    parse = parsing.parser_for(content_type)
    await batches.take_turn(session, "invoices")
    existing = await session.get(InvoiceBatch, batch_id)
    if existing is not None:
        return await batches.replay(InvoiceBatchResult, stream, batch_id=existing.batch_id,
                                    content_sha256=existing.content_sha256, result=existing.result,
                                    received_at=existing.received_at)
    suffix = uuid.uuid4().hex[:12]
    stage, checked = f"inv_stage_{suffix}", f"inv_checked_{suffix}"
    digest = Digest()
    with batches.one_taker(batch_id, "pk_invoice_batch"):
        async with session.begin_nested():
            conn = await staging.driver(session)
            await staging.create_fields_stage(conn, stage, parsing.FIELDS, line_type="int")
            async for rows in parse(stream, digest):
                await staging.copy_rows(conn, stage, parsing.FIELDS, rows)
            total, bad = await repo.check(conn, stage, checked)
            verdict = await batches.judge(conn, checked, mode, total, bad)
            batch = InvoiceBatch(batch_id=batch_id, mode=mode, content_type=stored_content_type(content_type),
                                 content_sha256=digest.hexdigest(), rows_total=total, rows_accepted=total - bad,
                                 rows_rejected=bad, rows_new=0, rows_new_version=0, rows_unchanged=0, result={})
            session.add(batch)
            await session.flush()
            fresh, corrected, unchanged = await repo.apply(conn, checked, batch_id)
            result = InvoiceBatchResult(batch_id=batch_id, mode=mode, rows_new=fresh, rows_new_version=corrected,
                                        rows_unchanged=unchanged, **verdict.fields(digest))
            batch.rows_new, batch.rows_new_version, batch.rows_unchanged = fresh, corrected, unchanged
            batch.result = orjson.loads(result.model_dump_json())
            await session.flush()
            await staging.drop(conn, stage, checked)
    return await batches.received(session, batch, result)


async def batch(session: AsyncSession, batch_id: str) -> InvoiceBatchResult:
    return await batches.stored(session, InvoiceBatch, InvoiceBatchResult, batch_id,
                                f"no invoice batch {batch_id}")
