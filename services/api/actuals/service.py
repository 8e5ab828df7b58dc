"""Bulk ingestion of executed volumes and the planned-against-executed view.

One way for every upload: the body is staged as it streams into a temporary table (a CSV body by Postgres's own CSV
COPY, read again line by line only when COPY refuses some line, see parsing; JSON Lines parsed in bounded batches),
then, once it is in and the upload has its turn, validated set-based in SQL in one pass with every refused field
named, and the kept rows inserted into executed_volume with one INSERT…SELECT. The whole upload runs inside a
savepoint, so a refused all-or-nothing upload (or any failure) leaves nothing behind. The request dependency owns
the transaction and commits. Replay of a batch id, the verdict on the checked rows and the answer's shared fields are
the bulk toolkit's (`services.api.bulk.batches`).
"""

import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.actuals import parsing
from services.api.actuals import repository as repo
from services.api.actuals.schemas import BatchResult, ExecutedVolumeOut, PlannedVsExecutedOut
from services.api.bulk import batches, staging
from services.api.bulk.stream import Digest, body_format, stored_content_type
from services.api.guarantee import repository as guarantee_repo
from services.api.guarantee.http import YearMonth
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import BatchKind, BatchMode, IngestBatch
from services.common.spool import Spool

log = logging.getLogger(__name__)

# What makes Postgres refuse a COPY of CSV lines: a line that is not one record of the header's fields (a blank line
# included), a quoted field left open, a carriage return in an unquoted field, invalid UTF-8, a NUL byte.
_COPY_REFUSALS = (asyncpg.DataError,)


class _NotOneRowPerLine(Exception):
    """COPY made more or fewer rows than the body has lines (a quoted field holding a line break)."""


class _TakenMeanwhile(Exception):
    """Another request stored this batch id while this one was streaming its body."""


async def _stage_csv(session: AsyncSession, conn: Any, spool: Spool, stage: str) -> tuple[str, Digest]:
    """Stage a CSV body; returns the source of (line_no, parse_error, fields) rows for check_sql and the body's
    digest. Postgres's CSV COPY takes the lines as they come; when it refuses one, the body is read again from the
    spool line by line, each line that is not one record getting its own error."""
    digest = Digest()
    body = parsing.CsvBody(spool.passing(), digest)
    await body.read_header()
    positions = {f: i + 1 for i, f in enumerate(body.header)}
    try:
        async with session.begin_nested():
            conn = await staging.driver(session)  # the session's connection, which emits the SAVEPOINT
            await repo.create_stage(conn, stage, body.header_line + 1, body.width)
            made = await repo.copy_csv(conn, stage, body.width, body.copy_data())
            if made != body.lines:
                raise _NotOneRowPerLine(f"{made} rows of {body.lines} lines")
        space = "" if not body.spaces else parsing.ASCII_SPACE if body.ascii else parsing.UNICODE_SPACE
        return repo.csv_source_sql(stage, positions, space), digest
    except (_NotOneRowPerLine, *_COPY_REFUSALS) as exc:
        log.info("CSV lines read one by one: %s", exc)
    digest = Digest()
    await repo.create_stage(conn, stage, 1, len(positions))
    async for rows in parsing.csv_line_rows(spool.again(), digest):
        await repo.copy_rows(conn, stage, len(positions), rows)
    return repo.csv_source_sql(stage, positions, parsing.UNICODE_SPACE), digest


async def _stage_jsonl(conn: Any, stream: AsyncIterator[bytes], stage: str) -> tuple[str, Digest]:
    """Stage a JSON Lines body; returns the staging table (rows of line_no, parse_error, fields) and the digest."""
    digest = Digest()
    await staging.create_fields_stage(conn, stage, parsing.FIELDS)
    async for rows in parsing.jsonl_rows(stream, digest):
        await staging.copy_rows(conn, stage, parsing.FIELDS, rows)
    return stage, digest


