"""One upload of rows parsed in Python and checked in SQL, from the batch id to the stored answer: the flow the bulk
invoice and reference-statistics uploads share (executed volumes have their own, see services.api.actuals).

The body is parsed line by line into rows of text, copied in bounded batches into a temporary staging table with
asyncpg COPY, validated set-based in SQL (`check`) and applied (`apply`), all inside a savepoint, so a refused
all-or-nothing upload (or any failure) leaves nothing behind. The request dependency owns the transaction and
commits. What the rows mean, and so how they are checked and applied, is the upload's own business.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.bulk import batches, staging
from services.api.bulk.batches import R
from services.api.bulk.stream import Digest, Row, stored_content_type
from services.common.models.guarantee import BatchMode

Parser = Callable[[AsyncIterator[bytes], Digest], AsyncIterator[list[Row]]]
Check = Callable[[asyncpg.Connection, str, str], Awaitable[tuple[int, int]]]
Apply = Callable[[asyncpg.Connection, str], Awaitable[tuple[int, int, int]]]


@dataclass(frozen=True)
class StagedUpload(Generic[R]):
    """An upload kind: its name (the turn it takes, the prefix of its temporary tables), the table recording its
    batches (a StagedBatchColumns model) and the answer's model, its fields, and how its rows are checked."""

    kind: str
    record: type[Any]
    answer: type[R]
    fields: Sequence[str]
    check: Check

    async def take_in(
        self,
        session: AsyncSession,
        *,
        account: str,
        batch_id: str,
        mode: BatchMode,
        content_type: str | None,
        stream: AsyncIterator[bytes],
        parse: Parser,
        apply: Apply,
    ) -> R:
        """Take in one upload; `apply` writes the checked rows and says how many were new, new versions and
        unchanged. Batch ids are the sending `account`'s own."""
        await batches.take_turn(session, self.kind)
        existing = await batches.find(session, self.record, account, batch_id)
        if existing is not None:
            return await batches.replay(
                self.answer,
                stream,
                batch_id=existing.batch_id,
                content_sha256=existing.content_sha256,
                result=existing.result,
                received_at=existing.received_at,
            )
        suffix = uuid.uuid4().hex[:12]
        stage, checked = f"{self.kind}_stage_{suffix}", f"{self.kind}_checked_{suffix}"
        digest = Digest()
        with batches.one_taker(batch_id, f"pk_{self.record.__tablename__}"):
            async with session.begin_nested():
                conn = await staging.driver(session)
                await staging.create_fields_stage(conn, stage, self.fields, line_type="int")
                async for rows in parse(stream, digest):
                    await staging.copy_rows(conn, stage, self.fields, rows)
                total, bad = await self.check(conn, stage, checked)
                verdict = await batches.judge(conn, checked, mode, total, bad)
                batch = self.record(
                    account=account,
                    batch_id=batch_id,
                    mode=mode,
                    content_type=stored_content_type(content_type),
                    content_sha256=digest.hexdigest(),
                    rows_total=total,
                    rows_accepted=total - bad,
                    rows_rejected=bad,
                    rows_new=0,
                    rows_new_version=0,
                    rows_unchanged=0,
                    result={},
                )
                session.add(batch)
                await session.flush()
                fresh, corrected, unchanged = await apply(conn, checked)
                result = self.answer.model_validate(
                    {
                        "batch_id": batch_id,
                        "mode": mode,
                        "rows_new": fresh,
                        "rows_new_version": corrected,
                        "rows_unchanged": unchanged,
                        **verdict.fields(digest),
                    }
                )
                batch.rows_new, batch.rows_new_version, batch.rows_unchanged = fresh, corrected, unchanged
                batch.result = orjson.loads(result.model_dump_json())
                await session.flush()
                await staging.drop(conn, stage, checked)
        return await batches.received(session, batch, result)

    async def stored(self, session: AsyncSession, account: str, batch_id: str, not_found: str) -> R:
        return await batches.stored(session, self.record, self.answer, account, batch_id, not_found)
