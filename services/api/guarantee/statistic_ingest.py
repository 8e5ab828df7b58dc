"""Bulk upload of reference statistics (CSV or JSON Lines, streamed): the values per region and year that the
access norms are evaluated against.

The flow is the bulk toolkit's (`services.api.bulk.staged`), as for invoices: rows staged by COPY, validated
set-based in SQL, applied with one UPDATE and one INSERT…SELECT inside a savepoint.

Versions as the JSON upload (`POST /reference-statistics`) keeps them: a region, year and statistic whose current
value differs gets a new version and the old row stays (not current, `superseded_by_batch`); an equal value is
unchanged. Every new row carries the upload's `source` and whether it is synthetic.
"""

from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.bulk.staged import StagedUpload
from services.api.guarantee import statistic_parsing as parsing
from services.api.guarantee import statistic_repository as repo
from services.api.guarantee.schemas import StatisticBatchResult
from services.common.models.guarantee import BatchMode, StatisticBatch

STATISTICS = StagedUpload("reference_statistics", StatisticBatch, StatisticBatchResult, parsing.FIELDS, repo.check)


async def ingest_statistics(
    session: AsyncSession,
    *,
    account: str,
    batch_id: str,
    mode: BatchMode,
    source: str,
    synthetic: bool,
    content_type: str | None,
    stream: AsyncIterator[bytes],
) -> StatisticBatchResult:
    parse = parsing.parser_for(content_type)

    async def apply(conn: asyncpg.Connection, checked: str) -> tuple[int, int, int]:
        return await repo.apply(conn, checked, account, batch_id, source, synthetic)

    return await STATISTICS.take_in(
        session,
        account=account,
        batch_id=batch_id,
        mode=mode,
        content_type=content_type,
        stream=stream,
        parse=parse,
        apply=apply,
    )


async def batch(session: AsyncSession, account: str, batch_id: str) -> StatisticBatchResult:
    return await STATISTICS.stored(session, account, batch_id, f"no reference statistics batch {batch_id}")