async def _take_turn(session: AsyncSession, account: str, batch_id: str) -> None:
    """Wait for the other uploads of executed volumes (see batches.take_turn), once the body is in: from here on
    the upload reads and writes what the others may touch (current rows, cells). Raises _TakenMeanwhile when another
    request stored the same batch id meanwhile."""
    await batches.take_turn(session, BatchKind.executed_volumes)
    if await batches.find(session, IngestBatch, account, batch_id) is not None:
        raise _TakenMeanwhile(batch_id)


async def ingest_executed_volumes(
    session: AsyncSession,
    *,
    account: str,
    batch_id: str,
    mode: BatchMode,
    content_type: str | None,
    stream: AsyncIterator[bytes],
) -> BatchResult:
    """Take in an upload of executed volumes: stage the body, check every row, store the kept ones."""
    kind = body_format(content_type)
    existing = await batches.find(session, IngestBatch, account, batch_id)  # batch ids are the account's own
    if existing is not None:
        return await _replay(existing, stream)
    suffix = uuid.uuid4().hex[:12]
    stage, checked = f"ev_stage_{suffix}", f"ev_checked_{suffix}"
    spool = Spool(stream)
    try:
        with batches.one_taker(batch_id, "pk_ingest_batch"):
            async with session.begin_nested():
                conn = await staging.driver(session)
                await repo.tune(conn)
                t0 = time.perf_counter()
                if kind == "csv":
                    source, digest = await _stage_csv(session, conn, spool, stage)
                else:
                    source, digest = await _stage_jsonl(conn, spool.passing(), stage)
                t1 = time.perf_counter()
                await _take_turn(session, account, batch_id)
                await repo.check(conn, source, checked)
                c = await repo.counts(conn, checked)
                total, bad = int(c["total"]), int(c["bad"])
                verdict = await batches.judge(
                    conn, checked, mode, total, bad, span=(int(c["first"]), int(c["last"])) if total else None
                )
                fresh, corrected, unchanged = int(c["fresh"]), int(c["corrected"]), int(c["unchanged"])
                result = BatchResult(
                    batch_id=batch_id,
                    kind=BatchKind.executed_volumes,
                    mode=mode,
                    rows_new=fresh,
                    rows_new_version=corrected,
                    rows_unchanged=unchanged,
                    **verdict.fields(digest),
                )
                batch_no = await repo.next_batch_no(conn)
                record = _record(account, batch_id, batch_no, mode, content_type, result)
                session.add(record)
                await session.flush()
                t2 = time.perf_counter()
                try:
                    await repo.apply(conn, checked, batch_no, fresh + corrected)
                except asyncpg.ForeignKeyViolationError as exc:
                    raise Conflict(
                        "a region, clinical profile or provider the upload names was removed while it was taken in; "
                        "nothing was stored",
                        [FieldError("body", "names a reference removed meanwhile")],
                    ) from exc
                await staging.drop(conn, stage, checked)
                log.info(
                    "batch %s: %d rows; staged in %.2fs, checked in %.2fs, stored in %.2fs",
                    batch_id,
                    total,
                    t1 - t0,
                    t2 - t1,
                    time.perf_counter() - t2,
                )
    except _TakenMeanwhile:  # everything of this request is undone: answer as the batch sent again
        stored = await batches.find(session, IngestBatch, account, batch_id)
        assert stored is not None
        return await _replay(stored, spool.again())
    finally:
        spool.close()
    return await batches.received(session, record, result)


async def _replay(existing: IngestBatch, stream: AsyncIterator[bytes]) -> BatchResult:
    return await batches.replay(
        BatchResult,
        stream,
        batch_id=existing.batch_id,
        content_sha256=existing.content_sha256,
        result=existing.result,
        received_at=existing.received_at,
    )


def _record(
    account: str, batch_id: str, batch_no: int, mode: BatchMode, content_type: str | None, result: BatchResult
) -> IngestBatch:
    return IngestBatch(
        account=account,
        batch_id=batch_id,
        batch_no=batch_no,
        kind=BatchKind.executed_volumes,
        mode=mode,
        content_type=stored_content_type(content_type),
        content_sha256=result.content_sha256,
        rows_total=result.rows_total,
        rows_accepted=result.rows_accepted,
        rows_rejected=result.rows_rejected,
        rows_new_version=result.rows_new_version,
        rows_unchanged=result.rows_unchanged,
        result=orjson.loads(result.model_dump_json()),
    )


