"""Bulk upload of contract invoices (CSV or JSON Lines, streamed).

The flow is the bulk toolkit's (`services.api.bulk.staged`): rows staged by COPY, validated set-based in SQL, applied
with one UPDATE and one INSERT…SELECT inside a savepoint.

A correction of a month already invoiced is a new version of that invoice; the old row stays (not current,
`superseded_by_batch`). A month covered by an aggregate invoice (several months in one figure, as seed 003 gives)
is refused: a monthly row cannot say which part of the aggregate it corrects.
"""

from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.bulk.staged import StagedUpload
from services.api.purchasing import invoice_parsing as parsing
from services.api.purchasing import invoice_repository as repo
from services.api.purchasing.schemas import InvoiceBatchResult
from services.common.models.guarantee import BatchMode
from services.common.models.purchasing import InvoiceBatch

INVOICES = StagedUpload("invoices", InvoiceBatch, InvoiceBatchResult, parsing.FIELDS, repo.check)


async def ingest_invoices(
    session: AsyncSession,
    *,
    account: str,
    batch_id: str,
    mode: BatchMode,
    content_type: str | None,
    stream: AsyncIterator[bytes],
) -> InvoiceBatchResult:
    parse = parsing.parser_for(content_type)

    async def apply(conn: asyncpg.Connection, checked: str) -> tuple[int, int, int]:
        return await repo.apply(conn, checked, account, batch_id)

    return await INVOICES.take_in(
        session,
        account=account,
        batch_id=batch_id,
        mode=mode,
        content_type=content_type,
        stream=stream,
        parse=parse,
        apply=apply,
    )


async def batch(session: AsyncSession, account: str, batch_id: str) -> InvoiceBatchResult:
    return await INVOICES.stored(session, account, batch_id, f"no invoice batch {batch_id}")