async def batch(session: AsyncSession, account: str, batch_id: str) -> BatchResult:
    return await batches.stored(session, IngestBatch, BatchResult, account, batch_id, f"no batch {batch_id}")


def _period(period_from: str, period_to: str) -> tuple[YearMonth, YearMonth]:
    errors = []
    parsed: dict[str, YearMonth] = {}
    for name, value in (("from", period_from), ("to", period_to)):
        try:
            parsed[name] = YearMonth.parse(value)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    first, last = parsed["from"], parsed["to"]
    if last < first:
        raise ValidationFailed("the period ends before it starts", [FieldError("to", "before from")])
    if first.year != last.year:
        raise ValidationFailed(
            "a period lies within one calendar year (the ceiling is annual)",
            [FieldError("to", "not in the same year as from")],
        )
    return first, last


async def planned_vs_executed(
    session: AsyncSession,
    *,
    period_from: str,
    period_to: str,
    region: str | None,
    profile: str | None,
    over_only: bool,
    limit: int,
    offset: int,
) -> tuple[list[PlannedVsExecutedOut], int]:
    first, last = _period(period_from, period_to)
    errors = []
    if region and await guarantee_repo.get_region(session, region) is None:
        errors.append(FieldError("region", f"unknown КАТО code {region!r}"))
    if profile and await guarantee_repo.get_profile(session, profile) is None:
        errors.append(FieldError("profile", f"unknown clinical profile {profile!r}"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    version_id = await guarantee_repo.current_version_id(session, date(first.year, 12, 31))
    if version_id is None:
        raise NotFound(f"no ceiling volumes in force in {first.year}", [FieldError("from", "no programme")])
    conn = await staging.driver(session)
    rows = await repo.planned_vs_executed(
        conn, first.first_day, last.first_day, region, profile, version_id, over_only, limit, offset
    )
    out = []
    for r in rows:
        planned = r["total"]
        cases = int(r["cases"])
        out.append(
            PlannedVsExecutedOut(
                region=r["region_code"],
                region_name_kk=r["region_name_kk"],
                profile=r["profile_code"],
                profile_name_kk=r["profile_name_kk"],
                period_from=first,
                period_to=last,
                planned_cases=planned,
                planned_children_cases=r["children"],
                planned_rural_cases=r["rural_total"],
                executed_cases=cases,
                executed_children_cases=int(r["exec_children"]),
                executed_rural_cases=int(r["exec_rural"]),
                executed_bed_days=int(r["bed_days"]),
                months_reported=int(r["months"]),
                percent_used=(Decimal(cases) * 100 / planned).quantize(Decimal("0.01")) if planned else None,
                over_ceiling=cases > (planned or 0),
            )
        )
    return out, int(rows[0]["full_count"]) if rows else 0


async def executed(
    session: AsyncSession,
    *,
    region: str | None,
    profile: str | None,
    period_from: str | None,
    period_to: str | None,
    history: bool,
    limit: int,
    offset: int,
) -> tuple[list[ExecutedVolumeOut], int]:
    try:
        first = YearMonth.parse(period_from).first_day if period_from else None
        last = YearMonth.parse(period_to).first_day if period_to else None
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("from/to", str(exc))]) from exc
    conn = await staging.driver(session)
    rows, total = await repo.executed(conn, region, profile, first, last, history, limit, offset)
    out = [
        ExecutedVolumeOut(
            region=r["region_code"],
            profile=r["profile_code"],
            provider=r["provider_code"],
            month=YearMonth.of(r["month"]),
            treated_cases=r["treated_cases"],
            children_cases=r["children_cases"],
            rural_cases=r["rural_cases"],
            bed_days=r["bed_days"],
            children_bed_days=r["children_bed_days"],
            rural_bed_days=r["rural_bed_days"],
            version=r["version"],
            is_current=r["is_current"],
            batch_id=r["batch_id"],
            line=r["line_no"],
            superseded_by_batch=r["superseded_by_batch"],
            recorded_at=r["received_at"],
        )
        for r in rows
    ]
    return out, total
